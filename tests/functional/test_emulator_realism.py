"""The emulator's ``realism`` section, driven through the official SDK clients: each behaviour is seen by a
client when its key is on, and not when the key is absent. The default scenario turns them all on, so every
test starts from a scenario with each behaviour off and turns on only the one it shows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from alibabacloud_ecs20140526 import models as m
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_vpc20160428 import models as vm

from aliyun_ops.emulator import Emulator

R = "cn-hangzhou"
PUBLIC_IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"
VSW_H = "vsw-bp1emu00000000000h"
SGS = ["sg-bp1emu000000000web", "sg-bp1emu000000000ssh"]
ALL_STATUSES = "Creating,Available,CreateFailed"
T = TypeVar("T")


def reset(emulator: Emulator, **realism: Any) -> None:
    """A fresh default scenario whose realism section holds exactly these keys (the others off)."""
    emulator.control.reset({"realism": realism})


@pytest.fixture(autouse=True)
def _realism_off(emulator: Emulator) -> None:
    """Every test starts with each behaviour off, whatever the default scenario turns on."""
    reset(emulator)


def refused(fn: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(AlibabaCloudException) as err:
        fn()
    return str(err.value.code), int(err.value.status_code)


def launch(ecs: Any, **extra: Any) -> str:
    settings = {"image_id": PUBLIC_IMAGE, "instance_type": "ecs.c7.large", "zone_id": "cn-hangzhou-h", **extra}
    req = m.RunInstancesRequest(region_id=R, v_switch_id=VSW_H, security_group_ids=SGS, **settings)
    return str(ecs.run_instances(req).body.instance_id_sets.instance_id_set[0])


def running(emulator: Emulator, ecs: Any, **extra: Any) -> str:
    iid = launch(ecs, **extra)
    emulator.clock.advance(30)
    return iid


def tagged(ecs: Any, key: str, value: str) -> list[str]:
    req = m.DescribeInstancesRequest(region_id=R, tag=[m.DescribeInstancesRequestTag(key=key, value=value)])
    return [i.instance_id for i in ecs.describe_instances(req).body.instances.instance]


def instance(ecs: Any, iid: str) -> Any:
    req = m.DescribeInstancesRequest(region_id=R, instance_ids=f'["{iid}"]')
    [found] = ecs.describe_instances(req).body.instances.instance
    return found


def create_image(ecs: Any, iid: str) -> str:
    req = m.CreateImageRequest(region_id=R, instance_id=iid, image_name=f"img-{uuid.uuid4().hex[:8]}")
    return str(ecs.create_image(req).body.image_id)


def images(ecs: Any, image_id: str) -> list[Any]:
    req = m.DescribeImagesRequest(region_id=R, image_id=image_id, status=ALL_STATUSES)
    return list(ecs.describe_images(req).body.images.image)


def image(ecs: Any, image_id: str) -> Any:
    [found] = images(ecs, image_id)
    return found


def disks(ecs: Any, iid: str) -> list[tuple[str, str, int, str, bool]]:
    req = m.DescribeDisksRequest(region_id=R, instance_id=iid)
    found = ecs.describe_disks(req).body.disks.disk
    return sorted((d.type, d.device, d.size, d.category, d.delete_with_instance) for d in found)


def retried(fn: Callable[[], T]) -> T:
    """Call until the transient refusals let it through."""
    for _ in range(50):
        try:
            return fn()
        except AlibabaCloudException:
            continue
    raise AssertionError("still refused after 50 tries")


# ---- 1. eventual consistency
def test_tag_filters_see_a_launch_and_a_tag_change_only_after_the_index_lag(
    emulator: Emulator, ecs_client: Any
) -> None:
    reset(emulator, tagIndexLagSeconds=30)
    iid = launch(ecs_client, tag=[m.RunInstancesRequestTag(key="team", value="ops")])
    assert tagged(ecs_client, "team", "ops") == []
    assert [(t.tag_key, t.tag_value) for t in instance(ecs_client, iid).tags.tag] == [("team", "ops")]
    emulator.clock.advance(29)
    assert tagged(ecs_client, "team", "ops") == []
    emulator.clock.advance(2)
    assert tagged(ecs_client, "team", "ops") == [iid]

    env = [m.TagResourcesRequestTag(key="env", value="prod")]
    tag = m.TagResourcesRequest(region_id=R, resource_type="instance", resource_id=[iid], tag=env)
    ecs_client.tag_resources(tag)
    assert tagged(ecs_client, "env", "prod") == []
    emulator.clock.advance(31)
    assert tagged(ecs_client, "env", "prod") == [iid]

    untag = m.UntagResourcesRequest(region_id=R, resource_type="instance", resource_id=[iid], tag_key=["env"])
    ecs_client.untag_resources(untag)
    assert tagged(ecs_client, "env", "prod") == [iid]  # the removed tag still matches for the lag
    emulator.clock.advance(31)
    assert tagged(ecs_client, "env", "prod") == []


def test_tag_filters_see_a_launch_at_once_without_the_lag(emulator: Emulator, ecs_client: Any) -> None:
    iid = launch(ecs_client, tag=[m.RunInstancesRequestTag(key="team", value="ops")])
    assert tagged(ecs_client, "team", "ops") == [iid]


@pytest.mark.parametrize("lag", [20, None])
def test_a_new_image_is_missing_from_describe_images_for_the_list_lag(
    emulator: Emulator, ecs_client: Any, lag: int | None
) -> None:
    reset(emulator, **({} if lag is None else {"imageListLagSeconds": lag}))
    image_id = create_image(ecs_client, running(emulator, ecs_client))
    if lag is not None:
        assert images(ecs_client, image_id) == []
        own = m.DescribeImagesRequest(region_id=R, image_owner_alias="self", status=ALL_STATUSES)
        assert ecs_client.describe_images(own).body.total_count == 0
        emulator.clock.advance(lag + 1)
    assert image(ecs_client, image_id).status == "Creating"


# ---- 2. Usable and instant access
def test_an_essd_image_is_usable_while_creating_with_instant_access(emulator: Emulator, ecs_client: Any) -> None:
    reset(emulator, instantAccessSeconds=10)
    public = m.DescribeImagesRequest(region_id=R, image_id=PUBLIC_IMAGE)
    assert ecs_client.describe_images(public).body.images.image[0].usable is True
    essd_source = launch(ecs_client, system_disk=m.RunInstancesRequestSystemDisk(category="cloud_essd"))
    mixed_source = launch(ecs_client, data_disk=[m.RunInstancesRequestDataDisk(category="cloud_efficiency", size=20)])
    emulator.clock.advance(30)
    essd, mixed = create_image(ecs_client, essd_source), create_image(ecs_client, mixed_source)
    assert (image(ecs_client, essd).status, image(ecs_client, essd).usable) == ("Creating", False)
    emulator.clock.advance(11)
    # instant access's moment is past, but not the snapshot of its 40 GiB disk (1 s/GiB here): no image before it
    assert (image(ecs_client, essd).status, image(ecs_client, essd).usable) == ("Creating", False)
    emulator.clock.advance(30)
    assert (image(ecs_client, essd).status, image(ecs_client, essd).usable) == ("Creating", True)
    assert image(ecs_client, mixed).usable is False
    launched = launch(ecs_client, image_id=essd)
    assert instance(ecs_client, launched).image_id == essd
    assert refused(lambda: launch(ecs_client, image_id=mixed)) == ("IncorrectImageStatus", 400)
    emulator.clock.advance(200)
    assert (image(ecs_client, mixed).status, image(ecs_client, mixed).usable) == ("Available", True)
    launch(ecs_client, image_id=mixed)


def test_without_instant_access_an_image_is_usable_only_when_available(emulator: Emulator, ecs_client: Any) -> None:
    essd = create_image(
        ecs_client, running(emulator, ecs_client, system_disk=m.RunInstancesRequestSystemDisk(category="cloud_essd"))
    )
    emulator.clock.advance(11)
    assert (image(ecs_client, essd).status, image(ecs_client, essd).usable) == ("Creating", False)
    assert refused(lambda: launch(ecs_client, image_id=essd)) == ("IncorrectImageStatus", 400)
    emulator.clock.advance(200)
    assert image(ecs_client, essd).usable is True
    launch(ecs_client, image_id=essd)


# ---- 3. EIP transitions
def _eip_status(vpc: Any, alloc: str) -> str:
    req = vm.DescribeEipAddressesRequest(region_id=R, allocation_id=alloc)
    return str(vpc.describe_eip_addresses(req).body.eip_addresses.eip_address[0].status)


def test_an_eip_passes_through_associating_and_unassociating(
    emulator: Emulator, ecs_client: Any, vpc_client: Any
) -> None:
    reset(emulator, eipTransitionSeconds=5)
    iid = running(emulator, ecs_client)
    other = running(emulator, ecs_client)
    made = vpc_client.allocate_eip_address(vm.AllocateEipAddressRequest(region_id=R)).body
    alloc, ip = made.allocation_id, made.eip_address

    def associate(target: str) -> Any:
        return vpc_client.associate_eip_address(
            vm.AssociateEipAddressRequest(region_id=R, allocation_id=alloc, instance_id=target)
        )

    def unassociate() -> Any:
        return vpc_client.unassociate_eip_address(
            vm.UnassociateEipAddressRequest(region_id=R, allocation_id=alloc, instance_id=iid)
        )

    associate(iid)
    seen = [(_eip_status(vpc_client, alloc), instance(ecs_client, iid).eip_address.ip_address)]
    assert refused(lambda: associate(other)) == ("IncorrectEipStatus", 400)
    assert refused(unassociate) == ("IncorrectEipStatus", 400)
    emulator.clock.advance(6)
    seen.append((_eip_status(vpc_client, alloc), instance(ecs_client, iid).eip_address.ip_address))
    unassociate()
    seen.append((_eip_status(vpc_client, alloc), instance(ecs_client, iid).eip_address.ip_address))
    assert refused(unassociate) == ("IncorrectEipStatus", 400)
    emulator.clock.advance(6)
    seen.append((_eip_status(vpc_client, alloc), instance(ecs_client, iid).eip_address.ip_address))
    assert seen == [("Associating", ""), ("InUse", ip), ("Unassociating", ip), ("Available", "")]


def test_an_eip_association_is_immediate_without_the_transition(
    emulator: Emulator, ecs_client: Any, vpc_client: Any
) -> None:
    iid = running(emulator, ecs_client)
    alloc = vpc_client.allocate_eip_address(vm.AllocateEipAddressRequest(region_id=R)).body.allocation_id
    vpc_client.associate_eip_address(vm.AssociateEipAddressRequest(region_id=R, allocation_id=alloc, instance_id=iid))
    assert _eip_status(vpc_client, alloc) == "InUse"
    vpc_client.unassociate_eip_address(vm.UnassociateEipAddressRequest(region_id=R, allocation_id=alloc))
    assert _eip_status(vpc_client, alloc) == "Available"


# ---- 4. transient refusals
CODES = ["Throttling", "Throttling.User", "Throttling.Api", "Rejected.Throttling", "ServiceUnavailable"]


@pytest.fixture
def bare_ecs(sdk_config: Callable[..., Any]) -> Any:
    """The official ECS client as is: unlike ``ecs_client`` (tests/harness.py) it does not repeat a
    transiently refused call, so these tests see every refusal."""
    return EcsClient(sdk_config())


def _outcomes(ecs: Any, calls: int) -> list[tuple[str, int] | None]:
    out: list[tuple[str, int] | None] = []
    for _ in range(calls):
        try:
            ecs.describe_regions(m.DescribeRegionsRequest())
            out.append(None)
        except AlibabaCloudException as err:
            out.append((str(err.code), int(err.status_code)))
    return out


def test_a_share_of_calls_is_refused_transiently_the_same_way_for_a_seed(emulator: Emulator, bare_ecs: Any) -> None:
    scenario = {"transientErrors": {"rate": 0.25, "seed": 7, "codes": CODES}}
    reset(emulator, **scenario)  # only this behaviour on, its sequence from the start
    first = _outcomes(bare_ecs, 200)
    errors = [o for o in first if o is not None]
    assert 30 <= len(errors) <= 70  # 25% of 200, within about 3 standard deviations
    assert {code for code, _ in errors} <= set(CODES) and len({code for code, _ in errors}) >= 3
    # Throttling is answered 403 (the CreateSnapshot reference's error table); the other throttling codes 400
    assert all(status == {"ServiceUnavailable": 503, "Throttling": 403}.get(code, 400) for code, status in errors)
    emulator.control.clear_faults()  # the fault rules' reset leaves the scenario's refusals in place
    assert any(o is not None for o in _outcomes(bare_ecs, 40))
    reset(emulator, **scenario)  # a scenario reset starts the seeded sequence again
    assert _outcomes(bare_ecs, 200) == first
    reset(emulator)
    assert _outcomes(bare_ecs, 40) == [None] * 40


def test_a_transiently_refused_launch_has_no_effect(emulator: Emulator, bare_ecs: Any) -> None:
    reset(emulator, transientErrors={"rate": 0.5, "seed": 3, "codes": ["Throttling.User"]})  # only this on
    launched = 0
    for _ in range(20):
        try:
            launch(bare_ecs)
            launched += 1
        except AlibabaCloudException as err:
            assert (err.code, err.status_code) == ("Throttling.User", 400)
    assert 0 < launched < 20
    total = retried(lambda: bare_ecs.describe_instances(m.DescribeInstancesRequest(region_id=R)).body.total_count)
    assert total == launched


@pytest.mark.parametrize("rate", [0.5, None])
def test_create_image_on_a_running_instance_is_sometimes_busy(
    emulator: Emulator, ecs_client: Any, rate: float | None
) -> None:
    reset(emulator, **({} if rate is None else {"createImageBusyRate": rate}))
    iid = running(emulator, ecs_client)
    made, busy = 0, 0
    for _ in range(20):
        try:
            create_image(ecs_client, iid)
            made += 1
        except AlibabaCloudException as err:
            assert (err.code, err.status_code) == ("IncorrectInstanceStatus", 403)
            busy += 1
    own = m.DescribeImagesRequest(region_id=R, image_owner_alias="self", status=ALL_STATUSES, page_size=50)
    assert ecs_client.describe_images(own).body.total_count == made
    assert (busy > 0) == (rate is not None) and made > 0
    ecs_client.stop_instance(m.StopInstanceRequest(instance_id=iid))
    emulator.clock.advance(10)
    for _ in range(5):  # a Stopped instance is never busy
        create_image(ecs_client, iid)


# ---- 5. an image whose source is released
@pytest.mark.parametrize("outcome", ["fail", None])
def test_an_image_creating_when_its_source_is_released(
    emulator: Emulator, ecs_client: Any, outcome: str | None
) -> None:
    reset(emulator, **({} if outcome is None else {"imageSourceReleased": outcome}))
    deleted = launch(ecs_client)
    reclaimed = launch(ecs_client, spot_strategy="SpotAsPriceGo", instance_type="ecs.c6.large")
    emulator.clock.advance(30)
    by_delete, by_reclaim = create_image(ecs_client, deleted), create_image(ecs_client, reclaimed)
    ecs_client.delete_instance(m.DeleteInstanceRequest(instance_id=deleted, force=True))
    emulator.control.interrupt(reclaimed, notice_seconds=5)
    emulator.clock.advance(6)
    expected = "CreateFailed" if outcome == "fail" else "Creating"
    assert (image(ecs_client, by_delete).status, image(ecs_client, by_reclaim).status) == (expected, expected)
    emulator.clock.advance(300)
    expected = "CreateFailed" if outcome == "fail" else "Available"
    assert (image(ecs_client, by_delete).status, image(ecs_client, by_reclaim).status) == (expected, expected)


# ---- 6. data disks in images
def _image_with_data_disks(emulator: Emulator, ecs: Any) -> tuple[str, dict[str, str]]:
    source = running(
        emulator,
        ecs,
        data_disk=[
            m.RunInstancesRequestDataDisk(category="cloud_essd", size=100),
            m.RunInstancesRequestDataDisk(category="cloud_essd", size=50, delete_with_instance=False),
        ],
    )
    image_id = create_image(ecs, source)
    emulator.clock.advance(300)
    mappings = image(ecs, image_id).disk_device_mappings.disk_device_mapping
    return image_id, {d.device: d.snapshot_id for d in mappings if d.type == "data"}


def test_a_launch_from_an_image_gets_its_data_disks(emulator: Emulator, ecs_client: Any) -> None:
    image_id, snapshots = _image_with_data_disks(emulator, ecs_client)
    assert sorted(snapshots) == ["/dev/xvdb", "/dev/xvdc"]
    plain = launch(ecs_client, image_id=image_id)
    assert disks(ecs_client, plain) == [
        ("data", "/dev/xvdb", 100, "cloud_efficiency", True),
        ("data", "/dev/xvdc", 50, "cloud_efficiency", True),
        ("system", "/dev/xvda", 40, "cloud_essd", True),
    ]
    found = ecs_client.describe_disks(m.DescribeDisksRequest(region_id=R, instance_id=plain, disk_type="data"))
    assert {d.device: d.source_snapshot_id for d in found.body.disks.disk} == snapshots
    overridden = launch(
        ecs_client,
        image_id=image_id,
        data_disk=[
            m.RunInstancesRequestDataDisk(
                device="/dev/xvdc", category="cloud_essd", size=80, delete_with_instance=False
            ),
            m.RunInstancesRequestDataDisk(category="cloud_ssd", size=30),
        ],
    )
    assert disks(ecs_client, overridden) == [
        ("data", "/dev/xvdb", 100, "cloud_efficiency", True),
        ("data", "/dev/xvdc", 80, "cloud_essd", False),
        ("data", "/dev/xvdd", 30, "cloud_ssd", True),
        ("system", "/dev/xvda", 40, "cloud_essd", True),
    ]


def test_a_launch_from_an_image_refuses_data_disks_the_type_cannot_have(emulator: Emulator, ecs_client: Any) -> None:
    image_id, _ = _image_with_data_disks(emulator, ecs_client)
    g8i = {"image_id": image_id, "instance_type": "ecs.g8i.large"}  # ESSD only: the default category is refused
    assert refused(lambda: launch(ecs_client, **g8i)) == ("InvalidDataDiskCategory.ValueNotSupported", 400)
    smaller = [m.RunInstancesRequestDataDisk(device="/dev/xvdb", size=10)]
    assert refused(lambda: launch(ecs_client, image_id=image_id, data_disk=smaller)) == (
        "InvalidDiskSize.TooSmall",
        403,
    )
    unknown = [m.RunInstancesRequestDataDisk(device="/dev/xvdq", size=10)]
    assert refused(lambda: launch(ecs_client, image_id=image_id, data_disk=unknown)) == (
        "InvalidDataDevice.Malformed",
        400,
    )
    essd = [m.RunInstancesRequestDataDisk(device=d, category="cloud_essd") for d in ("/dev/xvdb", "/dev/xvdc")]
    iid = launch(ecs_client, data_disk=essd, **g8i)
    assert [(d[1], d[3]) for d in disks(ecs_client, iid) if d[0] == "data"] == [
        ("/dev/xvdb", "cloud_essd"),
        ("/dev/xvdc", "cloud_essd"),
    ]


# ---- 7. PasswordInherit
def test_password_inherit_needs_an_image_with_a_password(emulator: Emulator, ecs_client: Any) -> None:
    reset(emulator, passwordInheritCheck=True)
    inherit = {"password_inherit": True}
    assert refused(lambda: launch(ecs_client, **inherit)) == ("InvalidParameter", 400)
    with_password = create_image(ecs_client, running(emulator, ecs_client, password="Passw0rd!x"))
    with_key = create_image(ecs_client, running(emulator, ecs_client, key_pair_name="ops-key"))
    emulator.clock.advance(300)
    assert refused(lambda: launch(ecs_client, image_id=with_key, **inherit)) == ("InvalidParameter", 400)
    both = {"image_id": with_password, "password": "Passw0rd!y", **inherit}
    assert refused(lambda: launch(ecs_client, **both)) == ("InvalidPasswordParam.Mismatch", 400)
    iid = launch(ecs_client, image_id=with_password, **inherit)
    emulator.clock.advance(30)
    again = create_image(ecs_client, iid)  # an image of an inheriting instance has the password too
    emulator.clock.advance(300)
    launch(ecs_client, image_id=again, **inherit)


# ---- 8. snapshot timing
def _build_seconds(emulator: Emulator, ecs: Any, iid: str) -> float:
    """Emulated seconds from CreateImage to Available, on the emulator's clock (it also runs in real time, so a
    loaded machine must not skew the count)."""
    started = emulator.clock.now()
    image_id = create_image(ecs, iid)
    for _ in range(1, 2000):
        emulator.clock.advance(1)
        if image(ecs, image_id).status == "Available":
            return emulator.clock.now() - started
    raise AssertionError("the image never became Available")


def test_the_first_image_of_a_disk_is_a_full_snapshot_and_the_next_incremental(
    emulator: Emulator, ecs_client: Any
) -> None:
    speed = {"fullMiBps": 128, "incrementalMiBps": 64, "changedFraction": 0.1}
    reset(emulator, snapshot=speed)
    base = emulator.backend.timing("imageBaseSeconds")
    iid = running(emulator, ecs_client, system_disk=m.RunInstancesRequestSystemDisk(size=40))
    first, second = _build_seconds(emulator, ecs_client, iid), _build_seconds(emulator, ecs_client, iid)
    assert abs(first - (base + 40 * 1024 / 128)) <= 2  # 40 GiB copied whole
    assert abs(second - (base + 40 * 1024 * 0.1 / 64)) <= 2  # a tenth of it, at the incremental speed
    other = running(emulator, ecs_client, system_disk=m.RunInstancesRequestSystemDisk(size=40))
    assert abs(_build_seconds(emulator, ecs_client, other) - first) <= 2  # another disk: full again


def test_without_the_snapshot_model_every_image_takes_the_same_time(emulator: Emulator, ecs_client: Any) -> None:
    iid = running(emulator, ecs_client, system_disk=m.RunInstancesRequestSystemDisk(size=40))
    base, per_gib = emulator.backend.timing("imageBaseSeconds"), emulator.backend.timing("imageSecondsPerGiB")
    first, second = _build_seconds(emulator, ecs_client, iid), _build_seconds(emulator, ecs_client, iid)
    assert abs(first - (base + 40 * per_gib)) <= 2 and abs(second - first) <= 1


def test_a_malformed_realism_section_is_refused_and_changes_nothing(emulator: Emulator, ecs_client: Any) -> None:
    iid = launch(ecs_client)
    for bad in ({"tagIndexLag": 5}, {"eipTransitionSeconds": -1}, {"transientErrors": {"rate": 2}}):
        with pytest.raises(Exception, match="realism"):
            emulator.control.scenario({"realism": bad})
    assert instance(ecs_client, iid).instance_id == iid


def test_without_the_check_password_inherit_is_accepted_on_any_image(emulator: Emulator, ecs_client: Any) -> None:
    iid = launch(ecs_client, password_inherit=True)
    assert instance(ecs_client, iid).image_id == PUBLIC_IMAGE
    both = {"password": "Passw0rd!y", "password_inherit": True}  # documented whatever the switch
    assert refused(lambda: launch(ecs_client, **both)) == ("InvalidPasswordParam.Mismatch", 400)
