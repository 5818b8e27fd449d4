"""The scenario matrix of figure (i), and what counts as a correct replacement.

Every scenario starts from the emulator's default account: originals are ``ecs.c7.large`` spot
instances in cn-hangzhou-g (vSwitch main-g, security groups web + ssh), each with data disks its guest
wrote a marker to at setup. A replacement is correct when exactly one instance other than the original
carries its name, that instance is Running, it kept the identity the old tool also claims to keep
(hostname, VPC, security groups) and the address users reach (the EIP, when one was attached), and it
has the original's data: it was launched from an image of the instance (or of an earlier instance of
its lineage), never a public base image, and it has as many data disks as the original, the disk in
each device slot holding every marker the original's disk in that slot held at the notice. Key pair,
RAM role and tags are not counted: the old tool never carries them, and counting them would only
repeat that in every row.

Every world has the default scenario's real-cloud behaviour on (lags, 2% transient refusals, 5% busy
CreateImage, instant access for ESSD images, images failing with their released source). A scenario
may turn one knob up to show it (``realism``), never one off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.world import GROUPS, REGION, TYPE, ZONE, Original, World, eip_holder

ZONES = ("cn-hangzhou-g", "cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k")
OTHER_ZONE = "cn-hangzhou-j"


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    setup: Callable[[World, Any], None]  # (world, bench config): originals, stock, faults
    duplicate_after_s: float | None = None  # deliver the same notice again this much later
    realism: dict[str, Any] = field(default_factory=dict)  # realism knobs this scenario turns up


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
    """An image that takes longer to build than the notice lasts (ESSD: Usable long before)."""
    world.launch("web-0", system_gib=20, data_gib=max(1, int(world.gib_for(cfg.notice_s * 1.5)) - 20))


def _no_password(world: World, cfg: Any) -> None:
    """Originals without a password, so their images have none: one logs in with a key pair, the other
    has no login credential at all (Workbench / Cloud Assistant only)."""
    world.launch("web-0", system_gib=20, data_gib=20, key_pair="ops-key")
    world.launch("web-1", system_gib=20, data_gib=20, password=False)


def _source_released(world: World, cfg: Any) -> None:
    """No instant access (cloud_efficiency disks) and a build longer than the notice: the fresh image
    fails when the original is released. The lineage has an earlier image: the original is generation 1
    of a lineage whose first instance was imaged (as its own incident would have) before it went."""
    from alibabacloud_ecs20140526 import models as m

    from aliyun_ops.models import TAG_GENERATION, TAG_IMAGE_OF, TAG_LINEAGE, TAG_REPLACES

    first = world.launch("web-0", system_gib=20, data_gib=20, disk="cloud_efficiency", original=False)
    world.advance_until(lambda: _status(world, first.instance_id) == "Running", world.up_s)
    lineage = {TAG_LINEAGE: first.instance_id}
    made = world.client.create_image(m.CreateImageRequest(
        region_id=REGION, instance_id=first.instance_id, image_name=f"aops-{first.instance_id}",
        tag=[m.CreateImageRequestTag(key=k, value=v)
             for k, v in {**lineage, TAG_IMAGE_OF: first.instance_id, TAG_GENERATION: "0"}.items()]))
    world.advance_until(lambda: _image_status(world, made.body.image_id) == "Available", world.build_s(40))
    world.client.delete_instance(m.DeleteInstanceRequest(instance_id=first.instance_id, force=True))
    data = max(1, int(world.gib_for(cfg.notice_s * 1.5)) - 20)
    second = world.launch("web-0", system_gib=20, data_gib=data, disk="cloud_efficiency",
                          tags={**lineage, TAG_GENERATION: "1", TAG_REPLACES: first.instance_id})
    second.ancestors = (first.instance_id,)


def _status(world: World, instance_id: str) -> str:
    return next((i["status"] for i in world.instances() if i["id"] == instance_id), "")


def _image_status(world: World, image_id: str) -> str:
    with world.backend.lock:
        world.backend.settle()
        return next((i.status for i in world.backend.images.items.values() if i.image_id == image_id), "")


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
    Scenario("slow-image", "image slower than the notice (ESSD: Usable after 60 s)", _slow_image),
    Scenario("ten", "10 reclaims at once", _many),
    # with the default scenario's seed this rate refuses the first two CreateImage calls and accepts the third
    Scenario("busy", "CreateImage refused as busy (90% of calls)", _one, realism={"createImageBusyRate": 0.9}),
    Scenario("released", "image fails with its released source (no instant access; an earlier image exists)",
             _source_released),
    Scenario("no-password", "no password (one key-pair login, one without any)", _no_password),
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
    return data_kept(world, original, new)


def data_kept(world: World, original: Original, new: dict[str, Any]) -> tuple[bool, str]:
    """The replacement has the original's data: an image of the instance (or its lineage), as many data disks,
    and each slot's disk holds every marker the original's disk in that slot held at the notice."""
    if not world.image_sources(new["image_id"]) & {original.instance_id, *original.ancestors}:
        return False, "not launched from an image of the instance"
    disks = world.data_of(new["id"])
    if len(disks) != len(original.data):
        return False, f"{len(disks)} data disks, the original had {len(original.data)}"
    for mine, theirs in zip(disks, original.data, strict=True):
        if mine.status != "In_use":
            return False, f"data disk {mine.device} {mine.status}"
        if not set(theirs.markers) <= set(mine.markers):
            return False, f"data disk {mine.device} lacks the original's data"
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
