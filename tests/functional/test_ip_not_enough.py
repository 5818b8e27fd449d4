"""A vSwitch out of private addresses is a full pool, not a failure: the replacement lands in the next one.

Aliyun refuses RunInstances on a vSwitch with no free address with ``InvalidVSwitchId.IpNotEnough`` (403), and
DescribeVSwitches shows its ``AvailableIpAddressCount`` at 0. Under load, first deliveries failed on it. The emulator
fills a vSwitch with other services' interfaces (``control.vswitch_free``); the engine runs as the function's role.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_vpc20160428 import models as vpc_models

from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from aliyun_ops.emulator.backend import load_default_scenario
from tests.functional.engine_support import BASE_IMAGE, REGION, SGS, VPC, VSW, World, live

ZONE = "cn-hangzhou-i"
SECOND_VSW = "vsw-bp1emu0000000000i2"  # a second vSwitch of the VPC in ZONE (the scenario below)


def _scenario(second_vswitch: bool) -> dict[str, object]:
    scenario = copy.deepcopy(load_default_scenario())
    if second_vswitch:
        vpc = next(v for v in scenario["vpcs"] if v["vpcId"] == VPC)
        vpc["vswitches"].append({"vSwitchId": SECOND_VSW, "zoneId": ZONE, "cidrBlock": "172.16.30.0/24"})
    return scenario


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    second = bool(getattr(request, "param", False))
    with Emulator(host="127.0.0.1", port=0, scenario=_scenario(second), function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def _available(world: World, vswitch_id: str) -> int:
    req = vpc_models.DescribeVSwitchesRequest(region_id=REGION, vpc_id=VPC, page_size=50)
    rows = world.vpc.describe_vswitches_with_options(req, world.rt).body.to_map()["VSwitches"]["VSwitch"]
    return int(next(r for r in rows if r["VSwitchId"] == vswitch_id)["AvailableIpAddressCount"])


def _run(world: World, vswitch_id: str) -> str:
    req = ecs_models.RunInstancesRequest(
        region_id=REGION,
        image_id=BASE_IMAGE,
        instance_type="ecs.c7.large",
        zone_id=ZONE,
        v_switch_id=vswitch_id,
        security_group_ids=SGS,
        instance_charge_type="PostPaid",
        spot_strategy="SpotAsPriceGo",
        amount=1,
    )
    iid: str = world.ecs.run_instances_with_options(req, world.rt).body.instance_id_sets.instance_id_set[0]
    return iid


def test_a_vswitch_without_free_addresses_refuses_run_instances_as_aliyun_does(world: World) -> None:
    assert _available(world, VSW[ZONE]) == 256 - 4  # a /24 less its 4 reserved addresses
    assert world.emu.control.vswitch_free(VSW[ZONE], 1) == 1
    _run(world, VSW[ZONE])  # the last free address
    assert _available(world, VSW[ZONE]) == 0
    before = len(world.instances())

    with pytest.raises(ClientException) as refused:
        _run(world, VSW[ZONE])

    assert (refused.value.code, refused.value.status_code) == ("InvalidVSwitchId.IpNotEnough", 403)
    assert len(world.instances()) == before  # nothing was made


def test_the_replacement_lands_in_the_next_zone_when_the_only_vswitch_of_its_zone_is_full(world: World) -> None:
    original = world.launch(name="web-1", zone=ZONE, eip=True)
    world.emu.control.vswitch_free(VSW[ZONE], 0)

    outcome = world.handle(world.interrupt(original))

    assert outcome.status == "replaced"
    new = world.instance(outcome.record.new_instance_id)
    assert new is not None and new["ZoneId"] != ZONE
    assert [i["InstanceName"] for i in live(world)] == ["web-1"]  # one replacement, the original released
    assert new["EipAddress"]["IpAddress"]  # the address followed it


@pytest.mark.parametrize("world", [True], indirect=True)
def test_the_replacement_stays_in_its_zone_on_another_vswitch_with_free_addresses(world: World) -> None:
    original = world.launch(name="web-1", zone=ZONE, eip=False)
    world.emu.control.vswitch_free(VSW[ZONE], 0)

    outcome = world.handle(world.interrupt(original))

    assert outcome.status == "replaced"
    new = world.instance(outcome.record.new_instance_id)
    assert new is not None
    assert (new["ZoneId"], new["VpcAttributes"]["VSwitchId"]) == (ZONE, SECOND_VSW)
