"""One RPC call from HTTP request to answer: route, authenticate, authorize, inject faults, run.

Routing follows what the SDKs send: ACS3 requests name the API in ``x-acs-action``/``x-acs-version``
headers, HMAC-SHA1 requests in the ``Action``/``Version`` query parameters. The Version picks the
product (ECS 2014-05-26, VPC 2016-04-28, CloudMonitor 2019-01-01), all served at one address. Errors
are the real ones (``InvalidVersion``, ``InvalidAction.NotFound``, signature errors, ``Forbidden.RAM``);
any unexpected exception becomes ``InternalError`` 500 and is logged. Every body
gets a ``RequestId``; every call is journaled. ``answer_format`` picks XML or JSON for the answer
(the server renders it), errors included.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import ram_resources
from .core import API_VERSIONS, REGISTRY, EmulatorError
from .faults import Faults
from .journal import Journal
from .ram import RamPolicy
from .replay import ReplayGuard
from .signing import SignedRequest, authenticate
from .validate import validate

log = logging.getLogger(__name__)

PRODUCTS = {version: product for product, version in API_VERSIONS.items()}
# Query fields that belong to the signature envelope, not to the action.
ENVELOPE = frozenset(
    {
        "Action", "Version", "Format", "Timestamp", "AccessKeyId", "SecurityToken", "BearerToken",
        "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "SignatureType",
    }
)


class MissingAction(EmulatorError):
    code = "MissingParameter"
    http_status = 400
    default_message = 'The input parameter "Action" that is mandatory for processing this request is not supplied.'


class InvalidVersion(EmulatorError):
    code = "InvalidVersion"
    http_status = 400
    default_message = "Specified parameter Version is not valid."


class InvalidActionNotFound(EmulatorError):
    code = "InvalidAction.NotFound"
    http_status = 404
    default_message = "Specified api is not found, please check your url and method."


XML, JSON = "xml", "json"


def answer_format(request: SignedRequest) -> str:
    """The format the gateway answers in: the ``Format`` parameter (query, then form; ``XML``/``JSON``
    in any case) when it names one; otherwise JSON for an ACS3-signed request (``Authorization``
    header; the SDK also sends ``Accept: application/json``) and XML for the rest: the query-signed
    HMAC-SHA1 style, whose documented default is XML, and unsigned requests."""
    for source in (request.query, request.form):
        wanted = source.get("Format", "").strip().lower()
        if wanted in (XML, JSON):
            return wanted
    return JSON if request.header("authorization") is not None else XML


@dataclass
class RpcResult:
    """``body`` None means: answer nothing and drop the connection (a timeout fault). ``fmt`` is
    ``"xml"`` or ``"json"``; ``action`` names the XML root of a success (``<Action>Response``)."""

    status: int
    body: dict[str, Any] | None
    request_id: str
    fmt: str = JSON
    action: str = ""


@dataclass
class Call:
    """What is known about the call so far, for the journal."""

    request_id: str
    action: str = ""
    product: str = ""
    access_key_id: str | None = None


class Dispatcher:
    """Stateless apart from its collaborators; safe to call from many handler threads at once."""

    def __init__(
        self,
        backend: Any,
        faults: Faults,
        journal: Journal,
        policy: Callable[[], RamPolicy | None],
        stopping: threading.Event,
    ) -> None:
        self.backend = backend
        self.faults = faults
        self.journal = journal
        self.policy = policy
        self.stopping = stopping
        self.in_flight = 0  # calls being answered right now (read by tests and diagnostics)
        self.replay = ReplayGuard()  # request timestamps within 15 min, each signature nonce used once
        self._parsed: dict[str, tuple[Any, RamPolicy]] = {}  # access key id -> (document, parsed policy)
        self._count_lock = threading.Lock()

    def handle(self, request: SignedRequest) -> RpcResult:
        with self._count_lock:
            self.in_flight += 1
        try:
            return self._handle(request)
        finally:
            with self._count_lock:
                self.in_flight -= 1

    def _handle(self, request: SignedRequest) -> RpcResult:
        call = Call(request_id=str(uuid.uuid4()).upper())
        params = {k: v for k, v in {**request.form, **request.query}.items() if k not in ENVELOPE}
        try:
            with self.backend.lock:
                self.backend.clock.fire_due()
            result = self._run(request, params, call)
        except EmulatorError as err:
            result = RpcResult(err.http_status, self._error_body(err, call), call.request_id)
        except Exception:
            log.exception("emulator action %s failed", call.action or "?")
            result = RpcResult(500, self._error_body(EmulatorError(), call), call.request_id)
        self._record(call, params, result)
        result.fmt, result.action = answer_format(request), call.action
        return result

    def _run(self, request: SignedRequest, params: dict[str, str], call: Call) -> RpcResult:
        call.action = request.header("x-acs-action") or request.query.get("Action") or ""
        version = request.header("x-acs-version") or request.query.get("Version") or ""
        if not call.action:
            raise MissingAction()
        call.product = PRODUCTS.get(version, "")
        if not call.product:
            raise InvalidVersion()
        fn = REGISTRY.get((call.product, call.action))
        if fn is None:
            raise InvalidActionNotFound()
        call.access_key_id = authenticate(request, self.backend.credentials)
        self.replay.check(request, call.access_key_id)
        policies = [p for p in (self.policy(), self._identity_policy(call.access_key_id)) if p is not None]
        if policies:
            with self.backend.lock:  # the resources as they are now: ARN, region, tags
                touched = ram_resources.resources_of(self.backend, call.product, call.action, params)
                role = params.get("RamRoleName") if call.action == "RunInstances" else None
                passed = ram_resources.role(self.backend, role) if role else None
            for policy in policies:
                policy.check(call.product, call.action, touched)
                if passed is not None:
                    policy.check("ram", "PassRole", [passed])  # launching with a role passes it to the instance
        validate(call.product, call.action, params)  # the official specification's parameter rules
        if not self._apply_faults(call.action, params.get("RegionId")):
            return RpcResult(0, None, call.request_id)
        with self.backend.lock:
            body = fn(self.backend, dict(params))
        return RpcResult(200, {"RequestId": call.request_id, **body}, call.request_id)

    def _identity_policy(self, access_key_id: str) -> RamPolicy | None:
        """The RAM policy attached to the caller's identity (scenario credentials), parsed once."""
        credential = self.backend.credentials.get(access_key_id)
        document = getattr(credential, "policy", None)
        if document is None:
            return None
        cached = self._parsed.get(access_key_id)
        if cached is None or cached[0] is not document:  # a scenario load brings new documents
            cached = self._parsed[access_key_id] = (document, RamPolicy(document))
        return cached[1]

    def _apply_faults(self, action: str, region: str | None = None) -> bool:
        """Wait out latency; False when the call must be dropped; raise an injected error."""
        decision = self.faults.decide(action, region)
        if decision.latency > 0:
            self.stopping.wait(decision.latency)
        if decision.hold > 0:
            self.stopping.wait(decision.hold)
            return False
        if decision.error is not None:
            raise decision.error
        return True

    def _error_body(self, err: EmulatorError, call: Call) -> dict[str, Any]:
        body = err.body(call.request_id)
        if call.product == "vpc":
            body["HostId"] = "vpc.aliyuncs.com"
            body["Recommend"] = f"https://api.aliyun.com/troubleshoot?q={err.code}&product=Vpc"
        elif call.product == "cms":
            body["HostId"] = "metrics.aliyuncs.com"
            body["Recommend"] = f"https://api.aliyun.com/troubleshoot?q={err.code}&product=Cms"
        return body

    def _record(self, call: Call, params: dict[str, str], result: RpcResult) -> None:
        code = None if result.body is None or result.status == 200 else result.body.get("Code")
        self.journal.record(
            time=self.backend.clock.now(),
            action=call.action,
            product=call.product,
            params=params,
            access_key_id=call.access_key_id,
            status=result.status,
            code=code if result.body is not None else "ConnectionDropped",
            request_id=call.request_id,
        )
