"""The local emulator's clock, for ``aliyun-ops serve`` pointed at it.

``aliyun-ops emulator --time-scale 10`` runs ten emulated seconds per real one: a reclaim's five-minute notice takes
30 real seconds. A runtime on real time would wait the full five minutes for the release (and the README's local
try-out would block for minutes without a word). So ``serve`` asks the endpoint for its clock
(``POST /_emulator/clock``, the emulator's control API, which a real Aliyun endpoint does not have) and, when it
answers, runs the engine on it: the emulated time now, and sleeps shortened by the time scale. The clock is read
again every RESYNC_S real seconds, so a clock the user advanced or rescaled is followed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

RESYNC_S = 5.0
PROBE_TIMEOUT_S = 2.0


@dataclass
class EmulatorClock:
    """``now()`` on the emulator's clock; ``sleep(s)`` waits ``s`` emulated seconds."""

    url: str
    emulated: float
    scale: float
    real: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        with self.lock:
            if time.monotonic() - self.real >= RESYNC_S:
                self._sync()
            return self.emulated + (time.monotonic() - self.real) * self.scale

    def sleep(self, seconds: float) -> None:
        with self.lock:
            scale = self.scale
        time.sleep(max(seconds, 0.0) / scale)

    def _sync(self) -> None:
        try:
            found = read(self.url)
        except (httpx.HTTPError, ValueError):
            return  # keep extrapolating from the last reading
        if found is not None:
            self.emulated, self.scale, self.real = found[0], found[1], time.monotonic()


def read(url: str) -> tuple[float, float] | None:
    """(now, time scale) from an emulator's control API; None when the endpoint is not an emulator (or its clock is
    paused: time scale 0, where only its user moves time)."""
    answer = httpx.post(f"{url}/_emulator/clock", json={}, timeout=PROBE_TIMEOUT_S)
    if answer.status_code != 200:
        return None
    body = answer.json()
    now, scale = float(body.get("now", 0.0)), float(body.get("timeScale", 0.0))
    return (now, scale) if scale > 0 else None


def follow(endpoint: str, protocol: str = "http") -> EmulatorClock | None:
    """The emulator's clock behind ``endpoint`` (``host:port``), or None when it is not the local emulator."""
    url = f"{protocol}://{endpoint}"
    try:
        found = read(url)
    except (httpx.HTTPError, ValueError):
        return None
    return EmulatorClock(url, found[0], found[1]) if found else None
