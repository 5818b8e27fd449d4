"""A lineage lives by the cloud's events and the user's intent (issue 11), through the official SDKs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from tests.functional.engine_support import World, tags_of

NOTICE_S = 300.0


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def running_named(world: World, name: str) -> list[dict[str, Any]]:
    return [i for i in world.instances() if i["InstanceName"] == name and i["Status"] in ("Pending", "Starting",
                                                                                         "Running")]


@pytest.mark.parametrize("delivered", [True, False])
def test_a_stop_mode_instance_never_ends_with_a_running_twin(world: World, delivered: bool) -> None:
    old = world.launch(name="batch-1", behavior="Stop", eip=False, data_disks=[{"Category": "cloud_essd", "Size": 50}])
    event = world.interrupt(old)
    if delivered:  # the notice says "delete" (the emulator's default action): still one instance, always
        assert world.handle(event).status == "skipped"
    world.advance(NOTICE_S + 20)
    assert world.instance(old)["Status"] == "Stopped"
    assert [o.status for o in world.reconcile() if o.status in ("started", "replaced")] == ["started"]
    world.advance(60)
    (only,) = running_named(world, "batch-1")
    assert only["InstanceId"] == old and only["Status"] == "Running"
    assert not [i for i in world.instances() if tags_of(i).get("aops:replaces") == old]


def test_a_stop_mode_instance_whose_zone_stays_sold_out_is_migrated_once_and_the_original_released(
    world: World,
) -> None:
    old = world.launch(name="batch-2", behavior="Stop", eip=False)
    world.handle(world.interrupt(old, mark_sold_out=True))
    world.advance(NOTICE_S + 20)
    assert [o.status for o in world.reconcile(stopped_migrate_after_s=60)] == ["skipped"]
    world.advance(120)
    assert "replaced" in [o.status for o in world.reconcile(stopped_migrate_after_s=60)]
    world.advance(60)
    (only,) = running_named(world, "batch-2")
    assert only["InstanceId"] != old and world.instance(old) is None
