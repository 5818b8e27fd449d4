"""The scenario matrix of figure (i), and what counts as a correct replacement.

Every scenario starts from the emulator's default account: originals are ``ecs.c7.large`` spot
instances in cn-hangzhou-g (vSwitch main-g, security groups web + ssh). A replacement is correct when
exactly one instance other than the original carries its name, that instance is Running, and it kept
the identity the old tool also claims to keep (hostname, VPC, security groups) and the address users
reach (the EIP, when one was attached). Key pair, RAM role and tags are not counted: the old tool never
carries them, and counting them would only repeat that in every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.world import GROUPS, TYPE, ZONE, Original, World, eip_holder

ZONES = ("cn-hangzhou-g", "cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k")
OTHER_ZONE = "cn-hangzhou-j"


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    setup: Callable[[World, Any], None]  # (world, bench config): originals, stock, faults
    duplicate_after_s: float | None = None  # deliver the same notice again this much later


@dataclass
class Verdict:
    correct: int = 0
    total: int = 0
    why: list[str] = field(default_factory=list)


def _one(world: World, cfg: Any) -> None:
    world.launch("web-0", system_gib=20, data_gib=20)


def _sold_out_here(world: World, cfg: Any) -> None:
    _one(world, cfg)
    world.stock.append((ZONE, TYPE, True, False))


def _only_other_zone(world: World, cfg: Any) -> None:
    """Nothing left in the original zone; the original type only in one other zone."""
    _one(world, cfg)
    for itype in world.backend.catalogue.types:
        world.stock.append((ZONE, itype, True, False))
    for zone in ZONES:
        if zone not in (ZONE, OTHER_ZONE):
            world.stock.append((zone, TYPE, True, False))


def _sold_out_at_launch(world: World, cfg: Any) -> None:
    """The first candidate is listed with stock, but RunInstances finds none (a stale listing)."""
    _one(world, cfg)
    world.stock.append((ZONE, TYPE, True, False))
    world.stale = {(ZONE, TYPE, True)}


def _throttled(world: World, cfg: Any) -> None:
    _one(world, cfg)
    world.faults.append({"actions": ["*"], "error_rate": cfg.throttle_rate, "code": "Throttling.User",
                         "seed": 7})


def _eip(world: World, cfg: Any) -> None:
    _one(world, cfg)
    world.want_eip = True


def _slow_image(world: World, cfg: Any) -> None:
    """An image that takes longer to build than the notice lasts."""
    base, per_gib = world.timing_of("imageBaseSeconds"), world.timing_of("imageSecondsPerGiB")
    data = int((cfg.notice_s * 1.5 - base) / per_gib) - 20
    world.launch("web-0", system_gib=20, data_gib=max(1, data))


def _many(world: World, cfg: Any) -> None:
    for i in range(cfg.matrix_many):
        world.launch(f"web-{i}", system_gib=20, data_gib=20)


MATRIX = (
    Scenario("happy", "happy path", _one),
    Scenario("sold-out-zone", "original type sold out in the original zone", _sold_out_here),
    Scenario("other-zone", "stock only in another zone", _only_other_zone),
    Scenario("sold-out-launch", "first candidate sold out at launch", _sold_out_at_launch),
    Scenario("throttling", "throttling during the incident", _throttled),
    Scenario("duplicate", "duplicate notice", _one, duplicate_after_s=10.0),
    Scenario("eip", "EIP attached", _eip),
    Scenario("slow-image", "image slower than the notice", _slow_image),
    Scenario("ten", "10 reclaims at once", _many),
)


def judge(world: World, original: Original) -> tuple[bool, str]:
    """Is this original replaced correctly, as the emulator's state says now?"""
    others = [i for i in world.instances() if i["name"] == original.name and i["id"] != original.instance_id]
    running = [i for i in others if i["status"] == "Running"]
    if not others:
        return False, "no replacement"
    if len(others) != 1 or len(running) != 1:
        return False, f"{len(others)} replacements, {len(running)} Running"
    new = running[0]
    if new["hostname"] != original.name or new["groups"] != sorted(GROUPS) or not new["vpc"]:
        return False, "identity changed"
    if original.eip and eip_holder(world, original.eip) != new["id"]:
        return False, "EIP not moved"
    return True, "ok"


def verdict(world: World) -> Verdict:
    v = Verdict()
    for original in world.originals:
        ok, why = judge(world, original)
        v.total += 1
        v.correct += ok
        if not ok:
            v.why.append(why)
    return v


_installed = False


def install_stale_listing() -> None:
    """A bench-side shim over the emulator's DescribeAvailableResource: pools in ``backend.bench_stale``
    are reported as in stock for the duration of that one call (under the backend lock), so the
    first RunInstances on them fails with NoStock, as a listing that went stale would. Registered
    through the emulator's public action registry; asked of the resource layer as a stock option."""
    global _installed
    if _installed:
        return
    from aliyun_ops.emulator.core import REGISTRY
    from aliyun_ops.emulator.server import import_actions

    import_actions()
    key = ("ecs", "DescribeAvailableResource")
    real = REGISTRY[key]

    def listing(backend: Any, params: dict[str, str]) -> dict[str, Any]:
        stale = getattr(backend, "bench_stale", None)
        if not stale:
            return real(backend, params)
        saved = {pool: backend.catalogue.stock_of(*pool) for pool in stale}
        for pool in stale:
            backend.catalogue.set_stock(*pool, True)
        try:
            return real(backend, params)
        finally:
            for pool, value in saved.items():
                backend.catalogue.set_stock(*pool, value)

    REGISTRY[key] = listing
    _installed = True
