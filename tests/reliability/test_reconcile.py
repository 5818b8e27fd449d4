"""Scenario 7: notices that never arrived, and spot instances a reclaim left Stopped.

The reconcile entry point (the FC timer trigger every few minutes, and ``aliyun-ops reconcile``)
must recover a managed lineage whose instance was released without a replacement (from its newest
image, with its identity), start spot instances a reclaim stopped, and migrate the ones whose zone
stays out of stock for longer than ``stopped_migrate_after_s``: image, launch elsewhere, release.
"""

from __future__ import annotations

import json
from typing import Any

from aliyun_ops.models import TAG_LINEAGE
from aliyun_ops.runtime.invoke import Invocation, Runner
from tests.functional.engine_support import CREDS, World, live, settings, tags_of
from tests.reliability.support import replacements

# What Function Compute's timer trigger hands the function (see s.yaml).
TIMER_EVENT = {
    "triggerTime": "2024-05-19T08:15:00Z",
    "triggerName": "reconcile",
    "payload": json.dumps({"aliyun-ops": "reconcile"}),
}


def _lineage(world: World, lineage: str) -> list[dict[str, Any]]:
    return [i for i in live(world) if tags_of(i).get(TAG_LINEAGE) == lineage or i["InstanceId"] == lineage]


def test_a_missed_notice_is_recovered_from_the_newest_image_once(world: World, record_counts: Any) -> None:
    gen0 = world.launch()
    gen1 = world.handle(world.interrupt(gen0)).record
    world.advance(400)
    world.interrupt(gen1.new_instance_id)  # this notice is lost: nobody handles it
    world.advance(400)
    assert _lineage(world, gen0) == []  # the lineage has no instance at all now
    first = world.reconcile()
    second = world.reconcile()  # the next timer run finds nothing to do
    (alive,) = _lineage(world, gen0)
    record_counts(incidents=1, replaced=len(_lineage(world, gen0)), duplicates=0, lost=0,
                  outcomes=[o.status for o in first + second])
    assert [o.status for o in first] == ["recovered"] and second == []
    assert alive["ImageId"] == gen1.image_id  # the newest image of the lineage
    assert alive["InstanceName"] == "web-1" and alive["HostName"] == "web-1"
    tags = {t["TagKey"]: t["TagValue"] for t in alive["Tags"]["Tag"]}
    assert tags["app"] == "web" and tags["env"] == "prod"  # the user's tags, kept on the image
    assert tags["aops:lineage"] == gen0


def test_a_spot_instance_left_stopped_is_started(world: World) -> None:
    old = world.launch(behavior="Stop", eip=False)
    world.interrupt(old)
    world.advance(320)
    assert world.instance(old)["Status"] == "Stopped"
    assert [o.status for o in world.reconcile()] == ["started"]
    world.advance(40)
    assert world.instance(old)["Status"] == "Running"


def test_a_stopped_instance_without_stock_is_migrated_after_the_grace_time(world: World, record_counts: Any) -> None:
    old = world.launch(behavior="Stop", eip=False, zone="cn-hangzhou-i")
    world.interrupt(old)
    world.advance(320)
    world.emu.backend.set_stock("cn-hangzhou-i", "ecs.c7.large", True, False)
    waiting = world.reconcile(stopped_migrate_after_s=900)
    world.advance(600)
    still_waiting = world.reconcile(stopped_migrate_after_s=900)
    assert [o.status for o in waiting + still_waiting] == ["skipped", "skipped"]
    assert world.instance(old)["Status"] == "Stopped" and replacements(world, old) == []
    world.advance(400)  # more than 900 s without stock in its zone
    migrated = world.reconcile(stopped_migrate_after_s=900)
    (new,) = replacements(world, old)
    record_counts(incidents=1, replaced=1, duplicates=0, lost=0,
                  outcomes=[o.status for o in waiting + still_waiting + migrated])
    assert [o.status for o in migrated] == ["replaced"]
    assert world.instance(old) is None  # the old one is released
    assert new["Status"] == "Running" and new["ZoneId"] != "cn-hangzhou-i"
    assert new["InstanceName"] == "web-1" and new["ImageId"] == migrated[0].record.image_id
    assert world.reconcile(stopped_migrate_after_s=900) == []


def test_the_function_timer_trigger_runs_reconcile(world: World) -> None:
    gen0 = world.launch()
    gen1 = world.handle(world.interrupt(gen0)).record
    world.advance(400)
    world.interrupt(gen1.new_instance_id)
    world.advance(400)
    runner = Runner(settings(world.emu, image_poll_max_s=0.1))  # the runner's engine waits in real time
    world.emu.control.clock(time_scale=100)  # so let the emulated boot take a fraction of a second
    result = runner.run(Invocation(body=json.dumps(TIMER_EVENT).encode(), credentials=CREDS))
    world.emu.control.clock(time_scale=1)
    assert result["status"] == "reconciled"
    assert [o["status"] for o in result["outcomes"]] == ["recovered"]
    assert len(_lineage(world, gen0)) == 1
