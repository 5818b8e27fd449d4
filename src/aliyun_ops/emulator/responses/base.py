"""Registration of response functions: each runs atomically on a settled state."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.core import action

Params = dict[str, str]
Handler = Callable[[Backend, Params], dict[str, Any]]


def register(product: str, name: str) -> Callable[[Handler], Handler]:
    """``@register("ecs", "RunInstances")``: registers in ``core.REGISTRY`` under the backend lock."""

    def wrap(fn: Handler) -> Handler:
        @functools.wraps(fn)
        def run(backend: Backend, params: Params) -> dict[str, Any]:
            with backend.lock:
                backend.settle()
                return fn(backend, params)

        action(product, name)(run)
        return run

    return wrap


def region(backend: Backend, params: Params) -> str:
    """The request's RegionId, checked against the scenario's regions. Without one (StopInstance, AttachDisk ...:
    the real API takes the region from the endpoint, and this emulator serves every region at one address), the
    region of the instance, disk or snapshot the request names; else cn-hangzhou."""
    region_id = params.get("RegionId") or _region_named(backend, params) or "cn-hangzhou"
    backend.catalogue.region(region_id)
    return region_id


def _region_named(backend: Backend, params: Params) -> str | None:
    """The region of the first resource the request names by id (InstanceId, DiskId, SnapshotId) that exists."""
    found = (
        backend.instances.items.get(params.get("InstanceId", "")),
        backend.disks.items.get(params.get("DiskId", "")),
        backend.disks.snapshots.get(params.get("SnapshotId", "")),
    )
    return next((str(r.region_id) for r in found if r is not None), None)
