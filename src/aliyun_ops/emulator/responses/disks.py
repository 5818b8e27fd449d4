"""ECS block-storage actions: DescribeDisks, CreateDisk, AttachDisk, DetachDisk, ModifyDiskAttribute,
DeleteDisk, CreateSnapshot, DescribeSnapshots, DeleteSnapshot (rules in ``models/disks.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator import params as p
from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.models.disks import DiskRecord, SnapshotRecord
from aliyun_ops.emulator.responses import render
from aliyun_ops.emulator.responses.base import Params, region, register
from aliyun_ops.emulator.responses.instances import fingerprint


def _optional_bool(params: Params, name: str) -> bool | None:
    return None if params.get(name) in (None, "") else p.get_bool(params, name)


@register("ecs", "DescribeDisks")
def describe_disks(backend: Backend, params: Params) -> dict[str, Any]:
    """Attached and detached disks of the region; with InstanceId, that instance's disks in device order."""
    region_id = region(backend, params)
    instance_id = p.get_str(params, "InstanceId")
    kind = p.get_str(params, "DiskType", "all")
    disk_ids = p.get_json_list(params, "DiskIds")
    wanted_tags = p.get_tags(params)
    checks: dict[str, Callable[[DiskRecord], str]] = {
        "ZoneId": lambda d: d.zone_id,
        "Status": lambda d: d.status,
        "Category": lambda d: d.category,
        "DiskName": lambda d: d.name,
        "SnapshotId": lambda d: d.snapshot_id,
    }
    if instance_id is not None:
        inst = backend.instances.items.get(instance_id)
        pool = list(inst.disks) if inst is not None else []
    else:
        pool = list(backend.disks.items.values())
    found = [
        d
        for d in pool
        if d.region_id == region_id
        and kind in ("all", d.kind)
        and (disk_ids is None or d.disk_id in disk_ids)
        and all(p.get_str(params, k) in (None, get(d)) for k, get in checks.items())
        and p.tag_filter_matches(wanted_tags, d.indexed_tags)  # the tag index may lag (realism)
    ]
    chunk, body = p.page_either(found, params, token_limit=500, clamp=True)  # MaxResults: meta
    body["Disks"] = {"Disk": [render.disk(d) for d in chunk]}  # only the page is rendered
    return body


@register("ecs", "CreateDisk")
def create_disk(backend: Backend, params: Params) -> dict[str, Any]:
    """Pay-as-you-go data disk in ZoneId (InstanceId is for subscription instances, which are not emulated)."""
    region_id = region(backend, params)
    if p.get_str(params, "InstanceId") is not None:
        raise exc.InvalidParameter('The specified parameter "InstanceId" is not valid: only pay-as-you-go disks '
                                   "in a ZoneId can be created here.")
    disk_id = backend.disks.create(
        region_id,
        p.require(params, "ZoneId"),
        category=p.get_str(params, "DiskCategory", "cloud") or "cloud",
        size=p.get_int(params, "Size"),
        snapshot_id=p.get_str(params, "SnapshotId"),
        name=p.get_str(params, "DiskName", "") or "",
        description=p.get_str(params, "Description", "") or "",
        performance_level=p.get_str(params, "PerformanceLevel", "") or "",
        tags=p.get_tags(params, writing=True),
        client_token=p.get_str(params, "ClientToken"),
        fingerprint=fingerprint(params),
    )
    return {"DiskId": disk_id, "OrderId": ""}


@register("ecs", "AttachDisk")
def attach_disk(backend: Backend, params: Params) -> dict[str, Any]:
    backend.disks.attach(
        p.require(params, "InstanceId"),
        p.require(params, "DiskId"),
        delete_with_instance=p.get_bool(params, "DeleteWithInstance"),
        device=p.get_str(params, "Device"),
        bootable=p.get_bool(params, "Bootable"),
    )
    return {}


@register("ecs", "DetachDisk")
def detach_disk(backend: Backend, params: Params) -> dict[str, Any]:
    backend.disks.detach(
        p.require(params, "InstanceId"), p.require(params, "DiskId"), _optional_bool(params, "DeleteWithInstance")
    )
    return {}


@register("ecs", "ModifyDiskAttribute")
def modify_disk_attribute(backend: Backend, params: Params) -> dict[str, Any]:
    one, many = p.get_str(params, "DiskId"), p.get_list(params, "DiskIds")
    if one and many:
        raise exc.InvalidParameterConflict("DiskId and DiskIds.N cannot be specified at the same time.")
    if not one and not many:
        raise exc.MissingParameter("DiskId")
    region_id = region(backend, params) if params.get("RegionId") else None
    backend.disks.modify(
        [one] if one else many,
        region_id,
        _optional_bool(params, "DeleteWithInstance"),
        p.get_str(params, "DiskName"),
        p.get_str(params, "Description"),
    )
    return {}


@register("ecs", "DeleteDisk")
def delete_disk(backend: Backend, params: Params) -> dict[str, Any]:
    backend.disks.delete(p.require(params, "DiskId"), None)
    return {}


@register("ecs", "CreateSnapshot")
def create_snapshot(backend: Backend, params: Params) -> dict[str, Any]:
    snapshot_id = backend.disks.create_snapshot(
        p.require(params, "DiskId"),
        None,
        p.get_str(params, "SnapshotName", "") or "",
        p.get_str(params, "Description", "") or "",
        p.get_tags(params, writing=True),
        p.get_str(params, "ClientToken"),
        fingerprint(params),
    )
    return {"SnapshotId": snapshot_id}


@register("ecs", "DescribeSnapshots")
def describe_snapshots(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    ids = p.get_json_list(params, "SnapshotIds")
    status = p.get_str(params, "Status", "all")
    disk_id = p.get_str(params, "DiskId")
    instance_id = p.get_str(params, "InstanceId")
    name = p.get_str(params, "SnapshotName")
    kind = p.get_str(params, "SourceDiskType")
    wanted_tags = p.get_tags(params)

    def on_instance(s: SnapshotRecord) -> bool:
        disk = backend.disks.items.get(s.disk_id)
        return disk is not None and disk.instance_id == instance_id

    found = [
        s
        for s in backend.disks.snapshots.values()
        if s.region_id == region_id
        and (ids is None or s.snapshot_id in ids)
        and status in ("all", s.status)
        and disk_id in (None, s.disk_id)
        and (instance_id is None or on_instance(s))
        and name in (None, s.name)
        and kind in (None, s.disk_kind)
        and p.tag_filter_matches(wanted_tags, s.indexed_tags)  # the tag index may lag (realism)
    ]
    chunk, body = p.page_either(found, params, token_limit=100)
    body["Snapshots"] = {"Snapshot": [render.snapshot_row(backend, s) for s in chunk]}  # only the page
    return body


@register("ecs", "DeleteSnapshot")
def delete_snapshot(backend: Backend, params: Params) -> dict[str, Any]:
    backend.disks.delete_snapshot(p.require(params, "SnapshotId"), p.get_bool(params, "Force"))
    return {}
