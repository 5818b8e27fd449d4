"""Figure (o): reconcile's first and steady passes over 10, 1,000, 5,000 and 10,000 managed instances.

Each size gets its own emulator (the default scenario: every lag and the 2% transient refusals on) with that
many spot instances, one 20 GiB data disk each, seeded through RunInstances ``Amount=100`` on extra /24
vSwitches (the default ones hold 250 addresses each). 1% of the lineages (at least one) lost their instance:
half reclaimed without a notice reaching anyone (reconcile relaunches them: incident work), half deleted by
their user (reconcile retires them). Then the passes run in this process against the emulator, on its clock:

1. the first pass: no data disk kept yet, the lost lineages to handle;
2. the catch-up passes, until one has nothing to do (the labels and relaunches one pass leaves to the next);
3. a steady pass: nothing left to do.

Realistic latency, on the emulator's clock: every call the engine makes advances the clock by its modelled cost
(``call_cost``): one round trip (``latency_ms``) for a call made alone, and for a call made by one of the
engine's write workers (``batch.each``: ``WRITE_WORKERS`` at a time) its share of the round trip, never less
than one call at the action's QPS limit (``qps``). So the engine's own deadlines (the pass's timeout, the labels'
``LABEL_SHARE``, a relaunch's ``RELAUNCH_MIN_S``) act as they would against the real API, and "modelled s" is
the pass's length there. The QPS limit is an assumption stated in the report: ECS's published default for most
actions is 1,000 calls per 60 s per account and region (alibabacloud.com, "API rate quota", ecs 2014-05-26:
e.g. UntagResources, DescribeSnapshots; Quota Center holds an account's own values).

Counted: the emulator's journal of successful calls per action (refused ones apart), the calls inside the
incidents the pass started (``Incident.run``) apart, the pass's wall time and the CPU of the pass's own thread
here (loopback calls of a few ms; the emulator runs in this process too).
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.world import GROUPS, IMAGE, REGION, TRANSIENT_CODES, TYPE, _clients

ZONES = ("cn-hangzhou-g", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k")  # c7.large spot stock
MARGIN_S = 10.0  # settings.deadline_margin_s' default
PER_VSWITCH = 200  # instances per extra /24 vSwitch (251 usable addresses)


@dataclass(frozen=True)
class ScaleConfig:
    sizes: tuple[int, ...] = (10, 1000, 5000, 10000)
    lost_share: float = 0.01
    latency_ms: float = 80.0  # one round trip to the real API (as the other figures)
    qps: float = 1000.0 / 60.0  # calls per second per action: ECS's documented default for most actions (assumed)
    timeout_s: float = 600.0  # settings.function_timeout_s' default
    margin_s: float = MARGIN_S
    max_passes: int = 12  # catch-up passes at most


SMOKE = ScaleConfig(sizes=(10, 120), max_passes=6)


def scenario(n: int) -> dict[str, Any]:
    """The default scenario plus enough vSwitches in the main VPC for ``n`` instances."""
    from aliyun_ops.emulator.backend import load_default_scenario

    sc = copy.deepcopy(load_default_scenario())
    vpc = next(v for v in sc["vpcs"] if v["regionId"] == REGION)
    for k in range(math.ceil(n / PER_VSWITCH)):
        vpc["vswitches"].append({"vSwitchId": f"vsw-bp1scale{k:011d}", "zoneId": ZONES[k % len(ZONES)],
                                 "cidrBlock": f"172.17.{k}.0/24", "name": f"scale-{k}"})
    return sc


class Region:
    """One emulator holding ``n`` managed instances, some of whose lineages lost their instance."""

    def __init__(self, n: int, lost_share: float, cfg: ScaleConfig | None = None) -> None:
        from aliyun_ops.deploy import load_ram_policy
        from aliyun_ops.emulator import Emulator

        self.n, self.cfg = n, cfg or ScaleConfig()
        self.emu = Emulator(scenario=scenario(n), time_scale=1.0, function_role_policy=load_ram_policy()).start()
        self.ecs, _ = _clients(self.emu.endpoint)
        self.ids = self._seed()
        lost = max(1, round(n * lost_share))
        self.reclaimed, self.removed = self._lose(self.ids[: (lost + 1) // 2], self.ids[(lost + 1) // 2 : lost])

    def _seed(self) -> list[str]:
        from alibabacloud_ecs20140526 import models as m

        ids: list[str] = []
        for k, start in enumerate(range(0, self.n, PER_VSWITCH)):
            count = min(PER_VSWITCH, self.n - start)
            for part in range(0, count, 100):
                made = self.ecs.run_instances(m.RunInstancesRequest(
                    region_id=REGION, image_id=IMAGE, instance_type=TYPE, zone_id=ZONES[k % len(ZONES)],
                    v_switch_id=f"vsw-bp1scale{k:011d}", security_group_ids=GROUPS, instance_name=f"fleet-{k}",
                    internet_charge_type="PayByTraffic", spot_strategy="SpotAsPriceGo", key_pair_name="ops-key",
                    amount=min(100, count - part), system_disk=m.RunInstancesRequestSystemDisk(category="cloud_essd",
                                                                                               size="20"),
                    data_disk=[m.RunInstancesRequestDataDisk(category="cloud_essd", size=20)]))
                ids += made.body.instance_id_sets.instance_id_set
        self.emu.clock.advance(120)
        return ids

    def _lose(self, reclaimed: list[str], removed: list[str]) -> tuple[list[str], list[str]]:
        """Each lost lineage has an image like an incident leaves (its tags, the identity in its description);
        then its instance is reclaimed (no notice handled) or deleted by its user."""
        from alibabacloud_ecs20140526 import models as m

        from aliyun_ops.recovery import identity

        cloud = self.cloud()
        for iid in reclaimed + removed:
            inst = cloud.describe_instance(iid)
            assert inst is not None
            tags = [m.CreateImageRequestTag(key=k, value=v)
                    for k, v in (("aops:lineage", iid), ("aops:image-of", iid))]
            req = m.CreateImageRequest(region_id=REGION, instance_id=iid, image_name=f"aops-{iid}",
                                       description=identity.encode(inst), tag=tags)
            for attempt in range(20):  # the default scenario refuses 5% of CreateImage on a Running instance
                try:
                    self.ecs.create_image(req)
                    break
                except Exception as exc:
                    if getattr(exc, "code", None) != "IncorrectInstanceStatus" or attempt == 19:
                        raise
                    self.emu.clock.advance(10)  # busy, or still booting (the scenario's slow boots)
        self.emu.clock.advance(3600)
        for iid in reclaimed:
            self.emu.interrupt(iid, notice_seconds=120)
        for iid in removed:
            self.ecs.delete_instance(m.DeleteInstanceRequest(instance_id=iid, force=True))
        self.emu.clock.advance(300)
        return reclaimed, removed

    def settings(self) -> Any:
        from aliyun_ops.config import Settings

        return Settings(region_id=REGION, ecs_endpoint=self.emu.endpoint, vpc_endpoint=self.emu.endpoint,
                        protocol="http")

    def cloud(self) -> Any:
        from aliyun_ops.config import Credentials
        from aliyun_ops.emulator import (
            FUNCTION_ROLE_ACCESS_KEY_ID,
            FUNCTION_ROLE_ACCESS_KEY_SECRET,
            FUNCTION_ROLE_SECURITY_TOKEN,
        )
        from aliyun_ops.service import make_cloud

        creds = Credentials(FUNCTION_ROLE_ACCESS_KEY_ID, FUNCTION_ROLE_ACCESS_KEY_SECRET, FUNCTION_ROLE_SECURITY_TOKEN)
        return make_cloud(self.settings(), creds, sleep=self.emu.clock.advance, clock=self.emu.clock.now)

    def one_pass(self) -> dict[str, Any]:
        """One reconcile pass: its calls (pass / incidents / refused), outcomes and wall seconds."""
        from aliyun_ops import service
        from aliyun_ops.config import Credentials
        from aliyun_ops.emulator import (
            FUNCTION_ROLE_ACCESS_KEY_ID,
            FUNCTION_ROLE_ACCESS_KEY_SECRET,
            FUNCTION_ROLE_SECURITY_TOKEN,
        )

        creds = Credentials(FUNCTION_ROLE_ACCESS_KEY_ID, FUNCTION_ROLE_ACCESS_KEY_SECRET, FUNCTION_ROLE_SECURITY_TOKEN)
        self.emu.journal.clear()
        spans: list[tuple[int, int]] = []
        modelled: dict[str, float] = {"pass": 0.0, "incidents": 0.0}
        start = self.emu.clock.now()
        t0, cpu0 = time.monotonic(), time.thread_time()
        with _incident_spans(self.emu.journal, spans), _latency(self.emu.clock, self.cfg, modelled):
            outcomes = service.reconcile(settings=self.settings(), credentials=creds,
                                         sleep=OverlappingSleep(self.emu.clock), clock=self.emu.clock.now)
        wall, cpu = time.monotonic() - t0, time.thread_time() - cpu0
        entries = self.emu.journal.entries()
        inside = {i for a, b in spans for i in range(a, b)}
        ok = [(i, e) for i, e in enumerate(entries) if e["status"] == 200]
        return {
            "calls": dict(Counter(e["action"] for i, e in ok if i not in inside)),
            "incident_calls": dict(Counter(e["action"] for i, e in ok if i in inside)),
            "refused": sum(1 for e in entries if e.get("code") in TRANSIENT_CODES or e["status"] >= 500),
            "outcomes": dict(Counter(o.status for o in outcomes)),
            "wall_s": wall,
            "cpu_s": cpu,
            "incident_wall_s": sum(s for s in _INCIDENT_WALL),
            "modelled_s": modelled["pass"],  # the pass's own calls at the modelled latency and QPS
            "incident_modelled_s": modelled["incidents"],
            "clock_s": self.emu.clock.now() - start,  # the whole pass on the clock: calls, relaunches' waits
        }

    def stop(self) -> None:
        self.emu.stop()


class OverlappingSleep:
    """``sleep`` on the emulator's clock for an engine whose workers (``batch.each``'s threads) wait side by side:
    two relaunches each waiting 40 s for a boot take 40 s of the clock, not 80 as ``clock.advance`` would make them.

    A discrete-event clock: a worker's sleep registers its wake-up time and blocks; once every live worker sleeps,
    the earliest wake-up is reached (the clock advanced to it) and that worker goes on. A worker that sits idle or
    waits on another (a shared read behind a sleeper) would stall that rule, so after ``STALL_S`` real seconds with
    nothing moving the earliest wake-up is reached anyway. Any other thread's sleep advances the clock as before."""

    STALL_S = 0.05
    WORKER = "aliyun-ops-each"

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._wakes: dict[int, float] = {}

    def __call__(self, seconds: float) -> None:
        me = threading.current_thread()
        if not me.name.startswith(self.WORKER):
            self.clock.advance(seconds)
            return
        with self._cond:
            self._wakes[me.ident or 0] = wake = self.clock.now() + max(seconds, 0.0)
            try:
                while self.clock.now() < wake:
                    first = wake <= min(self._wakes.values())
                    if first and (self._all_asleep() or not self._cond.wait(self.STALL_S)):
                        self.clock.advance(max(0.0, wake - self.clock.now()))
                    elif not first:
                        self._cond.wait(self.STALL_S)
            finally:
                del self._wakes[me.ident or 0]
                self._cond.notify_all()

    def _all_asleep(self) -> bool:
        workers = {t.ident for t in threading.enumerate() if t.name.startswith(self.WORKER)}
        return workers <= set(self._wakes)


_INCIDENT_WALL: list[float] = []
_IN_INCIDENT = threading.local()


def call_cost(action: str, pooled: bool, cfg: ScaleConfig) -> float:
    """One call's share of the pass's time against the real API: its round trip, or, made by one of
    ``WRITE_WORKERS`` concurrent workers, its share of the round trip; never less than one call at the action's QPS
    limit (the workers share the action's pacing)."""
    from aliyun_ops.cloud.client import WRITE_WORKERS

    round_trip = cfg.latency_ms / 1000.0 / (WRITE_WORKERS if pooled else 1)
    return max(round_trip, 1.0 / cfg.qps)


@contextmanager
def _latency(clock: Any, cfg: ScaleConfig, modelled: dict[str, float]) -> Iterator[None]:
    """Every SDK call of the engine (refused ones too) advances the emulator's clock by ``call_cost``."""
    from aliyun_ops.cloud.sdk import Sdk

    original = Sdk.call

    def call(self: Any, product: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        pooled = threading.current_thread().name.startswith("aliyun-ops-each")
        cost = call_cost(action, pooled, cfg)
        modelled["incidents" if getattr(_IN_INCIDENT, "on", False) else "pass"] += cost
        clock.advance(cost)
        return original(self, product, action, params)

    Sdk.call = call  # type: ignore[method-assign]
    try:
        yield
    finally:
        Sdk.call = original  # type: ignore[method-assign]


@contextmanager
def _incident_spans(journal: Any, spans: list[tuple[int, int]]) -> Iterator[None]:
    """Notes which journal entries the incidents reconcile starts made (relaunches run side by side: a call the pass
    makes while one runs, such as another relaunch's claim, counts as the incident's)."""
    from aliyun_ops.recovery import Incident

    original = Incident.run
    _INCIDENT_WALL.clear()

    def run(self: Any) -> Any:
        start, t0 = len(journal.entries()), time.monotonic()
        _IN_INCIDENT.on = True
        try:
            return original(self)
        finally:
            _IN_INCIDENT.on = False
            spans.append((start, len(journal.entries())))
            _INCIDENT_WALL.append(time.monotonic() - t0)

    Incident.run = run  # type: ignore[method-assign]
    try:
        yield
    finally:
        Incident.run = original  # type: ignore[method-assign]


def measure(cfg: ScaleConfig) -> dict[str, Any]:
    """Figure (o): both passes at every size, then the fit."""
    rows: dict[int, dict[str, Any]] = {}
    for n in cfg.sizes:
        t0 = time.monotonic()
        region = Region(n, cfg.lost_share, cfg)
        try:
            seeded = time.monotonic() - t0
            first = region.one_pass()
            catch_up = []  # the labels and relaunches left for later passes, and the replacements' data disks
            while len(catch_up) < cfg.max_passes and (not catch_up or _busy(catch_up[-1])):
                catch_up.append(region.one_pass())
            steady = region.one_pass()
        finally:
            region.stop()
        rows[n] = {"first": first, "catch_up": catch_up, "steady": steady, "seed_s": seeded,
                   "lost_reclaimed": len(region.reclaimed), "lost_removed": len(region.removed)}
    return {"sizes": rows, "fits": {kind: fits(rows, kind, cfg) for kind in ("first", "steady")},
            "qps": cfg.qps, "latency_ms": cfg.latency_ms, "timeout_s": cfg.timeout_s}


def _busy(one: dict[str, Any]) -> bool:
    """The pass did something (anything but a pass with no outcome at all)."""
    return bool(one["outcomes"])


def fits(rows: dict[int, dict[str, Any]], kind: str, cfg: ScaleConfig) -> dict[str, Any]:
    """Per size: the ``kind`` pass's length against the real API (on the emulator's clock: its calls at the modelled
    cost, and the relaunches' waits), what is left of the timeout, and the largest region whose pass's own calls
    fit (a linear fit ``a + b * n`` of their modelled seconds on the two largest sizes)."""
    sizes = sorted(rows)
    small, large = sizes[-2], sizes[-1]
    own = {n: float(rows[n][kind]["modelled_s"]) for n in sizes}
    slope = (own[large] - own[small]) / (large - small)
    base = own[large] - slope * large
    budget = cfg.timeout_s - cfg.margin_s
    largest = math.inf if slope <= 0 else max(0.0, (budget - base) / slope)
    clock = {n: float(rows[n][kind]["clock_s"]) for n in sizes}
    return {"seconds_per_instance": slope, "fixed_s": base, "largest_n": largest, "clock_s": clock,
            "spare_s": {n: cfg.timeout_s - clock[n] for n in sizes},
            "fits": {n: clock[n] <= budget for n in sizes}}


def report(r: dict[str, Any]) -> str:
    """The side-by-side table of figure (o) and the verdict."""
    from aliyun_ops.cloud.client import WRITE_WORKERS
    from aliyun_ops.recovery.reconcile import LABEL_SHARE

    sizes = sorted(r["sizes"], key=int)
    lines = [f"(o) Reconcile at scale: calls per pass (successful; incidents apart) and the pass against the real "
             f"API: {r['latency_ms']:.0f} ms a round trip, {r['qps']:.1f} calls/s per action (assumed: ECS's "
             f"documented default, 1,000 per 60 s), writes {WRITE_WORKERS} at a time; timeout {r['timeout_s']:.0f} s"]
    for kind, title in (("first", "first pass (no data disk kept yet)"), ("steady", "steady pass")):
        actions = sorted({a for n in sizes for a in r["sizes"][n][kind]["calls"]})
        lines.append(f"  {title}")
        lines.append("    " + f"{'action':<32}" + "".join(f"{int(n):>10,}" for n in sizes))
        for a in actions:
            lines.append("    " + f"{a:<32}" + "".join(f"{r['sizes'][n][kind]['calls'].get(a, 0):>10,}" for n in sizes))
        fit = r["fits"][kind]
        rows = [
            ("total calls", lambda n, p: f"{sum(p['calls'].values()):,}"),
            ("incident calls", lambda n, p: f"{sum(p['incident_calls'].values()):,}"),
            ("refused (2%) calls", lambda n, p: f"{p['refused']:,}"),
            *[(f"outcome {o}", lambda n, p, o=o: f"{p['outcomes'].get(o, 0):,}")
              for o in sorted({o for n in sizes for o in r["sizes"][n][kind]["outcomes"]})],
            ("modelled s (pass's calls)", lambda n, p: f"{p['modelled_s']:.1f}"),
            ("modelled s (with relaunches)", lambda n, p: f"{p['clock_s']:.1f}"),
            ("spare of the timeout, s", lambda n, p, fit=fit: f"{fit['spare_s'][n]:.0f}"),
            ("fits", lambda n, p, fit=fit: "yes" if fit["fits"][n] else "NO"),
            # The whole pass, relaunches included: they overlap (8 at a time), so subtracting their own wall time
            # (as this row did when they ran one after another) could go negative.
            ("wall s here (whole pass)", lambda n, p: f"{p['wall_s']:.2f}"),
            ("CPU s here (pass thread)", lambda n, p: f"{p['cpu_s']:.2f}"),
            ("CPU ms per instance", lambda n, p: f"{1000 * p['cpu_s'] / int(n):.3f}"),
        ]
        for label, fmt in rows:
            lines.append("    " + f"{label:<32}" + "".join(f"{fmt(n, r['sizes'][n][kind]):>10}" for n in sizes))
        largest = fit["largest_n"]
        if kind == "first":
            passes = [len(r["sizes"][n]["catch_up"]) for n in sizes]
            lines.append("    " + f"{'passes to converge (with first)':<32}" + "".join(f"{k:>10}" for k in passes))
            labels = [sum(p["calls"].get("TagResources", 0) for p in _passes(r["sizes"][n])) for n in sizes]
            lines.append("    " + f"{'labels over those passes':<32}" + "".join(f"{k:>10,}" for k in labels))
            lines.append("    every data disk's DeleteWithInstance=false is set first in the first pass "
                         "(ModifyDiskAttribute, 100 disks a call); labels (one TagResources per disk) then take at "
                         f"most {LABEL_SHARE:.0%} of the time left, and the next passes label the rest")
        else:
            lines.append(f"    the pass's own calls fit one {r['timeout_s']:.0f} s pass up to "
                         f"{'any size' if math.isinf(largest) else f'{int(largest):,} instances'} "
                         f"({1000 * fit['seconds_per_instance']:.2f} ms per instance + {max(fit['fixed_s'], 0):.1f} s)")
    return "\n".join(lines)


def _passes(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [row["first"], *row["catch_up"]]


def main() -> None:
    import sys

    cfg = SMOKE if "--smoke" in sys.argv else ScaleConfig()
    print(report(measure(cfg)))


if __name__ == "__main__":
    main()

