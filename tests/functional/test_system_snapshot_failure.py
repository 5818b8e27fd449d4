"""A failed system snapshot never strands a lineage, and never leaks the system disk kept for it (issue 19, item 5).

Move mode keeps the system disk past the release for its snapshot, and makes the image from the snapshot. When the
snapshot fails (or is refused, or never made) and the lineage has no earlier image, the incident fails loudly and
nothing is launched; reconcile then snapshots the kept disk again, images it, relaunches generation 0 with its
data disks, and deletes the kept disk.
"""

from __future__ import annotations

from typing import Any

import pytest

from aliyun_ops import errors, service
from tests.functional.engine_support import World, tags_of
from tests.functional.test_data_disks import DISKS, NOTICE_S, data_disks, disks, snapshots, write_before_release


def kept_system_disks(world: World) -> list[dict[str, Any]]:
    return [d for d in disks(world) if tags_of(d).get("aops:system-of")]


def replacements(world: World, old: str) -> list[dict[str, Any]]:
    return [i for i in world.instances() if tags_of(i).get("aops:replaces") == old]


def reconcile_until_recovered(world: World, passes: int = 12) -> tuple[str, list[service.Outcome]]:
    """Reconcile passes a minute apart until one relaunches the lineage: its new instance, and every outcome."""
    seen: list[service.Outcome] = []
    for _ in range(passes):
        outcomes = world.reconcile()
        seen.extend(outcomes)
        recovered = [o for o in outcomes if o.status == "recovered"]
        if recovered:
            assert len(recovered) == 1 and recovered[0].record is not None
            new = recovered[0].record.new_instance_id
            assert new is not None
            return new, seen
        world.advance(60)
    raise AssertionError(f"never recovered: {[(o.status, o.message) for o in seen]}")


def reclaim_with_two_data_disks(world: World) -> tuple[str, list[str], str]:
    """A generation 0 with two data disks holding markers: its id, its data disk ids, its system disk id."""
    old = world.launch(data_disks=DISKS[:2])
    ids = [d["DiskId"] for d in data_disks(world, old)]
    for disk_id in ids:
        world.emu.control.write_marker(disk_id, "early")
    (system,) = disks(world, instance_id=old, disk_type="system")
    return old, ids, system["DiskId"]


def assert_relaunched_with_its_data(world: World, old: str, new: str, ids: list[str]) -> None:
    inst = world.instance(new)
    assert inst is not None and inst["Status"] == "Running" and inst["InstanceName"] == "web-1"
    assert tags_of(inst).get("aops:lineage") == old and tags_of(inst).get("app") == "web"
    assert [d["DiskId"] for d in data_disks(world, new)] == ids  # both, moved, in order
    for disk_id in ids:
        assert world.emu.control.markers(disk_id) == ["early", "last-second"]
    assert kept_system_disks(world) == []  # not billed past its use
    lineage = [i for i in world.instances() if tags_of(i).get("aops:lineage") == old]
    assert [i["InstanceId"] for i in lineage] == [new]  # relaunched once


def test_a_failed_system_snapshot_without_an_earlier_image_is_recovered_from_a_new_snapshot(world: World) -> None:
    old, ids, system = reclaim_with_two_data_disks(world)
    event = world.interrupt(old)
    write_before_release(world, ids, "last-second")
    world.emu.backend.fail_next_snapshots(1)
    with pytest.raises(errors.ImageUnavailable):  # loudly: no image of it, nothing blank launched
        world.handle(event)
    assert replacements(world, old) == []
    (failed,) = [s for s in snapshots(world) if tags_of(s).get("aops:image-of") == old]
    assert failed["Status"] == "failed"
    world.advance(NOTICE_S + 10)
    assert world.instance(old) is None
    assert [d["DiskId"] for d in kept_system_disks(world)] == [system]

    new, outcomes = reconcile_until_recovered(world)

    statuses = [o.status for o in outcomes]
    assert {"requested", "imaged", "cleaned"} <= set(statuses) and "failed" not in statuses
    assert_relaunched_with_its_data(world, old, new, ids)
    left = [s for s in snapshots(world) if tags_of(s).get("aops:image-of") == old]
    assert [s["Status"] for s in left] == ["accomplished"]  # the image's; the failed one is gone
    assert left[0]["SnapshotName"] != failed["SnapshotName"] and left[0]["SourceDiskId"] == system
    copied = {k: v for k, v in tags_of(left[0]).items() if k.startswith("aops:")}
    assert copied == {k: v for k, v in tags_of(failed).items() if k.startswith("aops:")}
    assert left[0]["Description"] == failed["Description"]


@pytest.mark.parametrize(
    ("code", "status"),
    [("IncorrectDiskStatus", 403), ("IncorrectDiskStatus.CreatingSnapshot", 403), ("InternalError", 500)],
)
def test_a_system_snapshot_never_made_is_recovered_from_the_kept_disk(world: World, code: str, status: int) -> None:
    """CreateSnapshot refused throughout the notice (the disk stayed busy), or the delivery died at it (a 500 it
    does not retry past): no snapshot at all, the identity comes from the kept disk itself."""
    old, ids, system = reclaim_with_two_data_disks(world)
    event = world.interrupt(old)
    write_before_release(world, ids, "last-second")
    world.emu.control.faults(actions=["CreateSnapshot"], error_rate=1.0, code=code, http_status=status)
    with pytest.raises(errors.ImageUnavailable if status == 403 else errors.ServiceError):
        world.handle(event)
    world.emu.control.clear_faults()
    assert replacements(world, old) == []
    assert not [s for s in snapshots(world) if tags_of(s).get("aops:image-of") == old]
    world.advance(NOTICE_S + 10)
    assert [d["DiskId"] for d in kept_system_disks(world)] == [system]

    new, outcomes = reconcile_until_recovered(world)

    assert "requested" in [o.status for o in outcomes]
    assert_relaunched_with_its_data(world, old, new, ids)


def test_a_kept_system_disk_without_any_identity_is_reported_and_left(world: World) -> None:
    old, _ids, system = reclaim_with_two_data_disks(world)
    event = world.interrupt(old)
    world.emu.control.faults(actions=["CreateSnapshot"], error_rate=1.0, code="IncorrectDiskStatus", http_status=403)
    with pytest.raises(errors.ImageUnavailable):
        world.handle(event)
    world.emu.control.clear_faults()
    world.emu.backend.disks.items[system].description = ""  # kept by an older version: no identity on it
    world.advance(NOTICE_S + 10)

    with pytest.raises(errors.PassIncomplete) as raised:  # a person must act: the pass says it failed (FC alerts)
        world.reconcile()

    failed = [o for o in raised.value.outcomes if getattr(o, "status", "") == "failed"]
    assert len(failed) == 1 and system in str(failed[0]) and "no image" in str(failed[0])
    assert [d["DiskId"] for d in kept_system_disks(world)] == [system]  # never deleted on a guess
    assert replacements(world, old) == [] and world.instance(old) is None


def test_a_kept_system_disk_whose_lineage_lives_on_is_deleted(world: World) -> None:
    """Generation 1's snapshot fails; its incident launches generation 2 from generation 0's image, with the data
    disks. The system disk kept for generation 1 is not needed: reconcile deletes it, and relaunches nothing."""
    gen0 = world.launch(data_disks=DISKS[:1])
    gen1 = world.handle(world.interrupt(gen0)).record
    assert gen1 is not None and gen1.new_instance_id
    world.advance(400)
    (system,) = disks(world, instance_id=gen1.new_instance_id, disk_type="system")
    world.emu.backend.fail_next_snapshots(1)
    gen2 = world.handle(world.interrupt(gen1.new_instance_id))
    assert gen2.status == "replaced" and gen2.record is not None and gen2.record.image_source == "lineage-fallback"
    world.advance(60)
    assert [d["DiskId"] for d in kept_system_disks(world)] == [system["DiskId"]]

    outcomes = world.reconcile()

    cleaned = [o for o in outcomes if o.status == "cleaned"]
    assert len(cleaned) == 1 and system["DiskId"] in cleaned[0].message
    assert kept_system_disks(world) == []
    assert not [o for o in outcomes if o.status in ("recovered", "requested", "failed")]
    assert not [s for s in snapshots(world) if s["Status"] == "failed"]
    world.advance(60)
    assert not [o for o in world.reconcile() if o.status in ("recovered", "requested", "cleaned", "failed")]


def test_a_later_generation_whose_delivery_died_at_the_snapshot_is_relaunched_from_the_lineage_image(
    world: World,
) -> None:
    """Generation 1's delivery dies at CreateSnapshot: reconcile relaunches the lineage from generation 0's image
    with the kept data disk (no second snapshot racing it), then deletes the system disk kept for generation 1."""
    gen0 = world.launch(data_disks=DISKS[:1])
    (data,) = data_disks(world, gen0)
    world.emu.control.write_marker(data["DiskId"], "gen0")
    first = world.handle(world.interrupt(gen0)).record
    assert first is not None and first.new_instance_id
    gen1 = first.new_instance_id
    world.advance(400)
    (system,) = disks(world, instance_id=gen1, disk_type="system")
    event = world.interrupt(gen1)
    world.emu.control.faults(actions=["CreateSnapshot"], error_rate=1.0, code="InternalError", http_status=500)
    with pytest.raises(errors.ServiceError):
        world.handle(event)
    world.emu.control.clear_faults()
    world.advance(NOTICE_S + 10)
    assert [d["DiskId"] for d in kept_system_disks(world)] == [system["DiskId"]]

    new, outcomes = reconcile_until_recovered(world)
    outcomes += world.reconcile()

    assert "requested" not in [o.status for o in outcomes], [(o.status, o.message) for o in outcomes]
    assert [d["DiskId"] for d in data_disks(world, new)] == [data["DiskId"]]
    assert world.emu.control.markers(data["DiskId"]) == ["gen0"]
    assert kept_system_disks(world) == []
    assert len([o for o in outcomes if o.status == "cleaned" and system["DiskId"] in o.message]) == 1
