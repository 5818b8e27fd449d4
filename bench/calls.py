"""Figure (n): API calls per incident on the happy path, ours against the old tool's replay.

One incident per case and tool, each in its own emulator (the default scenario: every lag on, and its 2%
transient refusals), run in this process on the emulator's clock (a wait advances it; no real sleep), so the
counts do not depend on the machine. The original: an ``ecs.c7.large`` spot instance with an EIP, a 20 GiB
system disk, and one 20 GiB data disk (ours moves it: the default mode) or none. The notice gives 300 s.
Snapshot speed as the other figures (1 s per GiB).

Counted: the emulator's journal from the notice until the tool returns, per action; accepted calls apart from
refused ones (a refused call is retried by ours, and ends the old tool's run). Ours runs in a fresh process
state (``fresh``: the first incident a function instance handles, its caches cold) and then again in the same
process on a second world (``warm``: the catalogue and prices cached, as in a reclaim wave); each world is a
new endpoint, so nothing of the first world's answers is reused for the second except what the cache allows
for the same endpoint and region: for ``warm`` the second incident runs in the same world.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.phases import snapshot_speed
from bench.world import REGION, SETUP_KEY, TRANSIENT_CODES, World

CASES = (("data disk", 20), ("no data disk", 0))


@dataclass(frozen=True)
class CallsConfig:
    notice_s: float = 300.0
    timeout_s: float = 600.0
    seconds_per_gib: float = 1.0


def _world(label: str, cfg: CallsConfig) -> World:
    world = World(label=label, scale=0.0, realism={"snapshot": snapshot_speed(cfg.seconds_per_gib)})
    world.want_eip = True
    return world.start()


def _count(world: World, start: int) -> dict[str, Any]:
    entries = world.calls()[start:]
    ok = Counter(e["action"] for e in entries if e["status"] == 200)
    refused = sum(1 for e in entries if e.get("code") in TRANSIENT_CODES or e["status"] >= 500)
    return {"calls": sum(ok.values()), "refused": refused, "per_action": dict(ok.most_common())}


def _ours(world: World, event: dict[str, Any], cfg: CallsConfig) -> dict[str, Any]:
    from aliyun_ops.config import Credentials, Settings
    from aliyun_ops.service import handle_event

    endpoint = world.emu.endpoint
    settings = Settings(region_id=REGION, ecs_endpoint=endpoint, vpc_endpoint=endpoint, protocol="http",
                        function_timeout_s=cfg.timeout_s)
    clock = world.emu.clock
    outcome = handle_event(event, settings=settings, credentials=Credentials(*SETUP_KEY), sleep=clock.advance,
                           clock=clock.now, deadline=clock.now() + cfg.timeout_s)
    return {"status": outcome.status, "message": outcome.message}


def _baseline(world: World, event: dict[str, Any], cfg: CallsConfig) -> dict[str, Any]:
    from bench.baseline import replay

    clock = world.emu.clock
    res = replay(event, endpoint=world.emu.endpoint, region_id=REGION, access_key_id=SETUP_KEY[0],
                 secret=SETUP_KEY[1], sleep=clock.advance, clock=clock.now, timeout_s=cfg.timeout_s)
    return {"status": "replaced" if res.new_instance_id else "failed", "message": res.error or ""}


def _incident(world: World, name: str, data_gib: int, tool: str, cfg: CallsConfig) -> dict[str, Any]:
    original = world.launch(name, system_gib=20, data_gib=data_gib)
    world.prepare()
    world.emu.clock.advance(30)  # the EIP's association settles (the clock stands still otherwise)
    notice = world.notice(original, cfg.notice_s)
    start = len(world.calls())
    said = (_ours if tool == "ours" else _baseline)(world, notice.event, cfg)
    return {**said, **_count(world, start)}


def measure(cfg: CallsConfig | None = None) -> dict[str, Any]:
    """Per case: ``ours`` (fresh process state), ``ours_warm`` (a second incident in the same world and process)
    and ``baseline``, each with its calls, refused calls and calls per action."""
    cfg = cfg or CallsConfig()
    out: dict[str, Any] = {}
    for case, gib in CASES:
        row: dict[str, Any] = {}
        for tool in ("ours", "baseline"):
            world = _world(f"calls-{tool}", cfg)
            try:
                row[tool] = _incident(world, "app-0", gib, tool, cfg)
                if tool == "ours":
                    world.originals.clear()
                    row["ours_warm"] = _incident(world, "app-1", gib, tool, cfg)
            finally:
                world.stop()
        out[case] = row
    return out


def report(result: dict[str, Any]) -> str:
    lines = ["(n) API calls per incident (happy path; accepted calls, refused ones apart)"]
    for case, row in result.items():
        for tool in ("ours", "ours_warm", "baseline"):
            r = row.get(tool)
            if r is None:
                continue
            actions = ", ".join(f"{a} {n}" for a, n in r["per_action"].items())
            lines.append(f"  {case:13} {tool:9} {r['calls']:3d} calls (+{r['refused']} refused) "
                         f"{r['status']}: {actions}")
    return "\n".join(lines)


def main() -> None:
    print(report(measure()))


if __name__ == "__main__":
    main()
