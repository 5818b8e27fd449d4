"""The emulator's contract between its HTTP layer and its resource models.

- ``EmulatorError``: one subclass per cloud error code (see ``exceptions.py``); the HTTP layer renders
  it to the real error body ``{"RequestId","HostId","Code","Message","Recommend"}`` with its status.
- ``Clock``: emulated time. ``now()`` = start + real elapsed * time_scale + manual advances.
  Callbacks scheduled with ``call_at`` fire, in order, whenever ``fire_due()`` runs (the server runs it
  before every request and from a background ticker; ``advance()`` runs it too).
- ``action(product, name)``: registers a response function ``fn(backend, params) -> dict`` for an
  RPC action; ``params`` is the flat query dict exactly as the SDK sent it (``Tag.1.Key``, ...),
  minus the signature fields. The returned dict is the response body without ``RequestId`` (the HTTP
  layer adds it).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

Params = dict[str, str]
ActionFn = Callable[[Any, Params], dict[str, Any]]

# (product, Action) -> response function. product is "ecs", "vpc" or "cms" (CloudMonitor).
REGISTRY: dict[tuple[str, str], ActionFn] = {}
API_VERSIONS = {"ecs": "2014-05-26", "vpc": "2016-04-28", "cms": "2019-01-01"}


def action(product: str, name: str) -> Callable[[ActionFn], ActionFn]:
    def register(fn: ActionFn) -> ActionFn:
        REGISTRY[(product, name)] = fn
        return fn

    return register


class EmulatorError(Exception):
    """A cloud error: subclasses set ``code`` and ``http_status`` (and a default message)."""

    code = "InternalError"
    http_status = 500
    default_message = "The request processing has failed due to some unknown error."

    def __init__(self, message: str | None = None, *, code: str | None = None, http_status: int | None = None):
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        if http_status is not None:
            self.http_status = http_status
        super().__init__(f"{self.code}: {self.message}")

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "RequestId": request_id,
            "HostId": "ecs.aliyuncs.com",
            "Code": self.code,
            "Message": self.message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={self.code}&product=Ecs",
        }


class Clock:
    """Emulated wall clock (epoch seconds) with scheduled callbacks. Thread-safe."""

    def __init__(self, time_scale: float = 1.0, start: float | None = None) -> None:
        self._lock = threading.RLock()
        self._real0 = time.monotonic()
        self._emu0 = time.time() if start is None else start
        self._offset = 0.0
        self.time_scale = time_scale
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        with self._lock:
            return self._emu0 + (time.monotonic() - self._real0) * self.time_scale + self._offset

    def set_time_scale(self, scale: float) -> None:
        with self._lock:
            current = self.now()
            self._real0 = time.monotonic()
            self._emu0 = current - self._offset
            self.time_scale = scale

    def advance(self, seconds: float) -> None:
        """Move emulated time forward, firing every callback that falls due on the way, in order."""
        with self._lock:
            target = self.now() + seconds
            while self._timers and self._timers[0][0] <= target:
                at, _, fn = heapq.heappop(self._timers)
                self._offset += max(0.0, at - self.now())
                fn()
            self._offset += max(0.0, target - self.now())

    def call_at(self, at: float, fn: Callable[[], None]) -> None:
        with self._lock:
            heapq.heappush(self._timers, (at, next(self._seq), fn))

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        self.call_at(self.now() + delay, fn)

    def fire_due(self) -> None:
        with self._lock:
            while self._timers and self._timers[0][0] <= self.now():
                _, _, fn = heapq.heappop(self._timers)
                fn()

    def clear(self) -> None:
        with self._lock:
            self._timers.clear()

    def seconds_until_next(self) -> float | None:
        with self._lock:
            return self._timers[0][0] - self.now() if self._timers else None
