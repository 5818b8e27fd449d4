"""ECS tag actions for instances and images: TagResources, UntagResources, ListTagResources."""

from __future__ import annotations

from typing import Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator import params as p
from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.responses.base import Params, region, register

RESOURCE_TYPES = ("instance", "image")


def _tag_maps(backend: Backend, params: Params, region_id: str, must_exist: bool = True) -> dict[str, dict[str, str]]:
    """ResourceId.N -> the live tag dict of each resource."""
    kind = p.require(params, "ResourceType").lower()
    if kind not in RESOURCE_TYPES:
        raise exc.InvalidResourceType()
    ids = p.get_list(params, "ResourceId")
    pool: dict[str, Any] = (
        backend.instances.items
        if kind == "instance"
        else {i.image_id: i for i in backend.images.items.values() if i.region_id == region_id}
    )
    if not ids and must_exist:
        raise exc.MissingParameter("ResourceId.N")
    out: dict[str, dict[str, str]] = {}
    for rid in ids or [k for k, v in pool.items() if v.region_id == region_id]:
        res = pool.get(rid)
        if res is None or res.region_id != region_id or (kind == "image" and res.owner_alias != "self"):
            if must_exist:
                raise exc.InvalidResourceIdNotFound()
            continue
        out[rid] = res.tags
    return out


@register("ecs", "TagResources")
def tag_resources(backend: Backend, params: Params) -> dict[str, Any]:
    tags = p.get_tags(params, writing=True)
    if not tags:
        raise exc.MissingParameter("Tag.N.Key")
    for current in _tag_maps(backend, params, region(backend, params)).values():
        merged = {**current, **dict(tags)}
        if len(merged) > 20:
            raise exc.InvalidTagCount()
        current.update(dict(tags))
    return {}


@register("ecs", "UntagResources")
def untag_resources(backend: Backend, params: Params) -> dict[str, Any]:
    keys = p.get_list(params, "TagKey")
    remove_all = p.get_bool(params, "All")
    for current in _tag_maps(backend, params, region(backend, params)).values():
        for k in list(current):
            if remove_all or k in keys:
                del current[k]
    return {}


@register("ecs", "ListTagResources")
def list_tag_resources(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    kind = p.require(params, "ResourceType").lower()
    wanted = p.get_tags(params)
    rows = [
        {"ResourceId": rid, "ResourceType": kind, "TagKey": k, "TagValue": v}
        for rid, tags in _tag_maps(backend, params, region_id, must_exist=False).items()
        if p.tag_filter_matches(wanted, tags)
        for k, v in tags.items()
    ]
    chunk, token = p.token_page(rows, params, default_max=50, limit=1000)
    return {"TagResources": {"TagResource": chunk}, "NextToken": token}
