"""Issue 19, never stuck: one odd object in the region must not cost another instance its data.

Each test puts one poison object in the region next to another managed instance whose data disk reconcile has never
seen (``DeleteWithInstance=true``, unlabelled), and runs one reconcile pass. The pass must (a) not raise, (b) keep the
other instance's disk (``DeleteWithInstance=false`` and labelled with its instance), (c) end well within one function
invocation on the emulated clock, and (d) say what is odd about the poison object (an outcome or a notification that
names it and its problem).

(c): the pass may use at most half of ``function_timeout_s`` (600 s): every poison here needs a few calls to be
reported, so a pass that spends more waited on one item (a slow copy, a snapshot that no longer exists) and left
nothing for the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops.emulator.backend import load_default_scenario
from aliyun_ops.models import TAG_DISK_OF
from tests.functional.engine_support import REGION, World, tags_of
from tests.functional.test_data_disks import sell_out_zone
from tests.reliability.data_watch import NOTICE_S, Told, deliver_killed_after, reconcile_pass, region_disks

HOME = "cn-hangzhou-i"
DISK = {"Category": "cloud_essd", "Size": 20}
TIMEOUT_S = 600.0
SELECTOR = ("team", "ops")


def _tags(n: int, **fixed: str) -> dict[str, str]:
    tags = dict(fixed)
    for i in range(n - len(fixed)):
        tags[f"user-{i:02d}"] = f"v{i}"
    return tags


def _tag_disk(world: World, disk_id: str, tags: dict[str, str]) -> None:
    req = ecs_models.TagResourcesRequest(
        region_id=REGION,
        resource_type="disk",
        resource_id=[disk_id],
        tag=[ecs_models.TagResourcesRequestTag(key=k, value=v) for k, v in tags.items()],
    )
    world.ecs.tag_resources_with_options(req, world.rt)


def _data_disk_of(world: World, iid: str) -> str:
    return str(next(d["DiskId"] for d in region_disks(world) if d.get("InstanceId") == iid and d["Type"] == "data"))


# -- the poison objects: each returns the ids a report about it may name, and the words that say what is odd -------
Poison = tuple[list[str], tuple[str, ...], dict[str, Any]]


def stop_mode_with_20_tags(world: World) -> Poison:
    """A Stop-mode spot instance with 20 tags that the cloud reclaim-stopped: no room for a tag of ours on it (the
    engine once wrote ``aops:stopped-since`` there). Nothing needs a tag now: it is started again, and said so."""
    iid = world.launch(name="batch-1", behavior="Stop", eip=False, tags=_tags(20))
    world.interrupt(iid)
    world.advance(NOTICE_S + 20)
    inst = world.instance(iid)
    assert inst is not None and inst["Status"] == "Stopped"
    return [iid], ("started",), {}


def data_disk_with_18_tags(world: World) -> Poison:
    """A managed instance's data disk with 18 user tags: its three labels would make 21."""
    iid = world.launch(name="tagged-1", eip=False, data_disks=[DISK])
    disk_id = _data_disk_of(world, iid)
    _tag_disk(world, disk_id, _tags(18))
    return [disk_id], ("tag",), {}


def selected_instance_with_20_tags(world: World) -> Poison:
    """A managed instance (settings.selector) whose 20 tags include the selector: a replacement could not carry
    its lineage tags, so its reclaim would fail; the pass must say so while it can still be fixed."""
    iid = world.launch(name="full-1", eip=False, data_disks=[DISK], tags=_tags(20, **dict([SELECTOR])))
    return [iid], ("tag",), {"selector": SELECTOR}


def _held_cross_zone(world: World, category: str, action: str, nth: int) -> tuple[str, str, str]:
    """A reclaim (original in HOME, sold out) whose delivery died as the answer to its ``nth`` ``action`` arrived,
    its replacement held in another zone: (held replacement, original, kept disk)."""
    old = world.launch(name="app-1", data_disks=[{"Category": category, "Size": 20}])
    disk_id = _data_disk_of(world, old)
    event = world.interrupt(old)
    sell_out_zone(world, HOME)
    deliver_killed_after(world, event, action, nth, image_poll_max_s=30.0)
    (held,) = [i for i in world.instances() if tags_of(i).get("aops:replaces") == old]
    return held["InstanceId"], old, disk_id


def held_with_a_slow_copy(world: World) -> Poison:
    """A held replacement in another zone whose data disk (not an ESSD: no instant access) copies slowly: the
    delivery died once the replacement was held; then the cloud's snapshots slow down to 16 MiB/s (a 20 GiB disk:
    1,280 s, more than a function's timeout); then the release."""
    held, old, disk_id = _held_cross_zone(world, "cloud_efficiency", "StopInstance", 1)
    _slow_snapshots(world)
    world.advance(NOTICE_S + 30)
    return [held, old, disk_id], ("snapshot", "copy", "copying"), {}


def move_whose_snapshot_the_user_deleted(world: World) -> Poison:
    """A cross-zone move whose copy snapshot the user deleted in the console before the copy was made."""
    held, old, disk_id = _held_cross_zone(world, "cloud_essd", "CreateSnapshot", 2)  # 1: system, 2: the copy
    world.advance(5)
    snaps = world.ecs.describe_snapshots_with_options(
        ecs_models.DescribeSnapshotsRequest(region_id=REGION, disk_id=disk_id, page_size=100), world.rt
    ).body.to_map()["Snapshots"]["Snapshot"]
    assert snaps, "the move's snapshot was asked for"
    for snap in snaps:
        req = ecs_models.DeleteSnapshotRequest(snapshot_id=snap["SnapshotId"])
        world.ecs.delete_snapshot_with_options(req, world.rt)
    return [held, old, disk_id, *(s["SnapshotId"] for s in snaps)], ("snapshot",), {}


POISONS: list[Callable[[World], Poison]] = [
    stop_mode_with_20_tags,
    data_disk_with_18_tags,
    selected_instance_with_20_tags,
    held_with_a_slow_copy,
    move_whose_snapshot_the_user_deleted,
]


def _slow_snapshots(world: World) -> None:
    """The realism section of the default scenario with 16 MiB/s snapshots, in place: the region's state stays (a
    scenario load would replace it)."""
    from aliyun_ops.emulator.models.realism import load_realism

    realism = load_default_scenario()["realism"]
    slow = {**realism, "snapshot": {"fullMiBps": 16, "incrementalMiBps": 16, "changedFraction": 0.05}}
    backend = world.emu.backend
    with backend.lock:
        backend.realism = load_realism(slow)


@pytest.mark.parametrize("poison", POISONS, ids=[p.__name__ for p in POISONS])
def test_one_poison_object_does_not_cost_another_instance_its_data(
    world: World, poison: Callable[[World], Poison]
) -> None:
    other = world.launch(name="db-1", eip=False, data_disks=[DISK], tags={"app": "db", SELECTOR[0]: SELECTOR[1]})
    other_disk = _data_disk_of(world, other)
    names, words, overrides = poison(world)
    told = Told()
    start = world.emu.clock.now()
    said, raised = reconcile_pass(world, told, function_timeout_s=TIMEOUT_S, **overrides)
    took = world.emu.clock.now() - start
    (disk,) = [d for d in region_disks(world) if d["DiskId"] == other_disk]
    texts = said + told.texts()
    report = [t for t in texts if any(n in t for n in names) and any(w in t.lower() for w in words)]
    wrong = [
        f"(a) the pass raised: {raised}" if raised else "",
        "" if disk["DeleteWithInstance"] is False and tags_of(disk).get(TAG_DISK_OF) == other
        else f"(b) {other_disk} not kept: DeleteWithInstance={disk['DeleteWithInstance']}, tags {tags_of(disk)}",
        f"(c) the pass took {took:.0f} s of the emulated clock" if took > TIMEOUT_S / 2 else "",
        "" if report else f"(d) nothing reports {names} ({'/'.join(words)}): {texts}",
    ]
    assert not [w for w in wrong if w], "\n".join(w for w in wrong if w)
