"""Figure (o): one reconcile pass over 10, 100, 1,000 and 5,000 managed instances, and where it stops fitting.

Each size gets its own emulator (the default scenario: every lag and the 2% transient refusals on) with that
many spot instances, one 20 GiB data disk each, seeded through RunInstances ``Amount=100`` on extra /24
vSwitches (the default ones hold 250 addresses each). 1% of the lineages (at least one) lost their instance:
half reclaimed without a notice reaching anyone (reconcile relaunches them: incident work), half deleted by
their user (reconcile retires them). Then two passes run in this process against the emulator, on its clock
(a wait inside the pass advances it; no real sleep):

1. the first pass: no data disk kept yet, the lost lineages to handle;
2. a steady pass: nothing left to do (after the catch-up passes: a pass relaunches only as many lineages as it
   can finish before its deadline, and the next one keeps the relaunched instances' data disks).

Counted: the emulator's journal of successful calls per action (refused ones, the default 2%, apart), with the
calls made inside the incidents the pass started (``Incident.run``) counted separately, and the pass's wall time
here (loopback calls of a few ms). Where it stops fitting: the function timeout against, per action, its calls
times the slower of one round trip (``latency_ms``) and one call at the per-action QPS limit (``qps``; an
assumption: ECS sets per-API, per-region limits per account in Quota Center and publishes no general table).
The counts are linear in the instances (``a + b * n``, fitted on the two largest sizes), so the largest region
one pass fits is solved from them.
"""

from __future__ import annotations

import copy
import math
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
    sizes: tuple[int, ...] = (10, 100, 1000, 5000)
    lost_share: float = 0.01
    latency_ms: float = 80.0  # one round trip to the real API (as the other figures)
    qps: float = 5.0  # calls per second per action (as figure (e); an assumption)
    timeout_s: float = 600.0  # settings.function_timeout_s' default
    margin_s: float = MARGIN_S


SMOKE = ScaleConfig(sizes=(10, 120))


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

    def __init__(self, n: int, lost_share: float) -> None:
        from aliyun_ops.deploy import load_ram_policy
        from aliyun_ops.emulator import Emulator

        self.n = n
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
        t0 = time.monotonic()
        with _incident_spans(self.emu.journal, spans):
            outcomes = service.reconcile(settings=self.settings(), credentials=creds, sleep=self.emu.clock.advance,
                                         clock=self.emu.clock.now)
        wall = time.monotonic() - t0
        entries = self.emu.journal.entries()
        inside = {i for a, b in spans for i in range(a, b)}
        ok = [(i, e) for i, e in enumerate(entries) if e["status"] == 200]
        return {
            "calls": dict(Counter(e["action"] for i, e in ok if i not in inside)),
            "incident_calls": dict(Counter(e["action"] for i, e in ok if i in inside)),
            "refused": sum(1 for e in entries if e.get("code") in TRANSIENT_CODES or e["status"] >= 500),
            "outcomes": dict(Counter(o.status for o in outcomes)),
            "wall_s": wall,
            "incident_wall_s": sum(s for s in _INCIDENT_WALL),
        }

    def stop(self) -> None:
        self.emu.stop()


_INCIDENT_WALL: list[float] = []


@contextmanager
def _incident_spans(journal: Any, spans: list[tuple[int, int]]) -> Iterator[None]:
    """Notes which journal entries the incidents reconcile starts made (the pass is one thread)."""
    from aliyun_ops.recovery import Incident

    original = Incident.run
    _INCIDENT_WALL.clear()

    def run(self: Any) -> Any:
        start, t0 = len(journal.entries()), time.monotonic()
        try:
            return original(self)
        finally:
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
        region = Region(n, cfg.lost_share)
        try:
            seeded = time.monotonic() - t0
            first = region.one_pass()
            catch_up = []  # the relaunches left for later passes, and their replacements' data disks
            while len(catch_up) < 6 and (not catch_up or catch_up[-1]["outcomes"]):
                catch_up.append(region.one_pass())
            steady = region.one_pass()
        finally:
            region.stop()
        rows[n] = {"first": first, "catch_up": catch_up, "steady": steady, "seed_s": seeded,
                   "lost_reclaimed": len(region.reclaimed), "lost_removed": len(region.removed)}
    return {"sizes": rows, "fits": {kind: fits(rows, kind, cfg) for kind in ("first", "steady")},
            "qps": cfg.qps, "latency_ms": cfg.latency_ms, "timeout_s": cfg.timeout_s}


def cloud_seconds(calls: dict[str, float], cfg: ScaleConfig) -> float:
    """The pass's time against the real API: each call waits its round trip, and no action goes faster than
    its QPS limit (the pass makes its calls one after the other)."""
    per_call = max(cfg.latency_ms / 1000.0, 1.0 / cfg.qps)
    return sum(calls.values()) * per_call


def fits(rows: dict[int, dict[str, Any]], kind: str, cfg: ScaleConfig) -> dict[str, Any]:
    """The largest n whose ``kind`` pass (without the incidents it starts) fits in the timeout, from the calls'
    linear fit ``a + b * n`` on the two largest sizes."""
    sizes = sorted(rows)
    small, large = sizes[-2], sizes[-1]
    total = {n: float(sum(rows[n][kind]["calls"].values())) for n in sizes}
    slope = (total[large] - total[small]) / (large - small)
    base = total[large] - slope * large
    budget = cfg.timeout_s - cfg.margin_s
    per_call = max(cfg.latency_ms / 1000.0, 1.0 / cfg.qps)
    largest = math.inf if slope <= 0 else max(0.0, (budget / per_call - base) / slope)
    return {"calls_per_instance": slope, "fixed_calls": base, "seconds_per_call": per_call,
            "largest_n": largest, "at": {n: cloud_seconds(rows[n][kind]["calls"], cfg) for n in sizes}}


def report(r: dict[str, Any]) -> str:
    """The side-by-side table of figure (o) and the verdict."""
    sizes = sorted(r["sizes"], key=int)
    lines = [f"(o) Reconcile at scale: calls per pass (successful; incidents apart), wall time here, and the "
             f"time at {r['latency_ms']:.0f} ms a call and {r['qps']:g} calls/s per action (assumed)"]
    for kind, title in (("first", "first pass (no data disk kept yet)"), ("steady", "steady pass")):
        actions = sorted({a for n in sizes for a in r["sizes"][n][kind]["calls"]})
        lines.append(f"  {title}")
        lines.append("    " + f"{'action':<30}" + "".join(f"{int(n):>10,}" for n in sizes))
        for a in actions:
            lines.append("    " + f"{a:<30}" + "".join(f"{r['sizes'][n][kind]['calls'].get(a, 0):>10,}" for n in sizes))
        rows = [
            ("total calls", lambda p: f"{sum(p['calls'].values()):,}"),
            ("incident calls", lambda p: f"{sum(p['incident_calls'].values()):,}"),
            ("refused (2%) calls", lambda p: f"{p['refused']:,}"),
            *[(f"outcome {o}", lambda p, o=o: f"{p['outcomes'].get(o, 0):,}")
              for o in sorted({o for n in sizes for o in r["sizes"][n][kind]["outcomes"]})],
            ("wall s here (pass)", lambda p: f"{p['wall_s'] - p['incident_wall_s']:.2f}"),
            ("wall s here (incidents)", lambda p: f"{p['incident_wall_s']:.2f}"),
        ]
        for label, fmt in rows:
            lines.append("    " + f"{label:<30}" + "".join(f"{fmt(r['sizes'][n][kind]):>10}" for n in sizes))
        fit = r["fits"][kind]
        lines.append("    " + f"{'s against the real API':<30}" + "".join(f"{fit['at'][n]:>10.1f}" for n in sizes))
        largest = fit["largest_n"]
        if kind == "first":
            from aliyun_ops.recovery.reconcile import LABEL_SHARE

            passes = [len(r["sizes"][n]["catch_up"]) - 1 for n in sizes]
            lines.append("    " + f"{'catch-up passes':<30}" + "".join(f"{k:>10}" for k in passes))
            labels = LABEL_SHARE * (r["timeout_s"] - MARGIN_S) / fit["seconds_per_call"]
            lines.append(f"    labels (one TagResources per disk) get {LABEL_SHARE:.0%} of a pass: {int(labels):,} "
                         f"disks a pass; every disk's DeleteWithInstance=false is set in the first pass all the same")
        lines.append(f"    fits one {r['timeout_s']:.0f} s pass up to "
                     f"{'any size' if math.isinf(largest) else f'{int(largest):,} instances'} "
                     f"({fit['calls_per_instance']:.4f} calls per instance + {max(fit['fixed_calls'], 0):.0f}, "
                     f"{fit['seconds_per_call']:.2f} s a call)")
    return "\n".join(lines)


def main() -> None:
    import sys

    cfg = SMOKE if "--smoke" in sys.argv else ScaleConfig()
    print(report(measure(cfg)))


if __name__ == "__main__":
    main()

