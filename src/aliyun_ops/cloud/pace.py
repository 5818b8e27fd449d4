"""Adaptive pacing: once the API throttles an action, this process spaces that action's calls itself.

Aliyun's rate limits are per action and per account (Quota Center), and not published as a table. A reclaim wave
runs many incidents in one function instance; without pacing, every throttled call backs off on its own, so
the calls bunch up, the limit refuses most of them, and the backoffs leave the limit idle while everyone sleeps.
``Pace`` learns the rate the account allows from the throttling itself, as AWS SDKs' "adaptive" retry mode does:

- unpaced until the action is throttled *under load*: at least ``MIN_LOAD`` calls/s of it accepted over the last
  ``WINDOW_S``, and at least ``SIGNAL_SHARE`` of its attempts refused there (a lone refusal, or the cloud's
  random transient ones among many accepted calls, says nothing about our rate; the caller's backoff handles
  those);
- at a throttle the rate becomes ``DECREASE`` x the rate accepted over the last ``WINDOW_S`` (a limit we saturate
  accepts exactly its own rate), at most once per ``CUT_EVERY_S`` (a hundred refusals of one burst are one
  signal), never below ``MIN_RATE``;
- a throttled call of a paced action retries in its next slot (plus up to 0.5 s of jitter), not after an
  exponential backoff that would leave the limit idle; other failures back off as before;
- every accepted call adds ``INCREASE`` calls/s, so the rate probes up to the limit again;
- without a throttle for ``CALM_S``, the action is unpaced again.

Calls then wait for their slot (``wait``) in the order they asked. The caller's clock and sleep are used, so
tests run on the emulator's clock. One ``Pace`` per (account, endpoint, region, action), shared by threads.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable

from aliyun_ops.cloud import batch

MIN_LOAD = 3.0  # accepted calls/s over the window: below this a throttle says nothing about our own rate
DECREASE = 0.95
INCREASE = 0.05  # calls/s per accepted call
MIN_RATE = 0.5  # calls/s
CALM_S = 30.0
WINDOW_S = 5.0  # the accepted rate is measured over this long: a saturated limit accepts its own rate
CUT_EVERY_S = 1.0
SIGNAL_SHARE = 0.2  # of the attempts over the window refused as throttled: the limit, not a transient


class Pace:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted: collections.deque[float] = collections.deque()
        self._refused: collections.deque[float] = collections.deque()
        self.rate: float | None = None  # calls/s; None: unpaced
        self._next = 0.0
        self._cut_at = float("-inf")
        self._throttled_at = float("-inf")

    def slot(self, now: float) -> float:
        """Seconds the caller waits before its call (0 when unpaced); reserves the slot."""
        with self._lock:
            if self.rate is not None and now - self._throttled_at > CALM_S:
                self.rate = None
            if self.rate is None:
                return 0.0
            at = max(now, self._next)
            self._next = at + 1.0 / self.rate
            return at - now

    def accepted(self, now: float) -> None:
        with self._lock:
            self._accepted.append(now)
            self._forget(now)
            if self.rate is not None:
                self.rate += INCREASE

    def throttled(self, now: float) -> None:
        with self._lock:
            self._refused.append(now)
            self._forget(now)
            accepted, refused = len(self._accepted), len(self._refused)
            recent = accepted / WINDOW_S
            if self.rate is None and (recent < MIN_LOAD or refused < SIGNAL_SHARE * (accepted + refused)):
                return  # not our own load: a transient refusal
            self._throttled_at = now
            if now - self._cut_at < CUT_EVERY_S:
                return  # the same burst's refusals: one signal
            self.rate = max(MIN_RATE, min(self.rate or recent, recent) * DECREASE)
            self._cut_at = now
            self._next = max(self._next, now)

    def _forget(self, now: float) -> None:
        for seen in (self._accepted, self._refused):
            while seen and seen[0] < now - WINDOW_S:
                seen.popleft()


def of(key: Hashable) -> Pace:
    """The process's ``Pace`` for ``key`` (account, endpoint, region and action), made on first use."""
    return batch.shared(("pace", key), Pace)


def forget_all() -> None:
    """Unpace every action of this process (``cloud.client.clear_caches``)."""
    batch.forget_shared(lambda key: isinstance(key, tuple) and key[:1] == ("pace",))


def paced(pace: Pace, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
    """Wait for this call's slot."""
    wait = pace.slot(clock())
    if wait > 0:
        sleep(wait)
