"""What both Function Compute entry points share: one invocation in, an outcome or an exception out.

The entry points differ only in where the event, credentials, region and timeout come from (a
``context`` object, or HTTP headers); this module turns those into a call of
``service.handle_event`` and maps exceptions to HTTP statuses. Failures are never turned into
successes: the built-in runtime re-raises, the HTTP runtime answers non-2xx.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aliyun_ops import errors
from aliyun_ops.config import Credentials, Settings, resolve_credentials
from aliyun_ops.events import Ignored, is_reconcile_request, parse_event

log = logging.getLogger("aliyun_ops.runtime")

RECONCILE_RETRY_AFTER_S = 60  # a refused overlapping reconcile: the running pass usually ends within this


class ReconcileBusy(errors.Busy):
    """A reconcile pass of this region already runs in this process: the request is answered at once instead of
    starting a second pass over the same instances (the timer fires again; the running pass does the work)."""


# Exception class -> HTTP status of the custom runtime's answer (first match wins).
STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (errors.EventError, 400),
    (errors.Busy, 429),
    (errors.DeadlineExceeded, 504),
    (errors.ReplacementFailed, 503),
    (errors.CloudError, 502),
    (errors.ConfigError, 500),
)


@dataclass(frozen=True)
class Invocation:
    """One event delivery, as either runtime received it."""

    body: bytes | str | Mapping[str, Any]
    request_id: str = ""
    credentials: Credentials | None = field(default=None, repr=False)
    region_id: str | None = None
    timeout_s: float | None = None
    started: float = field(default_factory=time.time)
    account_id: str | None = None  # the function owner's account (FC's x-fc-account-id / context.account_id)


def status_of(exc: BaseException) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 500)


def describe_error(exc: BaseException, secrets: tuple[str | None, ...] = ()) -> str:
    """A one-line reason fit for logs and answers: our own messages, never a secret."""
    if isinstance(exc, errors.AliyunOpsError):
        text = str(exc) or type(exc).__name__
    else:
        text = f"internal error ({type(exc).__name__})"
    return redact(text, secrets)


def redact(text: str, secrets: tuple[str | None, ...]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def resolve_settings(inv: Invocation, settings: Settings | None, environ: Mapping[str, str]) -> Settings:
    """Explicit settings win; otherwise the environment, with the request's region below ALIYUN_OPS_REGION."""
    if settings is not None:
        return settings
    resolved = Settings.from_env(environ)
    if inv.region_id and not environ.get("ALIYUN_OPS_REGION", "").strip():
        resolved = Settings.from_env(environ, region_id=inv.region_id)
    return resolved


class Runner:
    """Runs invocations against ``service.handle_event``; the notifier is built once, lazily."""

    def __init__(
        self,
        settings: Settings | None = None,
        environ: Mapping[str, str] | None = None,
        handle: Callable[..., Any] | None = None,
        reconcile: Callable[..., Any] | None = None,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``sleep``/``clock``: the time the engine runs on (default: real time). ``aliyun-ops serve`` pointed at the
        local emulator passes the emulator's, so an incident there takes the emulator's minutes, not real ones."""
        self.settings = settings
        self.sleep, self.clock = sleep, clock
        self.environ = os.environ if environ is None else environ
        self._handle = handle
        self._reconcile = reconcile
        self._notifier: Any = None
        self._lock = threading.Lock()
        self._slots: threading.BoundedSemaphore | None = None  # concurrent incidents, sized on first use

    def run(self, inv: Invocation) -> dict[str, Any]:
        """The outcome as JSON-ready dict; raises on malformed input and on every failure."""
        if is_reconcile_request(inv.body):
            return self.reconcile(inv)
        parsed = parse_event(inv.body)  # EventError early: no credentials or cloud needed for a bad body
        if isinstance(parsed, Ignored):
            return {"status": "ignored", "message": parsed.reason, "record": None}
        context = self._context(inv)
        slots = self._incident_slots(context["settings"])
        if not slots.acquire(blocking=False):  # a flood (forged or real) waits in FC's retries, not in threads here
            raise errors.Busy(
                f"this function instance already handles {context['settings'].max_incidents} incidents; "
                "retry the delivery (ALIYUN_OPS_MAX_INCIDENTS)"
            )
        try:
            outcome = self.handle(inv.body, request_id=inv.request_id, account_id=_account(inv), **context)
        finally:
            slots.release()
        result = outcome.to_json()
        assert isinstance(result, dict)
        return result

    def reconcile(self, inv: Invocation) -> dict[str, Any]:
        """The timer trigger: catch up on missed notices and reclaim-stopped instances (service.reconcile).

        One pass per region at a time in this process: a pass covers the configured region and every region of
        ``settings.regions``; a request while a pass of any of them runs raises ``ReconcileBusy`` at once (the HTTP
        runtime answers 429 with Retry-After; the built-in runtime reports it as skipped, not failed)."""
        if self._reconcile is None:
            from aliyun_ops.service import reconcile

            self._reconcile = reconcile
        context = self._context(inv)
        settings = context["settings"]
        held = _hold_reconcile_locks((settings.region_id, *settings.regions))
        try:
            outcomes = self._reconcile(**context)
        finally:
            for lock in held:
                lock.release()
        acted = [o for o in outcomes if o.status not in ("ignored", "skipped")]
        return {
            "status": "reconciled",
            "message": f"{len(acted)} of {len(outcomes)} checked lineages needed action",
            "outcomes": [o.to_json() for o in outcomes],
        }

    def _context(self, inv: Invocation) -> dict[str, Any]:
        """What every entry of the service needs from an invocation: settings, credentials, deadline, notifier."""
        timed: dict[str, Any] = {}
        started = inv.started
        if self.sleep is not None and self.clock is not None:
            timed = {"sleep": self.sleep, "clock": self.clock}
            started = self.clock()  # the deadline on the same clock as the engine's
        return {
            "settings": resolve_settings(inv, self.settings, self.environ),
            "credentials": resolve_credentials(inv.credentials, self.environ),
            "deadline": started + inv.timeout_s if inv.timeout_s else None,
            "notifier": self.notifier(),
            **timed,
        }

    def _incident_slots(self, settings: Settings) -> threading.BoundedSemaphore:
        with self._lock:
            if self._slots is None:
                self._slots = threading.BoundedSemaphore(settings.max_incidents)
            return self._slots

    def handle(self, *args: Any, **kwargs: Any) -> Any:
        if self._handle is None:
            from aliyun_ops.service import handle_event

            self._handle = handle_event
        return self._handle(*args, **kwargs)

    def notifier(self) -> Any:
        """Built from the environment on first use; a broken notification setup never blocks a replacement."""
        with self._lock:
            if self._notifier is None:
                try:
                    from aliyun_ops.notify import build_notifier

                    self._notifier = build_notifier(self.environ)
                except Exception as exc:  # notifications are best effort: never block a replacement
                    log.warning("notifications disabled: %s", type(exc).__name__)
                    self._notifier = False
            return self._notifier or None


_RECONCILING: dict[str, threading.Lock] = {}
_RECONCILING_LOCK = threading.Lock()


def _reconcile_lock(region_id: str) -> threading.Lock:
    """The process's one lock per region: held while a reconcile pass of that region runs."""
    with _RECONCILING_LOCK:
        return _RECONCILING.setdefault(region_id, threading.Lock())


def _hold_reconcile_locks(regions: tuple[str, ...]) -> list[threading.Lock]:
    """Every region's lock, all or none (``ReconcileBusy`` naming the busy region): a pass over several regions
    never overlaps another pass of any of them. Taken in sorted order without waiting, so two passes never deadlock."""
    held: list[threading.Lock] = []
    for region in sorted(set(regions)):
        lock = _reconcile_lock(region)
        if not lock.acquire(blocking=False):
            for taken in held:
                taken.release()
            raise ReconcileBusy(f"a reconcile pass is already running for {region} in this function instance")
        held.append(lock)
    return held


def _account(inv: Invocation) -> str | None:
    """FC's account id when it is one (a number); anything else is ignored, never trusted."""
    from aliyun_ops.models import ACCOUNT_ID

    value = (inv.account_id or "").strip()
    return value if ACCOUNT_ID.match(value) else None


def to_json(value: dict[str, Any]) -> str:
    """Outcome JSON; anything unusual in a record (sets, floats like inf) still serializes."""
    return json.dumps(value, default=str, ensure_ascii=False)


def parse_timeout(raw: object) -> float | None:
    """A positive number of seconds, or None when absent or nonsense (the configured timeout applies)."""
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 86400 else None
