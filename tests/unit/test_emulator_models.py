"""The emulator's resource rules at model level: no HTTP, a manual clock, the response functions
called through ``REGISTRY`` exactly as the server calls them."""

from __future__ import annotations

from typing import Any

import pytest

import aliyun_ops.emulator.responses  # noqa: F401  (registers the actions)
from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.core import REGISTRY, Clock, EmulatorError

IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"
VSW_G = "vsw-bp1emu00000000000g"
SG = "sg-bp1emu000000000web"


@pytest.fixture
def backend() -> Backend:
    return Backend(Clock(time_scale=0.0, start=1_750_000_000.0))


def call(b: Backend, action: str, product: str = "ecs", **params: Any) -> dict[str, Any]:
    flat = {"RegionId": "cn-hangzhou", **{k.replace("__", "."): str(v) for k, v in params.items()}}
    return REGISTRY[(product, action)](b, flat)


def run(b: Backend, **extra: Any) -> str:
    params = {"ImageId": IMAGE, "InstanceType": "ecs.c7.xlarge", "VSwitchId": VSW_G, "SecurityGroupId": SG, **extra}
    return str(call(b, "RunInstances", **params)["InstanceIdSets"]["InstanceIdSet"][0])


def status(b: Backend, iid: str) -> str:
    return str(call(b, "DescribeInstanceAttribute", InstanceId=iid)["Status"])


def test_client_token_returns_the_same_instance_and_refuses_other_parameters(backend: Backend) -> None:
    first = run(backend, ClientToken="tok-1")
    with pytest.raises(exc.IdempotentProcessing):  # the first request is still being processed
        run(backend, ClientToken="tok-1")
    backend.clock.advance(5)
    assert run(backend, ClientToken="tok-1") == first
    assert len(backend.instances.items) == 1
    with pytest.raises(exc.IdempotentParameterMismatch):
        run(backend, ClientToken="tok-1", InstanceName="other")


def test_dry_run_passes_or_reports_the_real_error_and_creates_nothing(backend: Backend) -> None:
    with pytest.raises(exc.DryRunOperation):
        run(backend, DryRun="true")
    with pytest.raises(exc.InvalidImageIdNotFound):
        run(backend, DryRun="True", ImageId="m-missing")
    assert backend.instances.items == {}


def test_counted_stock_decrements_then_no_stock(backend: Backend) -> None:
    backend.set_stock("cn-hangzhou-g", "ecs.c7.xlarge", True, 1)
    run(backend, SpotStrategy="SpotAsPriceGo")
    with pytest.raises(exc.NoStock) as err:
        run(backend, SpotStrategy="SpotAsPriceGo")
    assert err.value.http_status == 403
    run(backend)  # pay-as-you-go stock is separate


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"ZoneId": "cn-hangzhou-h"}, exc.InvalidVSwitchIdMismatch),
        ({"SecurityGroupIds__1": SG}, exc.InvalidParameterConflict),
        ({"InstanceType": "ecs.nope.large"}, exc.InvalidInstanceType),
        ({"InstanceType": "ecs.g8i.large", "SystemDisk__Category": "cloud_efficiency"}, exc.InvalidSystemDiskCategory),
        ({"InstanceType": "ecs.g8y.large"}, exc.ImageNotSupportInstanceType),
        ({"SpotStrategy": "SpotWithPriceLimit", "SpotPriceLimit": "0.001"}, exc.SpotPriceLimitTooLow),
        ({"SystemDisk__Size": "10"}, exc.SystemDiskLessThanImage),
        ({"PrivateIpAddress": "10.0.0.5"}, exc.InvalidPrivateIpMismatch),
    ],
)
def test_run_instances_refuses_invalid_requests(backend: Backend, extra: dict[str, str], error: type) -> None:
    with pytest.raises(error):
        run(backend, **extra)
    assert backend.instances.items == {}


def test_image_must_be_available(backend: Backend) -> None:
    iid = run(backend)
    backend.clock.advance(30)
    image_id = call(backend, "CreateImage", InstanceId=iid, ImageName="building")["ImageId"]
    with pytest.raises(exc.IncorrectImageStatus):
        run(backend, ImageId=image_id)


def test_lifecycle_follows_the_clock_and_emits_state_changes(backend: Backend) -> None:
    events: list[str] = []
    backend.add_listener(lambda kind, data: events.append(data["state"]))
    iid = run(backend, InternetMaxBandwidthOut="5")
    assert status(backend, iid) == "Pending"
    backend.clock.advance(2)
    assert status(backend, iid) == "Starting"
    backend.clock.advance(25)
    assert status(backend, iid) == "Running"
    with pytest.raises(exc.IncorrectInstanceStatus):
        call(backend, "DeleteInstance", InstanceId=iid)
    call(backend, "StopInstance", InstanceId=iid, StoppedMode="StopCharging")
    backend.clock.advance(5)
    attr = call(backend, "DescribeInstanceAttribute", InstanceId=iid)
    assert (attr["Status"], attr["StoppedMode"]) == ("Stopped", "StopCharging")
    assert attr["PublicIpAddress"]["IpAddress"]
    assert attr["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0].startswith("172.16.1.")
    call(backend, "DeleteInstance", InstanceId=iid)
    assert events == ["Pending", "Starting", "Running", "Stopping", "Stopped", "Deleted"]
    with pytest.raises(exc.InvalidInstanceIdNotFound):
        status(backend, iid)


def test_interrupt_releases_the_instance_frees_its_eip_and_can_sell_out(backend: Backend) -> None:
    iid = run(backend, SpotStrategy="SpotAsPriceGo")
    backend.clock.advance(30)
    alloc = call(backend, "AllocateEipAddress", "vpc")["AllocationId"]
    call(backend, "AssociateEipAddress", "vpc", AllocationId=alloc, InstanceId=iid)
    event = backend.interrupt(iid, notice_seconds=300, mark_sold_out=True)
    assert (event["instanceId"], event["action"]) == (iid, "delete")
    locks = call(backend, "DescribeInstances")["Instances"]["Instance"][0]["OperationLocks"]["LockReason"]
    assert locks == [{"LockReason": "Recycling"}]
    with pytest.raises(exc.NoStock):
        run(backend, SpotStrategy="SpotAsPriceGo")
    backend.clock.advance(300)
    assert call(backend, "DescribeInstances")["TotalCount"] == 0
    eip = call(backend, "DescribeEipAddresses", "vpc")["EipAddresses"]["EipAddress"][0]
    assert (eip["Status"], eip["InstanceId"]) == ("Available", "")


def test_interrupt_with_stop_behaviour_keeps_the_instance_stopped(backend: Backend) -> None:
    iid = run(backend, SpotStrategy="SpotAsPriceGo", SpotInterruptionBehavior="Stop")
    backend.clock.advance(30)
    backend.interrupt(iid, notice_seconds=60)
    backend.clock.advance(60)
    attr = call(backend, "DescribeInstanceAttribute", InstanceId=iid)
    assert (attr["Status"], attr["StoppedMode"]) == ("Stopped", "StopCharging")


def test_interrupt_refuses_a_pay_as_you_go_instance(backend: Backend) -> None:
    iid = run(backend)
    with pytest.raises(EmulatorError):
        backend.interrupt(iid)


def test_image_build_time_grows_with_disk_size_and_can_fail(backend: Backend) -> None:
    small = run(backend)
    big = run(backend, DataDisk__1__Size="200", DataDisk__1__Category="cloud_essd")
    backend.clock.advance(30)
    small_img = call(backend, "CreateImage", InstanceId=small, ImageName="small")["ImageId"]
    big_img = call(backend, "CreateImage", InstanceId=big, ImageName="big")["ImageId"]
    speed = backend.realism.snapshot
    assert speed is not None
    base = backend.timing("imageBaseSeconds")
    # first images of their disks: each disk copied whole at the scenario's full snapshot speed
    small_build = base + speed.seconds(40, snapshotted_before=False)  # the 40 GiB system disk
    big_build = small_build + speed.seconds(200, snapshotted_before=False)  # and the 200 GiB data disk

    def mine() -> dict[str, dict[str, Any]]:
        rows = call(backend, "DescribeImages", Status="Creating,Available")["Images"]["Image"]
        return {i["ImageId"]: i for i in rows}

    backend.clock.advance(small_build - 1)
    assert mine()[small_img]["Status"] == "Creating"
    backend.clock.advance(1)
    assert mine()[small_img]["Status"] == "Available" and mine()[small_img]["Progress"] == "100%"
    assert mine()[big_img]["Status"] == "Creating"
    assert mine()[big_img]["Progress"] == f"{int(small_build / big_build * 100)}%"  # 190 s of 990 s: 19%
    backend.clock.advance(big_build - small_build)
    assert mine()[big_img]["Status"] == "Available"
    backend.fail_next_images(1)
    failed = call(backend, "CreateImage", InstanceId=small, ImageName="doomed")["ImageId"]
    backend.clock.advance(100)
    row = call(backend, "DescribeImages", ImageId=failed, Status="CreateFailed")["Images"]["Image"]
    assert [r["ImageId"] for r in row] == [failed]


def test_create_image_rules(backend: Backend) -> None:
    iid = run(backend)
    backend.clock.advance(30)
    first = call(backend, "CreateImage", InstanceId=iid, ImageName="keep", ClientToken="c1")["ImageId"]
    assert call(backend, "CreateImage", InstanceId=iid, ImageName="keep", ClientToken="c1")["ImageId"] == first
    with pytest.raises(exc.InvalidImageNameDuplicated):
        call(backend, "CreateImage", InstanceId=iid, ImageName="keep")
    with pytest.raises(exc.InvalidImageNameMalformed):
        call(backend, "CreateImage", InstanceId=iid, ImageName="1-starts-with-a-digit")


def test_eip_rules(backend: Backend) -> None:
    iid = run(backend)
    backend.clock.advance(30)
    a = call(backend, "AllocateEipAddress", "vpc")["AllocationId"]
    b = call(backend, "AllocateEipAddress", "vpc")["AllocationId"]
    transition = backend.realism.eip_transition

    def seen() -> tuple[str, str]:
        """The EIP's status and the allocation the instance shows."""
        [row] = call(backend, "DescribeEipAddresses", "vpc", AllocationId=a)["EipAddresses"]["EipAddress"]
        [inst] = call(backend, "DescribeInstances")["Instances"]["Instance"]
        return row["Status"], inst["EipAddress"]["AllocationId"]

    call(backend, "AssociateEipAddress", "vpc", AllocationId=a, InstanceId=iid)
    assert seen() == ("Associating", "")
    with pytest.raises(exc.EipAssociationDuplicated):  # already taken while still Associating
        call(backend, "AssociateEipAddress", "vpc", AllocationId=b, InstanceId=iid)
    with pytest.raises(exc.IncorrectEipStatus):
        call(backend, "UnassociateEipAddress", "vpc", AllocationId=a, InstanceId=iid)
    backend.clock.advance(transition)
    assert seen() == ("InUse", a)
    with pytest.raises(exc.EipAssociationDuplicated):
        call(backend, "AssociateEipAddress", "vpc", AllocationId=b, InstanceId=iid)
    with pytest.raises(exc.IncorrectEipStatus):
        call(backend, "ReleaseEipAddress", "vpc", AllocationId=a)
    call(backend, "UnassociateEipAddress", "vpc", AllocationId=a, InstanceId=iid)
    assert seen() == ("Unassociating", a)
    with pytest.raises(exc.IncorrectEipStatus):
        call(backend, "ReleaseEipAddress", "vpc", AllocationId=a)
    backend.clock.advance(transition)
    assert seen() == ("Available", "")
    call(backend, "ReleaseEipAddress", "vpc", AllocationId=a)
    with pytest.raises(exc.InvalidAllocationIdNotFound):
        call(backend, "ReleaseEipAddress", "vpc", AllocationId=a)


def test_spot_prices_differ_by_zone_and_set_prices_appends(backend: Backend) -> None:
    cat = backend.catalogue
    prices = {z: cat.spot_price(z, "ecs.c7.large") for z in cat.zone_ids("cn-hangzhou")}
    assert len(set(prices.values())) == len(prices)
    assert all(0.05 < p / cat.origin_price(z, "ecs.c7.large") < 0.35 for z, p in prices.items())
    backend.set_prices([{"zoneId": "cn-hangzhou-g", "instanceType": "ecs.c7.large", "spotPrice": 0.3}])
    rows = call(
        backend, "DescribeSpotPriceHistory", NetworkType="vpc", InstanceType="ecs.c7.large", ZoneId="cn-hangzhou-g"
    )
    assert rows["SpotPrices"]["SpotPriceType"][-1]["SpotPrice"] == 0.3
    assert len(rows["SpotPrices"]["SpotPriceType"]) == 4


def test_reset_drops_state_and_pending_timers(backend: Backend) -> None:
    iid = run(backend)
    backend.reset()
    backend.clock.advance(60)
    assert backend.instances.items == {}
    with pytest.raises(exc.InvalidInstanceIdNotFound):
        status(backend, iid)


def test_reserved_tag_prefixes_are_refused_when_written_like_the_cloud_does() -> None:
    import pytest

    from aliyun_ops.emulator import exceptions as exc
    from aliyun_ops.emulator.params import get_tags

    for key in ("aliyun-ops:managed", "Aliyun:x", "acs:owner", "see https://x"):
        with pytest.raises(exc.InvalidTagKey):
            get_tags({"Tag.1.Key": key, "Tag.1.Value": "v"}, writing=True)
    assert get_tags({"Tag.1.Key": "aops:managed", "Tag.1.Value": "false"}, writing=True) == [("aops:managed", "false")]


def test_fail_next_snapshots_ends_the_next_snapshot_failed_and_it_makes_no_image(backend: Backend) -> None:
    iid = run(backend)
    backend.clock.advance(30)
    system = next(d for d in backend.disks.items.values() if d.instance_id == iid and d.kind == "system")
    backend.fail_next_snapshots(1)
    doomed = call(backend, "CreateSnapshot", DiskId=system.disk_id, SnapshotName="doomed")["SnapshotId"]
    backend.clock.advance(3600)
    (row,) = call(backend, "DescribeSnapshots", SnapshotIds=f'["{doomed}"]')["Snapshots"]["Snapshot"]
    assert row["Status"] == "failed"
    with pytest.raises(EmulatorError):  # an image needs an accomplished snapshot
        call(backend, "CreateImage", SnapshotId=doomed, ImageName="from-doomed")
    again = call(backend, "CreateSnapshot", DiskId=system.disk_id, SnapshotName="again")["SnapshotId"]
    backend.clock.advance(3600)
    (row,) = call(backend, "DescribeSnapshots", SnapshotIds=f'["{again}"]')["Snapshots"]["Snapshot"]
    assert row["Status"] == "accomplished"  # only the next one failed
