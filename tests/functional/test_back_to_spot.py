"""Back to spot (issue 11, item 5): a pay-as-you-go fallback returns to spot through reconcile, as a replacement
with the same identity, address and data, through the official SDKs and under the shipped RAM policy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from tests.functional.engine_support import World, tags_of

NOTICE_S = 300.0
ZONES = ("cn-hangzhou-g", "cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k")
TYPE, ZONE = "ecs.c7.large", "cn-hangzhou-i"


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def spot_stock(world: World, available: bool) -> None:
    """Every spot pool of the region sold out (or the original type back in its zone); pay-as-you-go untouched."""
    if available:
        world.emu.control.stock(ZONE, TYPE, True, True)
        return
    for zone in ZONES:
        for itype in world.emu.backend.catalogue.types:
            world.emu.control.stock(zone, itype, True, False)


def running_named(world: World, name: str) -> list[dict[str, Any]]:
    return [i for i in world.instances() if i["InstanceName"] == name and i["Status"] != "Deleted"]


def data_disk_ids(world: World, iid: str) -> list[str]:
    req = ecs_models.DescribeDisksRequest(region_id="cn-hangzhou", instance_id=iid, disk_type="data", page_size=100)
    rows = world.ecs.describe_disks_with_options(req, world.rt).body.to_map()["Disks"]["Disk"]
    return [d["DiskId"] for d in rows]


def fall_back(world: World, name: str, *, data: bool) -> tuple[str, str]:
    """A spot instance reclaimed while every spot pool is sold out: its replacement is pay-as-you-go."""
    disks = [{"Category": "cloud_essd", "Size": 40}] if data else None
    old = world.launch(name=name, data_disks=disks)
    spot_stock(world, False)
    outcome = world.handle(world.interrupt(old), payg_fallback=True)
    assert outcome.status == "replaced" and outcome.record is not None
    fallback = outcome.record.new_instance_id
    world.advance(NOTICE_S + 30)
    row = world.instance(fallback)
    assert row is not None and row["SpotStrategy"] == "NoSpot" and tags_of(row)["aops:fallback"]
    return old, fallback


def test_a_fallback_returns_to_spot_with_its_name_address_and_every_byte_of_its_data(world: World) -> None:
    _, fallback = fall_back(world, "db-1", data=True)
    (allocation,) = [e["AllocationId"] for e in world.eips() if e.get("InstanceId") == fallback]
    disks = data_disk_ids(world, fallback)
    assert len(disks) == 1
    world.emu.control.write_marker(disks[0], "written-on-pay-as-you-go")

    spot_stock(world, True)
    (too_soon,) = [o for o in world.reconcile(payg_fallback=True) if o.status != "kept"]
    assert too_soon.status == "skipped" and "serves at least" in too_soon.message
    world.advance(600)
    world.emu.control.write_marker(disks[0], "last-write-before-the-move")
    moved = [o for o in world.reconcile(payg_fallback=True) if o.status == "respotted"]
    assert len(moved) == 1 and moved[0].record is not None
    world.advance(60)

    (only,) = running_named(world, "db-1")
    assert only["InstanceId"] == moved[0].record.new_instance_id and only["Status"] == "Running"
    assert only["SpotStrategy"] != "NoSpot" and "aops:fallback" not in tags_of(only)
    assert only["HostName"] == "db-1" and tags_of(only)["aops:replaces"] == fallback
    assert world.instance(fallback) is None  # released: the pay-as-you-go bill stops
    assert data_disk_ids(world, only["InstanceId"]) == disks  # the same disk, moved: nothing copied, nothing lost
    assert world.emu.control.markers(disks[0])[-2:] == ["written-on-pay-as-you-go", "last-write-before-the-move"]
    (eip,) = [e for e in world.eips() if e["AllocationId"] == allocation]
    assert eip["InstanceId"] == only["InstanceId"]
    boots = world.emu.control.boots(only["InstanceId"])
    assert boots and [d["diskId"] for d in boots[-1]["disks"] if d["kind"] == "data"] == disks  # it booted with them


def test_without_data_disks_the_fallback_serves_until_the_address_is_on_its_spot_replacement(world: World) -> None:
    _, fallback = fall_back(world, "web-9", data=False)
    spot_stock(world, True)
    world.advance(600)
    seq = len(world.emu.control.calls())
    (moved,) = [o for o in world.reconcile(payg_fallback=True) if o.status == "respotted"]
    assert moved.record is not None
    new = moved.record.new_instance_id
    calls = [c for c in world.emu.control.calls()[seq:] if c["status"] == 200]

    def first(action: str, **params: str) -> float:
        hits = [c["seq"] for c in calls if c["action"] == action and all(c["params"].get(k) == v for k, v in
                                                                         params.items())]
        assert hits, f"no {action} {params}"
        return float(hits[0])

    # The fallback is stopped only once the address is on a Running replacement, and released only once stopped.
    assert first("RunInstances") < first("AssociateEipAddress", InstanceId=new)
    assert first("AssociateEipAddress", InstanceId=new) < first("StopInstance", InstanceId=fallback)
    assert first("StopInstance", InstanceId=fallback) < first("DeleteInstance", InstanceId=fallback)
    stop = next(c for c in calls if c["action"] == "StopInstance")
    assert stop["params"].get("ForceStop") in (None, "false")  # a clean shutdown, not a power cut
    (only,) = running_named(world, "web-9")
    assert only["InstanceId"] == new and only["SpotStrategy"] != "NoSpot"


def test_a_fallback_stays_pay_as_you_go_without_spot_stock_or_without_its_tag(world: World) -> None:
    _, fallback = fall_back(world, "web-8", data=False)
    world.advance(600)
    seq = len(world.emu.control.calls())
    assert [o.status for o in world.reconcile(payg_fallback=True)] == ["skipped"]
    writes = {c["action"] for c in world.emu.control.calls()[seq:]} & {"RunInstances", "CreateImage", "CreateSnapshot"}
    assert not writes  # no stock, nothing bought or imaged: the check reads first

    untag = ecs_models.UntagResourcesRequest(
        region_id="cn-hangzhou", resource_type="instance", resource_id=[fallback], tag_key=["aops:fallback"]
    )
    world.ecs.untag_resources_with_options(untag, world.rt)
    spot_stock(world, True)
    world.advance(60)
    assert [o.status for o in world.reconcile(payg_fallback=True)] == []  # the user chose to keep it
    (only,) = running_named(world, "web-8")
    assert only["InstanceId"] == fallback and only["SpotStrategy"] == "NoSpot"


def test_a_move_that_died_midway_is_finished_by_the_next_pass_whatever_the_stock(world: World) -> None:
    from aliyun_ops import errors

    _, fallback = fall_back(world, "db-2", data=True)
    disks = data_disk_ids(world, fallback)
    spot_stock(world, True)
    world.advance(600)
    # The move dies after the fallback stopped cleanly, before its release: the worst place, the server is down.
    world.emu.control.faults(["DeleteInstance"], error_rate=1.0, code="IncorrectInstanceStatus", http_status=403)
    with pytest.raises(errors.AliyunOpsError):  # a failure is loud: FC and the timer see it
        world.reconcile(payg_fallback=True)
    world.emu.control.clear_faults()
    row = world.instance(fallback)
    assert row is not None and row["Status"] == "Stopped" and data_disk_ids(world, fallback) == disks
    spot_stock(world, False)  # the stock is gone again: the move already bought its replacement, so it finishes
    world.advance(30)
    (moved,) = [o for o in world.reconcile(payg_fallback=True) if o.status == "respotted"]
    world.advance(60)
    (only,) = running_named(world, "db-2")
    assert moved.record is not None and only["InstanceId"] == moved.record.new_instance_id != fallback
    assert only["SpotStrategy"] != "NoSpot" and data_disk_ids(world, only["InstanceId"]) == disks
