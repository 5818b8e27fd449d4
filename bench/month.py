"""Figure (m): a month of spot market. 50 managed spot instances for 30 emulated days with the emulator's spot
market on (models/market.py), the same market seed for every strategy:

- ``price-only``: our engine with ``placement="price"``;
- ``risk-aware``: our engine with ``placement="risk"``;
- ``old tool``: the old tool's sequence (bench/baseline.py), no reconcile (it had none).

Until ``Settings`` has a ``placement`` field, both engine strategies run the same code; the report says so.

Each strategy gets its own in-process emulator whose clock this process drives (time scale 0): time moves in
steps of ``step_s`` (10 s), every reclaim notice the market issued during a step is handed to the tool right
after it (``service.handle_event`` with the CloudMonitor body, as the function receives it), and our engine
runs a reconcile pass every 5 emulated minutes, as its timer trigger would. A tool's waits advance the same
clock. One process handles the notices one after the other (Function Compute would run them side by side): a
notice that arrives while another is handled waits for it.

Read per strategy from the emulator's own events: reclaims (the market's), spot cost (each instance's Running
time priced at its pool's spot price of the day), outage seconds (per instance name: the time no instance of
that name is Running; the originals are named ``month-00`` .. ``month-49`` and every tool keeps the name), and
incidents failed (a notice whose handling raised, or that the old tool ended with an error).
"""

from __future__ import annotations

import collections
import copy
import time
from dataclasses import dataclass
from typing import Any

from bench.world import GROUPS, IMAGE, PASSWORD, REGION, SETUP_KEY, TYPE, _clients

DAY = 86400.0
ZONES = ("cn-hangzhou-g", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k", "cn-hangzhou-h")
STRATEGIES = ("price-only", "risk-aware", "old tool")
PLACEMENT = {"price-only": "price", "risk-aware": "risk"}


@dataclass(frozen=True)
class MonthConfig:
    instances: int = 50
    days: float = 30.0
    seed: int = 7  # the market's seed (the scenario's own seed stays the default one)
    # A pass costs ~55 ms here (4 calls over 50 instances): every 5 emulated minutes is 8,640 passes a month,
    # ~8 min a strategy on 2 CPUs. The figure runs one every 15 minutes (``--reconcile-s 300`` for the 5).
    reconcile_s: float = 900.0
    step_s: float = 10.0
    timeout_s: float = 600.0  # the function's timeout, per notice
    interruption_cost_hours: float | None = None  # None: the setting's default (risk-aware only)
    risk_settings: tuple[tuple[str, str], ...] = ()  # more Settings fields for risk-aware only (--risk key=value)


SMOKE = MonthConfig(instances=5, days=1.0)


def placement_field() -> bool:
    from aliyun_ops.config import Settings

    return "placement" in Settings.model_fields


class Ledger:
    """What the emulator's events say: Running intervals per instance, Running count per name, reclaims."""

    def __init__(self, names: set[str], start: float) -> None:
        self.names = names
        self.running: dict[str, tuple[float, str, str, str]] = {}  # id -> (since, zone, type, name)
        self.intervals: list[tuple[str, str, float, float]] = []  # zone, type, t0, t1
        self.up: collections.Counter[str] = collections.Counter()
        self.down_since: dict[str, float] = {}
        self.outage_s = 0.0
        self.notices: collections.deque[Any] = collections.deque()
        self.start = start

    def on_event(self, kind: str, info: dict[str, Any]) -> None:
        """A backend listener (called under its lock)."""
        if kind == "interruption":
            self.notices.append(info["event"])
            return
        if kind != "state_change":
            return
        iid, now, name = str(info["instanceId"]), float(info["time"]), str(info.get("instanceName") or "")
        if info["state"] == "Running" and iid not in self.running:
            self.running[iid] = (now, str(info["zoneId"]), str(info["instanceType"]), name)
            if name in self.names:
                self.up[name] += 1
                since = self.down_since.pop(name, None)
                if since is not None:
                    self.outage_s += now - since
        elif info["state"] != "Running" and iid in self.running:
            since, zone, itype, name = self.running.pop(iid)
            self.intervals.append((zone, itype, since, now))
            if name in self.names:
                self.up[name] -= 1
                if self.up[name] == 0:
                    self.down_since[name] = now

    def close(self, now: float) -> None:
        for since, zone, itype, _ in list(self.running.values()):
            self.intervals.append((zone, itype, since, now))
        self.running.clear()
        for since in self.down_since.values():
            self.outage_s += now - since
        self.down_since.clear()


class Month:
    """One strategy's month in its own emulator."""

    def __init__(self, strategy: str, cfg: MonthConfig) -> None:
        from aliyun_ops.deploy import load_ram_policy
        from aliyun_ops.emulator import Emulator
        from aliyun_ops.emulator.backend import load_default_scenario

        self.strategy, self.cfg = strategy, cfg
        scenario = copy.deepcopy(load_default_scenario())
        scenario["market"] = {"enabled": True, "seed": cfg.seed}
        self.emu = Emulator(scenario=scenario, time_scale=0.0, function_role_policy=load_ram_policy()).start()
        self.ecs, _ = _clients(self.emu.endpoint)
        self.names = {f"month-{k:02d}" for k in range(cfg.instances)}
        self.ledger = Ledger(self.names, self.emu.clock.now())
        self.emu.backend.add_listener(self.ledger.on_event)
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.failed = 0
        self.errors: list[str] = []

    def advance(self, seconds: float) -> None:
        """Emulated time, holding the backend lock so that every timer on the way settles in order."""
        with self.emu.backend.lock:
            self.emu.clock.advance(seconds)

    def seed_fleet(self) -> None:
        """The originals, round-robin over the zones with c7.large spot stock today."""
        from alibabacloud_ecs20140526 import models as m

        cat = self.emu.backend.catalogue
        zones = [z for z in ZONES if cat.in_stock(z, TYPE, True)]
        for k, name in enumerate(sorted(self.names)):
            zone = zones[k % len(zones)]
            self.ecs.run_instances(m.RunInstancesRequest(
                region_id=REGION, image_id=IMAGE, instance_type=TYPE, zone_id=zone,
                v_switch_id=f"vsw-bp1emu00000000000{zone[-1]}", security_group_ids=GROUPS, instance_name=name,
                host_name=name, internet_charge_type="PayByTraffic", spot_strategy="SpotAsPriceGo",
                password=PASSWORD, system_disk=m.RunInstancesRequestSystemDisk(category="cloud_essd", size="20")))
        self.advance(60)

    def settings(self) -> Any:
        from aliyun_ops.config import Settings

        extra: dict[str, Any] = {"placement": PLACEMENT[self.strategy]} if placement_field() else {}
        if self.strategy == "risk-aware" and self.cfg.interruption_cost_hours is not None:
            extra["interruption_cost_hours"] = self.cfg.interruption_cost_hours
        if self.strategy == "risk-aware":
            extra.update(dict(self.cfg.risk_settings))
        return Settings(region_id=REGION, ecs_endpoint=self.emu.endpoint, vpc_endpoint=self.emu.endpoint,
                        protocol="http", **extra)

    def credentials(self) -> Any:
        from aliyun_ops.config import Credentials
        from aliyun_ops.emulator import (
            FUNCTION_ROLE_ACCESS_KEY_ID,
            FUNCTION_ROLE_ACCESS_KEY_SECRET,
            FUNCTION_ROLE_SECURITY_TOKEN,
        )

        return Credentials(FUNCTION_ROLE_ACCESS_KEY_ID, FUNCTION_ROLE_ACCESS_KEY_SECRET, FUNCTION_ROLE_SECURITY_TOKEN)

    def handle(self, event: Any) -> None:
        body = event.render("cloudmonitor")
        now = self.emu.clock.now
        if self.strategy == "old tool":
            from bench.baseline import replay

            result = replay(body, endpoint=self.emu.endpoint, region_id=REGION, access_key_id=SETUP_KEY[0],
                            secret=SETUP_KEY[1], sleep=self.advance, clock=now, timeout_s=self.cfg.timeout_s)
            self.outcomes["error" if result.error else "replaced"] += 1
            if result.error:
                self.failed += 1
                self.errors.append(result.error)
            return
        from aliyun_ops import service

        try:
            outcome = service.handle_event(body, settings=self.settings(), credentials=self.credentials(),
                                           sleep=self.advance, clock=now)
            self.outcomes[outcome.status] += 1
        except Exception as err:
            self.failed += 1
            self.outcomes["failed"] += 1
            self.errors.append(f"{type(err).__name__}: {err}"[:200])

    def reconcile(self) -> None:
        from aliyun_ops import service

        try:
            for outcome in service.reconcile(settings=self.settings(), credentials=self.credentials(),
                                             sleep=self.advance, clock=self.emu.clock.now):
                self.outcomes[f"reconcile {outcome.status}"] += 1
        except Exception as err:
            self.outcomes["reconcile failed"] += 1
            self.errors.append(f"reconcile {type(err).__name__}: {err}"[:200])

    def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        self.seed_fleet()
        clock, cfg = self.emu.clock, self.cfg
        start = clock.now()
        end = start + cfg.days * DAY
        next_pass = start + cfg.reconcile_s
        while clock.now() < end:
            self.advance(min(cfg.step_s, end - clock.now()))
            while self.ledger.notices:
                self.handle(self.ledger.notices.popleft())
            if self.strategy != "old tool" and clock.now() >= next_pass:
                self.reconcile()
                next_pass = clock.now() + cfg.reconcile_s
        return self.figures(start, clock.now(), time.monotonic() - t0)

    def figures(self, start: float, end: float, wall_s: float) -> dict[str, Any]:
        backend = self.emu.backend
        with backend.lock:
            self.ledger.close(end)
            market = backend.market
            assert market is not None
            cost = sum(market.cost(zone, itype, t0, t1) for zone, itype, t0, t1 in self.ledger.intervals)
            reclaims = [r for r in backend.market_reclaims if start <= r["time"] <= end]
            running = [i for i in backend.instances.items.values() if i.status == "Running"]
        months = (end - start) / (30 * DAY)
        return {
            "strategy": self.strategy,
            "reclaims": len(reclaims),
            "reclaims_per_instance_month": len(reclaims) / self.cfg.instances / months,
            "spot_cost": cost,
            "outage_s": self.ledger.outage_s,
            "failed": self.failed,
            "outcomes": dict(self.outcomes),
            "errors": self.errors[:5],
            "running_at_end": len(running),
            "names_running_at_end": len({i.launch.name for i in running} & self.names),
            "pools_at_end": dict(collections.Counter(f"{i.instance_type}@{i.zone_id}" for i in running)),
            "wall_s": wall_s,
        }

    def stop(self) -> None:
        self.emu.stop()


def one(strategy: str, cfg: MonthConfig) -> dict[str, Any]:
    month = Month(strategy, cfg)
    try:
        return month.run()
    finally:
        month.stop()


def measure(cfg: MonthConfig, strategies: tuple[str, ...] = STRATEGIES) -> dict[str, Any]:
    """Every strategy in its own process (they share nothing but the seed), as many at once as there are CPUs."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=max(1, min(len(strategies), os.cpu_count() or 1))) as pool:
        futures = {s: pool.submit(one, s, cfg) for s in strategies}
        rows = {s: f.result() for s, f in futures.items()}
    return {"seed": cfg.seed, "instances": cfg.instances, "days": cfg.days, "placement_field": placement_field(),
            "reconcile_s": cfg.reconcile_s, "rows": rows}


def report(r: dict[str, Any]) -> str:
    lines = [f"(m) A month of spot market: {r['instances']} managed spot instances, {r['days']:g} emulated days, "
             f"market seed {r['seed']}, a reconcile pass every {r['reconcile_s']:g} emulated s (ours)"]
    if not r["placement_field"]:
        lines.append("  Settings has no `placement` field yet: price-only and risk-aware run the same code "
                     "(the risk-aware column awaits the planner)")
    cols = list(r["rows"])
    lines.append("  " + f"{'':<32}" + "".join(f"{c:>14}" for c in cols))
    fmt = [
        ("reclaims per instance-month", lambda x: f"{x['reclaims_per_instance_month']:.2f}"),
        ("reclaims", lambda x: f"{x['reclaims']}"),
        ("total spot cost (CNY)", lambda x: f"{x['spot_cost']:.2f}"),
        ("total outage seconds", lambda x: f"{x['outage_s']:.0f}"),
        ("incidents failed", lambda x: f"{x['failed']}"),
        ("names Running at the end", lambda x: f"{x['names_running_at_end']}"),
        ("wall seconds here", lambda x: f"{x['wall_s']:.0f}"),
    ]
    for label, f in fmt:
        lines.append("  " + f"{label:<32}" + "".join(f"{f(r['rows'][c]):>14}" for c in cols))
    base, risk = r["rows"].get("price-only"), r["rows"].get("risk-aware")
    if base and risk and base["reclaims"] and base["spot_cost"]:
        fewer = 1 - risk["reclaims"] / base["reclaims"]
        dearer = risk["spot_cost"] / base["spot_cost"] - 1
        verdict = "met" if fewer >= 0.30 and dearer <= 0.05 else "not met"
        lines.append(f"  risk-aware vs price-only: {fewer:+.0%} fewer reclaims, {dearer:+.1%} spot cost "
                     f"(goal: >= 30% fewer at <= +5%): {verdict}")
    for c in cols:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["rows"][c]["outcomes"].items()))
        lines.append(f"  {c}: {outcomes}")
        for error in r["rows"][c]["errors"]:
            lines.append(f"    error: {error}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.month [--smoke] [--seed N] [--days D] [--instances N] [--reconcile-s S]
    [--strategies price-only,risk-aware]``."""
    import argparse
    import dataclasses

    parser = argparse.ArgumentParser(prog="python -m bench.month")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--reconcile-s", type=float)
    parser.add_argument("--interruption-cost-hours", type=float)
    parser.add_argument("--risk", action="append", default=[], metavar="KEY=VALUE",
                        help="a Settings field for the risk-aware strategy only (exploring its knobs)")
    parser.add_argument("--days", type=float)
    parser.add_argument("--instances", type=int)
    parser.add_argument("--strategies", help="a comma-separated subset of: " + ", ".join(STRATEGIES))
    args = parser.parse_args(argv)
    cfg = SMOKE if args.smoke else MonthConfig()
    if args.seed is not None:
        cfg = dataclasses.replace(cfg, seed=args.seed)
    if args.reconcile_s is not None:
        cfg = dataclasses.replace(cfg, reconcile_s=args.reconcile_s)
    if args.interruption_cost_hours is not None:
        cfg = dataclasses.replace(cfg, interruption_cost_hours=args.interruption_cost_hours)
    if args.risk:
        pairs = tuple(tuple(kv.split("=", 1)) for kv in args.risk)
        if any(len(kv) != 2 for kv in pairs):
            parser.error("--risk takes KEY=VALUE")
        cfg = dataclasses.replace(cfg, risk_settings=pairs)  # type: ignore[arg-type]
    if args.days is not None:
        cfg = dataclasses.replace(cfg, days=args.days)
    if args.instances is not None:
        cfg = dataclasses.replace(cfg, instances=args.instances)
    strategies = STRATEGIES
    if args.strategies:
        strategies = tuple(s.strip() for s in args.strategies.split(",") if s.strip())
        unknown = sorted(set(strategies) - set(STRATEGIES))
        if unknown:
            parser.error(f"unknown strategies {', '.join(unknown)}; known: {', '.join(STRATEGIES)}")
    print(report(measure(cfg, strategies)))


if __name__ == "__main__":
    main()
