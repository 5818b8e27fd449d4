"""The cross-zone copy of a data disk, and the attach, at the ``DataMove`` level and through the engine.

A kept data disk of a released original, in cn-hangzhou-i, goes to a replacement in cn-hangzhou-g: snapshot,
a disk from it in the replacement's zone, attach. The emulator is the strict one: deleting a disk takes its
snapshot in progress with it, and an instant-access disk made from that snapshot then reads as empty.
"""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops import errors, models
from aliyun_ops.cloud import Cloud
from aliyun_ops.disks import move
from tests.functional.engine_support import CREDS, World, settings
from tests.functional.test_data_disks import data_disks, disks, snapshots

ESSD = {"Category": "cloud_essd", "Size": 100, "PerformanceLevel": "PL1"}  # instant access; 400 s to snapshot
PLAIN = {"Category": "cloud_efficiency", "Size": 100}  # no instant access: the copy waits for the whole snapshot
FAR = "cn-hangzhou-g"



@pytest.fixture
def cloud(world: World) -> Cloud:
    return Cloud(CREDS, settings(world.emu), sleep=world.advance, clock=world.emu.clock.now)


def released_original(world: World, cloud: Cloud, specs: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """An original whose data disks hold two markers each, kept and labelled, then released: (its id, disk ids)."""
    old = world.launch(data_disks=specs, eip=False)
    inst = cloud.describe_instance(old)
    assert inst is not None
    move.keep(cloud, inst, cloud.describe_disks(old))
    ids = [d["DiskId"] for d in data_disks(world, old)]
    for marker in ("early", "late"):
        for disk_id in ids:
            world.emu.control.write_marker(disk_id, marker)
    cloud.delete_instance(old, force=True)
    world.advance(5)
    return old, ids


def replacement(world: World, cloud: Cloud, **kw: Any) -> models.Instance:
    # launched by the engine, it carries the lineage tag its policy requires for AttachDisk
    new = world.launch(name="web-2", zone=FAR, eip=False, tags={"aops:lineage": "web-1"}, **kw)
    inst = cloud.describe_instance(new)
    assert inst is not None and inst.status == "Running"
    return inst


def data_move(world: World, cloud: Cloud, old: str, ids: list[str], said: list[str]) -> move.DataMove:
    """A DataMove as a new run would make it (nothing remembered from an earlier one)."""
    devices = [f"/dev/xvd{chr(ord('b') + i)}" for i in range(len(ids))]
    return move.DataMove(
        cloud, old, devices, lineage=old, known=ids, deadline=world.emu.clock.now() + 1200, log=said.append
    )


def successes(world: World, action: str) -> list[dict[str, Any]]:
    return [e for e in world.emu.journal.entries() if e["action"] == action and e["status"] == 200]


def bought(world: World, action: str) -> set[str]:
    """The distinct ClientTokens accepted: a repeat under a token buys nothing."""
    return {e["params"]["ClientToken"] for e in successes(world, action)}


def test_the_old_disk_goes_only_once_its_snapshot_is_accomplished_and_the_copy_attached(
    world: World, cloud: Cloud
) -> None:
    """Instant access: the copy exists and is attached a minute after the snapshot starts, 340 s before the
    snapshot is accomplished. Deleting the old disk then would take the snapshot, and the copy's data, with it."""
    old, (disk_id,) = released_original(world, cloud, [ESSD])
    new = replacement(world, cloud)
    said: list[str] = []
    done = data_move(world, cloud, old, [disk_id], said).attach_all(new)
    (step,) = done
    assert step.disk is not None and step.disk.instance_id == new.instance_id and step.disk.disk_id != disk_id
    assert world.emu.control.markers(step.disk.disk_id) == ["early", "late"]  # the data is all there
    # the replacement may start on its copy now; the old disk and the snapshot the copy reads from stay
    assert step.action == "finishing" and disk_id in {d["DiskId"] for d in disks(world)}
    # a reconcile pass while the snapshot is still being made leaves both: releasing the old disk now would take
    # the snapshot in progress with it, and the copy would read empty
    early = move.settle_copies(cloud, cloud.describe_instances(), cloud.describe_disks(), cloud.describe_snapshots())
    world.advance(5)
    assert world.emu.control.markers(step.disk.disk_id) == ["early", "late"]  # the copy still holds the data
    assert early == [] and disk_id in {d["DiskId"] for d in disks(world)}
    world.advance(400)
    settled = move.settle_copies(cloud, cloud.describe_instances(), cloud.describe_disks(), cloud.describe_snapshots())
    assert [status for status, _ in settled] == ["cleaned"]
    assert disk_id not in {d["DiskId"] for d in disks(world)}  # and the old disk is not billed past its use
    (snapped,) = successes(world, "CreateSnapshot")
    attached = next(e for e in successes(world, "AttachDisk") if e["params"]["DiskId"] == step.disk.disk_id)
    (deleted,) = [e for e in successes(world, "DeleteDisk") if e["params"]["DiskId"] == disk_id]
    assert attached["time"] < snapped["time"] + 400 <= deleted["time"]  # attached early, deleted once accomplished
    assert not [s for s in snapshots(world) if s["SourceDiskId"] == disk_id]  # the move snapshot is gone too


def test_a_copy_in_progress_at_the_budget_is_in_progress_and_the_next_call_finishes_it_without_buying_twice(
    world: World, cloud: Cloud
) -> None:
    old, ids = released_original(world, cloud, [PLAIN, ESSD])
    new = replacement(world, cloud)
    said: list[str] = []
    with pytest.raises(errors.InProgress):
        data_move(world, cloud, old, ids, said).attach_all(new, until=world.emu.clock.now() + 60)
    assert set(ids) <= {d["DiskId"] for d in disks(world)}
    world.advance(120)
    with pytest.raises(errors.InProgress):  # a later pass, still within the 400 s snapshots
        data_move(world, cloud, old, ids, said).attach_all(new, until=world.emu.clock.now() + 60)
    world.advance(400)
    done = data_move(world, cloud, old, ids, said).attach_all(new, until=world.emu.clock.now() + 60)
    copies = [s.disk.disk_id for s in done if s.disk is not None]
    assert [d["DiskId"] for d in data_disks(world, new.instance_id)] == copies and len(copies) == 2
    for copy in copies:
        assert world.emu.control.markers(copy) == ["early", "late"]
    assert len(bought(world, "CreateSnapshot")) == 2 and len(bought(world, "CreateDisk")) == 2  # one per disk
    assert not set(ids) & {d["DiskId"] for d in disks(world)}


def test_a_move_snapshot_its_user_deleted_is_asked_for_again_under_a_new_token(world: World, cloud: Cloud) -> None:
    """CreateSnapshot under the first token answers the deleted snapshot's id for ever: the move must not wait
    for it (the replacement held and billed meanwhile), but ask for a new one."""
    old, (disk_id,) = released_original(world, cloud, [PLAIN])
    new = replacement(world, cloud)
    said: list[str] = []
    with pytest.raises(errors.InProgress):
        data_move(world, cloud, old, [disk_id], said).attach_all(new, until=world.emu.clock.now() + 30)
    (first,) = [s["SnapshotId"] for s in snapshots(world) if s["SourceDiskId"] == disk_id]
    req = ecs_models.DeleteSnapshotRequest(snapshot_id=first)
    world.ecs.delete_snapshot_with_options(req, world.rt)  # its user cleans up
    done = data_move(world, cloud, old, [disk_id], said).attach_all(new)
    (step,) = done
    assert step.disk is not None and world.emu.control.markers(step.disk.disk_id) == ["early", "late"]
    assert len(bought(world, "CreateSnapshot")) == 2  # the first token (replayed: the dead id), then a new one
    assert any(first in line and "gone" in line for line in said)
    assert len(bought(world, "CreateDisk")) == 1


def test_data_disks_come_back_under_their_original_device_names(world: World) -> None:
    """An original with disks at xvdb and xvdd (xvdc was removed): an fstab naming /dev/xvdd still finds it."""
    old = world.launch(data_disks=[PLAIN, PLAIN, PLAIN])
    first, gap, last = data_disks(world, old)
    world.ecs.detach_disk_with_options(ecs_models.DetachDiskRequest(instance_id=old, disk_id=gap["DiskId"]), world.rt)
    world.advance(10)
    world.ecs.delete_disk_with_options(ecs_models.DeleteDiskRequest(disk_id=gap["DiskId"]), world.rt)
    outcome = world.handle(world.interrupt(old))
    assert outcome.status == "replaced"
    after = data_disks(world, outcome.record.new_instance_id)
    assert [(d["DiskId"], d["Device"]) for d in after] == [
        (first["DiskId"], "/dev/xvdb"), (last["DiskId"], "/dev/xvdd")
    ]
    assert outcome.record.data_disks[1].startswith(f"/dev/xvdd: {last['DiskId']} ")
    assert outcome.record.data_disks[1].endswith(" at /dev/xvdd")


def test_a_device_name_already_taken_falls_back_to_the_next_free_one(world: World, cloud: Cloud) -> None:
    old, (disk_id,) = released_original(world, cloud, [PLAIN])
    new = world.launch(name="web-2", eip=False, data_disks=[PLAIN], tags={"aops:lineage": "web-1"})  # disk at xvdb
    inst = cloud.describe_instance(new)
    assert inst is not None
    said: list[str] = []
    done = data_move(world, cloud, old, [disk_id], said).attach_all(inst)
    (step,) = done
    assert step.disk is not None and step.disk.disk_id == disk_id
    assert [(d["DiskId"], d["Device"]) for d in data_disks(world, new)][1] == (disk_id, "/dev/xvdc")
    assert any("InvalidDevice.InUse" in line for line in said)


# -- the emulator's model -----------------------------------------------------------------------------------
def test_emulator_deleting_a_disk_takes_its_snapshot_in_progress_and_empties_the_disk_made_from_it(
    world: World, cloud: Cloud
) -> None:
    _, (disk_id,) = released_original(world, cloud, [ESSD])
    snap_id = cloud.create_snapshot(disk_id, "s-move", "tok-1")
    world.advance(61)  # instant access: a disk can be made from it while it is still progressing
    copy = cloud.create_disk(FAR, snap_id, "cloud_essd", 100, "tok-2")
    world.advance(10)
    assert world.emu.control.markers(copy) == ["early", "late"]
    cloud.delete_disk(disk_id)
    assert cloud.describe_snapshots([snap_id]) == []  # deleted with its disk ([docs] CreateSnapshot)
    assert world.emu.control.markers(copy) == []  # the assumption: none of its data had been read yet
    # the same ClientToken answers the deleted snapshot's id, as a token does for the request it first made
    assert cloud.create_snapshot(disk_id, "s-move", "tok-1") == snap_id



def test_a_move_snapshot_that_fails_under_a_copy_in_use_is_said_and_its_old_disk_kept(
    world: World, cloud: Cloud
) -> None:
    """The replacement started on an instant-access copy; the snapshot the copy reads from then fails: nothing is
    cleaned, the old disk (the data) stays, and reconcile says the copy may be incomplete."""
    old, (disk_id,) = released_original(world, cloud, [ESSD])
    new = replacement(world, cloud)
    (step,) = data_move(world, cloud, old, [disk_id], []).attach_all(new)
    assert step.action == "finishing" and step.disk is not None
    backend = world.emu.backend
    with backend.lock:
        (snap,) = [s for s in backend.disks.snapshots.values() if s.disk_id == disk_id]
        snap.status = "failed"  # as the cloud would end it
    world.advance(400)
    settled = move.settle_copies(cloud, cloud.describe_instances(), cloud.describe_disks(), cloud.describe_snapshots())
    assert [status for status, _ in settled] == ["failed"]
    assert step.disk.disk_id in settled[0][1] and disk_id in settled[0][1]
    assert disk_id in {d["DiskId"] for d in disks(world)}  # the old disk, the data, is kept
