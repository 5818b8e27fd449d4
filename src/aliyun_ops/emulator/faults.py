"""Injected failures, so callers' retry, back-off and fallback paths can be exercised on purpose.

A rule applies to some actions (or ``"*"``) and can: answer an error at a given rate (seedable RNG, so
tests are deterministic), add latency, hold the request past the client's read timeout and then drop
the connection, and cap the rate of calls per action (token bucket on real time) answering
``Throttling.User`` past the cap. Rules are checked in the order they were added.

Beside the rules, ``TransientErrors`` is the scenario's ambient refusal rate (``realism.transientErrors``):
the real API throttles and answers 503 now and then on every action. It belongs to the scenario, not to
the rules: ``Faults.clear()`` leaves it alone, loading a scenario builds a new one (fresh RNG from its
seed), and ``decide`` draws from it once per call, so a seed gives the same refusals call for call.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .core import EmulatorError

# What real clients retry (terraform-provider-alicloud's NeedRetry: ServiceUnavailable, Rejected.Throttling
# and any code containing "Throttling"): the default codes of ``realism.transientErrors``.
TRANSIENT_CODES = ("Throttling", "Throttling.User", "Throttling.Api", "Rejected.Throttling", "ServiceUnavailable")

# How long a ``timeout`` fault holds a request when no duration is given: longer than the official
# SDK's default read timeout (10 s) so the client gives up first.
DEFAULT_TIMEOUT_HOLD_SECONDS = 30.0

MESSAGES = {
    "ServiceUnavailable": "The request has failed due to a temporary failure of the server.",
    "InternalError": "The request processing has failed due to some unknown error.",
    "Throttling.User": "Request was denied due to user flow control.",
    "Throttling": "Request was denied due to request throttling.",
    "Throttling.Api": "Request was denied due to api flow control.",
    "Rejected.Throttling": "QPS Limit Exceeded",
    "OperationDenied.NoStock": "Sales of this resource are temporarily suspended in the specified region; "
    "please try again later.",
}


def default_status(code: str) -> int:
    """The HTTP status Aliyun pairs with a code when the rule does not say."""
    if code == "ServiceUnavailable":
        return 503
    if code == "Throttling":  # the CreateSnapshot reference's error table: Throttling is answered 403
        return 403
    if code.startswith("InternalError"):
        return 500
    if code.startswith(("OperationDenied", "Forbidden", "QuotaExceed", "IncorrectInstanceStatus")):
        return 403
    if code.endswith(".NotFound"):
        return 404
    return 400


class InjectedError(EmulatorError):
    """An error a fault rule decided to answer."""


@dataclass
class TokenBucket:
    """``rate`` calls per second with bursts of up to ``rate`` (at least one), on the real clock."""

    rate: float
    tokens: float = -1.0
    updated: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        capacity = max(1.0, self.rate)
        if self.tokens < 0:
            self.tokens = capacity
        self.tokens = min(capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass
class FaultRule:
    actions: frozenset[str]
    error_rate: float = 0.0
    code: str = "ServiceUnavailable"
    http_status: int | None = None
    latency_ms: float = 0.0
    qps_limit: float | None = None
    timeout: float = 0.0  # seconds to hold the request before dropping it; 0 = no timeout fault
    regions: frozenset[str] = frozenset()  # only calls whose RegionId is one of these (empty: every call)
    rng: random.Random = field(default_factory=random.Random)
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def matches(self, action: str, region: str | None = None) -> bool:
        if self.regions and region not in self.regions:
            return False
        return "*" in self.actions or action in self.actions

    def describe(self) -> dict[str, object]:
        return {
            "actions": sorted(self.actions),
            "errorRate": self.error_rate,
            "code": self.code,
            "httpStatus": self.http_status or default_status(self.code),
            "latencyMs": self.latency_ms,
            "qpsLimit": self.qps_limit,
            "timeout": self.timeout,
            "regions": sorted(self.regions),
        }


@dataclass
class FaultDecision:
    """What the server must do for one call: wait, maybe drop the connection, maybe answer an error."""

    latency: float = 0.0
    hold: float = 0.0
    error: EmulatorError | None = None


class TransientErrors:
    """A share ``rate`` of calls refused with one of ``codes`` (each with its real status and message),
    drawn from an RNG seeded with ``seed``. Thread-safe."""

    def __init__(self, rate: float, codes: Iterable[str], seed: int | None) -> None:
        self.rate = rate
        self.codes = tuple(codes)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> TransientErrors | None:
        """``{"rate": 0.02, "seed": 7, "codes": [...]}`` -> the refusals; None (or a rate of 0) -> None.
        A malformed config raises ValueError."""
        if config is None:
            return None
        unknown = sorted(set(config) - {"rate", "seed", "codes"})
        if unknown:
            raise ValueError(f"realism.transientErrors: unknown key(s) {', '.join(unknown)}")
        rate, seed, codes = config.get("rate", 0), config.get("seed"), config.get("codes", list(TRANSIENT_CODES))
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError("realism.transientErrors.rate must be a number between 0 and 1")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError("realism.transientErrors.seed must be an integer")
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) and c for c in codes):
            raise ValueError("realism.transientErrors.codes must be a non-empty list of error codes")
        return cls(float(rate), codes, seed) if rate > 0 else None

    def draw(self) -> EmulatorError | None:
        """One call's outcome: the error to answer, or None. Always consumes the same randomness."""
        with self._lock:
            refused = self._rng.random() < self.rate
            code = self._rng.choice(self.codes)
        if not refused:
            return None
        return InjectedError(MESSAGES.get(code, f"Transient failure: {code}."), code=code,
                             http_status=default_status(code))


class Faults:
    """The active rules. Thread-safe; the RNG of each rule is only used under the lock."""

    def __init__(self, ambient: Callable[[], TransientErrors | None] | None = None) -> None:
        """``ambient``: where the scenario's transient errors are read at every call (they change with it)."""
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ambient = ambient

    def add(
        self,
        actions: Iterable[str],
        *,
        error_rate: float = 0.0,
        code: str = "ServiceUnavailable",
        http_status: int | None = None,
        latency_ms: float = 0.0,
        qps_limit: float | None = None,
        timeout: bool | float = False,
        seed: int | None = None,
        regions: Iterable[str] = (),
    ) -> FaultRule:
        """``regions``: the rule applies only to calls naming one of them (RegionId), as when one region's endpoint
        fails and the others answer; empty: every call."""
        names = frozenset(actions)
        if not names or not all(isinstance(name, str) and name for name in names):
            raise ValueError("actions must be a non-empty list of action names or ['*']")
        if not 0.0 <= float(error_rate) <= 1.0:
            raise ValueError("errorRate must be between 0 and 1")
        if latency_ms < 0 or (qps_limit is not None and qps_limit <= 0):
            raise ValueError("latencyMs must be >= 0 and qpsLimit > 0")
        where = frozenset(regions)
        if not all(isinstance(region, str) and region for region in where):
            raise ValueError("regions must be a list of region ids")
        hold = DEFAULT_TIMEOUT_HOLD_SECONDS if timeout is True else float(timeout or 0.0)
        rule = FaultRule(
            actions=names,
            error_rate=float(error_rate),
            code=code,
            http_status=http_status,
            latency_ms=float(latency_ms),
            qps_limit=qps_limit,
            timeout=hold,
            regions=where,
            rng=random.Random(seed),
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, object]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def decide(self, action: str, region: str | None = None) -> FaultDecision:
        """Apply every matching rule: throttling first, then latency and timeout, then the error rate; a
        call no rule refuses may still be refused by the scenario's ambient transient errors."""
        decision = FaultDecision()
        ambient = self._ambient() if self._ambient is not None else None
        transient = ambient.draw() if ambient is not None else None
        decision.error = transient
        with self._lock:
            for rule in (r for r in self._rules if r.matches(action, region)):
                if rule.qps_limit is not None:
                    bucket = rule.buckets.setdefault(action, TokenBucket(rule.qps_limit))
                    if not bucket.take():
                        decision.error = InjectedError(MESSAGES["Throttling.User"], code="Throttling.User",
                                                       http_status=400)
                        return decision
                decision.latency += rule.latency_ms / 1000.0
                decision.hold = max(decision.hold, rule.timeout)
                can_refuse = decision.error is None or decision.error is transient  # a rule's error wins
                if can_refuse and rule.error_rate > 0 and rule.rng.random() < rule.error_rate:
                    message = MESSAGES.get(rule.code, f"Injected fault: {rule.code}.")
                    status = rule.http_status or default_status(rule.code)
                    decision.error = InjectedError(message, code=rule.code, http_status=status)
        return decision
