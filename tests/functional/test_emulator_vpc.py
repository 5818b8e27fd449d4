"""VPC actions of the emulator through the official VPC client: networks and the EIP rules."""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_vpc20160428 import models as m

from aliyun_ops.emulator import Emulator

R = "cn-hangzhou"


def error_code(fn: Any) -> str:
    with pytest.raises(ClientException) as err:
        fn()
    return str(err.value.code)


def running_instance(emulator: Emulator, ecs: Any) -> str:
    req = ecs_models.RunInstancesRequest(
        region_id=R,
        image_id="aliyun_3_x64_20G_alibase_20240819.vhd",
        instance_type="ecs.g7.large",
        v_switch_id="vsw-bp1emu00000000000i",
        security_group_id="sg-bp1emu000000000web",
    )
    iid = str(ecs.run_instances(req).body.instance_id_sets.instance_id_set[0])
    emulator.clock.advance(30)
    return iid


def eips(vpc: Any, **kw: Any) -> list[Any]:
    return list(
        vpc.describe_eip_addresses(m.DescribeEipAddressesRequest(region_id=R, **kw)).body.eip_addresses.eip_address
    )


def test_vpcs_and_vswitches(vpc_client: Any) -> None:
    vpcs = vpc_client.describe_vpcs(m.DescribeVpcsRequest(region_id=R)).body.vpcs.vpc
    assert [v.vpc_id for v in vpcs] == ["vpc-bp1emu0000000000main"]
    assert len(vpcs[0].v_switch_ids.v_switch_id) == 5
    vsws = vpc_client.describe_vswitches(m.DescribeVSwitchesRequest(region_id=R, zone_id="cn-hangzhou-k")).body
    [vsw] = vsws.v_switches.v_switch
    assert (vsw.zone_id, vsw.cidr_block, vsw.available_ip_address_count) == ("cn-hangzhou-k", "172.16.5.0/24", 252)


def test_eip_association_rules(emulator: Emulator, ecs_client: Any, vpc_client: Any) -> None:
    iid = running_instance(emulator, ecs_client)
    a = vpc_client.allocate_eip_address(m.AllocateEipAddressRequest(region_id=R, bandwidth="10")).body
    b = vpc_client.allocate_eip_address(m.AllocateEipAddressRequest(region_id=R)).body
    vpc_client.associate_eip_address(
        m.AssociateEipAddressRequest(
            region_id=R, allocation_id=a.allocation_id, instance_id=iid, instance_type="EcsInstance"
        )
    )
    transition = emulator.backend.realism.eip_transition
    bound = (a.allocation_id, a.eip_address)

    def seen() -> tuple[tuple[str, str, str, str], tuple[str, str]]:
        """The EIP's row (status, instance, address, bandwidth) and the EIP the instance shows."""
        [row] = eips(vpc_client, allocation_id=a.allocation_id)
        req = ecs_models.DescribeInstancesRequest(region_id=R)
        [shown] = ecs_client.describe_instances(req).body.instances.instance
        return (row.status, row.instance_id, row.ip_address, row.bandwidth), (
            shown.eip_address.allocation_id,
            shown.eip_address.ip_address,
        )

    assert seen() == (("Associating", iid, a.eip_address, "10"), ("", ""))  # the instance shows it once InUse
    second = m.AssociateEipAddressRequest(region_id=R, allocation_id=b.allocation_id, instance_id=iid)
    assert error_code(lambda: vpc_client.associate_eip_address(second)) == "InvalidAssociation.Duplicated"
    emulator.clock.advance(transition + 1)
    assert seen() == (("InUse", iid, a.eip_address, "10"), bound)
    assert error_code(lambda: vpc_client.associate_eip_address(second)) == "InvalidAssociation.Duplicated"
    release_a = m.ReleaseEipAddressRequest(region_id=R, allocation_id=a.allocation_id)
    assert error_code(lambda: vpc_client.release_eip_address(release_a)) == "IncorrectEipStatus"
    vpc_client.unassociate_eip_address(
        m.UnassociateEipAddressRequest(region_id=R, allocation_id=a.allocation_id, instance_id=iid)
    )
    assert seen() == (("Unassociating", iid, a.eip_address, "10"), bound)
    assert error_code(lambda: vpc_client.release_eip_address(release_a)) == "IncorrectEipStatus"
    emulator.clock.advance(transition + 1)
    assert seen() == (("Available", "", a.eip_address, "10"), ("", ""))
    vpc_client.release_eip_address(release_a)
    assert [e.allocation_id for e in eips(vpc_client)] == [b.allocation_id]
    missing = m.AssociateEipAddressRequest(region_id=R, allocation_id="eip-nope", instance_id=iid)
    assert error_code(lambda: vpc_client.associate_eip_address(missing)) == "InvalidAllocationId.NotFound"


def test_a_repeated_association_under_its_client_token_is_answered_as_the_first(
    emulator: Emulator, ecs_client: Any, vpc_client: Any
) -> None:
    """ClientToken "ensures the idempotence of the request" ([meta] vpc/AssociateEipAddress.json): the same request
    again changes nothing and is not refused, even once the address is InUse; the token with another instance is
    IdempotentParameterMismatch."""
    iid, other = running_instance(emulator, ecs_client), running_instance(emulator, ecs_client)
    alloc = vpc_client.allocate_eip_address(m.AllocateEipAddressRequest(region_id=R)).body.allocation_id
    ask = m.AssociateEipAddressRequest(
        region_id=R, allocation_id=alloc, instance_id=iid, instance_type="EcsInstance", client_token="tok-1"
    )
    vpc_client.associate_eip_address(ask)
    emulator.clock.advance(emulator.backend.realism.eip_transition + 1)
    vpc_client.associate_eip_address(ask)  # a re-delivery repeats it: accepted, nothing moves
    [row] = eips(vpc_client, allocation_id=alloc)
    assert (row.status, row.instance_id) == ("InUse", iid)
    moved = m.AssociateEipAddressRequest(
        region_id=R, allocation_id=alloc, instance_id=other, instance_type="EcsInstance", client_token="tok-1"
    )
    assert error_code(lambda: vpc_client.associate_eip_address(moved)) == "IdempotentParameterMismatch"
    fresh = m.AssociateEipAddressRequest(region_id=R, allocation_id=alloc, instance_id=other, client_token="tok-2")
    assert error_code(lambda: vpc_client.associate_eip_address(fresh)) == "IncorrectEipStatus"  # a new one: checked


def test_deleting_an_instance_frees_its_eip(emulator: Emulator, ecs_client: Any, vpc_client: Any) -> None:
    iid = running_instance(emulator, ecs_client)
    alloc = vpc_client.allocate_eip_address(m.AllocateEipAddressRequest(region_id=R)).body.allocation_id
    vpc_client.associate_eip_address(m.AssociateEipAddressRequest(region_id=R, allocation_id=alloc, instance_id=iid))
    ecs_client.delete_instance(ecs_models.DeleteInstanceRequest(instance_id=iid, force=True))
    [row] = eips(vpc_client)
    assert (row.status, row.instance_id) == ("Available", "")
