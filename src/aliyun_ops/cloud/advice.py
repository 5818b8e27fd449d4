"""DescribeSpotAdvice, read once per region and instance type for an hour, shared by every incident of the process.

Guarantees:
  - One read per (account, endpoint, region, instance type) per ``ADVICE_TTL_S`` on the cloud's clock: the answer
    is a 30-day trailing average, so one more hour of data moves it by about 1/720 of its window; an hour-old
    answer ranks as well as a fresh one, and a reclaim wave of 100 incidents costs one or two calls, not 200.
  - Concurrent incidents asking for the same types wait for the one read in flight (single flight), so a wave
    starting at once does not multiply the call either.
  - A failed or denied read never fails an incident: its types are answered with no rows and a note (the planner
    then ranks them by price alone), and the failure itself is remembered ``FAILURE_TTL_S`` so a denied action
    costs one call a minute, not one per incident.
  - Types are asked at most ``MAX_TYPES`` per call (InstanceTypes.N takes up to 10).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from aliyun_ops import errors, models
from aliyun_ops.cloud import batch

ADVICE_TTL_S = 3600.0
FAILURE_TTL_S = 60.0
MAX_TYPES = 10  # DescribeSpotAdvice InstanceTypes.N: "up to 10 instance types"
WAIT_S = 60.0  # the longest a caller waits for another's read before going on without it


@dataclass(frozen=True)
class AdviceRead:
    """What is known of the asked types: their rows (every zone the answer listed) and, when some could not be
    read, a note saying why ("" when every type was read)."""

    rows: tuple[models.SpotAdvice, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class _Entry:
    expires: float
    rows: tuple[models.SpotAdvice, ...]
    error: str = ""  # the error code of a failed read ("" when read)


class AdviceCache:
    """Thread-safe per-region, per-type memory of DescribeSpotAdvice answers (see the module)."""

    def __init__(self, ttl_s: float = ADVICE_TTL_S, failure_ttl_s: float = FAILURE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self.failure_ttl_s = failure_ttl_s
        self._lock = threading.Lock()
        self._entries: dict[tuple[Hashable, str], _Entry] = {}
        self._inflight: dict[tuple[Hashable, str], threading.Event] = {}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(
        self,
        region_key: Hashable,
        instance_types: Sequence[str],
        fetch: Callable[[list[str]], list[models.SpotAdvice]],
        clock: Callable[[], float],
    ) -> AdviceRead:
        """The advice of ``instance_types``: from memory while fresh, else from ``fetch`` (at most MAX_TYPES a
        call; it raises CloudError on failure), else from the read another caller has in flight."""
        wanted = list(dict.fromkeys(t for t in instance_types if t))
        mine: list[str] = []
        waits: list[threading.Event] = []
        done = threading.Event()
        with self._lock:
            now = clock()
            for t in wanted:
                entry = self._entries.get((region_key, t))
                if entry is not None and entry.expires > now:
                    continue
                flying = self._inflight.get((region_key, t))
                if flying is not None:
                    waits.append(flying)
                else:
                    mine.append(t)
                    self._inflight[(region_key, t)] = done
        try:
            for chunk in batch.chunks(mine, MAX_TYPES) if mine else []:  # no chunk for none (not "every type")
                self._read(region_key, chunk, fetch, clock)
        finally:
            with self._lock:
                for t in mine:
                    self._inflight.pop((region_key, t), None)
            done.set()
        for event in waits:
            event.wait(WAIT_S)
        return self._answer(region_key, wanted)

    def _read(
        self,
        region_key: Hashable,
        types: list[str],
        fetch: Callable[[list[str]], list[models.SpotAdvice]],
        clock: Callable[[], float],
    ) -> None:
        try:
            rows = fetch(types)
        except errors.CloudError as exc:
            entry = _Entry(clock() + self.failure_ttl_s, (), exc.code or type(exc).__name__)
            with self._lock:
                for t in types:
                    self._entries[(region_key, t)] = entry
            return
        by_type: dict[str, list[models.SpotAdvice]] = {t: [] for t in types}
        for row in rows:
            by_type.setdefault(row.instance_type, []).append(row)
        expires = clock() + self.ttl_s
        with self._lock:
            for t, found in by_type.items():
                self._entries[(region_key, t)] = _Entry(expires, tuple(found))

    def _answer(self, region_key: Hashable, wanted: list[str]) -> AdviceRead:
        rows: list[models.SpotAdvice] = []
        failed: dict[str, list[str]] = {}
        with self._lock:
            for t in wanted:
                entry = self._entries.get((region_key, t))
                if entry is None:
                    failed.setdefault("not read in time", []).append(t)
                elif entry.error:
                    failed.setdefault(entry.error, []).append(t)
                else:
                    rows.extend(entry.rows)
        note = "; ".join(f"spot advice of {', '.join(ts)} unknown ({why})" for why, ts in failed.items())
        return AdviceRead(tuple(rows), note)


ADVICE = AdviceCache()  # the process's memory: every Cloud of every incident shares it
