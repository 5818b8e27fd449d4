"""Network actions: ECS DescribeSecurityGroups; VPC DescribeVpcs, DescribeVSwitches and the EIP actions."""

from __future__ import annotations

from typing import Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator import params as p
from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.models.network import Eip
from aliyun_ops.emulator.responses.base import Params, region, register
from aliyun_ops.emulator.responses.instances import fingerprint

CREATED = "2024-05-01T08:00:00Z"


@register("ecs", "DescribeSecurityGroups")
def describe_security_groups(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    ids = p.get_json_list(params, "SecurityGroupIds")
    vpc = p.get_str(params, "VpcId")
    found = [
        g
        for g in backend.network.groups.values()
        if g.region_id == region_id and (ids is None or g.group_id in ids) and vpc in (None, g.vpc_id)
    ]
    chunk, number, size = p.page(found, params, default_size=10, max_size=50)
    members = {g.group_id: 0 for g in chunk}
    for inst in backend.instances.items.values():
        for gid in inst.launch.security_group_ids:
            if gid in members:
                members[gid] += 1
    rows = [
        {
            "SecurityGroupId": g.group_id,
            "SecurityGroupName": g.name,
            "Description": g.description,
            "VpcId": g.vpc_id,
            "SecurityGroupType": "normal",
            "CreationTime": CREATED,
            "EcsCount": members[g.group_id],
            "ResourceGroupId": "",
            "ServiceManaged": False,
            "Tags": {"Tag": []},
        }
        for g in chunk
    ]
    return {
        "RegionId": region_id,
        "TotalCount": len(found),
        "PageNumber": number,
        "PageSize": size,
        "SecurityGroups": {"SecurityGroup": rows},
    }


@register("vpc", "DescribeVpcs")
def describe_vpcs(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    ids = p.get_csv(params, "VpcId")
    found = [v for v in backend.network.vpcs.values() if v.region_id == region_id and (ids is None or v.vpc_id in ids)]
    chunk, number, size = p.page(found, params, default_size=10, max_size=50)
    rows = [
        {
            "VpcId": v.vpc_id,
            "VpcName": v.name,
            "RegionId": v.region_id,
            "CidrBlock": v.cidr_block,
            "Status": "Available",
            "IsDefault": False,
            "CreationTime": CREATED,
            "OwnerId": int(backend.account_id),
            "VRouterId": f"vrt-{v.vpc_id[4:]}",
            "VSwitchIds": {
                "VSwitchId": [s.vswitch_id for s in backend.network.vswitches.values() if s.vpc_id == v.vpc_id]
            },
            "Tags": {"Tag": []},
        }
        for v in chunk
    ]
    return {"TotalCount": len(found), "PageNumber": number, "PageSize": size, "Vpcs": {"Vpc": rows}}


@register("vpc", "DescribeVSwitches")
def describe_vswitches(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    ids = p.get_csv(params, "VSwitchId")
    vpc, zone = p.get_str(params, "VpcId"), p.get_str(params, "ZoneId")
    wanted = p.get_tags(params)
    found = [
        s
        for s in backend.network.vswitches.values()
        if s.region_id == region_id
        and (ids is None or s.vswitch_id in ids)
        and vpc in (None, s.vpc_id)
        and zone in (None, s.zone_id)
        and p.tag_filter_matches(wanted, s.tags)
    ]
    chunk, number, size = p.page(found, params, default_size=10, max_size=50)
    rows = [
        {
            "VSwitchId": s.vswitch_id,
            "VSwitchName": s.name,
            "VpcId": s.vpc_id,
            "ZoneId": s.zone_id,
            "CidrBlock": s.cidr_block,
            "AvailableIpAddressCount": s.available_count(),
            "Status": "Available",
            "IsDefault": False,
            "CreationTime": CREATED,
            "OwnerId": int(backend.account_id),
            "Tags": {"Tag": [{"Key": k, "Value": v} for k, v in s.tags.items()]},  # VPC shape: Key/Value
        }
        for s in chunk
    ]
    return {"TotalCount": len(found), "PageNumber": number, "PageSize": size, "VSwitches": {"VSwitch": rows}}


@register("vpc", "AllocateEipAddress")
def allocate_eip_address(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    bandwidth = p.get_int(params, "Bandwidth", 5) or 5
    if not 1 <= bandwidth <= 500:
        raise exc.InvalidParameter(
            'The specified parameter "Bandwidth" is not valid.', code="InvalidBandwidth.Malformed"
        )
    eip = backend.network.allocate_eip(
        region_id,
        bandwidth,
        p.get_str(params, "InternetChargeType", "PayByTraffic") or "PayByTraffic",
        p.get_str(params, "Name", "") or "",
    )
    return {"AllocationId": eip.allocation_id, "EipAddress": eip.ip_address, "ResourceGroupId": ""}


def _eip_row(eip: Eip) -> dict[str, Any]:
    return {
        "AllocationId": eip.allocation_id,
        "IpAddress": eip.ip_address,
        "Status": eip.status,
        "RegionId": eip.region_id,
        "InstanceId": eip.instance_id,
        "InstanceType": "EcsInstance" if eip.instance_id else "",
        "InstanceRegionId": eip.region_id if eip.instance_id else "",
        "Bandwidth": str(eip.bandwidth),
        "EipBandwidth": str(eip.bandwidth),
        "InternetChargeType": eip.internet_charge_type,
        "ChargeType": "PostPaid",
        "Name": eip.name,
        "AllocationTime": eip.allocation_time,
        "ISP": "BGP",
        "Netmode": "public",
        "Mode": "NAT",
        "DeletionProtection": False,
        "OperationLocks": {"LockReason": []},
        "Tags": {"Tag": []},
    }


@register("vpc", "DescribeEipAddresses")
def describe_eip_addresses(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    ids = p.get_csv(params, "AllocationId")
    if ids is not None and len(ids) > 50:
        raise exc.InvalidParameter("AllocationId supports at most 50 values.")
    ip = p.get_str(params, "EipAddress")
    status = p.get_str(params, "Status")
    assoc = p.get_str(params, "AssociatedInstanceId")
    found = [
        e
        for e in backend.network.eips.values()
        if e.region_id == region_id
        and (ids is None or e.allocation_id in ids)
        and ip in (None, e.ip_address)
        and status in (None, e.status)
        and assoc in (None, e.instance_id)
    ]
    chunk, number, size = p.page(found, params, default_size=10, max_size=100)
    return {
        "TotalCount": len(found),
        "PageNumber": number,
        "PageSize": size,
        "EipAddresses": {"EipAddress": [_eip_row(e) for e in chunk]},
    }


@register("vpc", "AssociateEipAddress")
def associate_eip_address(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    if p.get_str(params, "InstanceType", "EcsInstance") != "EcsInstance":
        raise exc.InvalidParameter(
            "Only InstanceType=EcsInstance is emulated.", code="InvalidInstanceType.ValueNotSupported"
        )
    backend.network.associate_eip(
        p.require(params, "AllocationId"),
        p.require(params, "InstanceId"),
        region_id,
        p.get_str(params, "ClientToken"),
        fingerprint(params),
    )
    return {}


@register("vpc", "UnassociateEipAddress")
def unassociate_eip_address(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    backend.network.unassociate_eip(p.require(params, "AllocationId"), p.get_str(params, "InstanceId"), region_id)
    return {}


@register("vpc", "ReleaseEipAddress")
def release_eip_address(backend: Backend, params: Params) -> dict[str, Any]:
    backend.network.release_eip(p.require(params, "AllocationId"), region(backend, params))
    return {}
