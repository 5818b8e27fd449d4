"""The original tool's README test list, automated against the emulator and checked via the official SDK.

Four cases must leave things alone (pay-as-you-go released or stopped, spot released or stopped by a
person); the cloud reclaiming a spot instance must produce one equivalent replacement from one image.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from tests.functional.engine_support import REGION, VSW, World, live, tags_of


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def _state_change(instance_id: str, state: str) -> dict[str, Any]:
    return {
        "ver": "1.0",
        "id": f"evt-{instance_id}-{state}",
        "product": "ECS",
        "level": "INFO",
        "resourceId": f"acs:ecs:{REGION}:1690700000000030:instance/{instance_id}",
        "name": "Instance:StateChange",
        "userId": "1690700000000030",
        "regionId": REGION,
        "content": {"resourceId": instance_id, "resourceType": "ALIYUN::ECS::Instance", "state": state},
    }


def _stop(world: World, iid: str) -> None:
    world.ecs.stop_instance_with_options(ecs_models.StopInstanceRequest(instance_id=iid), world.rt)
    world.advance(10)


def _release(world: World, iid: str) -> None:
    world.ecs.delete_instance_with_options(ecs_models.DeleteInstanceRequest(instance_id=iid, force=True), world.rt)
    world.advance(5)


def _assert_untouched(world: World, before: list[str]) -> None:
    assert sorted(i["InstanceId"] for i in live(world)) == sorted(before)
    assert world.images() == []


@pytest.mark.parametrize(
    ("spot", "act", "state"),
    [
        ("NoSpot", _release, "Deleted"),  # release of a pay-as-you-go instance
        ("NoSpot", _stop, "Stopped"),  # stop of a pay-as-you-go instance
        ("SpotAsPriceGo", _release, "Deleted"),  # manual release of a spot instance
        ("SpotAsPriceGo", _stop, "Stopped"),  # stop of a spot instance
    ],
    ids=["payg-release", "payg-stop", "spot-manual-release", "spot-stop"],
)
def test_people_releasing_or_stopping_instances_get_no_replacement(
    world: World, spot: str, act: Any, state: str
) -> None:
    iid = world.launch(spot=spot, eip=False)
    act(world, iid)
    survivors = [i["InstanceId"] for i in live(world)]
    outcome = world.handle(_state_change(iid, state))
    assert outcome.status in ("skipped", "ignored")
    _assert_untouched(world, survivors)


def test_cloud_reclaim_of_a_spot_instance_is_replaced_from_one_image(world: World) -> None:
    old = world.launch(eip=True)
    address = next(e["IpAddress"] for e in world.eips() if e.get("InstanceId") == old)
    outcome = world.handle(world.interrupt(old))
    assert outcome.status == "replaced"
    world.advance(400)
    instances = live(world)
    assert [i["InstanceId"] for i in instances] == [outcome.record.new_instance_id]
    new = instances[0]
    assert (new["InstanceName"], new["HostName"], new["KeyPairName"]) == ("web-1", "web-1", "ops-key")
    assert new["VpcAttributes"]["VSwitchId"] == VSW[new["ZoneId"]]
    assert tags_of(new)["aops:lineage"] == old
    assert new["SpotStrategy"] == "SpotAsPriceGo"
    images = world.images()
    assert len(images) == 1 and images[0]["ImageId"] == new["ImageId"]
    assert next(e for e in world.eips() if e["IpAddress"] == address)["InstanceId"] == new["InstanceId"]
    # the README: the test removes the image it made
    world.ecs.delete_image_with_options(
        ecs_models.DeleteImageRequest(region_id=REGION, image_id=images[0]["ImageId"], force=True), world.rt
    )
    assert world.images() == []


def test_launch_from_an_existing_image(world: World) -> None:
    """Pick any Available image and create an instance from it, through the same launch path."""
    from aliyun_ops.cloud import Cloud, LaunchSpec
    from tests.functional.engine_support import CREDS, SGS, settings

    cloud = Cloud(CREDS, settings(world.emu), sleep=world.advance, clock=world.emu.clock.now)
    req = ecs_models.DescribeImagesRequest(region_id=REGION, status="Available", page_size=10)
    any_image = world.ecs.describe_images_with_options(req, world.rt).body.images.image[0].image_id
    spec = LaunchSpec(
        image_id=any_image,
        instance_type="ecs.c7.large",
        zone_id="cn-hangzhou-i",
        vswitch_id=VSW["cn-hangzhou-i"],
        security_group_ids=tuple(SGS),
        name="from-image",
    )
    assert cloud.run_instances(spec, "test-from-image", dry_run=True) == ""
    iid = cloud.run_instances(spec, "test-from-image")
    world.advance(40)
    made = world.instance(iid)
    assert made["ImageId"] == any_image and made["Status"] == "Running" and made["InstanceName"] == "from-image"
    assert made["VpcAttributes"]["VSwitchId"] == VSW["cn-hangzhou-i"]
