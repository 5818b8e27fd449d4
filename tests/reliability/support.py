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
