"""The emulator's whole cloud state for one account, and the control hooks the protocol layer uses.

Timers: every delayed change (boot, stop, image build, spot reclaim) goes into the backend's own
queue and is applied by ``settle()``, which runs under ``lock`` at the start of every action and from
the clock's callbacks. A clock callback only *tries* the lock: the protocol layer may hold it while
reading the clock, and a blocking wait there could deadlock; whatever it skips, the next action
settles. Listeners are called synchronously under the lock: they must not block.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import random
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator.core import Clock, EmulatorError
from aliyun_ops.emulator.faults import TransientErrors
from aliyun_ops.emulator.models.catalogue import Catalogue, Stock, load_catalogue
from aliyun_ops.emulator.models.disks import Disks
from aliyun_ops.emulator.models.images import Images
from aliyun_ops.emulator.models.instances import InstanceRecord, Instances
from aliyun_ops.emulator.models.market import Market, MarketConfig, load_market
from aliyun_ops.emulator.models.network import Network
from aliyun_ops.emulator.models.realism import Realism, load_realism
from aliyun_ops.emulator.models.system_events import SystemEvents

DEFAULT_ACCESS_KEY_ID = "emulator-access-key-id"
DEFAULT_ACCESS_KEY_SECRET = "emulator-access-key-secret"
SCENARIO_DIR = Path(__file__).parent / "scenarios"
DEFAULT_TIMING = {
    "pendingSeconds": 2.0,
    "instanceBootSeconds": 25.0,
    "stopSeconds": 5.0,
    "imageBaseSeconds": 30.0,
    "imageSecondsPerGiB": 1.0,
    "spotNoticeSeconds": 300.0,
}
ID_PREFIX = {"cn-hangzhou": "bp1", "cn-shanghai": "uf6", "eu-west-1": "d7o"}


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret: str
    security_token: str | None = None  # STS: the request must carry this exact token
    policy: dict[str, Any] | None = None  # the RAM policy attached to this identity; None = all allowed


# The function's RAM role, as Function Compute hands it to the function: STS credentials whose identity
# carries the function role's policy. The emulator does not know that policy (it imports nothing of the
# product): whoever starts it passes it (``Backend(function_role_policy=...)``, ``Emulator(...)``; the CLI,
# tests and bench pass the shipped ``aliyun_ops.deploy.load_ram_policy()``). Without one the role does not
# exist, so a caller that forgot it fails loudly instead of running the engine unrestricted.
FUNCTION_ROLE_ACCESS_KEY_ID = "STS.emulator-function-role"
FUNCTION_ROLE_ACCESS_KEY_SECRET = "emulator-function-role-secret"
FUNCTION_ROLE_SECURITY_TOKEN = "emulator-function-role-token"
FUNCTION_ROLE_POLICY = "aliyun-ops"  # a scenario credential's ``policy`` naming the function role's policy


def _policy(value: Any, function_role_policy: dict[str, Any] | None) -> dict[str, Any] | None:
    """A scenario credential's ``policy``: a RAM policy document, or "aliyun-ops" for the function role's."""
    if value == FUNCTION_ROLE_POLICY:
        if function_role_policy is None:
            raise ValueError(f"a scenario credential names policy {FUNCTION_ROLE_POLICY!r}, but no function-role "
                             "policy was given to this emulator")
        return copy.deepcopy(function_role_policy)
    return dict(value) if isinstance(value, dict) else None


def _credentials(scenario: dict[str, Any], function_role_policy: dict[str, Any] | None) -> dict[str, Credential]:
    creds = [Credential(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)]
    if function_role_policy is not None:
        creds.append(
            Credential(
                FUNCTION_ROLE_ACCESS_KEY_ID,
                FUNCTION_ROLE_ACCESS_KEY_SECRET,
                FUNCTION_ROLE_SECURITY_TOKEN,
                copy.deepcopy(function_role_policy),
            )
        )
    for c in scenario.get("credentials", []):
        policy = _policy(c.get("policy"), function_role_policy)
        creds.append(Credential(c["accessKeyId"], c["accessKeySecret"], c.get("securityToken"), policy))
    return {c.access_key_id: c for c in creds}


def complete_scenario(partial: dict[str, Any]) -> dict[str, Any]:
    """A scenario file or control call names only the sections it changes; the rest come from the
    default scenario. An unknown section is refused (ValueError naming the known ones)."""
    default = load_default_scenario()
    unknown = sorted(set(partial) - set(default))
    if unknown:
        raise ValueError(f"unknown scenario section(s) {', '.join(unknown)}; known: {', '.join(sorted(default))}")
    return {**default, **partial}


def load_default_scenario() -> dict[str, Any]:
    with (SCENARIO_DIR / "default.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


class Backend:
    def __init__(
        self,
        clock: Clock,
        scenario: dict[str, Any] | None = None,
        *,
        function_role_policy: dict[str, Any] | None = None,
    ) -> None:
        self.clock = clock
        # The function role's RAM policy, kept across scenario loads and resets (see FUNCTION_ROLE_*).
        self.function_role_policy = copy.deepcopy(function_role_policy)
        self.lock = threading.RLock()
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self.load_scenario(scenario if scenario is not None else load_default_scenario())

    # ---- scenario
    def reset(self, scenario: dict[str, Any] | None = None) -> None:
        self.load_scenario(scenario if scenario is not None else load_default_scenario())

    def load_scenario(self, scenario: dict[str, Any]) -> None:
        """Replace the whole state; timers of the old state are dropped (they check ``_epoch``). A malformed
        ``realism`` section raises ValueError before anything is replaced."""
        with self.lock:
            scenario = copy.deepcopy(scenario)
            realism = load_realism(scenario.get("realism"))
            market = load_market(scenario.get("market"))
            transient = TransientErrors.from_config(realism.transient_errors)
            self.realism: Realism = realism
            self.transient_errors: TransientErrors | None = transient  # read by the dispatcher at every call
            self.scenario = scenario
            self._epoch = getattr(self, "_epoch", 0) + 1
            self._queue: list[tuple[float, int, int, Callable[[], None]]] = []
            self._seq = itertools.count()
            self._rng = random.Random(scenario.get("seed", 20240519))
            self._next_public = 20
            self.account_id: str = str(scenario.get("accountId", "1690700000000030"))
            self.timings = {**DEFAULT_TIMING, **scenario.get("timing", {})}
            self.credentials = _credentials(scenario, self.function_role_policy)
            self.catalogue: Catalogue = load_catalogue(scenario)
            self.catalogue.seed_history(
                self.clock.now(), [z["zoneId"] for r in self.catalogue.regions for z in r["zones"]]
            )
            self.network = Network(self, scenario)
            self.images = Images(self, scenario)
            self.instances = Instances(self)
            self.disks = Disks(self)
            self.system_events = SystemEvents()  # CloudMonitor's history of the events this emulator issued
            self.metric_rules: dict[str, dict[str, Any]] = {}  # CloudMonitor alert rules by RuleId
            self.market: Market | None = None
            self.market_reclaims: list[dict[str, Any]] = []  # every reclaim the market issued, in order
            self._armed: dict[str, int] = {}  # instance id -> the generation its market reclaim was drawn for
            if market.enabled:
                self.set_market(market)

    def timing(self, name: str) -> float:
        return float(self.timings[name])

    # ---- ids, time
    def new_id(self, prefix: str, region_id: str = "cn-hangzhou") -> str:
        alphabet = string.ascii_lowercase + string.digits
        tail = "".join(self._rng.choice(alphabet) for _ in range(17))
        return f"{prefix}-{ID_PREFIX.get(region_id, 'bp1')}{tail}"

    def new_public_ip(self) -> str:
        n = self._next_public
        self._next_public += 1
        return f"47.96.{n // 250}.{n % 250 + 2}"

    def iso_now(self, seconds: bool = False) -> str:
        """ECS writes instance times to the minute (``2024-05-19T08:15Z``), images to the second."""
        fmt = "%Y-%m-%dT%H:%M:%SZ" if seconds else "%Y-%m-%dT%H:%MZ"
        return time.strftime(fmt, time.gmtime(self.clock.now()))

    # ---- timers
    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        at = self.clock.now() + delay
        epoch = self._epoch

        def guarded() -> None:
            if self._epoch == epoch:
                fn()

        heapq.heappush(self._queue, (at, next(self._seq), epoch, guarded))
        self.clock.call_at(at, self._on_clock)

    def _on_clock(self) -> None:
        if self.lock.acquire(blocking=False):
            try:
                self.settle()
            finally:
                self.lock.release()

    def settle(self) -> None:
        """Apply every delayed change that is due, in time order."""
        with self.lock:
            now = self.clock.now()
            while self._queue and self._queue[0][0] <= now:
                _, _, _, fn = heapq.heappop(self._queue)
                fn()

    # ---- events
    def add_listener(self, fn: Callable[[str, dict[str, Any]], None]) -> None:
        self._listeners.append(fn)

    def emit(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "state_change" and payload.get("state") == "Running" and self.market is not None:
            self._arm(str(payload["instanceId"]))
        for fn in list(self._listeners):
            fn(kind, payload)

    def _about(self, inst: InstanceRecord) -> dict[str, Any]:
        """What every event the backend emits says about its instance."""
        return {
            "instanceId": inst.instance_id,
            "regionId": inst.region_id,
            "zoneId": inst.zone_id,
            "instanceType": inst.instance_type,
            "instanceName": inst.launch.name,
            "accountId": self.account_id,
        }

    def emit_state(self, inst: InstanceRecord) -> None:
        self.emit(
            "state_change",
            {
                **self._about(inst),
                "resourceType": "ALIYUN::ECS::Instance",
                "state": inst.status,
                "time": self.clock.now(),
            },
        )

    # ---- control hooks
    def set_stock(
        self, zone_id: str, instance_type: str, spot: bool, available: Stock, listed: bool | None = None
    ) -> None:
        with self.lock:
            self.catalogue.type(instance_type)
            self.catalogue.set_stock(zone_id, instance_type, spot, available, listed)

    def set_prices(self, entries: list[dict[str, Any]]) -> None:
        with self.lock:
            for e in entries:
                spot, origin = e.get("spotPrice"), e.get("originPrice")
                self.catalogue.add_price(
                    self.clock.now(),
                    e["zoneId"],
                    e["instanceType"],
                    None if spot is None else float(spot),
                    None if origin is None else float(origin),
                )

    def fail_next_images(self, n: int = 1) -> None:
        """The next n CreateImage builds end CreateFailed (halfway through their build time)."""
        with self.lock:
            self.images.fail_next = n

    def fail_next_snapshots(self, n: int = 1) -> None:
        """The next n CreateSnapshot builds end ``failed`` (halfway through their build time)."""
        with self.lock:
            self.disks.fail_next = n

    def fail_images_of(self, instance_id: str, fail: bool = True) -> None:
        """Every image made from this instance fails (until called with ``fail=False``)."""
        with self.lock:
            (self.images.fail_instances.add if fail else self.images.fail_instances.discard)(instance_id)

    def interrupt(self, instance_id: str, notice_seconds: float = 300, mark_sold_out: bool = False) -> dict[str, Any]:
        with self.lock:
            self.settle()
            inst = self.instances.interrupt(instance_id, notice_seconds, mark_sold_out)
            return {**self._about(inst), "action": "delete"}

    # ---- the spot market (models/market.py)
    def set_market(self, config: MarketConfig | dict[str, Any] | None) -> None:
        """Switch the market on (anchored now: its day 0 begins now) or off (``enabled`` false, or None). On:
        the catalogue takes its stock and price history, a timer applies each new day, and every Running spot
        instance in a pool gets its reclaim time. Off: the catalogue keeps what the market last set."""
        with self.lock:
            cfg = config if isinstance(config, MarketConfig) else load_market(config)
            self._armed = {}
            if not cfg.enabled:
                self.market = None
                return
            now = self.clock.now()
            market = self.market = Market(cfg, self.catalogue, now)
            market.install(self.catalogue, now)
            self._next_day(market, market.day_of(now) + 1)
            for inst in list(self.instances.items.values()):
                if inst.status == "Running":
                    self._arm(inst.instance_id)

    def _next_day(self, market: Market, day: int) -> None:
        def apply() -> None:
            if self.market is market:
                market.apply_day(self.catalogue, day)
                self._next_day(market, day + 1)

        self.schedule(max(0.0, market.day_start(day) - self.clock.now()), apply)

    def _arm(self, instance_id: str) -> None:
        """Draw this spot instance's reclaim from its pool's hazard, once per generation."""
        market = self.market
        inst = self.instances.items.get(instance_id)
        if market is None or inst is None or not inst.is_spot or self._armed.get(instance_id) == inst.generation:
            return
        pool = market.pool(inst.zone_id, inst.instance_type)
        if pool is None:
            return
        gen = self._armed[instance_id] = inst.generation
        now = self.clock.now()
        at = market.reclaim_at(pool, now, market.draw(instance_id, gen))
        if at is None:
            return

        def fire() -> None:
            current = self.instances.items.get(instance_id)
            if self.market is not market or current is not inst or inst.generation != gen:
                return
            if inst.status == "Running" and "Recycling" not in inst.lock_reasons:
                self.reclaim(instance_id)

        self.schedule(at - now, fire)

    def reclaim(self, instance_id: str) -> dict[str, Any]:
        """A market reclaim: the Recycling lock and release after the notice (as ``interrupt``), the event in
        CloudMonitor's history, and an ``interruption`` event to the listeners (the server delivers it to the
        subscribed URLs)."""
        from aliyun_ops.emulator.delivery import interruption_event

        with self.lock:
            market = self.market
            notice = market.config.notice_seconds if market and market.config.notice_seconds is not None else None
            seconds = self.timing("spotNoticeSeconds") if notice is None else notice
            inst = self.instances.interrupt(instance_id, seconds, False)
            info = {**self._about(inst), "action": "delete"}
            now = self.clock.now()
            event = interruption_event(info, self.account_id, now)
            self.system_events.record(event.history_item())
            self.market_reclaims.append({"time": now, **self._about(inst)})
            self.emit("interruption", {**info, "event": event})
            return info

    def snapshot(self) -> dict[str, Any]:
        from aliyun_ops.emulator.responses.render import snapshot

        with self.lock:
            self.settle()
            return snapshot(self)


__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCESS_KEY_SECRET",
    "Backend",
    "Credential",
    "EmulatorError",
    "complete_scenario",
    "exc",
]
