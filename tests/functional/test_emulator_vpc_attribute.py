"""ModifyInstanceVpcAttribute through the official ECS client: each documented constraint refused with its code,
a valid move seen by DescribeInstances, and an address a released instance held taken by another.

The rules and their sources: docs/emulator-fidelity.md, "Issue 22 groundwork".
"""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

from aliyun_ops.emulator import Emulator

R = "cn-hangzhou"
IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"
VSW_I = "vsw-bp1emu00000000000i"  # cn-hangzhou-i, 172.16.3.0/24
VSW_J = "vsw-bp1emu00000000000j"  # cn-hangzhou-j
SG = "sg-bp1emu000000000web"
# A second VPC in the region, with a vSwitch in zone i and a security group of its own.
OTHER_VPC = "vpc-bp1emu000000000other"
OTHER_VSW = "vsw-bp1emu0000000other"
OTHER_SG = "sg-bp1emu00000000other"
I_SECOND = "vsw-bp1emu000000000i2"  # the main VPC, zone i, 172.16.30.0/24


def error(fn: Any) -> tuple[str, int]:
    with pytest.raises(ClientException) as err:
        fn()
    return str(err.value.code), int(err.value.status_code)


def launch(emulator: Emulator, ecs: Any, vswitch: str = VSW_I, **kw: Any) -> str:
    req = m.RunInstancesRequest(
        region_id=R, image_id=IMAGE, instance_type="ecs.g7.large", v_switch_id=vswitch, security_group_id=SG, **kw
    )
    iid = str(ecs.run_instances(req).body.instance_id_sets.instance_id_set[0])
    emulator.clock.advance(30)
    return iid


def stop(emulator: Emulator, ecs: Any, iid: str) -> None:
    ecs.stop_instance(m.StopInstanceRequest(instance_id=iid))
    emulator.clock.advance(10)


def stopped(emulator: Emulator, ecs: Any, **kw: Any) -> str:
    """A launched instance, started once and now Stopped: the state the action needs."""
    iid = launch(emulator, ecs, **kw)
    stop(emulator, ecs, iid)
    return iid


def move(ecs: Any, iid: str, vswitch: str = VSW_I, ip: str | None = None, **kw: Any) -> Any:
    req = m.ModifyInstanceVpcAttributeRequest(instance_id=iid, v_switch_id=vswitch, private_ip_address=ip, **kw)
    return lambda: ecs.modify_instance_vpc_attribute(req)


def network(ecs: Any, iid: str) -> tuple[str, str, list[str], list[str]]:
    """What DescribeInstances shows of the instance's network: VPC, vSwitch, private IPs, security groups."""
    req = m.DescribeInstancesRequest(region_id=R, instance_ids=f'["{iid}"]')
    [row] = ecs.describe_instances(req).body.instances.instance
    vpc = row.vpc_attributes
    return (
        vpc.vpc_id,
        vpc.v_switch_id,
        list(vpc.private_ip_address.ip_address),
        list(row.security_group_ids.security_group_id),
    )


@pytest.fixture
def more_network(emulator: Emulator) -> None:
    """A second vSwitch in zone i of the main VPC, and a second VPC with a vSwitch in zone i."""
    net = emulator.backend.network
    with emulator.backend.lock:
        main = net.vpcs["vpc-bp1emu0000000000main"]
        net._load_vpc(
            {
                "vpcId": OTHER_VPC,
                "regionId": R,
                "cidrBlock": "192.168.0.0/16",
                "vswitches": [{"vSwitchId": OTHER_VSW, "zoneId": "cn-hangzhou-i", "cidrBlock": "192.168.3.0/24"}],
                "securityGroups": [{"securityGroupId": OTHER_SG}],
            }
        )
        from aliyun_ops.emulator.models.network import VSwitch

        net.vswitches[I_SECOND] = VSwitch(I_SECOND, main.vpc_id, "cn-hangzhou-i", R, "172.16.30.0/24")


def test_a_stopped_instance_moves_and_describe_instances_shows_it(
    emulator: Emulator, ecs_client: Any, more_network: None
) -> None:
    iid = stopped(emulator, ecs_client)
    before = network(ecs_client, iid)
    assert before[1:3] == (VSW_I, ["172.16.3.1"])
    move(ecs_client, iid, I_SECOND, "172.16.30.77")()
    assert network(ecs_client, iid) == ("vpc-bp1emu0000000000main", I_SECOND, ["172.16.30.77"], [SG])
    # The old address is free again: a new instance on the old vSwitch may ask for it.
    other = launch(emulator, ecs_client, private_ip_address="172.16.3.1")
    assert network(ecs_client, other)[2] == ["172.16.3.1"]
    # And it starts with its new address.
    ecs_client.start_instance(m.StartInstanceRequest(instance_id=iid))
    emulator.clock.advance(30)
    assert network(ecs_client, iid)[1:3] == (I_SECOND, ["172.16.30.77"])


def test_the_same_vswitch_with_a_new_address(emulator: Emulator, ecs_client: Any) -> None:
    iid = stopped(emulator, ecs_client)
    move(ecs_client, iid, VSW_I, "172.16.3.200")()
    assert network(ecs_client, iid)[1:3] == (VSW_I, ["172.16.3.200"])


def test_another_vpc_with_vpc_id_and_its_security_groups(
    emulator: Emulator, ecs_client: Any, more_network: None
) -> None:
    iid = stopped(emulator, ecs_client)
    assert error(move(ecs_client, iid, OTHER_VSW, vpc_id=OTHER_VPC)) == ("MissingParameter", 400)
    assert error(move(ecs_client, iid, OTHER_VSW, vpc_id=OTHER_VPC, security_group_id=[SG])) == (
        "OperationDenied.InconsistentNetwork",
        403,
    )
    move(ecs_client, iid, OTHER_VSW, "192.168.3.9", vpc_id=OTHER_VPC, security_group_id=[OTHER_SG])()
    assert network(ecs_client, iid) == (OTHER_VPC, OTHER_VSW, ["192.168.3.9"], [OTHER_SG])


def test_only_a_stopped_instance(emulator: Emulator, ecs_client: Any) -> None:
    iid = launch(emulator, ecs_client)
    assert error(move(ecs_client, iid, VSW_I, "172.16.3.50")) == ("IncorrectInstanceStatus", 400)
    ecs_client.stop_instance(m.StopInstanceRequest(instance_id=iid))  # Stopping: still not Stopped
    assert error(move(ecs_client, iid, VSW_I, "172.16.3.50")) == ("IncorrectInstanceStatus", 400)
    assert network(ecs_client, iid)[2] == ["172.16.3.1"]


def test_an_instance_never_started_is_refused(emulator: Emulator, ecs_client: Any) -> None:
    """A spot instance reclaimed in Stop mode while still Pending is Stopped without ever having run."""
    req = m.RunInstancesRequest(
        region_id=R,
        image_id=IMAGE,
        instance_type="ecs.g7.large",
        v_switch_id=VSW_I,
        security_group_id=SG,
        spot_strategy="SpotAsPriceGo",
        spot_interruption_behavior="Stop",
    )
    iid = str(ecs_client.run_instances(req).body.instance_id_sets.instance_id_set[0])
    emulator.interrupt(iid, notice_seconds=1)
    emulator.clock.advance(60)
    [row] = ecs_client.describe_instances(m.DescribeInstancesRequest(region_id=R)).body.instances.instance
    assert (row.status, row.start_time) == ("Stopped", "")
    assert error(move(ecs_client, iid, VSW_I, "172.16.3.50")) == ("IncorrectInstanceStatus", 400)


def test_a_second_change_needs_a_start_in_between(emulator: Emulator, ecs_client: Any) -> None:
    iid = stopped(emulator, ecs_client)
    move(ecs_client, iid, VSW_I, "172.16.3.50")()
    assert error(move(ecs_client, iid, VSW_I, "172.16.3.60")) == ("InvalidPrivateIp.Changing", 400)
    ecs_client.start_instance(m.StartInstanceRequest(instance_id=iid))
    emulator.clock.advance(30)
    stop(emulator, ecs_client, iid)
    move(ecs_client, iid, VSW_I, "172.16.3.60")()
    assert network(ecs_client, iid)[2] == ["172.16.3.60"]


def test_the_vswitch_must_be_in_the_instance_zone_and_vpc(
    emulator: Emulator, ecs_client: Any, more_network: None
) -> None:
    iid = stopped(emulator, ecs_client)
    assert error(move(ecs_client, iid, VSW_J)) == ("InvalidVSwitchId.Mismatch", 400)
    assert error(move(ecs_client, iid, OTHER_VSW)) == ("InvalidVSwitchId.NotFound", 404)  # another VPC, no VpcId
    assert error(move(ecs_client, iid, "vsw-bp1missing000000000")) == ("InvalidVSwitchId.NotFound", 404)
    assert network(ecs_client, iid)[1:3] == (VSW_I, ["172.16.3.1"])


def test_the_address_must_be_well_formed_and_in_the_cidr_block(emulator: Emulator, ecs_client: Any) -> None:
    iid = stopped(emulator, ecs_client)
    assert error(move(ecs_client, iid, VSW_I, "172.16.2.9")) == ("InvalidPrivateIpAddress.Mismatch", 400)
    assert error(move(ecs_client, iid, VSW_I, "172.16.3.300")) == ("InvalidPrivateIpAddress.Malformed", 400)
    assert network(ecs_client, iid)[2] == ["172.16.3.1"]


def test_an_address_held_by_an_instance_or_an_eni_is_duplicated(emulator: Emulator, ecs_client: Any) -> None:
    holder = launch(emulator, ecs_client)  # 172.16.3.1
    eni_owner = launch(emulator, ecs_client)  # 172.16.3.2
    emulator.control.instance_network(eni_owner, {"secondaryEnis": [{"privateIpAddress": "172.16.3.40"}]})
    iid = stopped(emulator, ecs_client)
    assert error(move(ecs_client, iid, VSW_I, "172.16.3.1")) == ("InvalidPrivateIpAddress.Duplicated", 400)
    assert error(move(ecs_client, iid, VSW_I, "172.16.3.40")) == ("InvalidPrivateIpAddress.Duplicated", 400)
    assert network(ecs_client, holder)[2] == ["172.16.3.1"]
    assert network(ecs_client, iid)[2] == ["172.16.3.3"]


@pytest.mark.parametrize(
    "extras",
    [
        {"secondaryEnis": [{"privateIpAddress": "172.16.3.40"}]},
        {"ipv6Addresses": ["2408:4002:10c4:4e03::1"]},
        {"secondaryPrivateIps": ["172.16.3.41"]},
    ],
    ids=["secondary-eni", "ipv6", "secondary-private-ip"],
)
def test_an_instance_with_network_extras_is_refused(
    emulator: Emulator, ecs_client: Any, extras: dict[str, Any]
) -> None:
    iid = stopped(emulator, ecs_client)
    emulator.control.instance_network(iid, extras)
    assert error(move(ecs_client, iid, VSW_I, "172.16.3.50")) == ("OperationDenied", 400)
    assert network(ecs_client, iid)[2] == ["172.16.3.1"]


def test_the_address_of_a_released_instance_becomes_usable(emulator: Emulator, ecs_client: Any) -> None:
    """The issue 22 flow: the original holds its address until it is released; then the replacement takes it."""
    original = launch(emulator, ecs_client)  # 172.16.3.1
    replacement = stopped(emulator, ecs_client)  # 172.16.3.2
    assert error(move(ecs_client, replacement, VSW_I, "172.16.3.1")) == ("InvalidPrivateIpAddress.Duplicated", 400)
    ecs_client.delete_instance(m.DeleteInstanceRequest(instance_id=original, force=True))
    move(ecs_client, replacement, VSW_I, "172.16.3.1")()
    assert network(ecs_client, replacement)[1:3] == (VSW_I, ["172.16.3.1"])


def test_a_released_instance_frees_its_secondary_addresses_unless_an_eni_is_kept(
    emulator: Emulator, ecs_client: Any
) -> None:
    """Released with the instance: its secondary private IPs and each ENI with DeleteOnRelease (the default); an
    ENI with DeleteOnRelease=false stays, detached, with its address."""
    original = launch(emulator, ecs_client)
    emulator.control.instance_network(
        original,
        {
            "secondaryEnis": [
                {"privateIpAddress": "172.16.3.40"},
                {"privateIpAddress": "172.16.3.41", "deleteOnRelease": False},
            ],
            "secondaryPrivateIps": ["172.16.3.42"],
        },
    )
    iid = stopped(emulator, ecs_client)
    ecs_client.delete_instance(m.DeleteInstanceRequest(instance_id=original, force=True))
    assert error(move(ecs_client, iid, VSW_I, "172.16.3.41")) == ("InvalidPrivateIpAddress.Duplicated", 400)
    move(ecs_client, iid, VSW_I, "172.16.3.40")()
    assert network(ecs_client, iid)[2] == ["172.16.3.40"]
    third = launch(emulator, ecs_client, private_ip_address="172.16.3.42")
    assert network(ecs_client, third)[2] == ["172.16.3.42"]


def test_ram_scopes_the_call_to_the_instance_and_the_vswitch(
    emulator: Emulator, ecs_client: Any, more_network: None
) -> None:
    """ECS's RAM table names two resources for the action: the instance and the vSwitch; a policy that grants one
    vSwitch refuses a move to another."""
    iid = stopped(emulator, ecs_client)
    account = emulator.backend.account_id
    emulator.control.policy(
        {
            "Version": "1",
            "Statement": [
                {"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": "ecs:ModifyInstanceVpcAttribute",
                    "Resource": [f"acs:ecs:{R}:{account}:instance/{iid}", f"acs:vpc:{R}:{account}:vswitch/{VSW_I}"],
                },
            ],
        }
    )
    assert error(move(ecs_client, iid, I_SECOND, "172.16.30.5")) == ("Forbidden.RAM", 403)
    move(ecs_client, iid, VSW_I, "172.16.3.5")()
    assert network(ecs_client, iid)[1:3] == (VSW_I, ["172.16.3.5"])
