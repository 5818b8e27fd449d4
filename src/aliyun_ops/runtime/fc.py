"""Entry point for Function Compute's built-in Python runtime: ``aliyun_ops.runtime.fc.handler``.

``event`` is the raw body (bytes). Credentials are the function role's STS credentials: on python3.10
in ``context.credentials``, on python3.12 in ``ALIBABA_CLOUD_*`` environment variables. The region is
``context.region`` unless ALIYUN_OPS_REGION is set; the deadline is the function's timeout
(``context.function.timeout``, else ALIYUN_OPS_FUNCTION_TIMEOUT) counted from the invocation's start.

Returns the outcome as a JSON string when the event was handled or ignored. Raises on every failure,
malformed input included, so the invocation is marked failed: Function Compute then retries an
asynchronous invocation (at most 3 times by default) and sends it to the failure destination, and
alerts fire. Malformed input fails the same way on every retry, which is bounded and visible; the
alternative, answering "ok", would hide a broken trigger forever.

One exception: a reconcile request while a pass of the same region already runs in this instance returns
``{"status": "skipped", ...}`` without running a second pass. It is not a failure: the timer fires again and the
running pass does the work; raising would make FC retry it (another overlap) and fire a false alert.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from aliyun_ops.config import Credentials
from aliyun_ops.runtime.invoke import Invocation, ReconcileBusy, Runner, describe_error, parse_timeout, to_json

log = logging.getLogger("aliyun_ops.runtime")

_runner: Runner | None = None


def handler(event: Any, context: Any) -> str:
    """FC event handler: the outcome JSON, or an exception (which FC records as a failed invocation)."""
    started = time.time()
    _configure_logs()
    inv = Invocation(
        body=event,  # parse_event rejects anything but bytes/str/object with EventError
        request_id=str(getattr(context, "request_id", "") or "-")[:128],
        credentials=credentials_of(context),
        region_id=getattr(context, "region", None) or None,
        timeout_s=parse_timeout(getattr(getattr(context, "function", None), "timeout", None)),
        account_id=str(getattr(context, "account_id", "") or "") or None,
        started=started,
    )
    secrets = (inv.credentials.access_key_secret, inv.credentials.security_token) if inv.credentials else ()
    try:
        result = runner().run(inv)
    except ReconcileBusy as busy:
        log.info("request %s: reconcile skipped: %s", inv.request_id, busy)
        return to_json({"status": "skipped", "message": str(busy), "outcomes": []})
    except Exception as exc:
        elapsed = time.time() - started
        log.error("request %s failed after %.1fs: %s", inv.request_id, elapsed, describe_error(exc, secrets))
        raise
    log.info("request %s: %s: %s", inv.request_id, result.get("status"), result.get("message"))
    return to_json(result)


_logs_configured = False


def _configure_logs() -> None:
    """JSON lines on Function Compute (FC_FUNCTION_NAME is set there) or when asked; once per process."""
    global _logs_configured
    if _logs_configured:
        return
    _logs_configured = True
    from aliyun_ops.logs import configure_json_logging, wants_json

    if wants_json(default=bool(os.environ.get("FC_FUNCTION_NAME"))):
        configure_json_logging()


def credentials_of(context: Any) -> Credentials | None:
    """``context.credentials`` (python3.10 runtime) when it holds a key pair; None otherwise."""
    creds = getattr(context, "credentials", None)
    key_id = getattr(creds, "access_key_id", None) or getattr(creds, "accessKeyId", None)
    secret = getattr(creds, "access_key_secret", None) or getattr(creds, "accessKeySecret", None)
    token = getattr(creds, "security_token", None) or getattr(creds, "securityToken", None)
    if isinstance(key_id, str) and isinstance(secret, str) and key_id and secret:
        return Credentials(key_id, secret, token if isinstance(token, str) and token else None)
    return None


def runner() -> Runner:
    """One per process (a warm FC instance reuses it): settings and notifier from the environment."""
    global _runner
    if _runner is None:
        _runner = Runner()
    return _runner
