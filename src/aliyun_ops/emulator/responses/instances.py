"""ECS instance actions: RunInstances, Describe*, Start/Stop/DeleteInstance, ModifyInstanceVpcAttribute."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Callable
from typing import Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator import params as p
from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.models.instance_network import VpcMove, modify_vpc_attribute
from aliyun_ops.emulator.models.instances import InstanceRecord, LaunchSpec
from aliyun_ops.emulator.responses import render
from aliyun_ops.emulator.responses.base import Params, region, register

# Request fields that are not part of "the same request" for ClientToken idempotency.
_NOT_FINGERPRINTED = {
    "ClientToken",
    "DryRun",
    "Action",
    "Version",
    "Format",
    "Timestamp",
    "SignatureNonce",
    "SignatureMethod",
    "SignatureVersion",
    "AccessKeyId",
    "SecurityToken",
    "Signature",
    "SignatureType",
}


def fingerprint(params: Params) -> str:
    body = json.dumps({k: v for k, v in sorted(params.items()) if k not in _NOT_FINGERPRINTED})
    return hashlib.sha256(body.encode()).hexdigest()


def launch_spec(params: Params, region_id: str) -> LaunchSpec:
    one, many = p.get_str(params, "SecurityGroupId"), p.get_list(params, "SecurityGroupIds")
    if one and many:
        raise exc.InvalidParameterConflict(
            "SecurityGroupId and SecurityGroupIds.N cannot be specified at the same time."
        )
    password, inherit = p.get_str(params, "Password"), p.get_bool(params, "PasswordInherit")
    if password and inherit:
        raise exc.InvalidPasswordParamMismatch()
    return LaunchSpec(
        region_id=region_id,
        image_id=p.require(params, "ImageId"),
        instance_type=p.require(params, "InstanceType"),
        vswitch_id=p.get_str(params, "VSwitchId") or _missing_vswitch(),
        zone_id=p.get_str(params, "ZoneId"),
        security_group_ids=[one] if one else many,
        name=p.get_str(params, "InstanceName", "") or "",
        hostname=p.get_str(params, "HostName", "") or "",
        description=p.get_str(params, "Description", "") or "",
        key_pair_name=p.get_str(params, "KeyPairName", "") or "",
        password_set=bool(password) or inherit,
        password_inherit=inherit,
        ram_role_name=p.get_str(params, "RamRoleName", "") or "",
        resource_group_id=p.get_str(params, "ResourceGroupId", "") or "",
        user_data=p.get_str(params, "UserData", "") or "",
        tags=p.get_tags(params, writing=True),
        system_disk_category=p.get_str(params, "SystemDisk.Category"),
        system_disk_size=p.get_int(params, "SystemDisk.Size"),
        system_disk_pl=p.get_str(params, "SystemDisk.PerformanceLevel", "") or "",
        data_disks=p.get_records(params, "DataDisk"),
        instance_charge_type=p.get_str(params, "InstanceChargeType", "PostPaid") or "PostPaid",
        internet_charge_type=p.get_str(params, "InternetChargeType", "PayByTraffic") or "PayByTraffic",
        internet_max_bandwidth_out=p.get_int(params, "InternetMaxBandwidthOut", 0) or 0,
        private_ip=p.get_str(params, "PrivateIpAddress"),
        spot_strategy=p.get_str(params, "SpotStrategy", "NoSpot") or "NoSpot",
        spot_price_limit=p.get_float(params, "SpotPriceLimit"),
        spot_duration=p.get_int(params, "SpotDuration"),
        spot_interruption_behavior=p.get_str(params, "SpotInterruptionBehavior", "Terminate") or "Terminate",
        amount=p.get_int(params, "Amount", 1) or 1,
    )


def _missing_vswitch() -> str:
    raise exc.InvalidParameter("The VSwitchId is necessary", code="InvalidVSwitchId.Necessary")


@register("ecs", "RunInstances")
def run_instances(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    dry_run = p.get_bool(params, "DryRun")
    token = p.get_str(params, "ClientToken")
    spec = launch_spec(params, region_id)
    ids = backend.instances.run(spec, token, fingerprint(params), dry_run)
    first = backend.instances.items.get(ids[0]) if ids else None
    price = 0.0
    if first is not None:
        cat = backend.catalogue
        price = (
            cat.spot_price(first.zone_id, first.instance_type)
            if first.is_spot
            else cat.origin_price(first.zone_id, first.instance_type)
        )
    return {"InstanceIdSets": {"InstanceIdSet": ids}, "OrderId": "", "TradePrice": round(price * len(ids), 4)}


def _filtered(backend: Backend, params: Params, region_id: str) -> list[InstanceRecord]:
    ids = p.get_json_list(params, "InstanceIds")
    if ids is not None and len(ids) > 100:
        raise exc.InvalidInstanceIdsValue()
    wanted_tags = p.get_tags(params)
    name = p.get_str(params, "InstanceName")
    private_ips = p.get_json_list(params, "PrivateIpAddresses")
    checks: dict[str, Callable[[InstanceRecord], str]] = {
        "Status": lambda i: i.status,
        "ZoneId": lambda i: i.zone_id,
        "VpcId": lambda i: i.vpc_id,
        "VSwitchId": lambda i: i.launch.vswitch_id,
        "InstanceType": lambda i: i.instance_type,
        "InstanceChargeType": lambda i: i.launch.instance_charge_type,
        "ImageId": lambda i: i.launch.image_id,
        "KeyPairName": lambda i: i.launch.key_pair_name,
        "ResourceGroupId": lambda i: i.launch.resource_group_id,
    }
    out = []
    now = backend.clock.now()
    for inst in backend.instances.items.values():
        if inst.region_id != region_id or (ids is not None and inst.instance_id not in ids):
            continue
        if inst.listed_at > now:  # just launched: not listed yet (realism.launch.listLagSeconds)
            continue
        if any(p.get_str(params, k) not in (None, get(inst)) for k, get in checks.items()):
            continue
        if name is not None and not fnmatch.fnmatchcase(inst.launch.name, name):
            continue
        if private_ips is not None and inst.private_ip not in private_ips:
            continue
        if p.tag_filter_matches(wanted_tags, inst.indexed_tags):  # the tag index may lag (realism)
            out.append(inst)
    return out


@register("ecs", "DescribeInstances")
def describe_instances(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    found = _filtered(backend, params, region_id)
    chunk, body = p.page_either(found, params, token_limit=100, clamp=True)  # MaxResults: meta
    body["Instances"] = {"Instance": [render.instance(backend, i) for i in chunk]}
    return body


@register("ecs", "DescribeInstanceAttribute")
def describe_instance_attribute(backend: Backend, params: Params) -> dict[str, Any]:
    inst = backend.instances.get(p.require(params, "InstanceId"))
    return render.instance_attribute(backend, inst)


@register("ecs", "DescribeInstanceStatus")
def describe_instance_status(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    ids = p.get_list(params, "InstanceId")
    zone = p.get_str(params, "ZoneId")
    found = [
        i
        for i in backend.instances.items.values()
        if i.region_id == region_id and (not ids or i.instance_id in ids) and zone in (None, i.zone_id)
    ]
    chunk, number, size = p.page(found, params, default_size=10, max_size=50)
    return {
        "TotalCount": len(found),
        "PageNumber": number,
        "PageSize": size,
        "InstanceStatuses": {"InstanceStatus": [{"InstanceId": i.instance_id, "Status": i.status} for i in chunk]},
    }


@register("ecs", "DescribeUserData")
def describe_user_data(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    inst = backend.instances.get(p.require(params, "InstanceId"), region_id)
    return {"InstanceId": inst.instance_id, "RegionId": region_id, "UserData": inst.launch.user_data}


@register("ecs", "DescribeInstanceRamRole")
def describe_instance_ram_role(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    ids = p.get_json_list(params, "InstanceIds")
    role = p.get_str(params, "RamRoleName")
    rows = [
        {"InstanceId": i.instance_id, "RamRoleName": i.launch.ram_role_name}
        for i in backend.instances.items.values()
        if i.region_id == region_id
        and (ids is None or i.instance_id in ids)
        and i.launch.ram_role_name
        and role in (None, i.launch.ram_role_name)
    ]
    return {"RegionId": region_id, "TotalCount": len(rows), "InstanceRamRoleSets": {"InstanceRamRoleSet": rows}}


@register("ecs", "StartInstance")
def start_instance(backend: Backend, params: Params) -> dict[str, Any]:
    backend.instances.start(p.require(params, "InstanceId"), region(backend, params))
    return {}


@register("ecs", "StopInstance")
def stop_instance(backend: Backend, params: Params) -> dict[str, Any]:
    backend.instances.stop(p.require(params, "InstanceId"), region(backend, params), p.get_str(params, "StoppedMode"))
    return {}


@register("ecs", "DeleteInstance")
def delete_instance(backend: Backend, params: Params) -> dict[str, Any]:
    backend.instances.delete(p.require(params, "InstanceId"), region(backend, params), p.get_bool(params, "Force"))
    return {}


@register("ecs", "ModifyInstanceVpcAttribute")
def modify_instance_vpc_attribute(backend: Backend, params: Params) -> dict[str, Any]:
    """A Stopped instance's new vSwitch (VPC) and primary private IP; the rules are in models/instance_network.py."""
    move = VpcMove(
        instance_id=p.require(params, "InstanceId"),
        region_id=region(backend, params),
        vswitch_id=p.require(params, "VSwitchId"),
        private_ip=p.get_str(params, "PrivateIpAddress"),
        vpc_id=p.get_str(params, "VpcId"),
        security_group_ids=tuple(p.get_list(params, "SecurityGroupId")),
    )
    modify_vpc_attribute(backend, move)
    return {}


@register("ecs", "DescribeInstanceHistoryEvents")
def describe_instance_history_events(backend: Backend, params: Params) -> dict[str, Any]:
    """The instances' system events; this emulator has only creation failures (``SystemFailure.Delete``). Filters
    ([meta] ecs/DescribeInstanceHistoryEvents.json): ``InstanceId``, ``ResourceId.N``, ``InstanceEventType.N`` (else
    ``EventType``), ``InstanceEventCycleStatus.N`` (else ``EventCycleStatus``); pages of ``PageSize``."""
    region(backend, params)
    instance_id = p.get_str(params, "InstanceId")
    resources = p.get_list(params, "ResourceId")
    types = p.get_list(params, "InstanceEventType") or [t for t in [p.get_str(params, "EventType")] if t]
    cycles = p.get_list(params, "InstanceEventCycleStatus") or [c for c in [p.get_str(params, "EventCycleStatus")] if c]
    found = [
        e
        for e in backend.instances.history
        if instance_id in (None, e["InstanceId"])
        and (not resources or e["InstanceId"] in resources)
        and (not types or e["EventType"]["Name"] in types)
        and (not cycles or e["EventCycleStatus"]["Name"] in cycles)
    ]
    chunk, body = p.page_either(found, params, token_limit=100, clamp=True)
    body["InstanceSystemEventSet"] = {"InstanceSystemEventType": [dict(e) for e in chunk]}
    return body
