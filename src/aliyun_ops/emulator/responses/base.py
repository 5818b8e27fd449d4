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
    """The request's RegionId (default cn-hangzhou), checked against the scenario's regions."""
    region_id = params.get("RegionId") or "cn-hangzhou"
    backend.catalogue.region(region_id)
    return region_id
