"""Issue 21, item 4: a baseline for every lineage, taken by reconcile in quiet time.

A first reclaim whose notice snapshot cannot finish before the release launches from the lineage's newest
baseline instead of nothing; a notice snapshot that is ready in time is used, and the message says which image
and as of when; a snapshot after a baseline copies only the data changed since (so it finishes sooner); pruning
keeps exactly ``baseline_keep`` baselines and never touches a user's image. Every run is on the emulator's clock
(``sleep`` advances it), under the shipped RAM policy and the default scenario with the snapshot speed set."""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops import errors
from aliyun_ops.emulator.backend import load_default_scenario
from aliyun_ops.notify.messages import finished_message
from tests.functional.engine_support import REGION, World, tags_of

DATA = [{"Category": "cloud_essd", "Size": 20, "PerformanceLevel": "PL1"}]  # move mode: the system snapshot path


def _speed(world: World, mibps: float) -> None:
    scenario = load_default_scenario()
    scenario["realism"] = {
        **scenario["realism"],
        "snapshot": {"fullMiBps": mibps, "incrementalMiBps": mibps, "changedFraction": 0.05},
    }
    world.emu.reset(scenario)


def _system_disk(world: World, iid: str) -> str:
    req = ecs_models.DescribeDisksRequest(region_id=REGION, instance_id=iid, disk_type="system")
    disk_id: str = world.ecs.describe_disks_with_options(req, world.rt).body.to_map()["Disks"]["Disk"][0]["DiskId"]
    return disk_id


def _baselines(world: World) -> list[dict[str, Any]]:
    return [i for i in world.images() if "aops:baseline" in tags_of(i)]


def _with_baseline(world: World, iid: str, full_s: float) -> str | None:
    """Reconcile takes the baseline snapshot; after it is accomplished (``full_s``) the next pass images it. The
    baseline's image id (None without one: the code before baselines)."""
    world.reconcile()
    world.advance(full_s + 5)
    world.reconcile()
    world.advance(60)  # the image from the snapshot builds (imageBaseSeconds)
    made = [b for b in _baselines(world) if b["Status"] == "Available" and tags_of(b)["aops:image-of"] == iid]
    assert len(made) <= 1
    return made[0]["ImageId"] if made else None


def test_a_first_reclaim_whose_snapshot_is_too_slow_launches_from_the_baseline(world: World) -> None:
    """At 32 MiB/s with 8 GiB changed the notice's snapshot takes 256 s: no image before the release. Before
    baselines this lineage had no image at all: ImageUnavailable, no replacement."""
    _speed(world, 32)
    old = world.launch(data_disks=DATA)
    base = _with_baseline(world, old, 40 * 1024 / 32)
    world.emu.control.set_changed(_system_disk(world, old), 8)
    outcome = world.handle(world.interrupt(old))
    assert outcome.status == "replaced", outcome.message
    record = outcome.record
    assert record is not None and record.new_instance_id
    new = world.instance(record.new_instance_id)
    assert new is not None and new["ImageId"] == base
    assert record.image_source == "baseline" and record.image_time.endswith("UTC")
    said = finished_message(record, "en").text()
    assert "baseline" in said and str(base) in said and record.image_time in said


def test_a_notice_snapshot_ready_in_time_is_used_and_the_message_says_so(world: World) -> None:
    _speed(world, 256)
    old = world.launch(data_disks=DATA)
    base = _with_baseline(world, old, 40 * 1024 / 256)
    world.emu.control.set_changed(_system_disk(world, old), 0.5)
    outcome = world.handle(world.interrupt(old))
    assert outcome.status == "replaced", outcome.message
    record = outcome.record
    assert record is not None and record.new_instance_id
    new = world.instance(record.new_instance_id)
    assert base is not None and new is not None and new["ImageId"] == record.image_id != base
    assert record.image_source == "fresh"
    said = finished_message(record, "en").text()
    assert "the notice's own snapshot" in said and record.image_id in said


def test_a_notice_snapshot_after_a_baseline_copies_only_the_changed_data(world: World) -> None:
    """32 MiB/s: the first snapshot of the 40 GiB system disk takes 1,280 s, the notice's after a baseline with
    4 GiB changed 128 s, so the notice's own image is ready before the release and is the one launched."""
    _speed(world, 32)
    old = world.launch(data_disks=DATA)
    _with_baseline(world, old, 40 * 1024 / 32)
    world.emu.control.set_changed(_system_disk(world, old), 4)
    outcome = world.handle(world.interrupt(old))
    assert outcome.status == "replaced", outcome.message
    assert outcome.record is not None and outcome.record.image_source == "fresh"
    notice = [
        s for s in world.emu.backend.disks.snapshots.values() if s.name == f"aops-{old}-system" and s.disk_id
    ]
    assert [s.build_seconds for s in notice] == [4 * 1024 / 32]  # on the emulator's clock, not 1,280 s


def test_pruning_keeps_exactly_the_newest_baselines_and_never_a_users_image(world: World) -> None:
    _speed(world, 256)
    old = world.launch(tags={"app": "web", "aops:lineage": "lin-web"})
    req = ecs_models.CreateImageRequest(region_id=REGION, instance_id=old, image_name="users-own-image")
    users = world.ecs.create_image_with_options(req, world.rt).body.image_id
    made: list[str] = []
    for _ in range(4):  # a baseline every half hour, four times
        world.reconcile(baseline_hours=0.5, baseline_keep=2)
        world.advance(200)
        world.reconcile(baseline_hours=0.5, baseline_keep=2)
        world.advance(1700)
        made.extend(b["ImageId"] for b in _baselines(world) if b["ImageId"] not in made)
    world.reconcile(baseline_hours=0.5, baseline_keep=2)
    left = [b["ImageId"] for b in _baselines(world) if b["Status"] == "Available"]
    assert len(made) >= 4
    assert sorted(left) == sorted(made[-2:])
    assert users in {i["ImageId"] for i in world.images()}


def test_no_baseline_for_an_opted_out_instance_or_when_switched_off(world: World) -> None:
    _speed(world, 256)
    world.launch(name="mine", tags={"aops:managed": "false"})
    world.launch(name="web")
    world.reconcile(baseline_hours=0)
    world.advance(300)
    world.reconcile(baseline_hours=0)
    assert _baselines(world) == []
    world.reconcile()
    world.advance(300)
    world.reconcile()
    world.advance(60)
    names = {tags_of(b)["aops:image-of"] for b in _baselines(world)}
    managed = {i["InstanceId"] for i in world.instances() if i["InstanceName"] == "web"}
    assert names == managed


def test_a_copy_mode_instance_with_data_is_never_booted_from_a_system_only_baseline(world: World) -> None:
    """Copy mode (aops:data=copy) carries the data disks in the notice's image. A baseline holds the system disk
    only: launched in its place, the replacement would boot without its data. So a copy-mode instance with data
    disks gets no baseline, and one taken before the user switched to copy mode is never launched."""
    _speed(world, 32)
    copy = world.launch(name="copy", data_disks=DATA, tags={"aops:data": "copy"})
    old = world.launch(name="switched", data_disks=DATA)
    base = _with_baseline(world, old, 40 * 1024 / 32)
    assert base is not None
    assert {tags_of(b)["aops:image-of"] for b in _baselines(world)} == {old}  # none of the copy-mode instance
    tag = ecs_models.TagResourcesRequest(
        region_id=REGION,
        resource_type="instance",
        resource_id=[old],
        tag=[ecs_models.TagResourcesRequestTag(key="aops:data", value="copy")],
    )
    world.ecs.tag_resources_with_options(tag, world.rt)
    world.advance(60)
    with pytest.raises(errors.ImageUnavailable) as failed:  # 40 + 20 GiB at 32 MiB/s: not imaged by the release
        world.handle(world.interrupt(old))
    assert "copy mode" in str(failed.value)  # FC sees the failure, and the user is told why
    launched = [i for i in world.instances() if i["InstanceId"] not in (old, copy)]
    assert all(i["ImageId"] != base for i in launched)
    assert launched == []  # nothing blank either: no replacement without the data
