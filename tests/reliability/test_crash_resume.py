"""Scenario 2: the function dies after any API call of an incident, then the event is delivered again.

The harness lets exactly N calls reach the cloud and kills the engine as the Nth answer arrives (a
``BaseException``, like the runtime killing the process: nothing in the engine may catch it), for
every N from 1 to the number of calls a clean incident makes. Each time, a fresh engine gets the same
event again and must end with exactly one Running replacement carrying the original's identity, one
instance bought, and at most one new image.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from aliyun_ops.cloud.sdk import Sdk
from tests.functional.engine_support import World, tags_of
from tests.reliability.support import bought, images_of, replacements

# A coarser poll keeps a clean incident to ~40 calls (one case per call) without changing its steps.
POLL_S = 30.0


class Killed(BaseException):
    """The function was killed: not an Exception, so no ``except Exception`` in the engine stops it."""


class Killer:
    """Lets ``allowed`` SDK calls through, kills the caller when the last one answers, refuses the rest."""

    def __init__(self, real: Callable[..., Any], allowed: int) -> None:
        self.real, self.allowed, self.made = real, allowed, 0
        self.lock = threading.Lock()

    def __call__(self, sdk: Sdk, product: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if self.made >= self.allowed:
                raise Killed(f"dead before {action}")
            self.made += 1
            last = self.made == self.allowed
        result = self.real(sdk, product, action, params)
        if last:
            raise Killed(f"killed after {action}")
        return result


def _clean_incident_calls(world: World) -> list[str]:
    old = world.launch()
    event = world.interrupt(old)
    start = len(world.emu.journal.entries())
    assert world.handle(event, image_poll_max_s=POLL_S).status == "replaced"
    return [c["action"] for c in world.emu.journal.entries()[start:]]


def _crash_then_redeliver(world: World, allowed: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    world.emu.reset()
    old = world.launch()
    event = world.interrupt(old)
    with monkeypatch.context() as patch:
        killer = Killer(Sdk.call, allowed)
        patch.setattr(Sdk, "call", lambda sdk, *args: killer(sdk, *args))
        with pytest.raises(Killed):
            world.handle(event, image_poll_max_s=POLL_S)
    outcome = world.handle(event, image_poll_max_s=POLL_S)  # the re-delivery, with a fresh engine
    found = replacements(world, old)
    return {
        "old": old,
        "status": outcome.status,
        "replacements": found,
        "bought": bought(world, old).get(old, 0),
        "images": len(images_of(world, old)),
    }


def test_killed_after_every_call_then_redelivered_ends_with_one_replacement(
    world: World, monkeypatch: pytest.MonkeyPatch, record_counts: Any
) -> None:
    clean = _clean_incident_calls(world)
    assert "CreateImage" in clean and "RunInstances" in clean
    broken: list[str] = []
    statuses: dict[str, int] = {}
    for n in range(1, len(clean) + 1):
        case = _crash_then_redeliver(world, n, monkeypatch)
        statuses[case["status"]] = statuses.get(case["status"], 0) + 1
        found = case["replacements"]
        ok = (
            case["status"] in ("replaced", "already-replaced")
            and len(found) == 1
            and found[0]["Status"] == "Running"
            and found[0]["InstanceName"] == "web-1"
            and tags_of(found[0]).get("app") == "web"
            and case["bought"] == 1
            and case["images"] <= 1
        )
        if not ok:
            summary = {k: v for k, v in case.items() if k != "replacements"}
            broken.append(f"killed after call {n} ({clean[n - 1]}): {summary}, live replacements {len(found)}")
    record_counts(
        incidents=len(clean),
        replaced=len(clean) - len(broken),
        duplicates=sum(1 for b in broken if "'bought': 2" in b),
        lost=len(broken),
        outcomes=statuses,
    )
    assert not broken, "\n".join(broken)
