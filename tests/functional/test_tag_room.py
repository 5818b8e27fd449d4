"""A resource holds 20 tags: a user near the limit keeps the tags that decide what the tool does, and a full data
disk neither loses its data nor fails the incident or the reconcile pass.

Through the official SDK against the strict emulator, which refuses a RunInstances with more than 20 ``Tag.N``
and a TagResources that would leave a resource with more than 20 tags (``InvalidTagCount``).
"""

from __future__ import annotations

from typing import Any

from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops.notify.messages import finished_message
from tests.functional.engine_support import REGION, World, tags_of

SELECTOR = ("team", "ops")
DISK = [{"Category": "cloud_essd", "Size": 100, "PerformanceLevel": "PL1"}]



def user_tags(n: int, **last: str) -> dict[str, str]:
    """``n`` tags of the user's own, the ``last`` ones at the end (where a cut by position falls)."""
    tags = {f"cost-{i:02d}": f"v{i}" for i in range(n - len(last))}
    tags.update(last)
    return tags


def data_disks(world: World, **filters: Any) -> list[dict[str, Any]]:
    req = ecs_models.DescribeDisksRequest(region_id=REGION, page_size=100, disk_type="data", **filters)
    rows: list[dict[str, Any]] = world.ecs.describe_disks_with_options(req, world.rt).body.to_map()["Disks"]["Disk"]
    return rows


def disk_tags(disk: dict[str, Any]) -> dict[str, str]:
    return {t["TagKey"]: t["TagValue"] for t in disk.get("Tags", {}).get("Tag", [])}


def fill_disk(world: World, disk_id: str, n: int) -> None:
    """The user tags the disk with ``n`` tags of their own (one TagResources, as the console would)."""
    tags = [ecs_models.TagResourcesRequestTag(key=f"disk-{i:02d}", value="x") for i in range(n)]
    req = ecs_models.TagResourcesRequest(region_id=REGION, resource_type="disk", resource_id=[disk_id], tag=tags)
    world.ecs.tag_resources_with_options(req, world.rt)


def replaced(world: World, old: str, **overrides: Any) -> tuple[Any, dict[str, str]]:
    outcome = world.handle(world.interrupt(old), **overrides)
    assert outcome.status == "replaced", outcome.record.reason
    new = world.instance(outcome.record.new_instance_id or "")
    assert new is not None and new["Status"] == "Running"
    return outcome.record, tags_of(new)


def test_a_full_original_is_replaced_with_its_selector_and_the_user_is_told_which_tags_did_not_fit(
    world: World,
) -> None:
    old = world.launch(tags=user_tags(20, team="ops"))
    record, tags = replaced(world, old, selector=SELECTOR)
    assert tags["team"] == "ops"  # the next reclaim of the replacement is still handled
    assert len(tags) <= 20
    assert tags["aops:replaces"] == old
    left = [kv.split("=")[0] for kv in record.tags_left]
    assert left and all(k.startswith("cost-") and k not in tags for k in left)
    assert len(tags) + len(left) == 20 + len([k for k in tags if k.startswith("aops:")])  # nothing else lost
    assert any("no room" in what and left[0] in what for _, what in record.timeline)
    rows = dict(finished_message(record, "en").rows)
    assert all(kv in rows["Tags not copied (20 per resource at most)"] for kv in record.tags_left)


def test_a_full_original_keeps_its_data_mode_opt_out(world: World) -> None:
    # copy mode images the data disk too: 40 + 20 GiB are snapshotted (240 s at 256 MiB/s) before the release; a
    # 100 GiB one would not be (test_engine's copy-mode test shows what the user gets then)
    small = [{**DISK[0], "Size": 20}]
    old = world.launch(tags=user_tags(20, **{"aops:data": "copy"}), data_disks=small)
    record, tags = replaced(world, old)
    assert tags["aops:data"] == "copy"  # the next reclaim copies the data the way the user asked
    assert len(tags) <= 20
    assert record.data_mode == "copy"
    assert record.tags_left


def test_a_data_disk_with_18_user_tags_is_kept_and_moves_to_the_replacement(world: World) -> None:
    old = world.launch(data_disks=DISK)
    (disk,) = data_disks(world, instance_id=old)
    fill_disk(world, disk["DiskId"], 18)
    record, _ = replaced(world, old)
    (moved,) = data_disks(world, instance_id=record.new_instance_id)
    assert moved["DiskId"] == disk["DiskId"] and moved["DeleteWithInstance"] is False
    labels = disk_tags(moved)
    assert len(labels) == 20 and labels["aops:disk-of"] == old and labels["aops:device"] == disk["Device"]
    assert all(labels[f"disk-{i:02d}"] == "x" for i in range(18))  # the user's tags are untouched


def test_a_reconcile_pass_over_a_full_disk_still_keeps_and_labels_the_other_instances_disks(world: World) -> None:
    full = world.launch(name="full-1", data_disks=DISK)
    other = world.launch(name="other-1", data_disks=DISK)
    (full_disk,) = data_disks(world, instance_id=full)
    fill_disk(world, full_disk["DiskId"], 19)
    outcomes = world.reconcile()
    assert [o for o in outcomes if o.status == "kept" and other in o.message]
    (disk,) = data_disks(world, instance_id=other)
    assert disk["DeleteWithInstance"] is False and disk_tags(disk)["aops:disk-of"] == other
    (full_disk,) = data_disks(world, instance_id=full)
    assert full_disk["DeleteWithInstance"] is False  # kept whatever its tags
    assert disk_tags(full_disk)["aops:disk-of"] == full and len(disk_tags(full_disk)) == 20
