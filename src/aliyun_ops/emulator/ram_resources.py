"""Which resources a call touches, as RAM sees them: ARN and current tags, read from the emulated state.

ARN formats, as ECS's and VPC's RAM authorization tables write them:
``acs:ecs:<region>:<account>:instance/<id>`` (also ``disk/``, ``snapshot/``, ``image/``),
``acs:vpc:<region>:<account>:eip/<AllocationId>``, ``acs:vpc:<region>:<account>:vswitch/<id>``, and a
role passed to an instance ``acs:ram::<account>:role/<name>`` (the role ARN RAM itself returns; ECS's table
writes ``acs:ram:{#regionId}:...``, so a pattern ``acs:ram:*:<account>:role/...`` matches both).

Only the write actions the engine calls on existing resources are resource-level here; every other call
(lists, DescribeUserData, creations such as RunInstances and CreateDisk) is checked against ``*``. A
resource that does not exist still gets its ARN (region from ``RegionId``) and no tags. Every resource of a
call also carries the tags the request writes (``Tag.N.Key``/``Tag.N.Value``: TagResources and the
creations), which ``acs:RequestTag/<key>`` reads; UntagResources (``TagKey.N``, no values) writes none. Call
under the backend's lock.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

from .ram import ANY, Resource

# (product, action) -> [(ARN type, the parameter naming it)]
BY_PARAMETER: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("ecs", "DeleteInstance"): [("instance", "InstanceId")],
    ("ecs", "StartInstance"): [("instance", "InstanceId")],
    ("ecs", "StopInstance"): [("instance", "InstanceId")],
    # ECS's RAM table for ModifyInstanceVpcAttribute: Instance and VSwitch, both required resource types.
    ("ecs", "ModifyInstanceVpcAttribute"): [("instance", "InstanceId"), ("vswitch", "VSwitchId")],
    ("ecs", "CreateImage"): [("instance", "InstanceId"), ("snapshot", "SnapshotId")],
    ("ecs", "DeleteImage"): [("image", "ImageId")],
    ("ecs", "AttachDisk"): [("instance", "InstanceId"), ("disk", "DiskId")],
    ("ecs", "ModifyDiskAttribute"): [("disk", "DiskId"), ("disk", "DiskIds")],
    ("ecs", "DeleteDisk"): [("disk", "DiskId")],
    ("ecs", "CreateSnapshot"): [("disk", "DiskId")],
    ("ecs", "DeleteSnapshot"): [("snapshot", "SnapshotId")],
    ("vpc", "AssociateEipAddress"): [("eip", "AllocationId")],
    ("vpc", "UnassociateEipAddress"): [("eip", "AllocationId")],
}
TAGGING = {("ecs", "TagResources"), ("ecs", "UntagResources"), ("vpc", "TagResources"), ("vpc", "UnTagResources")}
PRODUCT_OF = {"instance": "ecs", "disk": "ecs", "snapshot": "ecs", "image": "ecs", "eip": "vpc", "vswitch": "vpc"}


def _lookup(backend: Any, kind: str, rid: str, region: str) -> Any:
    finders: dict[str, Callable[[], Any]] = {
        "instance": lambda: backend.instances.items.get(rid),
        "disk": lambda: backend.disks.items.get(rid),
        "snapshot": lambda: backend.disks.snapshots.get(rid),
        "image": lambda: backend.images.items.get((region, rid)),
        "eip": lambda: backend.network.eips.get(rid),
        "vswitch": lambda: backend.network.vswitches.get(rid),
    }
    return finders[kind]()


def resource(backend: Any, kind: str, rid: str, region: str) -> Resource:
    record = _lookup(backend, kind, rid, region)
    where = getattr(record, "region_id", "") if record is not None else ""
    owner = backend.instances.items.get(getattr(record, "instance_id", "")) if record is not None else None
    where = where or getattr(owner, "region_id", "") or region  # a disk made with its instance: that region
    tags = dict(getattr(record, "tags", {}) or {}) if record is not None else {}
    return Resource(f"acs:{PRODUCT_OF[kind]}:{where}:{backend.account_id}:{kind}/{rid}", tags)


def role(backend: Any, name: str) -> Resource:
    return Resource(f"acs:ram::{backend.account_id}:role/{name}")


def _ids(params: dict[str, str], name: str) -> list[str]:
    """``name`` as one value or a JSON list (``DiskIds=["d-1"]``), and ``name.N`` (``ResourceId.1``)."""
    ids: list[str] = []
    value = params.get(name, "")
    if value.startswith("["):
        try:
            listed = json.loads(value)
        except ValueError:
            listed = None
        ids += [str(v) for v in listed] if isinstance(listed, list) else [value]
    elif value:
        ids.append(value)
    return ids + [v for k, v in sorted(params.items()) if k.startswith(f"{name}.") and v]


REQUEST_TAG = re.compile(r"Tag\.(\d+)\.(Key|Value)$")


def request_tags(params: dict[str, str]) -> dict[str, str]:
    """The tags the request writes: ``Tag.N.Key`` with its ``Tag.N.Value`` (a missing value is empty)."""
    fields: dict[str, dict[str, str]] = {}
    for name, value in params.items():
        m = REQUEST_TAG.match(name)
        if m:
            fields.setdefault(m.group(1), {})[m.group(2)] = value
    return {f["Key"]: f.get("Value", "") for f in fields.values() if f.get("Key")}


def resources_of(backend: Any, product: str, action: str, params: dict[str, str]) -> list[Resource]:
    """Every resource the call names (``[ANY]`` for a call RAM does not scope to a resource), each with the
    tags the request writes."""
    written = request_tags(params)
    touched = _named(backend, product, action, params)
    return [dataclasses.replace(r, request_tags=written) for r in touched] if written else touched


def _named(backend: Any, product: str, action: str, params: dict[str, str]) -> list[Resource]:
    region = params.get("RegionId", "")
    if (product, action) in TAGGING:
        kind = params.get("ResourceType", "").lower()
        ids = _ids(params, "ResourceId")
        if kind not in PRODUCT_OF or not ids:
            return [ANY]
        return [resource(backend, kind, rid, region) for rid in ids]
    named = [(kind, rid) for kind, name in BY_PARAMETER.get((product, action), []) for rid in _ids(params, name)]
    return [resource(backend, kind, rid, region) for kind, rid in named] or [ANY]
