"""Test-harness calls survive the emulator's transient refusals, as any real client must.

The default scenario refuses a small share of calls with the throttling family and
``ServiceUnavailable``, like Aliyun does. The engine retries them itself (and is tested doing so);
the calls a test makes to *set up or inspect* a world (launch an instance, list what exists) are not
what is under test, so they go through ``patient(client)``: the same official SDK client, with each
call repeated while the answer is one of those transient codes. Any other error passes through
unchanged, so a test that expects a refusal still sees the real code.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

TRANSIENT_CODES = frozenset(
    {"Throttling", "Throttling.User", "Throttling.Api", "Rejected.Throttling", "ServiceUnavailable"}
)
ATTEMPTS = 8


def transient(exc: BaseException) -> bool:
    code = getattr(exc, "code", None)
    if not isinstance(code, str) and hasattr(exc, "get_error_code"):  # aliyun-python-sdk-core
        code = exc.get_error_code()
    return isinstance(code, str) and code in TRANSIENT_CODES


class Patient:
    """Proxy of an SDK client whose methods retry transient refusals (at most ATTEMPTS times)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name.startswith("_"):
            return attr
        return _retrying(attr)


def _retrying(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if attempt == ATTEMPTS or not transient(exc):
                    raise
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    return call


def patient(client: Any) -> Any:
    return Patient(client)
