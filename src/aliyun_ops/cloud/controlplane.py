"""Reads of the deployment itself, for ``aliyun-ops doctor``: the function (Function Compute 3.0), its event
rules (EventBridge), its role's policies (RAM) and its invocation metrics (CloudMonitor ``acs_fc``).

Only reads. Each product's official SDK is imported on first use, as in ``cloud.sdk``; FC 3.0 is a ROA API
(``GET /2023-03-30/functions/{name}`` and below), the others are RPC. These SDKs are CLI-only dependencies:
the function never imports this module (``deploy.package.CLI_ONLY``). Errors become ``CloudError``
subclasses through ``cloud.errors.translate``; a missing function answers None.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from typing import TYPE_CHECKING, Any

from aliyun_ops import errors
from aliyun_ops.cloud.errors import translate
from aliyun_ops.cloud.sdk import _modules

if TYPE_CHECKING:
    from aliyun_ops.config import Credentials, Settings

# product -> (client module, models module)
_SDKS = {
    "fc": ("alibabacloud_fc20230330.client", "alibabacloud_fc20230330.models"),
    "eventbridge": ("alibabacloud_eventbridge20200401.client", "alibabacloud_eventbridge20200401.models"),
    "ram": ("alibabacloud_ram20150501.client", "alibabacloud_ram20150501.models"),
    "cms": ("alibabacloud_cms20190101.client", "alibabacloud_cms20190101.models"),
}
FUNCTION_NOT_FOUND = ("FunctionNotFound", "ResourceNotFound")
# CloudMonitor keeps 31 days of data (FC docs, "Monitoring data"); DescribeMetricList pages hold up to 1440 points.
METRIC_PROJECT = "acs_fc"
METRIC_PAGE = 1440


def _snake(action: str) -> str:
    out = ""
    for i, ch in enumerate(action):
        out += ("_" if i and ch.isupper() else "") + ch.lower()
    return out


class ControlPlane:
    """FC 3.0, EventBridge, RAM and CloudMonitor metric reads for one region (RAM is global)."""

    def __init__(self, credentials: Credentials, settings: Settings, endpoint: str | None = None) -> None:
        self._credentials = credentials
        self._settings = settings
        self._endpoint = endpoint  # one address for every product (the emulator), else the SDKs' own
        self._clients: dict[str, tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    def _sdk(self, product: str) -> tuple[Any, Any]:
        with self._lock:
            if product not in self._clients:
                client_module, models_module = _SDKS[product]
                client_cls = importlib.import_module(client_module).Client
                config = _modules()["Config"](
                    access_key_id=self._credentials.access_key_id,
                    access_key_secret=self._credentials.access_key_secret,
                    security_token=self._credentials.security_token,
                    region_id=self._settings.region_id,
                    endpoint=self._endpoint or (self._settings.cms_endpoint if product == "cms" else None),
                    protocol=self._settings.protocol,
                    connect_timeout=5000,
                    read_timeout=15000,
                )
                self._clients[product] = (client_cls(config), importlib.import_module(models_module))
            return self._clients[product]

    def _rpc(self, product: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        client, models = self._sdk(product)
        request = getattr(models, f"{action}Request")().from_map(params)
        try:
            response = getattr(client, f"{_snake(action)}_with_options")(request, _modules()["Runtime"]())
        except Exception as exc:
            raise translate(exc, action) from exc
        return dict(response.body.to_map()) if response.body is not None else {}

    def _roa(self, action: str, function_name: str, **query: Any) -> dict[str, Any] | None:
        """One FC 3.0 read of ``function_name``; None when FC says the function does not exist."""
        client, models = self._sdk("fc")
        request = getattr(models, f"{action}Request")(**query)
        try:
            response = getattr(client, f"{_snake(action)}_with_options")(
                function_name, request, {}, _modules()["Runtime"]()
            )
        except Exception as exc:
            err = translate(exc, action)
            if err.code in FUNCTION_NOT_FOUND or (action != "GetFunction" and err.status_code == 404):
                return None
            raise err from exc
        return dict(response.body.to_map()) if response.body is not None else {}

    # -- Function Compute 3.0 ---------------------------------------------------------------------
    def get_function(self, name: str) -> dict[str, Any] | None:
        return self._roa("GetFunction", name)

    def list_triggers(self, name: str) -> list[dict[str, Any]]:
        """Every trigger of the function (``triggerConfig`` parsed from its JSON string)."""
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self._roa("ListTriggers", name, limit=100, next_token=token) or {}
            for trigger in page.get("triggers") or []:
                config = trigger.get("triggerConfig")
                parsed = _json(config) if isinstance(config, str) else config
                out.append({**trigger, "triggerConfig": parsed if isinstance(parsed, dict) else {}})
            token = page.get("nextToken") or None
            if not token:
                return out

    def async_invoke_config(self, name: str) -> dict[str, Any] | None:
        return self._roa("GetAsyncInvokeConfig", name)

    # -- EventBridge ------------------------------------------------------------------------------
    def event_rules(self, bus: str = "default") -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"EventBusName": bus, "Limit": 100}
            if token:
                params["NextToken"] = token
            data = self._rpc("eventbridge", "ListRules", params).get("Data") or {}
            out += [r for r in data.get("Rules") or [] if r]
            token = data.get("NextToken") or None
            if not token:
                return out

    # -- RAM --------------------------------------------------------------------------------------
    def role(self, name: str) -> dict[str, Any] | None:
        try:
            role = self._rpc("ram", "GetRole", {"RoleName": name}).get("Role")
        except errors.CloudError as exc:  # RAM answers EntityNotExist.Role (404)
            if isinstance(exc, errors.NotFound) or exc.code.startswith("EntityNotExist"):
                return None
            raise
        return dict(role) if isinstance(role, dict) else None

    def role_policies(self, role_name: str) -> list[dict[str, Any]]:
        """``{"name", "type", "document"}`` of every policy attached to the role (its default version)."""
        listed = self._rpc("ram", "ListPoliciesForRole", {"RoleName": role_name}).get("Policies") or {}
        out = []
        for item in listed.get("Policy") or []:
            name, kind = item.get("PolicyName", ""), item.get("PolicyType", "")
            body = self._rpc("ram", "GetPolicy", {"PolicyName": name, "PolicyType": kind})
            text = (body.get("DefaultPolicyVersion") or {}).get("PolicyDocument") or "{}"
            document = _json(text)
            out.append({"name": name, "type": kind, "document": document if isinstance(document, dict) else {}})
        return out

    # -- CloudMonitor -----------------------------------------------------------------------------
    def metric_sum(self, metric: str, dimensions: dict[str, str], hours: float) -> tuple[float, int]:
        """Sum of ``metric`` (acs_fc) over the last ``hours`` and the number of data points read."""
        end = int(time.time() * 1000)
        params: dict[str, Any] = {
            "Namespace": METRIC_PROJECT, "MetricName": metric, "Dimensions": json.dumps([dimensions]),
            "StartTime": str(end - int(hours * 3600 * 1000)), "EndTime": str(end), "Period": "60",
            "Length": str(METRIC_PAGE),
        }  # fmt: skip
        total, points = 0.0, 0
        while True:
            body = self._rpc("cms", "DescribeMetricList", params)
            if str(body.get("Success", "true")).lower() == "false":
                raise errors.ServiceError(str(body.get("Code") or "MetricReadFailed"), str(body.get("Message") or ""))
            for point in _json(body.get("Datapoints") or "[]") or []:
                value = point.get("Sum", point.get("Value", point.get("Maximum", 0)))
                total += float(value or 0)
                points += 1
            token = body.get("NextToken")
            if not token:
                return total, points
            params["NextToken"] = token


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return None
