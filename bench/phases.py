"""The bench's phases. Each races ours and the old tool's replay side by side (same scenario, one world
each, both notified at the same moment) and reads its figures from the emulators afterwards.

- pair: one incident each: (a) round trips, (b) time / floor, (c) ours / baseline, (g) CPU, (h) RSS;
- share: image builds from short to 200 s, all under a 300 s notice: (d);
- mass: 100 reclaims at once under per-action qps limits: (e), ours only;
- matrix: the scenarios of (i), for both tools;
- data: an instance with an EIP and {0..2000} GiB of data its guest writes to until 1 s before the release,
  same zone and cross zone, for both tools: (j) data kept, (k) notice->Running, (l) the user-visible outage.

Every world runs the emulator's default scenario, every real-cloud lag and refusal on. The bench sets
only what it measures: timing and the snapshot speed (``seconds_per_gib``: the default scenario's
256 MiB/s would make the smallest image 110 s, and the builds below are the bench's inputs).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.functions import FunctionProcess, start_all
from bench.latency import EmuTime, LatencyModel, round_trip_gaps, waves
from bench.scenarios import MATRIX, Scenario, install_stale_listing, verdict
from bench.world import Notice, World, eip_holder

# Latencies no tool can avoid: CreateImage must reach the cloud before the image starts; once the image is
# launchable, an answer saying so must come back and RunInstances reach the cloud (the DescribeImages that
# sees it may be in flight while it becomes launchable). An image made from a system-disk snapshot adds one:
# the answer that the snapshot is accomplished must come back and CreateImage reach the cloud.
MIN_LATENCIES = 2


@dataclass(frozen=True)
class BenchConfig:
    scale: float = 20.0  # emulated seconds per real second
    mass_scale: float = 8.0  # lower: 100 incidents in two processes must not outrun the CPU
    latency_ms: float = 80.0
    notice_s: float = 300.0
    timeout_s: float = 600.0  # both functions' timeout
    pair_disks: tuple[int, int] = (40, 60)  # system, data GiB (ESSD): a 130 s image, Usable after 60 s
    seconds_per_gib: float = 1.0  # image build time per GiB of disk: the snapshot speed the bench sets
    share_builds: tuple[float, ...] = (50.0, 75.0, 100.0, 125.0, 150.0, 175.0, 200.0)
    mass_n: int = 100
    mass_qps: float = 5.0  # calls per emulated second, per action
    matrix_many: int = 10
    throttle_rate: float = 0.25
    timing: dict[str, float] = field(default_factory=dict)  # scenario timing overrides
    cold_rounds: int = 3
    data_scale: float = 20.0  # the data phase's time scale (the smoke run's is lower: its notice is short)
    data_system_gib: int = 40
    data_sizes: tuple[int, ...] = (0, 100, 500, 2000)  # GiB of data (ESSD), on two disks of half each
    data_write_every_s: float = 50.0  # the guest writes to each data disk this often, and 1 s before the release


SMOKE = BenchConfig(scale=60.0, mass_scale=30.0, notice_s=120.0, timeout_s=240.0, pair_disks=(20, 10),
                    seconds_per_gib=0.1, share_builds=(10.0, 40.0), mass_n=4, matrix_many=3, cold_rounds=1,
                    data_scale=30.0, data_system_gib=20, data_sizes=(100,),
                    timing={"imageBaseSeconds": 5.0, "instanceBootSeconds": 5.0, "pendingSeconds": 1.0})


def snapshot_speed(seconds_per_gib: float) -> dict[str, float]:
    """The realism ``snapshot`` knob that builds an image in ``seconds_per_gib`` per GiB (full snapshot;
    incremental ones at the same speed over the default scenario's changed share)."""
    mibps = 1024.0 / seconds_per_gib
    return {"fullMiBps": mibps, "incrementalMiBps": mibps, "changedFraction": 0.05}


def new_world(label: str, tool: str, cfg: BenchConfig, scale: float | None = None,
              realism: dict[str, Any] | None = None) -> World:
    knobs = {"snapshot": snapshot_speed(cfg.seconds_per_gib), **(realism or {})}
    world = World(label=label, scale=scale or cfg.scale, timing=dict(cfg.timing), realism=knobs)
    world.tool = tool
    return world.start()


def race(worlds: list[World], procs: dict[str, FunctionProcess], latency: dict[float, LatencyModel],
         cfg: BenchConfig, *, qps: float | None = None, duplicates: dict[str, float] | None = None,
         ) -> dict[str, list[Notice]]:
    """Warm each tool's process, notify every original of every world, each notice handed over to its tool as
    soon as it is issued (notifying every world first would deliver the first ones late), wait for every
    invocation and for the replacements to be Running."""
    clocks = {w.label: EmuTime.of(w.emu.clock) for w in worlds}
    for tool, proc in procs.items():
        first = next(w for w in worlds if w.tool == tool)
        proc.warm(first.emu.endpoint, clocks[first.label])
    clocks = {w.label: w.arm(latency[w.scale], qps) for w in worlds}
    notices: dict[str, list[Notice]] = {w.label: [] for w in worlds}
    for w in worlds:
        for i, original in enumerate(w.originals):
            n = w.notice(original, cfg.notice_s)
            notices[w.label].append(n)
            procs[w.tool].send(f"{w.label}/{i}", n.event, w.emu.endpoint, clocks[w.label], cfg.timeout_s)
            if duplicates and w.label in duplicates:
                procs[w.tool].send(f"{w.label}/{i}/again", n.event, w.emu.endpoint, clocks[w.label], cfg.timeout_s,
                                   delay_s=duplicates[w.label])
    slowest = min(w.scale for w in worlds)
    for proc in procs.values():
        proc.finish(real_timeout=cfg.timeout_s / slowest + 60)
    for w in worlds:
        ends = [t for n in notices[w.label] for t in w.running_at(n.original.name, n.at)]
        if ends:
            w.wait_until(max(ends) + 0.5, real_cap_s=30)
    return notices


# ---- figures from one incident
def incident_figures(world: World, notice: Notice, result: dict[str, Any], latency_ms: float) -> dict[str, Any]:
    """(a) and (b) for one incident that ran alone in its world.

    The image is "ready" when the tool can launch from it: for ours when it is Usable (an all-ESSD image
    after ``instantAccessSeconds``, while still Creating), for the old tool when it is Available (the
    only status its DescribeImages asks for); either way once DescribeImages lists it."""
    calls = [c for c in world.calls() if c["time"] >= notice.at]
    gap = latency_ms / 2000.0
    out: dict[str, Any] = {"ok": bool(result.get("ok")), "message": result.get("message", "")}
    # the first write towards the image: CreateImage, or CreateSnapshot of the system disk (the image from it follows)
    creates = [c["time"] for c in calls if c["action"] in ("CreateImage", "CreateSnapshot") and c["status"] == 200]
    if creates:
        out["rt_notice_to_create"] = waves([c["time"] for c in calls if c["time"] <= creates[0]], gap)
    times = world.image_times(result["image_id"]) if result.get("image_id") else None
    runs = [c["time"] for c in calls if c["action"] == "RunInstances" and c["status"] == 200]
    if times:
        ready = times.ready(usable=world.tool == "ours")
        out["image_usable_s"] = times.cloud_s(usable=True)
        out["image_available_s"] = times.cloud_s(usable=False)
        out["image_steps"] = times.steps
        if times.snapshot_start is not None and times.snapshot_done is not None:
            out["snapshot_s"] = times.snapshot_done - times.snapshot_start
        if runs:
            run = next((t for t in runs if t >= ready), runs[0])
            out["rt_ready_to_run"] = waves([c["time"] for c in calls if ready < c["time"] <= run], gap)
    running = world.running_at(notice.original.name, notice.at)
    if running:
        out["notice_to_running_s"] = running[0] - notice.at
    out["boot_s"] = world.up_s
    if "image_usable_s" in out:  # what the cloud allows: the image launchable as soon as the model allows
        latencies = MIN_LATENCIES + out["image_steps"] - 1
        out["floor_s"] = out["image_usable_s"] + world.up_s + latencies * latency_ms / 1000.0
    out["round_trip_ms"] = _median_ms(round_trip_gaps([c["time"] for c in calls], max_gap_s=0.5))
    out["calls"] = len(calls)
    out["refused"] = dict(Counter(c["code"] for c in calls if c["status"] != 200))
    return out


def _median_ms(gaps: list[float]) -> float | None:
    if not gaps:
        return None
    ordered = sorted(gaps)
    return ordered[len(ordered) // 2] * 1000.0


# ---- phases
def pair(cfg: BenchConfig, latency: dict[float, LatencyModel]) -> dict[str, Any]:
    worlds = [new_world("pair-ours", "ours", cfg), new_world("pair-baseline", "baseline", cfg)]
    procs = _processes()
    try:
        for w in worlds:
            w.launch("web-1", system_gib=cfg.pair_disks[0], data_gib=cfg.pair_disks[1])
            w.prepare()
        notices = race(worlds, procs, latency, cfg)
        figures: dict[str, Any] = {}
        for w in worlds:
            result = procs[w.tool].done[f"{w.label}/0"]
            figures[w.tool] = incident_figures(w, notices[w.label][0], result, cfg.latency_ms)
            figures[w.tool]["cpu_s"] = result.get("cpu_s")
            figures[w.tool]["peak_rss_mib"] = procs[w.tool].stats.get("peak_rss_mib")
        return figures
    finally:
        _close(worlds, procs)


def share(cfg: BenchConfig, latency: dict[float, LatencyModel]) -> dict[str, Any]:
    worlds = [new_world("share-ours", "ours", cfg), new_world("share-baseline", "baseline", cfg)]
    procs = _processes()
    try:
        for w in worlds:
            for i, build in enumerate(cfg.share_builds):
                gib = max(20, round(w.gib_for(build)))
                # cloud_efficiency: no instant access, so the whole build is waited for (ESSD images are
                # Usable after 60 s whatever their size, and every build below would look alike)
                w.launch(f"db-{i}", system_gib=20, data_gib=gib - 20, disk="cloud_efficiency")
            w.prepare()
        notices = race(worlds, procs, latency, cfg)
        out: dict[str, Any] = {}
        for w in worlds:
            in_time = [bool(r) and r[0] < n.at + cfg.notice_s
                       for n in notices[w.label] for r in [w.running_at(n.original.name, n.at)]]
            builds = [w.build_s(o.build_gib) for o in w.originals]
            said = [d.get("message", "") for k, d in procs[w.tool].done.items() if k.startswith(w.label + "/")]
            out[w.tool] = {"in_time": sum(in_time), "total": len(in_time), "builds_s": builds,
                           "failures": Counter(m[:90] for m in said if m and not _replaced(m)).most_common(2)}
        return out
    finally:
        _close(worlds, procs)


def mass(cfg: BenchConfig, latency: dict[float, LatencyModel]) -> dict[str, Any]:
    world = new_world("mass-ours", "ours", cfg, scale=cfg.mass_scale)
    procs = {"ours": start_all(["ours"])[0]}
    try:
        launch_wave(world, cfg.mass_n)
        notices = race([world], procs, latency, cfg, qps=cfg.mass_qps)[world.label]
        return {**wave_figures(world, notices, list(procs["ours"].done.values()), cfg, latency[world.scale]),
                "cpu_s": procs["ours"].stats.get("cpu_s"), "peak_rss_mib": procs["ours"].stats.get("peak_rss_mib")}
    finally:
        _close([world], procs)


def launch_wave(world: World, n: int) -> None:
    """The originals of (e): ``n`` spot instances of 20 + 20 GiB ESSD, booted."""
    for i in range(n):
        world.launch(f"node-{i:03d}", system_gib=20, data_gib=20)
    world.prepare()


def wave_figures(world: World, notices: list[Notice], done: list[dict[str, Any]], cfg: BenchConfig,
                 lat: LatencyModel) -> dict[str, Any]:
    """(e) from a wave's world and the invocations' results (each with ``ok``, ``message`` and ``image_id``),
    whatever ran them: the time to the last replacement Running against the bound, the calls and refusals."""
    n = len(notices)
    first = min(x.at for x in notices)
    ends = [r[0] for x in notices for r in [world.running_at(x.original.name, x.at)] if r]
    images = [t for d in done if d.get("image_id") for t in [world.image_times(d["image_id"])] if t is not None]
    fastest = min(images, key=lambda t: t.cloud_s(usable=True), default=None)
    usable = fastest.cloud_s(usable=True) if fastest else world.build_s(40)
    steps = fastest.steps if fastest else 1
    burst = max(1.0, lat.real_qps(cfg.mass_qps))  # the emulator's bucket holds one real second of calls
    # every incident makes at least one call of each write (CreateImage, and CreateSnapshot when the image
    # comes from one), one DescribeImages and one RunInstances, each action at mass_qps
    bound = (usable + world.up_s + (MIN_LATENCIES + steps - 1) * cfg.latency_ms / 1000
             + max(0.0, n - burst) / cfg.mass_qps)
    failures = Counter(d.get("message", "")[:90] for d in done if not d.get("ok"))
    calls = [c for c in world.calls() if c["time"] >= first]
    throttled = sum(1 for c in calls if c["code"] == "Throttling.User")
    accepted = Counter(c["action"] for c in calls if c["status"] == 200)
    launches = Counter(c["params"].get("InstanceName") for c in calls
                       if c["action"] == "RunInstances" and c["status"] == 200)
    return {"replaced": len(ends), "total": n, "elapsed_s": (max(ends) - first) if ends else None,
            "bound_s": bound, "burst": burst, "image_usable_s": usable, "image_steps": steps,
            "failures": failures.most_common(2),
            "qps": cfg.mass_qps,
            "throttled_calls": throttled,
            "launched_twice": sum(1 for k in launches.values() if k > 1),
            "spot_advice_calls": sum(1 for c in calls if c["action"] == "DescribeSpotAdvice"),
            "calls_per_incident": sum(accepted.values()) / n,
            "per_action": {a: k / n for a, k in accepted.most_common()}}


def matrix(cfg: BenchConfig, latency: dict[float, LatencyModel]) -> dict[str, Any]:
    install_stale_listing()
    worlds: list[World] = []
    procs = _processes()
    try:
        duplicates: dict[str, float] = {}
        for scenario in MATRIX:
            for tool in ("ours", "baseline"):
                w = new_world(f"{scenario.key}-{tool}", tool, cfg, realism=scenario.realism)
                scenario.setup(w, cfg)
                w.prepare()
                worlds.append(w)
                if scenario.duplicate_after_s is not None:
                    duplicates[w.label] = scenario.duplicate_after_s
        race(worlds, procs, latency, cfg, duplicates=duplicates)
        return {s.key: _row(s, worlds, procs) for s in MATRIX}
    finally:
        _close(worlds, procs)


DATA_ZONES = ("same", "cross")


def guest_writes(cfg: BenchConfig) -> tuple[float, ...]:
    """When (seconds after the notice) the guest writes to each data disk: regularly, then 1 s before the release."""
    every = cfg.data_write_every_s
    regular = [i * every for i in range(int((cfg.notice_s - 1) // every) + 1) if i * every < cfg.notice_s - 1]
    return (*regular, cfg.notice_s - 1)


def data(cfg: BenchConfig, latency: dict[float, LatencyModel]) -> dict[str, Any]:
    """(j), (k), (l): one world per (zone case, data size, tool). Each original: a 40 GiB system disk, the data on
    two ESSD disks of half the size each, an EIP. Cross zone: every type in the original zone sells out right
    after the notice. One race per data size (both zone cases, both tools): a function process running many
    incidents at once on a small machine delays each of them (its CPU time counts x scale)."""
    out: dict[str, Any] = {}
    for gib in cfg.data_sizes:
        for case, sizes in _data_race(cfg, latency, gib).items():
            out.setdefault(case, {}).update(sizes)
    return out


def _data_race(cfg: BenchConfig, latency: dict[float, LatencyModel], gib: int) -> dict[str, Any]:
    worlds: list[World] = []
    procs = _processes()
    try:
        for case in DATA_ZONES:
            for tool in ("ours", "baseline"):
                w = new_world(f"data-{case}-{gib}-{tool}", tool, cfg, scale=cfg.data_scale)
                halves = (gib - gib // 2, gib // 2) if gib else ()
                w.launch("app-0", system_gib=cfg.data_system_gib, data_sizes=halves)
                w.want_eip, w.sold_out_at_notice = True, case == "cross"
                w.guest_writes = guest_writes(cfg)
                w.prepare()
                worlds.append(w)
        notices = race(worlds, procs, latency, cfg)
        out: dict[str, Any] = {}
        for w in worlds:
            _, case, _, tool = w.label.split("-")
            said = procs[tool].done.get(f"{w.label}/0", {})
            row = data_figures(w, notices[w.label][0], cfg.notice_s)
            timeline = said.get("timeline", [])
            row.update(message=said.get("message", ""), timeline=timeline)
            if timeline:  # when the tool's first step was logged (the notice's delivery and first calls)
                row["first_log_s"] = timeline[0][0] - notices[w.label][0].at
            out.setdefault(case, {}).setdefault(gib, {})[tool] = row
        return out
    finally:
        _close(worlds, procs)


def data_figures(world: World, notice: Notice, notice_s: float) -> dict[str, Any]:
    """One incident's (j), (k), (l), read from the emulator: markers on the replacement's disks slot by slot, its
    boot log (first and last Running, with the disks In_use then), and when its EIP association completed."""
    original, release = notice.original, notice.at + notice_s
    expected = [d.markers + original.written.get(d.disk_id, []) for d in original.data]
    out: dict[str, Any] = {"markers_total": sum(len(m) for m in expected), "markers_found": 0,
                           "refused_writes": list(original.refused_writes), "disks": len(original.data)}
    others = [i for i in world.instances() if i["name"] == original.name and i["id"] != original.instance_id]
    running = [i for i in others if i["status"] == "Running"]
    out["replacements"] = len(others)
    if len(running) != 1:
        out["why"] = f"{len(others)} replacements, {len(running)} Running" if others else "no replacement"
        return out
    new = running[0]
    out["zone"] = new["zone"]
    runs = [c["time"] for c in world.calls() if c["action"] == "RunInstances" and c["status"] == 200
            and c["params"].get("InstanceName") == original.name and c["time"] >= notice.at]
    if runs:  # Running by the model: pending + boot after the accepted RunInstances
        out["launched_s"] = runs[0] - notice.at
    disks = world.data_of(new["id"])
    out["disks_on_replacement"] = len(disks)
    out["markers_found"] = sum(len(set(want) & set(got.markers)) for want, got in zip(expected, disks, strict=False))
    boots = world.boots(new["id"])
    if boots:
        out["notice_to_running_s"] = boots[0]["at"] - notice.at
        out["running_before_release"] = boots[0]["at"] < release
        last = boots[-1]
        attached = [d for d in last["disks"] if d["kind"] == "data"]
        moved = original.eip is not None and eip_holder(world, original.eip) == new["id"]
        eip_at = _eip_settled(world, new["id"]) if moved else None
        if eip_at is None:
            out["why"] = "EIP not moved"
        elif len(attached) != len(original.data) or len(disks) != len(original.data):
            out["why"] = f"{len(attached)} of {len(original.data)} data disks attached at its last boot"
        else:
            out["outage_s"] = max(last["at"], eip_at) - release
        out["boots"] = len(boots)
    return out


def _eip_settled(world: World, instance_id: str) -> float | None:
    """When the EIP association with the instance completed: the last accepted AssociateEipAddress for it plus
    the emulator's Associating time."""
    calls = [c["time"] for c in world.calls() if c["action"] == "AssociateEipAddress" and c["status"] == 200
             and c["params"].get("InstanceId") == instance_id]
    return max(calls) + float(world.backend.realism.eip_transition) if calls else None


def _row(scenario: Scenario, worlds: list[World], procs: dict[str, FunctionProcess]) -> dict[str, Any]:
    row: dict[str, Any] = {"title": scenario.title}
    for w in worlds:
        if w.label.startswith(scenario.key + "-"):
            v = verdict(w)
            done = [d for k, d in procs[w.tool].done.items() if k.startswith(w.label + "/")]
            row[w.tool] = {"correct": v.correct, "total": v.total, "why": sorted(set(v.why)),
                           "said": [d.get("message", "") for d in done],
                           "image_sources": sorted({d["image_source"] for d in done if d.get("image_source")})}
    return row


def _replaced(message: str) -> bool:
    return " replaced by " in message


def _processes() -> dict[str, FunctionProcess]:
    ours, baseline = start_all(["ours", "baseline"])
    return {"ours": ours, "baseline": baseline}


def _close(worlds: list[World], procs: dict[str, FunctionProcess]) -> None:
    for proc in procs.values():
        proc.kill()
    for w in worlds:
        w.stop()


def calibrate_latency(cfg: BenchConfig) -> dict[float, LatencyModel]:
    """Measure one round trip's real cost on this machine now, per time scale in use."""
    from alibabacloud_ecs20140526 import models as m

    from bench.latency import calibrate

    world = new_world("calibration", "ours", cfg)
    try:
        request = m.DescribeInstancesRequest(region_id="cn-hangzhou")
        real_ms = calibrate(lambda: world.client.describe_instances(request))
    finally:
        world.stop()
    return {s: LatencyModel(cfg.latency_ms, s, real_ms) for s in {cfg.scale, cfg.mass_scale, cfg.data_scale}}
