"""The engine against the emulator, checked through the official SDK: which instances exist, how."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from tests.functional.engine_support import VSW, World, live, tags_of


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def test_reclaim_replaces_the_instance_with_its_identity(world: World) -> None:
    old = world.launch()
    outcome = world.handle(world.interrupt(old))
    assert outcome.status == "replaced"
    new = world.instance(outcome.record.new_instance_id)
    assert new is not None and new["Status"] == "Running"
    assert new["InstanceName"] == "web-1" and new["HostName"] == "web-1"
    assert new["InstanceType"] == "ecs.c7.large"
    assert sorted(new["SecurityGroupIds"]["SecurityGroupId"]) == sorted(
        ["sg-bp1emu000000000web", "sg-bp1emu000000000ssh"]
    )
    assert new["VpcAttributes"]["VSwitchId"] == VSW[new["ZoneId"]]
    assert new["KeyPairName"] == "ops-key"
    assert new["SpotStrategy"] == "SpotAsPriceGo"
    tags = tags_of(new)
    assert tags["app"] == "web" and tags["aops:replaces"] == old
    assert tags["aops:lineage"] == old and tags["aops:generation"] == "1"
    record = outcome.record
    assert record.chosen.startswith("ecs.c7.large@cn-hangzhou-i") and "same type, same zone" in record.chosen_reason
    phases = [what for _, what in record.timeline]
    assert phases[0].startswith("image ") and record.finished_at
    assert any(("Available" in p or "Usable" in p) for p in phases)  # launched once the image was usable


def test_bandwidth_and_billing_are_copied_not_hard_coded(world: World) -> None:
    old = world.launch(bandwidth=7, eip=False)
    outcome = world.handle(world.interrupt(old))
    new = world.instance(outcome.record.new_instance_id)
    assert new["InternetMaxBandwidthOut"] == 7 and new["InternetChargeType"] == "PayByTraffic"


def _zones_with_stock_removed(world: World, itype: str) -> None:
    for zone in VSW:
        world.emu.control.stock(zone, itype, True, False)


def test_sold_out_in_the_original_zone_moves_to_another_zone_with_its_vswitch(world: World) -> None:
    old = world.launch(zone="cn-hangzhou-i")
    outcome = world.handle(world.interrupt(old, mark_sold_out=True))
    new = world.instance(outcome.record.new_instance_id)
    assert new["InstanceType"] == "ecs.c7.large"
    assert new["ZoneId"] != "cn-hangzhou-i"
    assert new["VpcAttributes"]["VSwitchId"] == VSW[new["ZoneId"]]
    assert new["VpcAttributes"]["VpcId"] == "vpc-bp1emu0000000000main"


def test_sold_out_everywhere_takes_an_equivalent_type_without_downgrade(world: World) -> None:
    old = world.launch(itype="ecs.c7.xlarge")
    _zones_with_stock_removed(world, "ecs.c7.xlarge")
    outcome = world.handle(world.interrupt(old))
    new = world.instance(outcome.record.new_instance_id)
    assert new["InstanceType"] != "ecs.c7.xlarge"
    assert new["Cpu"] >= 4 and new["Memory"] >= 8 * 1024
    assert new["InstanceName"] == "web-1"


def test_no_stock_at_launch_falls_through_to_the_next_candidate(world: World) -> None:
    """Stock vanishes between the read and RunInstances: the next candidate is launched."""
    old = world.launch(zone="cn-hangzhou-i")
    event = world.interrupt(old)
    state = {"done": False}

    def sleep(seconds: float) -> None:  # gather has finished before the first image poll sleeps
        if not state["done"]:
            world.emu.backend.set_stock("cn-hangzhou-i", "ecs.c7.large", True, False)
            state["done"] = True
        world.advance(seconds)

    from aliyun_ops import service
    from tests.functional.engine_support import CREDS, settings

    outcome = service.handle_event(
        event, settings=settings(world.emu), credentials=CREDS, sleep=sleep, clock=world.emu.clock.now
    )
    assert any("ecs.c7.large@cn-hangzhou-i" in t and "NoStock" in t for t in outcome.record.tried)
    new = world.instance(outcome.record.new_instance_id)
    assert (new["InstanceType"], new["ZoneId"]) != ("ecs.c7.large", "cn-hangzhou-i")


def test_redelivery_makes_exactly_one_image_and_one_instance(world: World) -> None:
    old = world.launch()
    event = world.interrupt(old)
    first = world.handle(event)
    second = world.handle(event)
    world.advance(400)  # the old instance is released by now
    third = world.handle(event)
    assert first.status == "replaced"
    assert second.status == "already-replaced" and third.status == "already-replaced"
    replacements = [i for i in live(world) if tags_of(i).get("aops:replaces") == old]
    assert [r["InstanceId"] for r in replacements] == [first.record.new_instance_id]
    images = [i for i in world.images() if old in i["ImageName"]]
    assert len(images) == 1


def test_the_elastic_ip_moves_to_the_replacement(world: World) -> None:
    old = world.launch(eip=True)
    address = next(e["IpAddress"] for e in world.eips() if e.get("InstanceId") == old)
    noticed = world.emu.clock.now()
    outcome = world.handle(world.interrupt(old))
    eip = next(e for e in world.eips() if e["IpAddress"] == address)
    assert eip["InstanceId"] == outcome.record.new_instance_id
    assert outcome.record.eip == address
    # The release comes 300 s after the notice; the address is asked onto the replacement within 2 s of it (the
    # cloud then takes its own Associating time), and the record says it arrived.
    asked = [
        c["time"] for c in world.emu.control.calls()
        if c["action"] == "AssociateEipAddress" and not c["code"] and c["time"] > noticed
    ]
    assert len(asked) == 1 and 300 <= asked[0] - noticed <= 302
    assert any(what.startswith(f"EIP {address} associated") for _, what in outcome.record.timeline)


def test_only_two_reads_before_create_image(world: World) -> None:
    """Every second before the image is a second less before the release: the instance and its disks, then it."""
    old = world.launch()
    event = world.interrupt(old)
    start = len(world.emu.control.calls())
    world.handle(event)
    actions = [c["action"] for c in world.emu.control.calls()[start:]]
    before = actions[: actions.index("CreateImage")]
    assert before == ["DescribeInstances", "DescribeDisks"]


def test_data_disks_are_kept_first_then_only_the_system_disk_is_snapshotted(world: World) -> None:
    old = world.launch(data_disks=[{"Category": "cloud_essd", "Size": 100}])
    event = world.interrupt(old)
    start = len(world.emu.control.calls())
    world.handle(event)
    calls = world.emu.control.calls()[start:]
    actions = [c["action"] for c in calls if c["code"] is None or c["code"] == ""]
    assert actions[:2] == ["DescribeInstances", "DescribeDisks"]
    assert actions[2] in ("CreateSnapshot", "ModifyDiskAttribute")  # side by side, the first writes
    gathering = min(actions.index(a) for a in ("DescribeUserData", "DescribeAvailableResource", "DescribeVSwitches"))
    assert actions.index("ModifyDiskAttribute") < gathering and actions.index("CreateSnapshot") < gathering
    assert "CreateImage" in actions


def test_housekeeping_keeps_the_two_newest_images_per_lineage(world: World) -> None:
    current = first = world.launch()
    for _ in range(3):
        outcome = world.handle(world.interrupt(current))
        current = outcome.record.new_instance_id
        world.advance(400)
    mine = [i for i in world.images() if tags_of(i).get("aops:lineage") == first]
    assert len(mine) == 3  # an incident spends its calls on the replacement: reconcile prunes
    world.reconcile()
    mine = [i for i in world.images() if tags_of(i).get("aops:lineage") == first]
    assert len(mine) == 2
    assert world.instance(current)["ImageId"] in {i["ImageId"] for i in mine}  # the one in use is kept
    assert all(i["Status"] == "Available" for i in mine)
    new = world.instance(current)
    assert tags_of(new)["aops:generation"] == "3"


def test_image_failure_without_a_lineage_image_fails_loudly_and_launches_nothing(world: World) -> None:
    """A public base image would be a blank server with the right name and IP: never launched."""
    from aliyun_ops import errors

    old = world.launch(system_disk="cloud_efficiency")  # no instant access: the image fails before it is usable
    world.emu.backend.fail_next_images(1)
    with pytest.raises(errors.ImageUnavailable, match="nothing was launched"):
        world.handle(world.interrupt(old))
    assert [i for i in world.instances() if tags_of(i).get("aops:replaces") == old] == []
    assert all(i["ImageId"] != "aliyun_3_x64_20G_alibase_20240819.vhd" or i["InstanceId"] == old
               for i in world.instances())


def test_image_failure_prefers_the_newest_lineage_image(world: World) -> None:
    old = world.launch(system_disk="cloud_efficiency")  # no instant access: the image fails before it is usable
    gen1 = world.handle(world.interrupt(old))
    world.advance(400)
    world.emu.backend.fail_next_images(1)
    gen2 = world.handle(world.interrupt(gen1.record.new_instance_id))
    assert gen2.record.image_source == "lineage-fallback"
    assert world.instance(gen2.record.new_instance_id)["ImageId"] == gen1.record.image_id


def test_a_deadline_too_short_for_the_image_raises_and_launches_nothing(world: World) -> None:
    from aliyun_ops import errors

    old = world.launch()
    event = world.interrupt(old)
    with pytest.raises(errors.ImageUnavailable):
        world.handle(event, deadline=world.emu.clock.now() + 20)
    assert [i for i in world.instances() if tags_of(i).get("aops:replaces") == old] == []


def test_no_candidate_launchable_raises_instead_of_succeeding(world: World) -> None:
    from aliyun_ops import errors

    old = world.launch()
    world.emu.control.faults(actions=["RunInstances"], error_rate=1.0, code="OperationDenied.NoStock", http_status=403)
    with pytest.raises(errors.ReplacementFailed):
        world.handle(world.interrupt(old))
    world.emu.control.clear_faults()
    assert not [i for i in live(world) if tags_of(i).get("aops:replaces") == old]


def test_reconcile_starts_a_spot_instance_a_reclaim_left_stopped(world: World) -> None:
    old = world.launch(behavior="Stop", eip=False)
    world.interrupt(old)
    world.advance(320)
    assert world.instance(old)["Status"] == "Stopped"
    outcomes = world.reconcile()
    assert [o.status for o in outcomes] == ["started"]
    world.advance(40)
    assert world.instance(old)["Status"] == "Running"


def test_reconcile_relaunches_a_lineage_lost_without_replacement(world: World) -> None:
    from aliyun_ops import errors

    old = world.launch(eip=False)
    event = world.interrupt(old)
    world.emu.control.faults(actions=["RunInstances"], error_rate=1.0, code="OperationDenied.NoStock", http_status=403)
    with pytest.raises(errors.ReplacementFailed):
        world.handle(event)
    world.emu.control.clear_faults()
    world.advance(400)
    assert world.instance(old) is None
    outcomes = world.reconcile()
    assert [o.status for o in outcomes] == ["recovered"]
    new = world.instance(outcomes[0].record.new_instance_id)
    assert new["InstanceName"] == "web-1" and tags_of(new)["aops:lineage"] == old


def test_a_notice_for_a_healthy_instance_changes_nothing(world: World) -> None:
    """A release notice the instance does not confirm (no Recycling lock: a test or a forged event) is
    re-checked for a while, then skipped: no image, no second instance, the EIP stays."""
    from aliyun_ops.cli.servers import sample_event

    old = world.launch(eip=True)
    address = next(e["IpAddress"] for e in world.eips() if e.get("InstanceId") == old)
    outcome = world.handle(sample_event("eventbridge", old, "cn-hangzhou"))
    assert outcome.status == "skipped" and "no Recycling lock" in outcome.message
    assert [i["InstanceId"] for i in live(world)] == [old] and world.images() == []
    assert next(e for e in world.eips() if e["IpAddress"] == address)["InstanceId"] == old


class Inbox:
    """A notifier that keeps what a person would receive."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []

    def incident_started(self, record: Any) -> None:
        self.messages.append(("started", record.instance_id, record.status))

    def incident_finished(self, record: Any) -> None:
        self.messages.append(("finished", record.instance_id, record.status))


def test_redeliveries_notify_once_and_a_failure_is_always_told(world: World) -> None:
    from aliyun_ops import service
    from aliyun_ops.errors import ReplacementFailed
    from tests.functional.engine_support import CREDS, settings

    inbox = Inbox()
    old = world.launch(eip=False)
    event = world.interrupt(old)
    for _ in range(3):  # FC's retries and EventBridge's at-least-once delivery
        service.handle_event(
            event, settings=settings(world.emu), credentials=CREDS, notifier=inbox,
            sleep=world.advance, clock=world.emu.clock.now,
        )  # fmt: skip
    assert inbox.messages == [("started", old, "started"), ("finished", old, "replaced")]

    other = world.launch(name="web-2", eip=False)
    world.emu.control.faults(actions=["RunInstances"], error_rate=1.0, code="OperationDenied.NoStock", http_status=403)
    with pytest.raises(ReplacementFailed):
        service.handle_event(
            world.interrupt(other), settings=settings(world.emu), credentials=CREDS, notifier=inbox,
            sleep=world.advance, clock=world.emu.clock.now,
        )  # fmt: skip
    assert inbox.messages[-2:] == [("started", other, "started"), ("finished", other, "failed")]


def _disks(world: World, iid: str) -> list[tuple[str, str, int, bool, str]]:
    body = world.ecs.describe_disks_with_options(
        ecs_models.DescribeDisksRequest(region_id="cn-hangzhou", instance_id=iid, disk_type="data"), world.rt
    ).body.to_map()
    rows = body["Disks"]["Disk"]
    return sorted((d["Device"], d["Category"], d["Size"], d["DeleteWithInstance"], d["PerformanceLevel"]) for d in rows)


def test_copy_mode_the_replacement_gets_the_data_disks_of_the_original_with_their_categories_and_sizes(
    world: World,
) -> None:
    """``aops:data=copy``: the data goes into a full image, as the old tool did."""
    # ESSD-series: instant access, but an image is Usable only once its disks' snapshots are done (256 MiB/s):
    # 40 + 20 + 5 GiB take 260 s, within the notice (190 GiB would take 760 s: no fresh image before the release)
    old = world.launch(tags={"aops:data": "copy"}, data_disks=[
        {"Category": "cloud_essd", "Size": 20, "PerformanceLevel": "PL1", "DeleteWithInstance": True},
        {"Category": "cloud_auto", "Size": 5, "DeleteWithInstance": False},
    ])
    before = _disks(world, old)
    outcome = world.handle(world.interrupt(old))
    assert outcome.status == "replaced"
    after = _disks(world, outcome.record.new_instance_id)
    assert after == before  # same devices, categories, sizes, release setting, performance level


def test_copy_mode_with_more_data_than_the_notice_can_image_fails_loudly_and_says_what_is_lost(world: World) -> None:
    """40 + 100 + 50 GiB take 760 s to snapshot at 256 MiB/s: the full image cannot be Usable before the release,
    and the release deletes the snapshots still being made ([docs] CreateSnapshot), so the image fails with it. The
    real cloud leaves no replacement here on a first reclaim: FC sees a failure, nothing blank is launched, the disk
    the user kept (DeleteWithInstance=false) outlives the release, and the user is told that the image dies at the
    release, which disk's data goes with it, and that move mode avoids it. Before this test the user was told only
    that reconcile would relaunch from the image, which the release fails."""
    from aliyun_ops import errors, service
    from tests.functional.engine_support import CREDS, Told, settings

    old = world.launch(tags={"aops:data": "copy"}, data_disks=[
        {"Category": "cloud_essd", "Size": 100, "PerformanceLevel": "PL1", "DeleteWithInstance": True},
        {"Category": "cloud_auto", "Size": 50, "DeleteWithInstance": False},
    ])
    rows = world.ecs.describe_disks_with_options(
        ecs_models.DescribeDisksRequest(region_id="cn-hangzhou", instance_id=old, disk_type="data"), world.rt
    ).body.to_map()["Disks"]["Disk"]
    (released,) = [d["DiskId"] for d in rows if d["DeleteWithInstance"]]
    (kept,) = [d["DiskId"] for d in rows if not d["DeleteWithInstance"]]
    told = Told()
    with pytest.raises(errors.ImageUnavailable):  # FC sees a failure (and alerts)
        service.handle_event(
            world.interrupt(old), settings=settings(world.emu), credentials=CREDS, notifier=told,  # type: ignore[arg-type]
            sleep=world.advance, clock=world.emu.clock.now,
        )
    (record,) = told.records
    assert record.status == "failed" and record.new_instance_id in (None, "")
    assert "copy mode" in record.reason and "150 GiB" in record.reason and "move mode" in record.reason
    assert f"the data of {released}" in record.reason and kept not in record.reason
    world.advance(400)  # past the release
    assert [i for i in world.instances() if tags_of(i).get("aops:replaces") == old] == []  # nothing blank
    (fresh,) = [i for i in world.images() if i["ImageId"] == record.image_id]
    assert fresh["Status"] == "CreateFailed"  # what the user was told: the release ended it
    left = world.ecs.describe_disks_with_options(
        ecs_models.DescribeDisksRequest(region_id="cn-hangzhou", disk_ids=f'["{kept}", "{released}"]'), world.rt
    ).body.to_map()["Disks"]["Disk"]
    assert [d["DiskId"] for d in left] == [kept]


def test_copy_mode_a_family_that_takes_only_essd_gets_the_nearest_category_for_a_data_disk(world: World) -> None:
    old = world.launch(tags={"aops:data": "copy"}, data_disks=[{"Category": "cloud_ssd", "Size": 20}])
    outcome = world.handle(world.interrupt(old), allow_families=("c8i",))
    new = world.instance(outcome.record.new_instance_id)
    assert new is not None and new["InstanceType"].startswith("ecs.c8i.")
    ((device, category, size, _, _),) = _disks(world, new["InstanceId"])
    assert (device, category, size) == ("/dev/xvdb", "cloud_essd", 20)


def test_an_address_still_associating_when_the_notice_comes_moves_to_the_replacement(world: World) -> None:
    """The instance listing does not show an EIP that is still Associating: the engine asks DescribeEipAddresses
    rather than take the listing's silence for "no address" (the demo at x20 met exactly this)."""
    from alibabacloud_vpc20160428 import models as vpc_models

    from tests.functional.engine_support import REGION

    old = world.launch(eip=False)
    alloc = world.vpc.allocate_eip_address_with_options(
        vpc_models.AllocateEipAddressRequest(region_id=REGION, bandwidth="5"), world.rt
    ).body.allocation_id
    world.vpc.associate_eip_address_with_options(
        vpc_models.AssociateEipAddressRequest(
            region_id=REGION, allocation_id=alloc, instance_id=old, instance_type="EcsInstance"
        ),
        world.rt,
    )
    event = world.interrupt(old)  # at once: the address is still Associating
    outcome = world.handle(event)
    assert outcome.status == "replaced"
    eip = next(e for e in world.eips() if e["AllocationId"] == alloc)
    assert eip["InstanceId"] == outcome.record.new_instance_id and eip["Status"] == "InUse"
