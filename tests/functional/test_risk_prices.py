"""Price reads when the original type is contested (issue 13, item 3): a handful chosen with the spot advice,
through the emulator and the official SDK; the ``plan`` command still prices every close type."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from aliyun_ops.recovery.gather import CONTESTED_PRICED, MAX_PRICED_TYPES
from tests.functional.engine_support import World
from tests.functional.test_cli import run

ZONE = "cn-hangzhou-i"
SMALL = "ecs.c7.large"


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def priced(world: World, since: int) -> list[str]:
    calls = world.emu.control.calls()[since:]
    return [str(c["params"].get("InstanceType")) for c in calls if c["action"] == "DescribeSpotPriceHistory"]


def test_a_contested_original_costs_at_most_four_price_reads_and_is_replaced(world: World) -> None:
    old = world.launch(itype=SMALL, zone=ZONE)
    seq = len(world.emu.control.calls())
    # calm_rate 0: every pool counts as contested, so equivalents compete with the same type on score.
    outcome = world.handle(world.interrupt(old), calm_rate=0.0)
    assert outcome.status == "replaced", outcome.message
    reads = priced(world, seq)
    assert SMALL in reads and len(reads) == len(set(reads)) <= CONTESTED_PRICED < MAX_PRICED_TYPES
    new = world.instance(outcome.record.new_instance_id)
    assert new is not None and new["Status"] in ("Pending", "Starting", "Running")


def test_plan_still_prices_the_closest_types(world: World) -> None:
    old = world.launch(itype=SMALL, zone=ZONE)
    seq = len(world.emu.control.calls())
    result = run(world.emu, "plan", old, "--json", env={"ALIYUN_OPS_CALM_RATE": "0"})
    assert result.exit_code == 0, result.stderr
    reads = priced(world, seq)
    assert len(set(reads)) > CONTESTED_PRICED
    plan = json.loads(result.stdout)
    assert sum(1 for c in plan["candidates"] if c["spot_price"] is not None) > CONTESTED_PRICED
