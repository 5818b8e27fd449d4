"""ECS tag actions for instances, own images, disks and snapshots: TagResources, UntagResources,
ListTagResources.

A tag change of an instance, disk or snapshot reaches tag-filtered DescribeInstances / DescribeDisks /
DescribeSnapshots after ``realism.tagIndexLagSeconds``; ListTagResources and the rows' own Tags show it at once.
"""

from __future__ import annotations

from typing import Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator import params as p
from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.models.disks import DiskRecord, SnapshotRecord
from aliyun_ops.emulator.models.instances import InstanceRecord
from aliyun_ops.emulator.responses.base import Params, region, register

RESOURCE_TYPES = ("instance", "image", "disk", "snapshot")


def _resources(backend: Backend, params: Params, region_id: str, must_exist: bool = True) -> dict[str, Any]:
    """ResourceId.N -> each resource (an InstanceRecord, an own ImageRecord, a DiskRecord or a SnapshotRecord)."""
    kind = p.require(params, "ResourceType").lower()
    if kind not in RESOURCE_TYPES:
        raise exc.InvalidResourceType()
    ids = p.get_list(params, "ResourceId")
    pools: dict[str, dict[str, Any]] = {
        "instance": backend.instances.items,
        "disk": backend.disks.items,
        "snapshot": backend.disks.snapshots,
    }
    if kind in pools:
        pool = pools[kind]
    else:
        pool = {i.image_id: i for i in backend.images.items.values() if i.region_id == region_id}
    if not ids and must_exist:
        raise exc.MissingParameter("ResourceId.N")
    out: dict[str, Any] = {}
    for rid in ids or [k for k, v in pool.items() if v.region_id == region_id]:
        res = pool.get(rid)
        if res is None or res.region_id != region_id or (kind == "image" and res.owner_alias != "self"):
            if must_exist:
                raise exc.InvalidResourceIdNotFound()
            continue
        out[rid] = res
    return out


def _changed(backend: Backend, resource: Any) -> None:
    if isinstance(resource, InstanceRecord):
        backend.instances.reindex_tags(resource)
    elif isinstance(resource, (DiskRecord, SnapshotRecord)):
        backend.disks.reindex_tags(resource)


@register("ecs", "TagResources")
def tag_resources(backend: Backend, params: Params) -> dict[str, Any]:
    tags = p.get_tags(params, writing=True)
    if not tags:
        raise exc.MissingParameter("Tag.N.Key")
    resources = _resources(backend, params, region(backend, params))
    if any(len({**res.tags, **dict(tags)}) > 20 for res in resources.values()):
        raise exc.InvalidTagCount()
    for res in resources.values():
        res.tags.update(dict(tags))
        _changed(backend, res)
    return {}


@register("ecs", "UntagResources")
def untag_resources(backend: Backend, params: Params) -> dict[str, Any]:
    keys = p.get_list(params, "TagKey")
    remove_all = p.get_bool(params, "All")
    for res in _resources(backend, params, region(backend, params)).values():
        for k in list(res.tags):
            if remove_all or k in keys:
                del res.tags[k]
        _changed(backend, res)
    return {}


@register("ecs", "ListTagResources")
def list_tag_resources(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    kind = p.require(params, "ResourceType").lower()
    wanted = p.get_tags(params)
    rows = [
        {"ResourceId": rid, "ResourceType": kind, "TagKey": k, "TagValue": v}
        for rid, res in _resources(backend, params, region_id, must_exist=False).items()
        if p.tag_filter_matches(wanted, res.tags)
        for k, v in res.tags.items()
    ]
    chunk, token = p.token_page(rows, params, default_max=50, limit=1000)
    return {"TagResources": {"TagResource": chunk}, "NextToken": token}
