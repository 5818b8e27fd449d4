"""Two actors race for the same resource (reconcile against a delivery, two function instances): the loser's
delete must count the resource already gone as deleted, not raise, and not turn the pass into a failure.

The engine runs as the function's role under the shipped policy, which allows deleting disks, snapshots and images
only when they carry ``aops:lineage``: a resource the winner already deleted has no tags, so RAM refuses the loser
with ``Forbidden.RAM`` (as Aliyun does), not with the action's NotFound code. The winner here is the account's admin
identity deleting the resource directly.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops import errors, models
from aliyun_ops.cloud import Cloud
from aliyun_ops.disks import move
from aliyun_ops.models import TAG_IMAGE_OF, TAG_LINEAGE, TAG_SYSTEM_OF
from aliyun_ops.recovery import housekeeping
from tests.functional.engine_support import CREDS, REGION, World, settings

ZONE = "cn-hangzhou-i"
LINEAGE = (TAG_LINEAGE, "i-lineage-1")



def _engine(world: World) -> Cloud:
    """The engine's client, as the function's role (the shipped policy), on the emulator's clock."""
    return Cloud(CREDS, settings(world.emu), sleep=world.advance, clock=world.emu.clock.now)


def _disk(world: World, *tags: tuple[str, str]) -> str:
    req = ecs_models.CreateDiskRequest(
        region_id=REGION,
        zone_id=ZONE,
        size=20,
        disk_category="cloud_essd",
        tag=[ecs_models.CreateDiskRequestTag(key=k, value=v) for k, v in tags],
    )
    disk_id: str = world.ecs.create_disk_with_options(req, world.rt).body.disk_id
    world.advance(30)
    return disk_id


def _snapshot(world: World, *tags: tuple[str, str]) -> str:
    """A snapshot of a running instance's system disk (a disk never attached cannot be snapshotted)."""
    iid = world.launch(name="snap-src", zone=ZONE, eip=False)
    disk_id = world.emu.backend.instances.items[iid].disks[0].disk_id
    req = ecs_models.CreateSnapshotRequest(
        disk_id=disk_id, tag=[ecs_models.CreateSnapshotRequestTag(key=k, value=v) for k, v in tags]
    )
    snap_id: str = world.ecs.create_snapshot_with_options(req, world.rt).body.snapshot_id
    world.advance(600)
    return snap_id


def _image(world: World, *tags: tuple[str, str]) -> str:
    iid = world.launch(name="img-src", zone=ZONE, eip=False)
    req = ecs_models.CreateImageRequest(
        region_id=REGION,
        instance_id=iid,
        image_name=f"aops-race-{iid}",
        tag=[ecs_models.CreateImageRequestTag(key=k, value=v) for k, v in tags],
    )
    image_id: str = world.ecs.create_image_with_options(req, world.rt).body.image_id
    world.advance(900)
    return image_id


def _winner_deletes(world: World, kind: str, rid: str) -> None:
    if kind == "disk":
        world.ecs.delete_disk_with_options(ecs_models.DeleteDiskRequest(disk_id=rid), world.rt)
    elif kind == "snapshot":
        req = ecs_models.DeleteSnapshotRequest(snapshot_id=rid, force=True)
        world.ecs.delete_snapshot_with_options(req, world.rt)
    else:
        req = ecs_models.DeleteImageRequest(region_id=REGION, image_id=rid, force=True)
        world.ecs.delete_image_with_options(req, world.rt)


def _made(world: World, kind: str, *tags: tuple[str, str]) -> str:
    if kind == "disk":
        return _disk(world, *tags)
    if kind == "snapshot":
        return _snapshot(world, *tags)
    return _image(world, *tags)


def _deleter(cloud: Cloud, kind: str) -> Callable[[str], None]:
    return {"disk": cloud.delete_disk, "snapshot": cloud.delete_snapshot, "image": cloud.delete_image}[kind]


def _exists(world: World, kind: str, rid: str) -> bool:
    backend = world.emu.backend
    found = {
        "disk": lambda: rid in backend.disks.items,
        "snapshot": lambda: rid in backend.disks.snapshots,
        "image": lambda: (REGION, rid) in backend.images.items,
    }
    return bool(found[kind]())


@pytest.mark.parametrize("kind", ["disk", "snapshot", "image"])
def test_the_loser_of_a_race_counts_the_resource_the_winner_deleted_as_deleted(world: World, kind: str) -> None:
    rid = _made(world, kind, LINEAGE)
    not_ours = _made(world, kind, ("app", "web"))
    _winner_deletes(world, kind, rid)
    mark = len(world.emu.control.calls())
    delete = _deleter(_engine(world), kind)

    delete(rid)  # no exception: the resource is gone, as the loser wanted

    refused = [c["code"] for c in world.emu.control.calls()[mark:] if c["action"].startswith("Delete")]
    assert refused == ["Forbidden.RAM"]  # the race is real: RAM refused the loser, the check found it gone
    assert not _exists(world, kind, rid)
    # A refusal of a resource that is still there (not ours: no aops:lineage) stands.
    with pytest.raises(errors.PermissionDenied):
        delete(not_ours)
    assert _exists(world, kind, not_ours)


def test_a_kept_system_disk_another_pass_deleted_is_reported_deleted(world: World) -> None:
    """Reconcile works from its pass's listing; a delivery deleted the kept system disk meanwhile."""
    disk_id = _disk(world, LINEAGE, (TAG_SYSTEM_OF, "i-old"))
    snap_id = "s-of-the-kept-disk"  # drop_system reads only the listing's snapshots: done, made from this disk
    listed_disks = [
        models.Disk(disk_id, "system", "cloud_essd", 20, status="Available", tags=(LINEAGE, (TAG_SYSTEM_OF, "i-old")))
    ]
    listed_snaps = [models.Snapshot(snap_id, disk_id, "accomplished", tags=(LINEAGE, (TAG_IMAGE_OF, "i-old")))]
    _winner_deletes(world, "disk", disk_id)

    deleted = move.drop_system(_engine(world), "i-old", listed_disks, listed_snaps)

    assert deleted == [disk_id]
    assert disk_id not in world.emu.backend.disks.items


def test_pruning_from_a_stale_listing_counts_images_already_deleted(world: World) -> None:
    """Two passes prune the same lineage; the first deleted the surplus image and its snapshot already."""
    old, new = _image(world, LINEAGE, (TAG_IMAGE_OF, "i-1")), _image(world, LINEAGE, (TAG_IMAGE_OF, "i-2"))
    cloud = _engine(world)
    listed = cloud.describe_images(tags=(LINEAGE,))
    snaps = cloud.describe_snapshots()
    _winner_deletes(world, "image", old)

    deleted = housekeeping.prune_listed(cloud, listed, lambda: snaps, keep=1, in_use=())

    assert old in deleted and new not in deleted
    assert (REGION, new) in world.emu.backend.images.items
