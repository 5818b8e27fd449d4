"""Scenario 4: a fault storm. 20% of the calls to every action fail at random: Throttling.User,
ServiceUnavailable and InternalError answered by the emulator's fault rules, and read timeouts (no
answer; half of them after the action ran). 50 reclaims in a row must give 50 replacements, each
bought once, none lost.

A delivery that still fails (every retry of one call failed, or the deadline came) raises, and Function
Compute delivers the event again (asynchronous invocations are retried up to 3 times): the harness
does the same, and counts those re-deliveries.
"""

from __future__ import annotations

from typing import Any

from aliyun_ops import errors
from tests.functional.engine_support import World
from tests.reliability.support import DroppedAnswers, bought, replacements

INCIDENTS = 50
RATE_PER_CODE = 0.055  # three codes and the dropped answers: 1 - (1 - 0.055)**4 ~ 20% of all calls fail
FC_ATTEMPTS = 4  # the first delivery and Function Compute's 3 retries


def _storm(world: World) -> None:
    for seed, code in enumerate(("Throttling.User", "ServiceUnavailable", "InternalError")):
        world.emu.control.faults(actions=["*"], error_rate=RATE_PER_CODE, code=code, seed=seed)


def _deliver(world: World, event: dict[str, Any]) -> tuple[str, int]:
    """The final status and how many deliveries it took."""
    for attempt in range(1, FC_ATTEMPTS + 1):
        try:
            return world.handle(event).status, attempt
        except errors.AliyunOpsError:
            if attempt == FC_ATTEMPTS:
                return "failed", attempt
    raise AssertionError("unreachable")


def test_fault_storm_replaces_every_instance_once(world: World, record_counts: Any) -> None:
    olds = [world.launch(name=f"storm-{i}") for i in range(INCIDENTS)]
    _storm(world)
    statuses: dict[str, int] = {}
    redelivered = 0
    with DroppedAnswers(world, rate=RATE_PER_CODE, seed=99) as drops:
        for old in olds:
            status, attempts = _deliver(world, world.interrupt(old))
            statuses[status] = statuses.get(status, 0) + 1
            redelivered += attempts - 1
    world.emu.control.clear_faults()
    calls = world.emu.journal.entries()
    failed_calls = sum(1 for c in calls if c["status"] != 200)
    per_old = bought(world)
    live = {old: replacements(world, old) for old in olds}
    lost = [old for old in olds if len(live[old]) != 1 or live[old][0]["Status"] != "Running"]
    duplicates = sum(n - 1 for n in per_old.values() if n > 1)
    record_counts(
        incidents=INCIDENTS,
        replaced=INCIDENTS - len(lost),
        duplicates=duplicates,
        lost=len(lost),
        calls=len(calls),
        failed_calls=failed_calls,
        dropped_answers=drops.dropped,
        redeliveries=redelivered,
        outcomes=statuses,
    )
    assert failed_calls > 0.1 * len(calls)  # the storm really happened
    assert not lost, f"lost or not Running: {lost}"
    assert duplicates == 0 and all(per_old.get(old) == 1 for old in olds)
    assert all(r[0]["InstanceName"].startswith("storm-") for r in live.values())
