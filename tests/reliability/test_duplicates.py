"""Scenario 3: the same notice delivered three times in a row, and five times at once.

Either way: exactly one image of the reclaimed instance, exactly one instance bought (distinct
ClientTokens of successful RunInstances), exactly one live replacement.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.functional.engine_support import World
from tests.reliability.support import bought, images_of, replacements


def _counts(world: World, old: str, statuses: list[str]) -> dict[str, Any]:
    return {
        "deliveries": len(statuses),
        "images": len(images_of(world, old)),
        "bought": bought(world, old).get(old, 0),
        "replacements": len(replacements(world, old)),
        "statuses": sorted(statuses),
    }


def test_three_sequential_deliveries_give_one_image_and_one_instance(world: World, record_counts: Any) -> None:
    old = world.launch()
    event = world.interrupt(old)
    statuses = [world.handle(event).status for _ in range(3)]
    counts = _counts(world, old, statuses)
    record_counts(incidents=1, replaced=counts["replacements"], duplicates=counts["bought"] - 1, lost=0, **counts)
    assert statuses == ["replaced", "already-replaced", "already-replaced"]
    assert (counts["images"], counts["bought"], counts["replacements"]) == (1, 1, 1)


def test_five_concurrent_deliveries_give_one_image_and_one_instance(world: World, record_counts: Any) -> None:
    old = world.launch()
    event = world.interrupt(old)
    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = [o.status for o in pool.map(lambda _: world.handle(event), range(5))]
    counts = _counts(world, old, statuses)
    record_counts(incidents=1, replaced=counts["replacements"], duplicates=counts["bought"] - 1, lost=0, **counts)
    assert set(statuses) <= {"replaced", "already-replaced"}
    assert (counts["images"], counts["bought"], counts["replacements"]) == (1, 1, 1)
    new = replacements(world, old)[0]
    assert new["Status"] == "Running" and new["InstanceName"] == "web-1"
