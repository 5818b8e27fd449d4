"""Concurrent reads by id, within one process, share calls: one DescribeX for the union of the ids asked.

A reclaim wave runs many incidents in one function instance, each polling its own instance, disks and
snapshots. The API takes up to 100 ids per call, and its rate limit is per action and per account, so
hundreds of one-id polls throttle one another (and the user's other tools). ``Coalescer.get`` sends the ids
asked while no call of its kind is in flight at once; ids asked while one is in flight wait for it and then
go together in the next. No timer and no sleep: a lone caller calls at once, exactly as before.

Freshness: a caller is answered only by a call that *started after* it asked, so batching never returns
an older state than a call of its own would have. A failed shared call is not inherited: each waiter of it
makes its own call, with its own deadline and retries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` in runs of at most ``size`` (an API's limit on ids per call), first seen first, duplicates
    dropped; ``[[]]`` for no items: one call without ids (a listing)."""
    unique = list(dict.fromkeys(items))
    return [unique[i : i + size] for i in range(0, len(unique), size)] or [[]]


def each(
    items: Iterable[T], act: Callable[[T], R], *, workers: int, go_on: Callable[[], bool] = lambda: True
) -> list[tuple[T, R]]:
    """``act(item)`` for the items, ``workers`` at a time, until ``go_on()`` says stop; ``(item, result)`` of those
    done, in the order given.

    Many independent writes (a label per disk) against an API whose limit is per action and account: one after the
    other, each waits its round trip, and the limit is never reached; ``workers`` at a time, the action's pacing
    (``cloud.pace``, shared by the threads) and the limit bound them instead. An item not started when ``go_on()``
    turns false is left (the caller's next pass does it). The first error is raised once the items already started
    are done, and no item starts after it."""
    todo = list(items)
    if workers <= 1 or len(todo) <= 1:
        done = []
        for item in todo:
            if not go_on():
                break
            done.append((item, act(item)))
        return done
    lock = threading.Lock()
    queue = iter(enumerate(todo))
    results: dict[int, R] = {}
    failed: list[BaseException] = []

    def work() -> None:
        while True:
            with lock:
                if failed or not go_on():
                    return
                got = next(queue, None)
            if got is None:
                return
            try:
                value = act(got[1])
            except BaseException as exc:
                with lock:
                    failed.append(exc)
                return
            with lock:
                results[got[0]] = value

    with ThreadPoolExecutor(max_workers=min(workers, len(todo)), thread_name_prefix="aliyun-ops-each") as pool:
        for _ in range(min(workers, len(todo))):
            pool.submit(work)
    if failed:
        raise failed[0]
    return [(todo[k], results[k]) for k in sorted(results)]


MAX_IDS = 100  # DescribeInstances InstanceIds, DescribeDisks DiskIds, DescribeSnapshots SnapshotIds


class Coalescer(Generic[T]):
    def __init__(self, key: Callable[[T], str]) -> None:
        self._key = key
        self._cond = threading.Condition()
        self._pending: set[str] = set()
        self._started = 0  # calls started so far; a request waits for a call numbered after it asked
        self._flying = False
        self._done: dict[str, int] = {}  # id -> the number of the last call that answered for it
        self._values: dict[str, T | None] = {}
        self._failed: dict[str, int] = {}  # id -> the number of the last call that failed for it

    def get(self, ids: Sequence[str], fetch: Callable[[list[str]], list[T]]) -> list[T]:
        """The records of ``ids`` (those that exist), from a call that started after this request.

        ``fetch`` is the caller's own call (its deadline, its retries): it makes the shared call when this caller
        leads, and this caller's alone when the shared call it waited for failed."""
        wanted = list(dict.fromkeys(ids))
        if not wanted or len(wanted) > MAX_IDS:
            return fetch(wanted) if wanted else []
        with self._cond:
            need = self._started + 1
            self._pending.update(wanted)
            while True:
                if all(self._done.get(i, 0) >= need for i in wanted):
                    return [v for i in wanted for v in [self._values.get(i)] if v is not None]
                if any(self._failed.get(i, 0) >= need for i in wanted):
                    break  # the shared call failed: ours alone, below
                if not self._flying:
                    others = sorted(self._pending.difference(wanted))[: MAX_IDS - len(wanted)]
                    batch = [*wanted, *others]
                    self._pending.difference_update(batch)
                    self._started += 1
                    number, self._flying = self._started, True
                    self._cond.release()
                    try:
                        self._lead(batch, number, fetch)
                    finally:
                        self._cond.acquire()
                    continue
                self._cond.wait()
        return fetch(wanted)

    def _lead(self, batch: list[str], number: int, fetch: Callable[[list[str]], list[T]]) -> None:
        try:
            found = fetch(batch)
        except BaseException:
            with self._cond:
                for i in batch:
                    self._failed[i] = number
                self._flying = False
                self._cond.notify_all()
            raise
        by_id = {self._key(v): v for v in found}
        with self._cond:
            for i in batch:
                self._done[i] = number
                self._values[i] = by_id.get(i)
            self._flying = False
            self._cond.notify_all()


_REGISTRY: dict[Hashable, object] = {}
_REGISTRY_LOCK = threading.Lock()
S = TypeVar("S")


def shared(key: Hashable, make: Callable[[], S]) -> S:
    """The process's one object for ``key``, made on first use (a coalescer per account, endpoint, region and kind
    of record; a ``pace.Pace`` per action)."""
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(key)
        if found is None:
            found = _REGISTRY[key] = make()
        return found  # type: ignore[return-value]


def forget_shared(match: Callable[[Hashable], bool]) -> None:
    """Drop the shared objects whose key matches (the next ``shared`` makes a new one)."""
    with _REGISTRY_LOCK:
        for key in [k for k in _REGISTRY if match(k)]:
            del _REGISTRY[key]


class TtlCache:
    """Answers that stay true for a while, kept per key for ``ttl_s`` seconds of the caller's clock; thread-safe.

    A warm function instance handles many incidents (a reclaim wave runs them at once): the catalogue, prices and
    stock they all read are asked once per lifetime, not once per incident. Concurrent askers of one missing key
    wait for the first one's call instead of making their own; a failed call is not cached (each waiter then
    makes its own). ``forget`` drops entries at once (a NoStock answer makes the stock read stale)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, object]] = {}
        self._loading: dict[Hashable, threading.Event] = {}

    def get(self, key: Hashable, now: Callable[[], float], load: Callable[[], T]) -> T:
        while True:
            with self._lock:
                found = self._entries.get(key)
                if found is not None and now() < found[0]:
                    return found[1]  # type: ignore[return-value]
                waiting = self._loading.get(key)
                if waiting is None:
                    mine = self._loading[key] = threading.Event()
                    break
            waiting.wait()  # another caller is reading it: its answer is as fresh as ours would be
        try:
            value = load()
            with self._lock:
                self._entries[key] = (now() + self.ttl_s, value)
            return value
        finally:
            with self._lock:
                self._loading.pop(key, None)
            mine.set()

    def forget(self, match: Callable[[Hashable], bool] = lambda _: True) -> None:
        with self._lock:
            for key in [k for k in self._entries if match(k)]:
                del self._entries[key]
