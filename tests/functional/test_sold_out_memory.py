"""What is sold out is remembered across incidents and across function instances (vSwitch tags).

A "function instance" is a process with its own memory: ``soldout.forget_all()`` between two incidents is
the start of a new instance (a fresh process holds nothing); every incident builds its own ``Cloud``.
The emulator lists ecs.c7.large WithStock in cn-hangzhou-i while RunInstances there answers NoStock,
as the real coarse listing can; what the engine called is read from the emulator's journal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from alibabacloud_vpc20160428 import models as vpc_models

from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import FUNCTION_ROLE_ACCESS_KEY_ID, Emulator
from aliyun_ops.recovery import soldout
from tests.functional.engine_support import REGION, VPC, VSW, World

ZONE, TYPE = "cn-hangzhou-i", "ecs.c7.large"
KEY = f"aops:sold-out:{TYPE}"


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def _listed_but_refusing(world: World) -> None:
    world.emu.control.stock(ZONE, TYPE, True, False, listed=True)


def _vswitch_tags(world: World, zone: str = ZONE) -> dict[str, str]:
    req = vpc_models.DescribeVSwitchesRequest(region_id=REGION, vpc_id=VPC, page_size=50)
    rows = world.vpc.describe_vswitches_with_options(req, world.rt).body.to_map()["VSwitches"]["VSwitch"]
    row = next(r for r in rows if r["VSwitchId"] == VSW[zone])
    return {t["Key"]: t["Value"] for t in row.get("Tags", {}).get("Tag", [])}


def _tag(world: World, tags: dict[str, str], zone: str = ZONE) -> None:
    req = vpc_models.TagResourcesRequest(
        region_id=REGION,
        resource_type="VSWITCH",
        resource_id=[VSW[zone]],
        tag=[vpc_models.TagResourcesRequestTag(key=k, value=v) for k, v in tags.items()],
    )
    world.vpc.tag_resources_with_options(req, world.rt)


def _launches_since(world: World, mark: int) -> list[tuple[str, str]]:
    calls: list[dict[str, Any]] = world.emu.control.calls()[mark:]
    return [
        (c["params"].get("InstanceType", ""), c["params"].get("ZoneId", ""))
        for c in calls
        if c["action"] == "RunInstances" and c["accessKeyId"] == FUNCTION_ROLE_ACCESS_KEY_ID
    ]


def test_a_second_function_instance_skips_the_pair_the_first_found_sold_out_until_it_expires(world: World) -> None:
    first, second, third = (world.launch(name=f"web-{n}", zone=ZONE, eip=False) for n in (1, 2, 3))
    _listed_but_refusing(world)

    mark = len(world.emu.control.calls())
    one = world.handle(world.interrupt(first))
    assert one.status == "replaced"
    assert (TYPE, ZONE) in _launches_since(world, mark)  # listed in stock: the first instance had to try
    calls = world.emu.control.calls()
    refused_at = next(c["time"] for c in calls if c["code"] == "OperationDenied.NoStock")
    until = float(_vswitch_tags(world)[KEY])
    assert 300 <= until - refused_at <= 301  # the default memory, on the cloud's clock

    soldout.forget_all()  # another function instance: nothing in its process memory
    mark = len(world.emu.control.calls())
    two = world.handle(world.interrupt(second))
    assert two.status == "replaced"
    assert (TYPE, ZONE) not in _launches_since(world, mark)  # learned from the vSwitch: no RunInstances there
    assert not any(ZONE in t for t in two.record.tried)

    world.advance(until - world.emu.clock.now() + 1)  # the memory expires
    soldout.forget_all()
    mark = len(world.emu.control.calls())
    three = world.handle(world.interrupt(third))
    assert three.status == "replaced"
    assert _launches_since(world, mark)[0] == (TYPE, ZONE)  # tried again first (same type, same zone)
    assert float(_vswitch_tags(world)[KEY]) > until  # and noted again, with a new expiry


def test_expired_notes_are_removed_and_at_most_eight_are_held_beside_the_users_tags(world: World) -> None:
    old = world.launch(zone=ZONE, eip=False)
    _listed_but_refusing(world)
    now = world.emu.clock.now()
    # eight, g1 soonest; live past the incident, which takes minutes (the image is Usable only after its 160 s
    # first snapshot): a note set to expire during it is gone by the time the engine notes the sold-out pair
    live = {f"aops:sold-out:ecs.g{n}.large": str(int(now) + 3600 + n) for n in range(1, 9)}
    during = {"aops:sold-out:ecs.r8.large": str(int(now) + 100)}  # live at the notice, expired by the launch
    _tag(world, {"owner": "network-team", "aops:sold-out:ecs.r7.large": str(int(now) - 5), **during, **live})

    outcome = world.handle(world.interrupt(old))
    assert outcome.status == "replaced"
    tags = _vswitch_tags(world)
    ours = {k for k in tags if k.startswith("aops:sold-out:")}
    assert tags["owner"] == "network-team"  # the user's tag is untouched
    assert "aops:sold-out:ecs.r7.large" not in ours  # expired: removed
    assert "aops:sold-out:ecs.r8.large" not in ours  # expired while the image was made: removed too
    assert "aops:sold-out:ecs.g1.large" not in ours  # the soonest to expire made room
    assert KEY in ours and len(ours) == soldout.MAX_TAGS


def test_a_denied_tag_write_does_not_fail_the_incident_and_the_process_still_remembers(world: World) -> None:
    policy = load_ram_policy()
    policy["Statement"].append({"Effect": "Deny", "Action": ["vpc:TagResources"], "Resource": "*"})
    creds = world.emu.backend.credentials
    creds[FUNCTION_ROLE_ACCESS_KEY_ID] = dataclasses.replace(creds[FUNCTION_ROLE_ACCESS_KEY_ID], policy=policy)
    first, second = (world.launch(name=f"web-{n}", zone=ZONE, eip=False) for n in (1, 2))
    _listed_but_refusing(world)

    one = world.handle(world.interrupt(first))
    assert one.status == "replaced"
    assert any("Forbidden.RAM" in what and VSW[ZONE] in what for _, what in one.record.timeline)
    assert KEY not in _vswitch_tags(world)

    mark = len(world.emu.control.calls())  # the same function instance: its own memory still holds the pair
    two = world.handle(world.interrupt(second))
    assert two.status == "replaced"
    assert (TYPE, ZONE) not in _launches_since(world, mark)


def test_zero_memory_writes_no_tag(world: World) -> None:
    old = world.launch(zone=ZONE, eip=False)
    _listed_but_refusing(world)
    mark = len(world.emu.control.calls())
    assert world.handle(world.interrupt(old), sold_out_memory_s=0).status == "replaced"
    vpc_writes = [c for c in world.emu.control.calls()[mark:] if c["product"] == "vpc" and "Tag" in c["action"]]
    assert vpc_writes == [] and KEY not in _vswitch_tags(world)
