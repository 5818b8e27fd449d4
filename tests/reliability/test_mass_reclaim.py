"""Scenario 5: a whole pool reclaimed at once. 100 spot instances get their notice in the same emulated
second; 100 deliveries run at the same time (one function instance each), under per-action QPS limits
(answered ``Throttling.User`` past the cap). Counted stock falls with every launch, so once the
original type sells out in a zone, replacements must move to other candidates.

Time: the emulator's clock runs ``SCALE`` times faster than the wall clock and the engine's sleeps are
scaled down to match, so the 300 s notice, the image builds and the boots keep their proportions while
the test takes seconds. The QPS limits are real-time token buckets.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops import errors, service
from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from aliyun_ops.models import TAG_REPLACES
from tests.functional.engine_support import CREDS, SGS, VSW, World, settings, tags_of
from tests.reliability.support import all_instances, bought

POOL = 100
SCALE = 10.0  # emulated seconds per real second while the incidents run
ZONE, ITYPE = "cn-hangzhou-i", "ecs.c7.large"
# Spot launches of the original type left per zone once the notices are out: 100 will not fit in one.
STOCK = {"cn-hangzhou-i": 30, "cn-hangzhou-g": 25, "cn-hangzhou-j": 25, "cn-hangzhou-k": 10}
QPS = {"RunInstances": 20, "CreateImage": 20, "DescribeInstances": 60, "DescribeImages": 60, "*": 100}
FC_ATTEMPTS = 4


def _launch_pool(world: World) -> list[str]:
    request = ecs_models.RunInstancesRequest().from_map(
        {
            "RegionId": "cn-hangzhou", "ImageId": "aliyun_3_x64_20G_alibase_20240819.vhd", "InstanceType": ITYPE,
            "ZoneId": ZONE, "VSwitchId": VSW[ZONE], "SecurityGroupIds": SGS, "InstanceName": "pool",
            "SpotStrategy": "SpotAsPriceGo", "InstanceChargeType": "PostPaid", "Amount": POOL,
            "SystemDisk": {"Category": "cloud_essd", "Size": 40}, "Tag": [{"Key": "app", "Value": "pool"}],
        }
    )
    ids: list[str] = world.ecs.run_instances_with_options(request, world.rt).body.instance_id_sets.instance_id_set
    world.advance(40)
    return ids


def _deliver(world: World, event: dict[str, Any]) -> tuple[str, int]:
    """One function instance: the engine on scaled real time, re-delivered by FC when it fails."""
    for attempt in range(1, FC_ATTEMPTS + 1):
        try:
            outcome = service.handle_event(
                event,
                settings=settings(world.emu),
                credentials=CREDS,
                sleep=lambda s: time.sleep(s / SCALE),
                clock=world.emu.clock.now,
            )
            return outcome.status, attempt
        except errors.AliyunOpsError:
            if attempt == FC_ATTEMPTS:
                return "failed", attempt
    raise AssertionError("unreachable")


def test_a_hundred_reclaimed_at_once_are_all_replaced_once(record_counts: Any) -> None:
    # time stands still while we set up
    with Emulator(host="127.0.0.1", port=0, time_scale=0.0, function_role_policy=load_ram_policy()) as emu:
        world = World(emu)
        olds = _launch_pool(world)
        for zone, left in STOCK.items():
            emu.backend.set_stock(zone, ITYPE, True, left)
        for action, qps in QPS.items():
            emu.control.faults(actions=[action], qps_limit=qps)
        started = emu.clock.now()
        events = [emu.interrupt(old)["event"] for old in olds]
        assert emu.clock.now() - started < 1.0  # the whole pool got its notice within one second
        emu.clock.set_time_scale(SCALE)
        with ThreadPoolExecutor(max_workers=POOL) as pool:
            results = list(pool.map(lambda e: _deliver(world, e), events))
        emu.clock.set_time_scale(0.0)
        emu.control.clear_faults()
        _check(world, olds, results, record_counts)


def _check(world: World, olds: list[str], results: list[tuple[str, int]], record_counts: Any) -> None:
    new = [i for i in all_instances(world) if tags_of(i).get(TAG_REPLACES) in set(olds)]
    per_old = Counter(tags_of(i)[TAG_REPLACES] for i in new)
    placed = Counter((i["InstanceType"], i["ZoneId"]) for i in new)
    per_bought = bought(world)
    throttled = sum(1 for c in world.emu.journal.entries() if c["code"] == "Throttling.User")
    lost = [old for old in olds if per_old[old] == 0]
    duplicates = sum(n - 1 for n in per_bought.values() if n > 1) + sum(n - 1 for n in per_old.values() if n > 1)
    record_counts(
        incidents=len(olds),
        replaced=sum(1 for old in olds if per_old[old] == 1),
        duplicates=duplicates,
        lost=len(lost),
        throttled_calls=throttled,
        redeliveries=sum(attempts - 1 for _, attempts in results),
        outcomes=dict(Counter(status for status, _ in results)),
        placements={f"{t}@{z}": n for (t, z), n in sorted(placed.items())},
    )
    assert throttled > 0  # the QPS limits did bite
    assert not lost, f"{len(lost)} reclaimed instances have no replacement"
    assert duplicates == 0
    assert all(i["Status"] == "Running" for i in new)
    assert len(placed) > 1  # the original type sold out in its zone: replacements spread
    for (itype, zone), n in placed.items():
        if itype == ITYPE and zone in STOCK:
            assert n <= STOCK[zone]  # never more than the stock there was
