"""No surprise bill, through the emulator: the engine and ``plan`` keep a replacement's size and price near the
original's (issue 12, item 5). Outcomes are read back through the official SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops import service
from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from tests.functional.engine_support import CREDS, REGION, VSW, World, settings
from tests.functional.test_cli import run

ZONE = "cn-hangzhou-i"
SMALL = "ecs.c7.large"  # 2 vCPU / 4 GiB
HUGE = "ecs.c7.4xlarge"  # 16 vCPU / 32 GiB
KEPT = "ecs.c6.large"  # the one 2 vCPU equivalent left in stock


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def _spot_price(world: World, itype: str, zone: str) -> tuple[float, float]:
    req = ecs_models.DescribeSpotPriceHistoryRequest(
        region_id=REGION, instance_type=itype, zone_id=zone, network_type="vpc"
    )
    rows = world.ecs.describe_spot_price_history_with_options(req, world.rt).body.to_map()["SpotPrices"]
    last = rows["SpotPriceType"][-1]
    return float(last["SpotPrice"]), float(last["OriginPrice"])


def _only_big_types_and_one_small_left(world: World) -> None:
    """The 2 vCPU original's type and every 2-4 vCPU type sold out but one; a 16 vCPU type the cheapest."""
    catalogue = world.emu.backend.catalogue
    for zone in VSW:
        for spec in catalogue.types.values():
            if spec.cpu <= 4 and not (spec.type_id == KEPT and zone == ZONE):
                world.emu.control.stock(zone, spec.type_id, True, False)
    world.emu.control.prices([{"zoneId": ZONE, "instanceType": HUGE, "spotPrice": 0.004}])


def test_the_cheapest_candidate_16_vcpu_is_not_chosen_for_a_2_vcpu_original(world: World) -> None:
    old = world.launch(itype=SMALL, zone=ZONE)
    _only_big_types_and_one_small_left(world)
    assert _spot_price(world, HUGE, ZONE)[0] < _spot_price(world, KEPT, ZONE)[0]  # the cheapest in stock

    off = {"ALIYUN_OPS_MAX_SIZE_RATIO": "0", "ALIYUN_OPS_MAX_PRICE_RATIO": "0"}
    unlimited = json.loads(run(world.emu, "plan", old, "--json", env=off).stdout)
    assert unlimited["chosen"]["instance_type"] == HUGE  # what the limits guard against
    assert unlimited["limits"]["notes"] == ["size limit: off", "price limit: off"]

    outcome = world.handle(world.interrupt(old))
    assert outcome.status == "replaced"
    new = world.instance(outcome.record.new_instance_id)
    assert new is not None and new["Status"] == "Running"
    assert (new["InstanceType"], new["Cpu"], new["Memory"]) == (KEPT, 2, 4096)


def test_plan_shows_the_limits_and_why_each_option_was_left_out(world: World) -> None:
    old = world.launch(itype=SMALL, zone=ZONE)
    _only_big_types_and_one_small_left(world)
    spot, payg = _spot_price(world, SMALL, ZONE)

    result = run(world.emu, "plan", old, "--json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    limits = plan["limits"]
    assert (limits["max_price_ratio"], limits["max_size_ratio"]) == (1.5, 2.0)
    assert limits["reference_price"] == min(spot, payg)
    assert limits["max_price"] == pytest.approx(1.5 * min(spot, payg))
    assert (limits["max_cpu"], limits["max_memory_gib"]) == (4, 8)
    why = {s["what"]: s["why"] for s in plan["skipped"]}
    assert why[f"{HUGE}@{ZONE}"] == "16 vCPU/32 GiB: larger than 2x the original's 2 vCPU/4 GiB (size limit)"
    assert plan["chosen"]["instance_type"] == KEPT
    assert all(c["cpu"] <= 4 and c["memory_gib"] <= 8 for c in plan["candidates"])
    priced = [c for c in plan["candidates"] if c["spot_price"] is not None]
    assert priced and all(c["spot_price"] <= limits["max_price"] for c in priced)

    text = run(world.emu, "plan", old, env={"COLUMNS": "220"})
    assert text.exit_code == 0, text.stderr
    flat = " ".join(text.stdout.split())
    assert "Limit: size limit: at most 2x the original's 2 vCPU/4 GiB (4 vCPU/8 GiB)" in flat
    assert f"Limit: price limit: spot at most 1.5x the original's {min(spot, payg):.4f}/h" in flat
    row = next(line for line in text.stdout.splitlines() if f" {HUGE} " in line)  # one row per type and reason
    assert ZONE in row and "16 vCPU/32 GiB: larger than 2x the original's 2 vCPU/4 GiB (size limit)" in row


def test_an_unread_price_is_bid_at_the_limit_and_a_dearer_type_is_refused_by_the_api(world: World) -> None:
    """The same type can launch at read time, so one price is read; it sells out before RunInstances. The
    equivalents go out SpotWithPriceLimit at the limit: Aliyun refuses the dearer one, the next one launches."""
    old = world.launch(itype=SMALL, zone=ZONE)
    spot, payg = _spot_price(world, SMALL, ZONE)
    world.emu.control.prices([{"zoneId": z, "instanceType": KEPT, "spotPrice": round(spot * 3, 4)} for z in VSW])
    event = world.interrupt(old)
    state = {"done": False}

    def sleep(seconds: float) -> None:  # gather has finished before the first image poll sleeps
        if not state["done"]:
            for zone in VSW:
                world.emu.backend.set_stock(zone, SMALL, True, False)
            state["done"] = True
        world.advance(seconds)

    seq = len(world.emu.control.calls())
    outcome = service.handle_event(
        event, settings=settings(world.emu), credentials=CREDS, sleep=sleep, clock=world.emu.clock.now
    )
    assert outcome.status == "replaced", outcome.message
    calls = world.emu.control.calls()[seq:]
    priced = {c["params"].get("InstanceType") for c in calls if c["action"] == "DescribeSpotPriceHistory"}
    assert priced == {SMALL}  # one price read, as before the limits
    assert any(t.startswith(f"{KEPT}@{ZONE}") and "LowerThanPublicPrice" in t for t in outcome.record.tried)
    new = world.instance(outcome.record.new_instance_id)
    assert new is not None and new["InstanceType"] != KEPT and new["Cpu"] <= 4
    assert new["SpotStrategy"] == "SpotWithPriceLimit"
    assert 0 < new["SpotPriceLimit"] <= 1.5 * min(spot, payg)
