"""Emulated time and the latency model, shared by the bench and its worker processes.

The emulator runs time-scaled: emulated now = start + real elapsed x scale. Every figure is in emulated
seconds. The emulator's fault knobs work in real time (``latencyMs`` is a real wait, ``qpsLimit`` a
token bucket on the real clock), so this module converts: 80 ms emulated is 80/scale ms real, and q
calls per emulated second are q x scale calls per real second.

Real work is scaled too: a round trip that costs 3 ms of real CPU here counts as 3 x scale ms of
emulated time. ``calibrate`` measures that cost and the injected latency is reduced by it, so that one
round trip costs about the modelled latency. Whatever the machine adds beyond that (load, GC) is the
jitter: the report prints the measured round trip, not the intended one.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class EmuTime:
    """The emulator's clock, readable in any process on this machine (CLOCK_MONOTONIC is system-wide).

    Valid as long as nobody advances the emulator's clock or changes its scale after the snapshot.
    """

    emu_at: float
    mono_at: float
    scale: float

    @classmethod
    def of(cls, clock: Any) -> EmuTime:
        """Snapshot an ``aliyun_ops.emulator.core.Clock``."""
        return cls(emu_at=clock.now(), mono_at=time.monotonic(), scale=float(clock.time_scale))

    def now(self) -> float:
        return self.emu_at + (time.monotonic() - self.mono_at) * self.scale

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of emulated time."""
        if seconds > 0:
            time.sleep(seconds / self.scale)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmuTime:
        return cls(float(data["emu_at"]), float(data["mono_at"]), float(data["scale"]))


@dataclass(frozen=True)
class LatencyModel:
    """Per-call API latency in emulated milliseconds, turned into the emulator's real-time knobs."""

    mean_ms: float = 80.0
    scale: float = 20.0
    overhead_ms: float = 0.0  # measured real cost of one round trip without injected latency

    @property
    def injected_real_ms(self) -> float:
        """What ``faults(latency_ms=...)`` must add so that a round trip costs ``mean_ms`` emulated."""
        return max(0.0, self.mean_ms / self.scale - self.overhead_ms)

    @property
    def overhead_emulated_ms(self) -> float:
        return self.overhead_ms * self.scale

    def real_qps(self, emulated_qps: float) -> float:
        """A qps limit in calls per emulated second, as the emulator's real-time bucket needs it."""
        return emulated_qps * self.scale

    def apply(self, control: Any) -> None:
        """Add the latency rule to every action of one emulator."""
        if self.injected_real_ms > 0:
            control.faults(actions=["*"], latency_ms=self.injected_real_ms)


def calibrate(call: Callable[[], object], rounds: int = 25) -> float:
    """Median real milliseconds of ``call`` (one SDK round trip to the emulator, no fault rule)."""
    call()  # the first call opens the connection and warms the SDK's caches
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(samples)


def waves(times: Sequence[float], gap_s: float) -> int:
    """Sequential round trips among calls that ended at ``times``: calls ending within ``gap_s`` of
    the first call of a wave ran side by side and count once."""
    count, start = 0, None
    for t in sorted(times):
        if start is None or t - start > gap_s:
            count, start = count + 1, t
    return count


def round_trip_gaps(times: Sequence[float], max_gap_s: float) -> list[float]:
    """Gaps between consecutive calls of one sequential caller, leaving out its sleeps (> max_gap_s):
    each is one round trip plus the caller's own work, in emulated seconds."""
    ordered = sorted(times)
    return [b - a for a, b in itertools.pairwise(ordered) if 0 < b - a <= max_gap_s]
