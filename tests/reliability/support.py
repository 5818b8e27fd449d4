"""Counting helpers shared by the reliability scenarios: what a user would count after an incident."""

from __future__ import annotations

import threading
from typing import Any

from aliyun_ops.models import TAG_IMAGE_OF, TAG_REPLACES
from tests.functional.engine_support import World, live, tags_of

COUNTS: dict[str, dict[str, Any]] = {}  # test name -> counts observed (written to reliability-counts.json)
COUNTS_LOCK = threading.Lock()

def replacements(world: World, old: str) -> list[dict[str, Any]]:
    """Live instances launched to replace ``old``."""
    return [i for i in live(world) if tags_of(i).get(TAG_REPLACES) == old]


def images_of(world: World, old: str) -> list[dict[str, Any]]:
    """Images the tool made of ``old`` (any status)."""
    return [i for i in world.images() if tags_of(i).get(TAG_IMAGE_OF) == old]


def bought(world: World, old: str | None = None) -> dict[str, int]:
    """Instances paid for, per replaced instance: distinct ClientTokens of successful RunInstances.

    The same ClientToken returns the same instance, so each distinct token is one instance bought,
    even one deleted again later (a duplicate that was cleaned up was still a duplicate)."""
    tokens: dict[str, set[str]] = {}
    for call in world.emu.journal.entries():
        if call["action"] != "RunInstances" or call["status"] != 200:
            continue
        params = call["params"]
        replaced = next(
            (params.get(k[:-3] + "Value") for k, v in params.items() if k.endswith(".Key") and v == TAG_REPLACES),
            None,
        )
        if replaced and (old is None or replaced == old):
            tokens.setdefault(replaced, set()).add(params.get("ClientToken", call["requestId"]))
    return {k: len(v) for k, v in tokens.items()}


class DroppedAnswers:
    """Read timeouts the emulator's own rules cannot make: a share of calls, chosen at random, get no
    answer (the connection is dropped), half of them *after* the action ran (the client cannot know
    whether it did; only idempotent requests make a retry safe), half before.

    Installed on the emulator's dispatcher, so every other fault rule, the journal and the state
    behave as usual."""

    def __init__(self, world: World, rate: float, seed: int) -> None:
        import random

        from aliyun_ops.emulator.dispatch import RpcResult

        self.dispatcher = world.emu.dispatcher
        self.real = self.dispatcher.handle
        self.rate, self.rng, self.lock = rate, random.Random(seed), threading.Lock()
        self.dropped = {"before": 0, "after": 0}
        self._result = RpcResult

    def __enter__(self) -> DroppedAnswers:
        self.dispatcher.handle = self
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispatcher.handle = self.real

    def __call__(self, request: Any) -> Any:
        with self.lock:
            roll = self.rng.random()
        if roll >= self.rate:
            return self.real(request)
        after = roll < self.rate / 2
        result = self.real(request) if after else None
        with self.lock:
            self.dropped["after" if after else "before"] += 1
        return self._result(0, None, result.request_id if result else "dropped")


def all_instances(world: World) -> list[dict[str, Any]]:
    """Every instance of the region, through DescribeInstances paging (more than one page of 100)."""
    from alibabacloud_ecs20140526 import models as ecs_models

    out: list[dict[str, Any]] = []
    page = 1
    while True:
        req = ecs_models.DescribeInstancesRequest(region_id="cn-hangzhou", page_size=100, page_number=page)
        body = world.ecs.describe_instances_with_options(req, world.rt).body.to_map()
        rows = list(body.get("Instances", {}).get("Instance", []))
        out.extend(rows)
        if len(rows) < 100:
            return out
        page += 1
