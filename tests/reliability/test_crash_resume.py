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
from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops.cloud.sdk import Sdk
from tests.functional.engine_support import World, tags_of
from tests.reliability.support import bought, images_of, replacements

# A coarser poll keeps a clean incident to ~40 calls (one case per call) without changing its steps.
POLL_S = 30.0
NOTICE_S = 300.0


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



def _reset(world: World) -> None:
    """A fresh account in the emulator, and a fresh function instance: nothing cached from the previous round
    (its catalogue and stock answers came from an account that no longer exists)."""
    from aliyun_ops.cloud.client import clear_caches

    world.emu.reset()
    clear_caches()

def _clean_incident_calls(world: World, **launch: Any) -> list[str]:
    old = world.launch(**launch)
    event = world.interrupt(old)
    start = len(world.emu.journal.entries())
    assert world.handle(event, image_poll_max_s=POLL_S).status == "replaced"
    return [c["action"] for c in world.emu.journal.entries()[start:]]


def _killed_after(world: World, event: dict[str, Any], allowed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliver ``event`` to an engine that is killed as the answer to its ``allowed``-th API call arrives."""
    with monkeypatch.context() as patch:
        killer = Killer(Sdk.call, allowed)
        patch.setattr(Sdk, "call", lambda sdk, *args: killer(sdk, *args))
        with pytest.raises(Killed):
            world.handle(event, image_poll_max_s=POLL_S)


def _crash_then_redeliver(
    world: World, allowed: int, monkeypatch: pytest.MonkeyPatch, **launch: Any
) -> dict[str, Any]:
    _reset(world)
    old = world.launch(**launch)
    event = world.interrupt(old)
    _killed_after(world, event, allowed, monkeypatch)
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


DATA = [{"Category": "cloud_essd", "Size": 60}, {"Category": "cloud_essd", "Size": 30}]


def _data_of(world: World, iid: str) -> list[tuple[str, str, int]]:
    req = ecs_models.DescribeDisksRequest(region_id="cn-hangzhou", instance_id=iid, disk_type="data")
    rows = world.ecs.describe_disks_with_options(req, world.rt).body.to_map()["Disks"]["Disk"]
    return sorted((d["Device"], d["DiskId"], d["Size"]) for d in rows)


def test_killed_after_every_call_of_a_data_disk_move_then_redelivered_loses_no_disk(
    world: World, monkeypatch: pytest.MonkeyPatch, record_counts: Any
) -> None:
    """Crash anywhere in keep / snapshot / image / launch / hold / attach / start; the re-delivery (or, once the
    original is gone, reconcile) finishes the move: one replacement, Running, with the original disks in order."""
    clean = _clean_incident_calls(world, data_disks=DATA)
    assert {"ModifyDiskAttribute", "CreateSnapshot", "StopInstance", "AttachDisk"} <= set(clean)
    broken: list[str] = []
    statuses: dict[str, int] = {}
    for n in range(1, len(clean) + 1):
        _reset(world)
        old = world.launch(data_disks=DATA)
        before = _data_of(world, old)
        event = world.interrupt(old)
        _killed_after(world, event, n, monkeypatch)
        outcome = world.handle(event, image_poll_max_s=POLL_S)
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
        world.advance(30)
        world.reconcile(image_poll_max_s=POLL_S)
        found = replacements(world, old)
        after = _data_of(world, found[0]["InstanceId"]) if len(found) == 1 else []
        ok = (
            outcome.status in ("replaced", "already-replaced")
            and len(found) == 1
            and found[0]["Status"] == "Running"
            and [(dev, size) for dev, _, size in after] == [(dev, size) for dev, _, size in before]
            and [d for _, d, _ in after] == [d for _, d, _ in before]  # the same disks (same zone): nothing copied
            and bought(world, old).get(old, 0) == 1
        )
        if not ok:
            broken.append(f"killed after call {n} ({clean[n - 1]}): {outcome.status}, {len(found)} live, {after}")
    record_counts(incidents=len(clean), replaced=len(clean) - len(broken), lost=len(broken), outcomes=statuses)
    assert not broken, "\n".join(broken)


def _eip_holder(world: World, allocation: str) -> str | None:
    (eip,) = [e for e in world.eips() if e["AllocationId"] == allocation]
    holder: str | None = eip.get("InstanceId") or None
    return holder


def test_killed_after_every_call_then_redelivered_after_the_release_leaves_the_eip_on_the_one_replacement(
    world: World, monkeypatch: pytest.MonkeyPatch, record_counts: Any
) -> None:
    """The delivery dies at call N; FC's retry comes only after the cloud released the original; reconcile runs.
    The lineage ends with one Running replacement holding the EIP, or, when the function died before it asked
    for any image, with nothing launched at all (never a blank server)."""
    clean = _clean_incident_calls(world)
    broken: list[str] = []
    ends: dict[str, int] = {}
    for n in range(1, len(clean) + 1):
        _reset(world)
        old = world.launch()
        (allocation,) = [e["AllocationId"] for e in world.eips() if e.get("InstanceId") == old]
        event = world.interrupt(old)
        _killed_after(world, event, n, monkeypatch)
        world.advance(NOTICE_S + 30)
        world.handle(event, image_poll_max_s=POLL_S)  # FC's retry, after the release
        world.reconcile(image_poll_max_s=POLL_S)
        world.advance(60)
        world.reconcile(image_poll_max_s=POLL_S)
        found = replacements(world, old)
        asked_image = "CreateImage" in clean[:n]
        holder = _eip_holder(world, allocation)
        if len(found) == 1 and found[0]["Status"] == "Running" and holder == found[0]["InstanceId"]:
            end = "replaced, EIP on it"
        elif not found and not asked_image and not _lineage_instances(world, old):
            end = "nothing launched (died before the image)"
        else:
            end = ""
        if end:
            ends[end] = ends.get(end, 0) + 1
        else:
            broken.append(f"killed after call {n} ({clean[n - 1]}): {len(found)} replacements, EIP on {holder}")
    record_counts(incidents=len(clean), replaced=ends.get("replaced, EIP on it", 0), lost=len(broken), outcomes=ends)
    assert not broken, "\n".join(broken)


def _lineage_instances(world: World, old: str) -> list[dict[str, Any]]:
    return [i for i in world.instances() if tags_of(i).get("aops:lineage") == old]
