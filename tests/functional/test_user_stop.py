"""A user's stop of a Stop-mode spot instance is the user's (issue 19, item 8).

A reclaim leaves a Stop-mode spot instance Stopped with ``StoppedMode=StopCharging``; a user who stops it in
economical mode leaves the very same attributes. Only CloudMonitor's history tells them apart: reconcile starts
(or migrates) an instance only when the cloud interrupted it after its last start. Through the official SDKs.
"""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops.emulator.delivery import state_change_event
from tests.functional.engine_support import REGION, World, tags_of

NOTICE_S = 300.0
ZONE = "cn-hangzhou-i"



def user_stop(world: World, iid: str) -> None:
    """What the console's "Stop, economical mode" does: StopInstance with StoppedMode=StopCharging."""
    request = ecs_models.StopInstanceRequest(instance_id=iid, stopped_mode="StopCharging")
    world.ecs.stop_instance_with_options(request, world.rt)
    world.advance(20)


def user_start(world: World, iid: str) -> None:
    world.ecs.start_instance_with_options(ecs_models.StartInstanceRequest(instance_id=iid), world.rt)
    world.advance(60)


def stopped_event(world: World, iid: str) -> dict[str, Any]:
    """The ``Instance:StateChange`` (Stopped) notice CloudMonitor delivers for it, as the emulator renders it."""
    info = {"instanceId": iid, "regionId": REGION, "zoneId": ZONE, "instanceName": "", "state": "Stopped"}
    return state_change_event(info, world.emu.backend.account_id, world.emu.clock.now()).cloudmonitor()


def stop_attributes(world: World, iid: str) -> tuple[Any, ...]:
    found = world.instance(iid)
    assert found is not None
    return found["Status"], found["StoppedMode"], found["SpotInterruptionBehavior"], found["SpotStrategy"]


def successors(world: World, iid: str) -> list[str]:
    return [i["InstanceId"] for i in world.instances() if tags_of(i).get("aops:replaces") == iid]


def test_a_user_stopped_instance_stays_stopped_and_is_never_migrated_while_a_reclaimed_one_is(world: World) -> None:
    mine = world.launch(name="batch-user", behavior="Stop", eip=False)
    taken = world.launch(name="batch-reclaimed", behavior="Stop", eip=False)
    user_stop(world, mine)
    world.interrupt(taken, mark_sold_out=True)  # their zone is sold out from now on
    world.advance(NOTICE_S + 20)
    # Identical to the eye: only the cloud's history can tell them apart.
    assert stop_attributes(world, mine) == stop_attributes(world, taken) == ("Stopped", "StopCharging", "Stop",
                                                                             "SpotAsPriceGo")
    assert world.handle(stopped_event(world, mine)).status == "skipped"  # the event path starts nothing either
    passes = []
    for _ in range(4):  # well past stopped_migrate_after_s, with no stock in the zone
        passes.append([o.status for o in world.reconcile(stopped_migrate_after_s=60)])
        world.advance(120)
    assert passes[0] == ["skipped"] and "replaced" in passes[1]  # the reclaimed one waited, then moved
    assert world.instance(taken) is None and len(successors(world, taken)) == 1
    kept = world.instance(mine)
    assert kept is not None and kept["Status"] == "Stopped"  # the user's: never started, never released
    assert successors(world, mine) == []
    assert not any("replaced" in statuses or "started" in statuses for statuses in passes[2:])


def test_a_user_stopped_instance_with_stock_is_not_started_over_several_passes(world: World) -> None:
    mine = world.launch(name="batch-1", behavior="Stop", eip=False)
    user_stop(world, mine)
    assert world.handle(stopped_event(world, mine)).status == "skipped"
    for _ in range(3):
        assert world.reconcile() == []
        world.advance(600)
    assert stop_attributes(world, mine)[0] == "Stopped"


@pytest.mark.parametrize("restarted_by", ["user", "reconcile"])
def test_a_reclaim_stopped_instance_started_again_and_later_stopped_by_its_user_stays_stopped(
    world: World, restarted_by: str
) -> None:
    old = world.launch(name="batch-2", behavior="Stop", eip=False)
    world.interrupt(old)
    world.advance(NOTICE_S + 20)
    if restarted_by == "user":
        user_start(world, old)
    else:
        assert [o.status for o in world.reconcile()] == ["started"]
        world.advance(60)
    assert stop_attributes(world, old)[0] == "Running"
    world.advance(3600)
    user_stop(world, old)  # the interruption in the history is older than this start: the stop is the user's
    for _ in range(3):
        assert world.reconcile(stopped_migrate_after_s=60) == []
        world.advance(300)
    assert stop_attributes(world, old)[0] == "Stopped" and successors(world, old) == []


def test_a_second_reclaim_waits_its_own_grace_time_before_a_migration(world: World) -> None:
    """The wait before a migration runs from this stop, not from an earlier one the instance recovered from."""
    old = world.launch(name="batch-3", behavior="Stop", eip=False)
    world.interrupt(old)
    world.advance(NOTICE_S + 20)
    assert [o.status for o in world.reconcile()] == ["started"]
    world.advance(3600)
    world.interrupt(old, mark_sold_out=True)
    world.advance(NOTICE_S + 20)
    assert [o.status for o in world.reconcile(stopped_migrate_after_s=900)] == ["skipped"]
    assert stop_attributes(world, old)[0] == "Stopped" and successors(world, old) == []
    world.advance(900)
    assert [o.status for o in world.reconcile(stopped_migrate_after_s=900)] == ["replaced"]
    assert world.instance(old) is None and len(successors(world, old)) == 1


def test_twenty_tags_on_a_stopped_instance_do_not_break_the_pass(world: World) -> None:
    """The pass used to tag every such instance (``aops:stopped-since``): with 20 tags TagResources fails."""
    full = {f"k{n}": f"v{n}" for n in range(20)}
    taken = world.launch(name="full-1", behavior="Stop", eip=False, tags=full)
    mine = world.launch(name="full-2", behavior="Stop", eip=False, tags=full)
    user_stop(world, mine)
    world.interrupt(taken)
    world.advance(NOTICE_S + 20)
    outcomes = world.reconcile()
    assert [o.status for o in outcomes if o.status != "warned"] == ["started"]
    # once running, the full instance is told about: its replacement could not carry all 20 of its tags
    assert [o.message.split()[0] for o in outcomes if o.status == "warned"] == [taken]
    world.advance(60)
    assert stop_attributes(world, taken)[0] == "Running" and stop_attributes(world, mine)[0] == "Stopped"
    assert len(tags_of(world.instance(taken) or {})) == 20  # nothing written on the user's instance


def test_an_unreadable_history_starts_nothing_until_it_can_be_read(world: World) -> None:
    old = world.launch(name="batch-4", behavior="Stop", eip=False)
    world.interrupt(old)
    world.advance(NOTICE_S + 20)
    world.emu.control.faults(actions=["DescribeSystemEventAttribute"], error_rate=1.0, code="InternalError",
                             http_status=400)
    (skipped,) = world.reconcile()
    assert skipped.status == "skipped" and old in skipped.message and "CloudMonitor" in skipped.message
    assert stop_attributes(world, old)[0] == "Stopped"
    world.emu.control.clear_faults()
    assert [o.status for o in world.reconcile()] == ["started"]
