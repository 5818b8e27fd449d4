"""Disks, their contents and snapshots, through the official SDK client, under the default scenario (every
lag and transient refusal on; ``ecs_client`` repeats the transient ones). Markers are written and read through
the control API at the emulated time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as m
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

from aliyun_ops.emulator import Emulator

R = "cn-hangzhou"
PUBLIC_IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"
VSW_H = "vsw-bp1emu00000000000h"
SGS = ["sg-bp1emu000000000web", "sg-bp1emu000000000ssh"]
TRANSITION = 5  # the default scenario's realism.diskTransitionSeconds


def refused(fn: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(AlibabaCloudException) as err:
        fn()
    return str(err.value.code), int(err.value.status_code)


def running(emulator: Emulator, ecs: Any, *data: m.RunInstancesRequestDataDisk, **extra: Any) -> str:
    req = m.RunInstancesRequest(
        region_id=R,
        image_id=extra.pop("image_id", PUBLIC_IMAGE),
        instance_type="ecs.g7.large",  # spot stock in zone h (the default scenario)
        zone_id="cn-hangzhou-h",
        v_switch_id=VSW_H,
        security_group_ids=SGS,
        spot_strategy="SpotAsPriceGo",
        data_disk=list(data),
        **extra,
    )
    iid = str(ecs.run_instances(req).body.instance_id_sets.instance_id_set[0])
    emulator.clock.advance(30)
    return iid


def data_disk(size: int = 40, keep: bool = False) -> m.RunInstancesRequestDataDisk:
    return m.RunInstancesRequestDataDisk(size=size, category="cloud_essd", delete_with_instance=not keep)


def disks(ecs: Any, **filters: Any) -> list[Any]:
    return list(ecs.describe_disks(m.DescribeDisksRequest(region_id=R, **filters)).body.disks.disk)


def disk(ecs: Any, disk_id: str) -> Any:
    [found] = disks(ecs, disk_ids=f'["{disk_id}"]')
    return found


def data_of(ecs: Any, iid: str) -> list[Any]:
    return [d for d in disks(ecs, instance_id=iid) if d.type == "data"]


def create_disk(ecs: Any, zone: str = "cn-hangzhou-h", **extra: Any) -> str:
    settings = {"size": 40, "disk_category": "cloud_essd", **extra}
    return str(ecs.create_disk(m.CreateDiskRequest(region_id=R, zone_id=zone, **settings)).body.disk_id)


def attach(ecs: Any, iid: str, disk_id: str) -> Any:
    return ecs.attach_disk(m.AttachDiskRequest(instance_id=iid, disk_id=disk_id))


def attached_disk(emulator: Emulator, ecs: Any, size: int = 40) -> str:
    """A disk made by CreateDisk and attached to a Running instance (CreateSnapshot refuses a never-attached one)."""
    iid = running(emulator, ecs)
    made = create_disk(ecs, size=size)
    emulator.clock.advance(TRANSITION)
    attach(ecs, iid, made)
    emulator.clock.advance(TRANSITION)
    return made


def snapshot(ecs: Any, disk_id: str) -> str:
    return str(ecs.create_snapshot(m.CreateSnapshotRequest(disk_id=disk_id, snapshot_name="snap-1")).body.snapshot_id)


def snapshot_row(ecs: Any, snapshot_id: str) -> Any:
    req = m.DescribeSnapshotsRequest(region_id=R, snapshot_ids=f'["{snapshot_id}"]')
    [found] = ecs.describe_snapshots(req).body.snapshots.snapshot
    return found


def test_a_snapshot_holds_the_markers_written_before_it_started_and_a_disk_from_it_carries_them(
    emulator: Emulator, ecs_client: Any
) -> None:
    iid = running(emulator, ecs_client, data_disk())
    [source] = data_of(ecs_client, iid)
    emulator.control.write_marker(source.disk_id, "before")
    snap = snapshot(ecs_client, source.disk_id)
    emulator.control.write_marker(source.disk_id, "after")
    assert snapshot_row(ecs_client, snap).status == "progressing"
    early = refused(lambda: create_disk(ecs_client, zone="cn-hangzhou-i", snapshot_id=snap))
    assert early == ("InvalidSnapshotId.NotReady", 403)  # a cloud_essd one is usable only after instant access
    emulator.clock.advance(40 * 1024 / 256 + 1)  # a first (full) snapshot of 40 GiB at 256 MiB/s
    assert snapshot_row(ecs_client, snap).status == "accomplished"
    copy = create_disk(ecs_client, zone="cn-hangzhou-i", snapshot_id=snap, size=20)
    assert disk(ecs_client, copy).size == 40  # never smaller than the snapshot
    assert emulator.control.markers(copy) == ["before"]
    assert emulator.control.markers(source.disk_id) == ["before", "after"]


def test_an_image_snapshot_captures_markers_at_its_start_and_a_launch_from_it_carries_them(
    emulator: Emulator, ecs_client: Any
) -> None:
    iid = running(emulator, ecs_client, data_disk())
    [source] = data_of(ecs_client, iid)
    emulator.control.write_marker(source.disk_id, "m1")
    image_id = ecs_client.create_image(m.CreateImageRequest(region_id=R, instance_id=iid, image_name="img-a")).body
    emulator.control.write_marker(source.disk_id, "m2")
    emulator.clock.advance(600)
    clone = running(emulator, ecs_client, image_id=image_id.image_id)
    [copied] = data_of(ecs_client, clone)
    assert emulator.control.markers(copied.disk_id) == ["m1"]


def test_a_kept_disk_keeps_every_marker_after_a_spot_reclaim_and_is_available_in_its_zone(
    emulator: Emulator, ecs_client: Any
) -> None:
    iid = running(emulator, ecs_client, data_disk(keep=True), data_disk(keep=False))
    kept, dropped = sorted(data_of(ecs_client, iid), key=lambda d: d.device)
    emulator.control.interrupt(iid, notice_seconds=300)
    emulator.clock.advance(299)
    emulator.control.write_marker(kept.disk_id, "last-second")
    emulator.clock.advance(2)
    after = disk(ecs_client, kept.disk_id)
    assert (after.status, after.instance_id, after.zone_id, after.device) == ("Available", "", "cn-hangzhou-h", "")
    assert emulator.control.markers(kept.disk_id) == ["last-second"]
    assert disks(ecs_client, disk_ids=f'["{dropped.disk_id}"]') == []


def test_attach_goes_through_attaching_and_devices_follow_the_attach_order(
    emulator: Emulator, ecs_client: Any
) -> None:
    iid = running(emulator, ecs_client)
    first, second = create_disk(ecs_client), create_disk(ecs_client)
    assert disk(ecs_client, first).status == "Creating"
    emulator.clock.advance(TRANSITION)
    assert disk(ecs_client, first).status == "Available"
    attach(ecs_client, iid, second)
    attach(ecs_client, iid, first)
    assert disk(ecs_client, second).status == "Attaching"
    emulator.clock.advance(TRANSITION)
    attached = {d.disk_id: (d.device, d.status, d.delete_with_instance) for d in data_of(ecs_client, iid)}
    assert attached == {second: ("/dev/xvdb", "In_use", False), first: ("/dev/xvdc", "In_use", False)}


def test_detach_goes_through_detaching_then_available(emulator: Emulator, ecs_client: Any) -> None:
    iid = running(emulator, ecs_client, data_disk())
    [d] = data_of(ecs_client, iid)
    ecs_client.detach_disk(m.DetachDiskRequest(instance_id=iid, disk_id=d.disk_id))
    assert disk(ecs_client, d.disk_id).status == "Detaching"
    emulator.clock.advance(TRANSITION)
    assert (disk(ecs_client, d.disk_id).status, data_of(ecs_client, iid)) == ("Available", [])


def test_attaching_across_zones_or_an_attached_disk_is_refused(emulator: Emulator, ecs_client: Any) -> None:
    iid = running(emulator, ecs_client, data_disk())
    [in_use] = data_of(ecs_client, iid)
    elsewhere = create_disk(ecs_client, zone="cn-hangzhou-i")
    emulator.clock.advance(TRANSITION)
    assert refused(lambda: attach(ecs_client, iid, elsewhere)) == ("ResourcesNotInSameZone", 403)
    assert refused(lambda: attach(ecs_client, iid, in_use.disk_id)) == ("IncorrectDiskStatus", 403)


def test_only_an_available_disk_can_be_deleted(emulator: Emulator, ecs_client: Any) -> None:
    iid = running(emulator, ecs_client, data_disk())
    [attached] = data_of(ecs_client, iid)
    delete = m.DeleteDiskRequest(disk_id=attached.disk_id)
    assert refused(lambda: ecs_client.delete_disk(delete)) == ("IncorrectDiskStatus", 403)
    loose = create_disk(ecs_client)
    assert refused(lambda: ecs_client.delete_disk(m.DeleteDiskRequest(disk_id=loose))) == ("IncorrectDiskStatus", 403)
    emulator.clock.advance(TRANSITION)
    ecs_client.delete_disk(m.DeleteDiskRequest(disk_id=loose))
    assert disks(ecs_client, disk_ids=f'["{loose}"]') == []


def test_create_disk_with_the_same_client_token_makes_one_disk(emulator: Emulator, ecs_client: Any) -> None:
    first = create_disk(ecs_client, client_token="tok-1")
    assert create_disk(ecs_client, client_token="tok-1") == first
    assert refused(lambda: create_disk(ecs_client, client_token="tok-1", size=50)) == (
        "IdempotentParameterMismatch",
        400,
    )
    assert len(disks(ecs_client, zone_id="cn-hangzhou-h", disk_type="data")) == 1


def test_modify_disk_attribute_keeps_a_disk_at_release(emulator: Emulator, ecs_client: Any) -> None:
    iid = running(emulator, ecs_client, data_disk())
    [d] = data_of(ecs_client, iid)
    req = m.ModifyDiskAttributeRequest(region_id=R, disk_id=d.disk_id, delete_with_instance=False, disk_name="kept")
    ecs_client.modify_disk_attribute(req)
    ecs_client.delete_instance(m.DeleteInstanceRequest(instance_id=iid, force=True))
    after = disk(ecs_client, d.disk_id)
    assert (after.status, after.disk_name, after.delete_with_instance) == ("Available", "kept", False)


def test_a_snapshot_used_by_a_disk_needs_force_and_an_unknown_one_is_ignored(
    emulator: Emulator, ecs_client: Any
) -> None:
    loose = attached_disk(emulator, ecs_client)
    snap = snapshot(ecs_client, loose)
    emulator.clock.advance(200)
    create_disk(ecs_client, snapshot_id=snap)
    delete = m.DeleteSnapshotRequest(snapshot_id=snap)
    assert refused(lambda: ecs_client.delete_snapshot(delete)) == ("SnapshotCreatedDisk", 403)
    ecs_client.delete_snapshot(m.DeleteSnapshotRequest(snapshot_id=snap, force=True))
    ecs_client.delete_snapshot(m.DeleteSnapshotRequest(snapshot_id=snap))  # gone: ignored
    rows = ecs_client.describe_snapshots(m.DescribeSnapshotsRequest(region_id=R, disk_id=loose)).body
    assert rows.total_count == 0


def test_a_second_snapshot_of_a_disk_is_incremental(emulator: Emulator, ecs_client: Any) -> None:
    loose = attached_disk(emulator, ecs_client, size=100)
    first = snapshot(ecs_client, loose)
    emulator.clock.advance(100 * 1024 / 256 + 1)
    assert snapshot_row(ecs_client, first).status == "accomplished"
    second = snapshot(ecs_client, loose)
    emulator.clock.advance(100 * 1024 * 0.05 / 256 + 1)
    assert snapshot_row(ecs_client, second).status == "accomplished"


def test_markers_are_written_only_to_an_in_use_disk_of_a_running_instance(emulator: Emulator, ecs_client: Any) -> None:
    from aliyun_ops.emulator.control_client import ControlError

    loose = create_disk(ecs_client)
    emulator.clock.advance(TRANSITION)
    with pytest.raises(ControlError):
        emulator.control.write_marker(loose, "nowhere")
    assert emulator.control.markers(loose) == []


def test_attaching_a_disk_whose_category_the_family_does_not_take_is_refused(
    emulator: Emulator, ecs_client: Any
) -> None:
    iid = running(emulator, ecs_client)
    emulator.backend.catalogue.disk_categories["ecs.g7"] = ["cloud_essd", "cloud_auto"]  # an ESSD-only family
    ssd = create_disk(ecs_client, disk_category="cloud_ssd")
    essd = create_disk(ecs_client)
    emulator.clock.advance(TRANSITION)
    assert refused(lambda: attach(ecs_client, iid, ssd)) == ("InvalidDiskCategory.NotSupported", 403)
    attach(ecs_client, iid, essd)
    emulator.clock.advance(TRANSITION)
    assert [d.disk_id for d in data_of(ecs_client, iid)] == [essd]


def test_a_snapshot_in_progress_is_deleted_when_its_disk_goes_with_a_released_instance(
    emulator: Emulator, ecs_client: Any
) -> None:
    """[docs] CreateSnapshot: "the snapshot in the Creating state is deleted when the disk is released", whatever
    releases the disk (here its instance, with DeleteWithInstance); a kept disk's snapshot goes on."""
    iid = running(emulator, ecs_client, data_disk(size=2000, keep=True), data_disk(size=2000, keep=False))
    kept, dropped = sorted(data_of(ecs_client, iid), key=lambda d: d.device)
    survives, fails = snapshot(ecs_client, kept.disk_id), snapshot(ecs_client, dropped.disk_id)
    emulator.control.interrupt(iid, notice_seconds=10)
    emulator.clock.advance(11)
    req = m.DescribeSnapshotsRequest(region_id=R, snapshot_ids=f'["{fails}"]')
    assert not ecs_client.describe_snapshots(req).body.snapshots.snapshot
    assert snapshot_row(ecs_client, survives).status == "progressing"
    emulator.clock.advance(2000 * 1024 / 256)
    assert snapshot_row(ecs_client, survives).status == "accomplished"
