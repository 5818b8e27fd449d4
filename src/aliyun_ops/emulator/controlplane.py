"""The deployment's side of the cloud, as far as ``aliyun-ops doctor`` reads it: the Function Compute 3.0
function (ROA), the EventBridge rules, the RAM roles and policies, and CloudMonitor's ``acs_fc`` metrics.

None of these is modelled: a test loads a *deployment document* (``POST /_emulator/controlplane``) whose
values are shaped as each API's documented answer (tests/fixtures/doctor/), and the emulator serves them with
the gateway's own checks: the caller's signature (ACS3-HMAC-SHA256 for the FC 3.0 ROA requests, as the RPC
ones), the call journal (product ``fc``, ``ram``, ``eventbridge``, ``cms``), RAM's and FC's error bodies.
The document is kept across scenario loads (it is not part of the ECS world) and replaced whole.

Document::

    {"functions": {"<name>": {"function": <GetFunction body>, "triggers": [<ListTriggers item>...],
                              "asyncInvokeConfig": <GetAsyncInvokeConfig body> | null}},
     "eventRules": {"<bus>": [<ListRules Data.Rules item>...]},
     "roles": {"<name>": {"role": <GetRole Role>, "policies": [{"PolicyName", "PolicyType", "document"}]}},
     "metrics": {"<MetricName>": [{"ageSeconds": n, "Sum": v}...]}}   # acs_fc, the function's dimensions

Routes (FC 3.0 API reference): ``GET /2023-03-30/functions/{name}``, ``.../triggers`` (``limit``,
``nextToken``; ``triggerConfig`` is a JSON string in the answer), ``.../async-invoke-config``. FC's errors are
``{"Code", "Message", "RequestId"}`` with the HTTP status: ``FunctionNotFound`` 404, and (an assumption)
``AsyncConfigNotExist`` 404 for a function without an async configuration.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from . import control, dispatch
from .core import API_VERSIONS, EmulatorError
from .responses.base import Params, register
from .signing import SignedRequest, authenticate

if TYPE_CHECKING:
    from .server import Emulator

FC_PREFIX = "/2023-03-30/functions/"
API_VERSIONS.setdefault("ram", "2015-05-01")
API_VERSIONS.setdefault("eventbridge", "2020-04-01")
dispatch.PRODUCTS.update({API_VERSIONS["ram"]: "ram", API_VERSIONS["eventbridge"]: "eventbridge"})
ATTRIBUTE = "controlplane_document"


class NotFound(EmulatorError):
    http_status = 404


def document(backend: Any) -> dict[str, Any]:
    found: dict[str, Any] = getattr(backend, ATTRIBUTE, None) or {}
    return found


# -- control --------------------------------------------------------------------------------------
def _load(emu: Emulator, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise control.BadRequest("body must be a JSON object")
    loaded = copy.deepcopy(body)
    now_ms = int(time.time() * 1000)  # the SDKs ask with the wall clock (StartTime/EndTime)
    for points in (loaded.get("metrics") or {}).values():
        for point in points:
            point.setdefault("timestamp", now_ms - int(float(point.pop("ageSeconds", 0)) * 1000))
    with emu.backend.lock:
        setattr(emu.backend, ATTRIBUTE, loaded)
    return {"ok": True}


def _show(emu: Emulator, body: Any) -> dict[str, Any]:
    return copy.deepcopy(document(emu.backend))


control.ROUTES[("POST", "controlplane")] = _load
control.ROUTES[("GET", "controlplane")] = _show


# -- Function Compute 3.0 (ROA) -------------------------------------------------------------------
def handle_fc(emu: Emulator, request: SignedRequest) -> tuple[int, dict[str, Any]]:
    """One FC 3.0 read: authenticate, answer from the document, journal it."""
    request_id = str(uuid.uuid4()).upper()
    action, access_key_id, status = "", None, 200
    try:
        name, _, rest = request.path[len(FC_PREFIX):].partition("/")
        action = {"": "GetFunction", "triggers": "ListTriggers", "async-invoke-config": "GetAsyncInvokeConfig"}.get(
            rest, ""
        )
        if request.method != "GET" or not action:
            raise NotFound("The requested resource does not exist.", code="ResourceNotFound")
        access_key_id = authenticate(request, emu.backend.credentials)
        with emu.backend.lock:
            body = _fc_answer(document(emu.backend), unquote(name), action, request.query)
    except EmulatorError as err:
        status, body = err.http_status, {"Code": err.code, "Message": err.message}
    body["RequestId"] = request_id
    emu.journal.record(time=emu.backend.clock.now(), action=action or request.path, product="fc",
                       params=dict(request.query), access_key_id=access_key_id, status=status,
                       code=None if status == 200 else body.get("Code"), request_id=request_id)  # fmt: skip
    return status, body


def _fc_answer(doc: dict[str, Any], name: str, action: str, query: dict[str, str]) -> dict[str, Any]:
    entry = (doc.get("functions") or {}).get(name)
    if entry is None or entry.get("function") is None:
        raise NotFound(f"function '{name}' does not exist", code="FunctionNotFound")
    if action == "GetFunction":
        return copy.deepcopy(entry["function"])
    if action == "GetAsyncInvokeConfig":
        config = entry.get("asyncInvokeConfig")
        if config is None:
            raise NotFound(f"async config of function '{name}' does not exist", code="AsyncConfigNotExist")
        return copy.deepcopy(config)
    triggers = entry.get("triggers") or []
    start = int(query.get("nextToken") or 0)
    limit = max(1, min(100, int(query.get("limit") or 20)))
    page = [_trigger_out(t) for t in triggers[start : start + limit]]
    following = start + limit
    return {"triggers": page, "nextToken": str(following) if following < len(triggers) else ""}


def _trigger_out(trigger: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(trigger)
    config = out.get("triggerConfig")
    if not isinstance(config, str):
        out["triggerConfig"] = json.dumps(config or {})
    return out


# -- RAM (RPC, 2015-05-01) ------------------------------------------------------------------------
def _role(backend: Any, name: str) -> dict[str, Any]:
    found = (document(backend).get("roles") or {}).get(name)
    if found is None:
        raise NotFound(f"The role does not exist: {name}.", code="EntityNotExist.Role")
    return dict(found)


@register("ram", "GetRole")
def get_role(backend: Any, params: Params) -> dict[str, Any]:
    return {"Role": copy.deepcopy(_role(backend, params.get("RoleName", "")).get("role") or {})}


@register("ram", "ListPoliciesForRole")
def list_policies_for_role(backend: Any, params: Params) -> dict[str, Any]:
    policies = _role(backend, params.get("RoleName", "")).get("policies") or []
    listed = [{"PolicyName": p["PolicyName"], "PolicyType": p.get("PolicyType", "Custom"), "DefaultVersion": "v1",
               "Description": "", "AttachDate": "2026-01-01T00:00:00Z"} for p in policies]  # fmt: skip
    return {"Policies": {"Policy": listed}}


@register("ram", "GetPolicy")
def get_policy(backend: Any, params: Params) -> dict[str, Any]:
    name, kind = params.get("PolicyName", ""), params.get("PolicyType", "")
    for role in (document(backend).get("roles") or {}).values():
        for p in role.get("policies") or []:
            if p["PolicyName"] == name and p.get("PolicyType", "Custom") == kind:
                text = json.dumps(p.get("document") or {})
                return {
                    "Policy": {"PolicyName": name, "PolicyType": kind, "DefaultVersion": "v1", "PolicyDocument": text},
                    "DefaultPolicyVersion": {"VersionId": "v1", "IsDefaultVersion": True, "PolicyDocument": text},
                }
    raise NotFound(f"The policy does not exist: {name}.", code="EntityNotExist.Policy")


# -- EventBridge (RPC, 2020-04-01) ----------------------------------------------------------------
@register("eventbridge", "ListRules")
def list_rules(backend: Any, params: Params) -> dict[str, Any]:
    rules = (document(backend).get("eventRules") or {}).get(params.get("EventBusName", "default"), [])
    return {"Code": "Success", "Success": True, "Message": "success",
            "Data": {"Rules": copy.deepcopy(rules), "Total": len(rules), "NextToken": ""}}  # fmt: skip


# -- CloudMonitor DescribeMetricList (acs_fc only) ------------------------------------------------
@register("cms", "DescribeMetricList")
def describe_metric_list(backend: Any, params: Params) -> dict[str, Any]:
    if params.get("Namespace") != "acs_fc":
        raise EmulatorError("Only acs_fc metrics are served here.", code="InvalidParameter", http_status=400)
    start, end = int(params.get("StartTime") or 0), int(params.get("EndTime") or 2**62)
    points = (document(backend).get("metrics") or {}).get(params.get("MetricName", ""), [])
    chosen = [p for p in points if start < int(p["timestamp"]) <= end]  # (StartTime, EndTime]
    return {"Code": "200", "Success": True, "Period": params.get("Period", "60"),
            "Datapoints": json.dumps(chosen)}  # fmt: skip
