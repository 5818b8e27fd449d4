"""The gateway's freshness checks, after the signature: a request's timestamp must be within 15 minutes
of the server's clock, and a signature nonce may be used once.

Codes as the OpenAPI gateway answers them: ``InvalidTimeStamp.Format``, ``InvalidTimeStamp.Expired``,
``SignatureNonceUsed`` (all 400). The SDKs stamp requests with the wall clock (``x-acs-date`` for
ACS3-HMAC-SHA256, ``Timestamp`` for HMAC-SHA1), so the check uses the wall clock too, never the
emulated one, which may run faster.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from .core import EmulatorError
from .signing import SignedRequest

WINDOW_S = 15 * 60


class InvalidTimeStampFormat(EmulatorError):
    code = "InvalidTimeStamp.Format"
    http_status = 400
    default_message = "Specified time stamp or date value is not well formatted."


class InvalidTimeStampExpired(EmulatorError):
    code = "InvalidTimeStamp.Expired"
    http_status = 400
    default_message = "Specified time stamp or date value is expired."


class SignatureNonceUsed(EmulatorError):
    code = "SignatureNonceUsed"
    http_status = 400
    default_message = "Specified signature nonce was used already."


class ReplayGuard:
    """Thread-safe; remembers nonces for the window (pruned as it goes)."""

    def __init__(self, clock: Callable[[], float] = time.time, window_s: float = WINDOW_S) -> None:
        self.clock, self.window_s = clock, window_s
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, request: SignedRequest, access_key_id: str) -> None:
        stamp = request.header("x-acs-date") or request.query.get("Timestamp")
        if stamp is not None:
            self._check_time(stamp)
        nonce = request.header("x-acs-signature-nonce") or request.query.get("SignatureNonce")
        if nonce:
            self._check_nonce(f"{access_key_id}/{nonce}")

    def _check_time(self, stamp: str) -> None:
        try:
            when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            raise InvalidTimeStampFormat() from None
        if abs(self.clock() - when) > self.window_s:
            raise InvalidTimeStampExpired()

    def _check_nonce(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: t for k, t in self._seen.items() if now - t <= self.window_s}
            seen = self._seen.get(key)
            if seen is not None and now - seen <= self.window_s:
                raise SignatureNonceUsed()
            self._seen[key] = now
