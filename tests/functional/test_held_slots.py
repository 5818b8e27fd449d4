"""Never a blank server: a held replacement starts only with every data-disk slot its original had.

The delivery that launched and held the replacement dies once the cloud has released the original (the kept disks
are detached, nothing attached yet). Then the user deletes a kept disk, or attaches it to another of their servers,
or the disks never got their labels. Reconcile must keep the replacement stopped while a slot has no disk, tell the
user which disk and why, and ``aliyun-ops start-held --without`` is the one way to start it without that disk.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from typer.testing import CliRunner

from aliyun_ops import models
from aliyun_ops.cli import common
from aliyun_ops.cli.app import app
from aliyun_ops.cloud import Cloud
from aliyun_ops.cloud.sdk import Sdk
from aliyun_ops.disks.slots import TAG_SLOTS
from tests.functional.engine_support import CREDS, REGION, World, settings, tags_of

POLL_S = 30.0


class Killed(BaseException):
    """The function was killed (not an Exception: nothing in the engine catches it)."""



def data_disk_rows(world: World, iid: str) -> list[dict[str, Any]]:
    req = ecs_models.DescribeDisksRequest(region_id=REGION, instance_id=iid, disk_type="data", page_size=100)
    rows: list[dict[str, Any]] = world.ecs.describe_disks_with_options(req, world.rt).body.to_map()["Disks"]["Disk"]
    return sorted(rows, key=lambda d: d["Device"])


def deliver_dying_before(
    world: World, monkeypatch: pytest.MonkeyPatch, event: dict[str, Any], action: str
) -> None:
    """Deliver ``event`` to an engine killed just before its first ``action`` reaches the cloud."""
    real = Sdk.call

    def dying(sdk: Sdk, product: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
        if name == action:
            raise Killed(f"killed before {name}")
        return real(sdk, product, name, params)

    with monkeypatch.context() as patch:
        patch.setattr(Sdk, "call", dying)
        with pytest.raises(Killed):
            world.handle(event, image_poll_max_s=POLL_S)


def held_after_release(
    world: World, monkeypatch: pytest.MonkeyPatch, n: int, *, die_before: str = "AttachDisk"
) -> tuple[str, str, list[str]]:
    """An instance with ``n`` marked data disks, reclaimed; its delivery dies just before ``die_before`` (the first
    AttachDisk comes after the release). Returns (original, held replacement, disk ids in device order)."""
    specs = [{"Category": "cloud_essd", "Size": 20 + i, "PerformanceLevel": "PL1"} for i in range(n)]
    old = world.launch(data_disks=specs)
    ids = [d["DiskId"] for d in data_disk_rows(world, old)]
    for disk_id in ids:
        world.emu.control.write_marker(disk_id, f"data-of-{disk_id}")
    deliver_dying_before(world, monkeypatch, world.interrupt(old), die_before)
    world.advance(400)  # the release has happened; whatever was settling has settled
    assert world.instance(old) is None
    (new,) = [i for i in world.instances() if tags_of(i).get(models.TAG_REPLACES) == old]
    assert new["Status"] == "Stopped" and tags_of(new)[models.TAG_DISKS] == "pending"
    return old, new["InstanceId"], ids


def passes(world: World, n: int = 2) -> list[list[Any]]:
    return [world.reconcile(image_poll_max_s=POLL_S) for _ in range(n)]


def start_held(world: World, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """The CLI command, on the emulator's clock."""

    def open_cloud(region: str | None, endpoint: str | None, *, bounded: bool = True) -> tuple[Cloud, Any]:
        s = settings(world.emu, image_poll_max_s=POLL_S)
        return Cloud(CREDS, s, sleep=world.advance, clock=world.emu.clock.now), s

    monkeypatch.setattr(common, "open_cloud", open_cloud)
    return CliRunner().invoke(app, ["start-held", *args])


@pytest.mark.parametrize(("n", "gone"), [(1, 0), (5, 2)])
def test_a_deleted_kept_disk_keeps_the_replacement_stopped_and_the_user_is_told(
    world: World, monkeypatch: pytest.MonkeyPatch, n: int, gone: int
) -> None:
    _, new, ids = held_after_release(world, monkeypatch, n)
    world.ecs.delete_disk_with_options(ecs_models.DeleteDiskRequest(disk_id=ids[gone]), world.rt)
    device = f"/dev/xvd{chr(ord('b') + gone)}"
    for outcomes in passes(world):
        held = [o for o in outcomes if o.status == "held"]
        assert len(held) == 1, [(o.status, o.message) for o in outcomes]
        assert device in held[0].message and "start-held" in held[0].message
        inst = world.instance(new)
        assert inst is not None and inst["Status"] == "Stopped"  # never booted with 0/1 or 4/5 disks
        assert len(world.emu.control.boots(new)) == 1  # only the launch's first boot, before the hold
    # the user decides: start it without that disk; the others come along with their data
    refused = start_held(world, monkeypatch, new, "--yes")
    assert refused.exit_code == 1 and device in refused.output
    assert world.instance(new)["Status"] == "Stopped"  # type: ignore[index]
    done = start_held(world, monkeypatch, new, "--without", device, "--yes")
    assert done.exit_code == 0, done.output
    inst = world.instance(new)
    assert inst is not None and inst["Status"] == "Running"
    rows = data_disk_rows(world, new)
    kept = [d for i, d in enumerate(ids) if i != gone]
    assert [d["DiskId"] for d in rows] == kept
    for disk_id in kept:
        assert world.emu.control.markers(disk_id) == [f"data-of-{disk_id}"]


def test_a_kept_disk_the_user_attached_elsewhere_keeps_the_replacement_stopped(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, new, ids = held_after_release(world, monkeypatch, 5)
    other = world.launch(name="db-2", eip=False, tags={"app": "db"})
    world.ecs.attach_disk_with_options(ecs_models.AttachDiskRequest(instance_id=other, disk_id=ids[4]), world.rt)
    world.advance(10)
    for outcomes in passes(world):
        held = [o for o in outcomes if o.status == "held"]
        assert len(held) == 1 and ids[4] in held[0].message and other in held[0].message
        assert world.instance(new)["Status"] == "Stopped"  # type: ignore[index]
    assert [d["DiskId"] for d in data_disk_rows(world, other)] == [ids[4]]  # the user's choice stands


def test_disks_that_never_got_their_labels_still_come_back(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The delivery dies before it labels any disk: the slot record (on the snapshot, the image, the replacement)
    still names every slot, and reconcile finishes the replacement with all of them."""
    old = world.launch(data_disks=[{"Category": "cloud_essd", "Size": 20 + i} for i in range(3)])
    ids = [d["DiskId"] for d in data_disk_rows(world, old)]
    for disk_id in ids:
        world.emu.control.write_marker(disk_id, "mine")
    event = world.interrupt(old)
    real = Sdk.call
    labels = {"n": 0}

    def no_disk_labels(sdk: Sdk, product: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "TagResources" and params.get("ResourceType") == "disk":
            labels["n"] += 1
            return {"RequestId": "dropped"}  # the label never lands (the function died in the background thread)
        if action == "AttachDisk":
            raise Killed("killed before AttachDisk")
        return real(sdk, product, action, params)

    with monkeypatch.context() as patch:
        patch.setattr(Sdk, "call", no_disk_labels)
        with pytest.raises(Killed):
            world.handle(event, image_poll_max_s=POLL_S)
    assert labels["n"] >= 1
    world.advance(400)
    req = ecs_models.DescribeDisksRequest(region_id=REGION, disk_ids=json.dumps(ids), page_size=100)
    rows = world.ecs.describe_disks_with_options(req, world.rt).body.to_map()["Disks"]["Disk"]
    assert len(rows) == 3 and not any(models.TAG_DISK_OF in str(d.get("Tags")) for d in rows)  # no label landed
    outcomes = [o for p in passes(world) for o in p]
    assert not [o for o in outcomes if o.status in ("failed", "held")], [o.message for o in outcomes]
    (new,) = [i for i in world.instances() if tags_of(i).get(models.TAG_REPLACES) == old]
    assert new["Status"] == "Running"
    assert [d["DiskId"] for d in data_disk_rows(world, new["InstanceId"])] == ids
    assert all(world.emu.control.markers(d) == ["mine"] for d in ids)


def test_the_slot_record_is_written_with_the_first_snapshot(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new, ids = held_after_release(world, monkeypatch, 2)
    req = ecs_models.DescribeSnapshotsRequest(region_id=REGION, page_size=100)
    snaps = world.ecs.describe_snapshots_with_options(req, world.rt).body.to_map()["Snapshots"]["Snapshot"]
    (system,) = [s for s in snaps if s.get("SnapshotName") == f"aops-{old}-system"]
    record = {t["TagKey"]: t["TagValue"] for t in system["Tags"]["Tag"]}[TAG_SLOTS]
    assert record.startswith("2;") and ids[0] in record and ids[1] in record
    assert tags_of(world.instance(new))[TAG_SLOTS].startswith("2;")  # type: ignore[arg-type]


def test_a_pass_leaves_an_item_another_pass_claimed_until_the_claim_expires(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two overlapping passes (two function instances) never act on the same held replacement."""
    from aliyun_ops.recovery.claims import TAG_CLAIM

    _, new, ids = held_after_release(world, monkeypatch, 2)
    until = world.emu.clock.now() + 300
    req = ecs_models.TagResourcesRequest(
        region_id=REGION,
        resource_type="instance",
        resource_id=[new],
        tag=[ecs_models.TagResourcesRequestTag(key=TAG_CLAIM, value=f"pass-other@{int(until)}")],
    )
    world.ecs.tag_resources_with_options(req, world.rt)
    before = len(world.emu.journal.entries())
    outcomes = world.reconcile(image_poll_max_s=POLL_S)
    assert any(o.status == "skipped" and "another reconcile pass" in o.message for o in outcomes)
    acted = [e["action"] for e in world.emu.journal.entries()[before:]]
    assert "AttachDisk" not in acted and "StartInstance" not in acted
    assert world.instance(new)["Status"] == "Stopped"  # type: ignore[index]
    world.advance(301)  # the other pass's claim has expired: this one takes the item
    outcomes = world.reconcile(image_poll_max_s=POLL_S)
    assert any(o.status == "resumed" for o in outcomes), [o.message for o in outcomes]
    assert world.instance(new)["Status"] == "Running"  # type: ignore[index]
    assert [d["DiskId"] for d in data_disk_rows(world, new)] == ids


def test_a_full_replacement_still_gets_the_lineage_address_from_the_original_s_record(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """17 user tags leave a moving replacement room for three engine tags: the address is not among them, and the
    resume takes it from the system snapshot's record."""
    users = {f"cost-{i:02d}": "x" for i in range(17)}
    old = world.launch(data_disks=[{"Category": "cloud_essd", "Size": 20}], tags=users)
    (address,) = [e for e in world.eips() if e["InstanceId"] == old]
    deliver_dying_before(world, monkeypatch, world.interrupt(old), "AttachDisk")
    world.advance(400)
    (held,) = [i for i in world.instances() if tags_of(i).get(models.TAG_REPLACES) == old]
    assert models.TAG_EIP not in tags_of(held) and set(users.items()) <= set(tags_of(held).items())
    assert len(tags_of(held)) == 20
    outcomes = [o for p in passes(world) for o in p]
    assert any(o.status == "resumed" for o in outcomes), [o.message for o in outcomes]
    assert [e["InstanceId"] for e in world.eips() if e["AllocationId"] == address["AllocationId"]] == [
        held["InstanceId"]
    ]
    assert world.instance(held["InstanceId"])["Status"] == "Running"  # type: ignore[index]
