"""ECS image actions: CreateImage, DescribeImages, DeleteImage."""

from __future__ import annotations

from typing import Any

from aliyun_ops.emulator import params as p
from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.responses import render
from aliyun_ops.emulator.responses.base import Params, region, register
from aliyun_ops.emulator.responses.instances import fingerprint


@register("ecs", "CreateImage")
def create_image(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    image_id = backend.images.create(
        instance_id=p.get_str(params, "InstanceId"),
        region_id=region_id,
        name=p.get_str(params, "ImageName"),
        description=p.get_str(params, "Description", "") or "",
        tags=p.get_tags(params, writing=True),
        client_token=p.get_str(params, "ClientToken"),
        fingerprint=fingerprint(params),
        snapshot_id=p.get_str(params, "SnapshotId"),
        mappings=p.get_records(params, "DiskDeviceMapping"),
        architecture=p.get_str(params, "Architecture"),
        platform=p.get_str(params, "Platform"),
    )
    return {"ImageId": image_id}


@register("ecs", "DescribeImages")
def describe_images(backend: Backend, params: Params) -> dict[str, Any]:
    """Status defaults to Available; without ImageOwnerAlias both system and own images are listed. A new
    image is missing for ``realism.imageListLagSeconds``, whatever the filter."""
    region_id = region(backend, params)
    ids = p.get_csv(params, "ImageId")
    statuses = p.get_csv(params, "Status") or ["Available"]
    owner = p.get_str(params, "ImageOwnerAlias")
    name = p.get_str(params, "ImageName")
    arch = p.get_str(params, "Architecture")
    family = p.get_str(params, "ImageFamily")
    os_type = p.get_str(params, "OSType")
    wanted_tags = p.get_tags(params)
    found = [
        img
        for img in backend.images.items.values()
        if img.region_id == region_id
        and backend.images.listed(img)
        and (ids is None or img.image_id in ids)
        and img.status in statuses
        and owner in (None, img.owner_alias)
        and (name is None or name in img.name)
        and arch in (None, img.architecture)
        and family in (None, img.image_family)
        and os_type in (None, img.os_type)
        and p.tag_filter_matches(wanted_tags, img.tags)
    ]
    chunk, number, size = p.page(found, params, default_size=10, max_size=100)
    return {
        "RegionId": region_id,
        "TotalCount": len(found),
        "PageNumber": number,
        "PageSize": size,
        "Images": {"Image": [render.image(backend, i) for i in chunk]},
    }


@register("ecs", "DeleteImage")
def delete_image(backend: Backend, params: Params) -> dict[str, Any]:
    backend.images.delete(p.require(params, "ImageId"), region(backend, params))
    return {}
