"""Images from snapshots, instant access, disk and snapshot tags, never-attached disks and the boot log, through
the official SDK client under the default scenario (every lag on: instant access 60 s, tag index 10 s, image
list 5 s, disk transitions 5 s, snapshots at 256 MiB/s, image base 30 s)."""

from __future__ import annotations

from typing import Any

from alibabacloud_ecs20140526 import models as m

from aliyun_ops.emulator import Emulator
from tests.functional.test_emulator_disks import (
    TRANSITION,
    R,
    attach,
    create_disk,
    data_disk,
    data_of,
    disk,
    disks,
    refused,
    running,
    snapshot,
    snapshot_row,
)

FULL_40_GIB = 40 * 1024 / 256  # a first snapshot of a 40 GiB disk
INSTANT = 60  # the default scenario's realism.instantAccessSeconds
IMAGE_BUILD = 30 + 5  # imageBaseSeconds, then the listing lag


def system_of(ecs: Any, iid: str) -> Any:
    [found] = [d for d in disks(ecs, instance_id=iid) if d.type == "system"]
    return found


def image_row(ecs: Any, image_id: str) -> Any:
    req = m.DescribeImagesRequest(region_id=R, image_id=image_id, status="Creating,Available")
    [found] = ecs.describe_images(req).body.images.image
    return found


def create_image(ecs: Any, **params: Any) -> str:
    return str(ecs.create_image(m.CreateImageRequest(region_id=R, **params)).body.image_id)


def mapping(**fields: Any) -> m.CreateImageRequestDiskDeviceMapping:
    return m.CreateImageRequestDiskDeviceMapping(**fields)


def test_an_image_from_a_system_snapshot_launches_with_its_markers_and_without_the_data_disks(
    emulator: Emulator, ecs_client: Any
) -> None:
    iid = running(emulator, ecs_client, data_disk(keep=True), password="Secret-pass1")
    system = system_of(ecs_client, iid)
    emulator.control.write_marker(system.disk_id, "os-1")
    snap = snapshot(ecs_client, system.disk_id)
    emulator.control.write_marker(system.disk_id, "os-2")  # after the snapshot started: not in it
    emulator.clock.advance(FULL_40_GIB + 1)
    image_id = create_image(ecs_client, snapshot_id=snap, image_name="from-system-snap")
    emulator.clock.advance(IMAGE_BUILD)
    row = image_row(ecs_client, image_id)
    assert (row.status, row.architecture) == ("Available", "x86_64")
    assert [(d.device, d.type, d.snapshot_id) for d in row.disk_device_mappings.disk_device_mapping] == [
        ("/dev/xvda", "system", snap)
    ]
    clone = running(emulator, ecs_client, image_id=image_id, password_inherit=True)  # the source had a password
    clone_disks = disks(ecs_client, instance_id=clone)
    assert [d.type for d in clone_disks] == ["system"]  # the original's data disk is not in the image
    assert emulator.control.markers(clone_disks[0].disk_id) == ["os-1"]


def test_a_progressing_snapshot_is_refused_by_create_image_even_with_instant_access(
    emulator: Emulator, ecs_client: Any
) -> None:
    iid = running(emulator, ecs_client)
    snap = snapshot(ecs_client, system_of(ecs_client, iid).disk_id)
    emulator.clock.advance(INSTANT + 1)
    assert snapshot_row(ecs_client, snap).available is True  # CreateDisk could use it already
    assert refused(lambda: create_image(ecs_client, snapshot_id=snap)) == ("InvalidSnapshotId.NotReady", 403)
    system_map = mapping(snapshot_id=snap, device="/dev/xvda", disk_type="system")
    assert refused(lambda: create_image(ecs_client, disk_device_mapping=[system_map])) == (
        "InvalidSnapshotId.NotReady",
        403,
    )


def test_create_image_takes_the_instance_first_then_the_mappings_then_the_snapshot(
    emulator: Emulator, ecs_client: Any
) -> None:
    iid = running(emulator, ecs_client, data_disk(size=50))
    system, [data] = system_of(ecs_client, iid), data_of(ecs_client, iid)
    sys_snap, data_snap = snapshot(ecs_client, system.disk_id), snapshot(ecs_client, data.disk_id)
    emulator.clock.advance(50 * 1024 / 256 + 1)
    from_instance = create_image(ecs_client, instance_id=iid, snapshot_id=sys_snap)
    both = [mapping(snapshot_id=sys_snap), mapping(snapshot_id=data_snap, size=60)]
    from_mappings = create_image(ecs_client, disk_device_mapping=both, snapshot_id=sys_snap)
    emulator.clock.advance(600)
    made = image_row(ecs_client, from_instance).disk_device_mappings.disk_device_mapping
    assert len(made) == 2 and sys_snap not in {d.snapshot_id for d in made}  # fresh snapshots of the instance
    mapped = image_row(ecs_client, from_mappings).disk_device_mappings.disk_device_mapping
    assert [(d.device, d.type, d.snapshot_id, d.size) for d in mapped] == [
        ("/dev/xvda", "system", sys_snap, "40"),
        ("/dev/xvdb", "data", data_snap, "60"),
    ]


def test_create_image_from_snapshots_refuses_what_the_api_refuses(emulator: Emulator, ecs_client: Any) -> None:
    iid = running(emulator, ecs_client, data_disk())
    [data] = data_of(ecs_client, iid)
    data_snap = snapshot(ecs_client, data.disk_id)
    emulator.clock.advance(FULL_40_GIB + 1)
    assert refused(lambda: create_image(ecs_client, image_name="nothing")) == ("MissingParameter", 400)
    assert refused(lambda: create_image(ecs_client, snapshot_id=data_snap)) == ("OperationDenied", 403)
    only_data = [mapping(snapshot_id=data_snap, disk_type="data")]
    assert refused(lambda: create_image(ecs_client, disk_device_mapping=only_data)) == ("OperationDenied", 400)
    assert refused(lambda: create_image(ecs_client, snapshot_id="s-bp1doesnotexist000")) == (
        "InvalidSnapshotId.NotFound",
        404,
    )
    # A data-disk snapshot may become the system disk: Architecture and Platform then say what it runs.
    as_system = [mapping(snapshot_id=data_snap, disk_type="system")]
    image_id = create_image(ecs_client, disk_device_mapping=as_system, architecture="arm64", platform="Ubuntu")
    emulator.clock.advance(IMAGE_BUILD)
    row = image_row(ecs_client, image_id)
    assert (row.architecture, row.platform, row.status) == ("arm64", "Ubuntu", "Available")


def test_a_snapshot_an_image_uses_cannot_be_deleted_and_outlives_the_image(
    emulator: Emulator, ecs_client: Any
) -> None:
    iid = running(emulator, ecs_client)
    snap = snapshot(ecs_client, system_of(ecs_client, iid).disk_id)
    emulator.clock.advance(FULL_40_GIB + 1)
    image_id = create_image(ecs_client, snapshot_id=snap)
    emulator.clock.advance(IMAGE_BUILD)
    assert snapshot_row(ecs_client, snap).usage == "image"
    delete = m.DeleteSnapshotRequest(snapshot_id=snap)
    assert refused(lambda: ecs_client.delete_snapshot(delete)) == ("SnapshotCreatedImage", 403)
    ecs_client.delete_image(m.DeleteImageRequest(region_id=R, image_id=image_id))
    assert snapshot_row(ecs_client, snap).status == "accomplished"  # the user's snapshot stays
    ecs_client.delete_snapshot(delete)
    rows = ecs_client.describe_snapshots(m.DescribeSnapshotsRequest(region_id=R, snapshot_ids=f'["{snap}"]'))
    assert rows.body.total_count == 0


def test_an_essd_snapshot_is_available_to_create_disk_after_instant_access_while_still_progressing(
    emulator: Emulator, ecs_client: Any
) -> None:
    iid = running(emulator, ecs_client, data_disk())  # cloud_essd
    [source] = data_of(ecs_client, iid)
    emulator.control.write_marker(source.disk_id, "essd-1")
    snap = snapshot(ecs_client, source.disk_id)
    early = snapshot_row(ecs_client, snap)
    assert (early.available, early.instant_access) == (False, True)
    assert refused(lambda: create_disk(ecs_client, zone="cn-hangzhou-i", snapshot_id=snap)) == (
        "InvalidSnapshotId.NotReady",
        403,
    )
    emulator.clock.advance(INSTANT + 1)
    row = snapshot_row(ecs_client, snap)
    assert (row.status, row.available) == ("progressing", True)
    copy = create_disk(ecs_client, zone="cn-hangzhou-i", snapshot_id=snap)
    emulator.clock.advance(TRANSITION)
    assert disk(ecs_client, copy).status == "Available"
    assert emulator.control.markers(copy) == ["essd-1"]


def test_a_non_essd_snapshot_is_available_only_when_accomplished(emulator: Emulator, ecs_client: Any) -> None:
    iid = running(emulator, ecs_client)
    plain = create_disk(ecs_client, disk_category="cloud_efficiency")
    emulator.clock.advance(TRANSITION)
    attach(ecs_client, iid, plain)
    emulator.clock.advance(TRANSITION)
    snap = snapshot(ecs_client, plain)
    emulator.clock.advance(INSTANT + 1)
    row = snapshot_row(ecs_client, snap)
    assert (row.status, row.available, row.instant_access) == ("progressing", False, False)
    assert refused(lambda: create_disk(ecs_client, zone="cn-hangzhou-i", snapshot_id=snap)) == (
        "InvalidSnapshotId.NotReady",
        403,
    )
    emulator.clock.advance(FULL_40_GIB)
    assert snapshot_row(ecs_client, snap).available is True
    create_disk(ecs_client, zone="cn-hangzhou-i", snapshot_id=snap)


def tag(ecs: Any, kind: str, resource_id: str, key: str, value: str) -> None:
    req = m.TagResourcesRequest(
        region_id=R, resource_type=kind, resource_id=[resource_id], tag=[m.TagResourcesRequestTag(key=key, value=value)]
    )
    ecs.tag_resources(req)


def test_a_disk_tag_reaches_tag_filtered_describe_disks_only_after_the_index_lag(
    emulator: Emulator, ecs_client: Any
) -> None:
    iid = running(emulator, ecs_client, data_disk(keep=True))
    [kept] = data_of(ecs_client, iid)
    tag(ecs_client, "disk", kept.disk_id, "ops-kept", iid)
    wanted = [m.DescribeDisksRequestTag(key="ops-kept", value=iid)]
    assert disks(ecs_client, tag=wanted) == []  # the index has not caught up
    shown = disk(ecs_client, kept.disk_id).tags.tag
    assert [(t.tag_key, t.tag_value) for t in shown] == [("ops-kept", iid)]  # by id: at once
    listed = ecs_client.list_tag_resources(
        m.ListTagResourcesRequest(region_id=R, resource_type="disk", resource_id=[kept.disk_id])
    ).body.tag_resources.tag_resource
    assert [(t.resource_id, t.tag_key) for t in listed] == [(kept.disk_id, "ops-kept")]
    emulator.clock.advance(10)
    assert [d.disk_id for d in disks(ecs_client, tag=wanted)] == [kept.disk_id]
    ecs_client.untag_resources(
        m.UntagResourcesRequest(region_id=R, resource_type="disk", resource_id=[kept.disk_id], all=True)
    )
    assert [d.disk_id for d in disks(ecs_client, tag=wanted)] == [kept.disk_id]  # still indexed for a while
    emulator.clock.advance(10)
    assert disks(ecs_client, tag=wanted) == []


def test_snapshot_tags_from_create_snapshot_and_tag_resources_follow_the_index_lag(
    emulator: Emulator, ecs_client: Any
) -> None:
    iid = running(emulator, ecs_client, data_disk())
    [source] = data_of(ecs_client, iid)
    made = ecs_client.create_snapshot(
        m.CreateSnapshotRequest(disk_id=source.disk_id, tag=[m.CreateSnapshotRequestTag(key="batch", value="b1")])
    ).body.snapshot_id

    def tagged(key: str, value: str) -> list[str]:
        req = m.DescribeSnapshotsRequest(region_id=R, tag=[m.DescribeSnapshotsRequestTag(key=key, value=value)])
        return [s.snapshot_id for s in ecs_client.describe_snapshots(req).body.snapshots.snapshot]

    assert tagged("batch", "b1") == []
    emulator.clock.advance(10)
    assert tagged("batch", "b1") == [made]
    tag(ecs_client, "snapshot", made, "origin", iid)
    assert tagged("origin", iid) == []
    emulator.clock.advance(10)
    assert tagged("origin", iid) == [made]


def test_a_disk_never_attached_cannot_be_snapshotted(emulator: Emulator, ecs_client: Any) -> None:
    iid = running(emulator, ecs_client)
    fresh = create_disk(ecs_client)
    emulator.clock.advance(TRANSITION)
    assert refused(lambda: snapshot(ecs_client, fresh)) == ("IncorrectDiskStatus.NeverAttached", 403)
    attach(ecs_client, iid, fresh)
    emulator.clock.advance(TRANSITION)
    ecs_client.detach_disk(m.DetachDiskRequest(instance_id=iid, disk_id=fresh))
    emulator.clock.advance(TRANSITION)
    assert snapshot_row(ecs_client, snapshot(ecs_client, fresh)).source_disk_id == fresh  # attached once: fine


def test_the_boot_log_records_the_disks_in_use_at_each_boot_and_outlives_a_release(
    emulator: Emulator, ecs_client: Any
) -> None:
    original = running(emulator, ecs_client, data_disk(keep=True))
    [kept] = data_of(ecs_client, original)
    emulator.control.write_marker(kept.disk_id, "data-1")
    replacement = running(emulator, ecs_client)
    ecs_client.stop_instance(m.StopInstanceRequest(instance_id=replacement, stopped_mode="KeepCharging"))
    emulator.clock.advance(5)
    ecs_client.delete_instance(m.DeleteInstanceRequest(instance_id=original, force=True))
    attach(ecs_client, replacement, kept.disk_id)
    emulator.clock.advance(TRANSITION)
    ecs_client.start_instance(m.StartInstanceRequest(instance_id=replacement))
    emulator.clock.advance(30)
    first, second = emulator.control.boots(replacement)
    assert [(d["kind"], d["device"]) for d in first["disks"]] == [("system", "/dev/xvda")]
    assert [(d["diskId"], d["device"], d["markers"]) for d in second["disks"] if d["kind"] == "data"] == [
        (kept.disk_id, "/dev/xvdb", 1)
    ]
    assert second["at"] > first["at"]
    [gone] = emulator.control.boots(original)  # released, still readable
    assert [d["diskId"] for d in gone["disks"] if d["kind"] == "data"] == [kept.disk_id]
