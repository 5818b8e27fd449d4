"""The gateway's freshness checks, after the signature: every request carries a timestamp within 15
minutes of the server's clock and a signature nonce used only once.

Both are read only where the signature covers them (``signing.signed_freshness``): the ACS3 signed
headers, or the HMAC-SHA1 query and form body. Codes as the OpenAPI gateway answers them:
``InvalidTimeStamp.Format``, ``InvalidTimeStamp.Expired``, ``SignatureNonceUsed``, ``MissingTimestamp``
(all 400); ``MissingSignatureNonce`` 400 is an assumption (the gateway's ``Missing<Name>`` pattern).
The SDKs stamp requests with the wall clock (``x-acs-date`` for ACS3-HMAC-SHA256, ``Timestamp`` for
HMAC-SHA1), so the check uses the wall clock too, never the emulated one, which may run faster.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from .core import EmulatorError
from .signing import SignedRequest, signed_freshness

WINDOW_S = 15 * 60


class InvalidTimeStampFormat(EmulatorError):
    code = "InvalidTimeStamp.Format"
    http_status = 400
    default_message = "Specified time stamp or date value is not well formatted."


class InvalidTimeStampExpired(EmulatorError):
    code = "InvalidTimeStamp.Expired"
    http_status = 400
    default_message = "Specified time stamp or date value is expired."


class MissingTimestamp(EmulatorError):
    code = "MissingTimestamp"
    http_status = 400
    default_message = "Timestamp is mandatory for this action."


class MissingSignatureNonce(EmulatorError):
    code = "MissingSignatureNonce"
    http_status = 400
    default_message = "SignatureNonce is mandatory for this action."


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
        """Call after the signature is verified. A timestamp or nonce the signature does not cover counts
        as missing (anyone could change it), so a replay cannot be dressed up with a fresh one."""
        stamp, nonce = signed_freshness(request)
        if not stamp:
            raise MissingTimestamp()
        self._check_time(stamp)
        if not nonce:
            raise MissingSignatureNonce()
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
