"""Risk placement end to end: ``plan`` reads DescribeSpotAdvice through the official SDK and ranks by it.

Skipped only while the emulator answers DescribeSpotAdvice with InvalidAction.NotFound (the action is being
added to the emulator's spot market); any other answer runs the test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aliyun_ops.emulator import Emulator
from tests.functional.engine_support import REGION, World
from tests.functional.test_cli import run


def sdk_advice(emu: Emulator, types: list[str]) -> dict[tuple[str, str], float]:
    """The emulator's answer, read with the official ECS SDK: (type, zone) -> InterruptionRate (percent)."""
    from alibabacloud_ecs20140526 import models as ecs_models
    from alibabacloud_ecs20140526.client import Client
    from alibabacloud_tea_openapi.exceptions import ClientException
    from alibabacloud_tea_openapi.utils_models import Config

    from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

    client = Client(
        Config(
            access_key_id=DEFAULT_ACCESS_KEY_ID,
            access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
            region_id=REGION,
            endpoint=emu.endpoint,
            protocol="http",
        )
    )
    try:
        body = client.describe_spot_advice(
            ecs_models.DescribeSpotAdviceRequest(region_id=REGION, instance_types=types)
        ).body.to_map()
    except ClientException as exc:
        if exc.code == "InvalidAction.NotFound":
            pytest.skip("the emulator does not serve DescribeSpotAdvice yet (InvalidAction.NotFound)")
        raise
    rates: dict[tuple[str, str], float] = {}
    for zone in body.get("AvailableSpotZones", {}).get("AvailableSpotZone", []):
        for row in zone.get("AvailableSpotResources", {}).get("AvailableSpotResource", []):
            rates[(row["InstanceType"], zone["ZoneId"])] = float(row["InterruptionRate"])
    return rates


def test_plan_shows_each_candidates_risk_and_score_and_ranks_by_them(emulator: Emulator) -> None:
    world = World(emulator)
    iid = world.launch(zone="cn-hangzhou-i")
    result = run(emulator, "plan", iid, "--json")
    assert result.exit_code == 0, result.stderr
    plan: dict[str, Any] = json.loads(result.stdout)
    spot = [c for c in plan["candidates"] if c["tier"] < 4]
    assert spot, plan
    rates = sdk_advice(emulator, sorted({c["instance_type"] for c in spot})[:10])
    assert rates, "the emulator answered DescribeSpotAdvice with no pool"
    assert any(n.startswith("placement: risk: score = spot price + -ln(1 - rate/100)/720 h") for n in plan["notes"])
    for c in spot:
        listed = rates.get((c["instance_type"], c["zone"]))
        if listed is not None:
            assert c["interruption_rate"] == pytest.approx(listed)  # what the cloud said, not a guess
            assert c["rate_bucket"] in ("0-3%", "3-5%", "5-10%", "10-100%")
        if c["spot_price"] is not None:
            assert c["score"] >= c["spot_price"]  # price plus a risk that is never negative
    same = plan["instance_type"]
    calm_same = [
        c for c in spot if c["instance_type"] == same and (c["interruption_rate"] is None or c["interruption_rate"] < 3)
    ]
    if calm_same:
        assert spot[0]["instance_type"] == same and spot[0] in calm_same  # the calm same type first
    rest = [c["score"] if c["score"] is not None else float("inf") for c in spot if c not in calm_same]
    assert rest == sorted(rest)

    text = run(emulator, "plan", iid)
    assert text.exit_code == 0, text.stderr
    assert "risk" in text.stdout and "score" in text.stdout and "Placement: risk" in text.stdout


def test_price_placement_keeps_todays_ranking_and_reads_no_advice(emulator: Emulator) -> None:
    world = World(emulator)
    iid = world.launch(zone="cn-hangzhou-i")
    seq = len(emulator.control.calls())
    result = run(emulator, "plan", iid, "--json", env={"ALIYUN_OPS_PLACEMENT": "price"})
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert all(c["score"] is None and c["interruption_rate"] is None for c in plan["candidates"])
    assert not any(n.startswith("placement:") for n in plan["notes"])
    assert "DescribeSpotAdvice" not in {c["action"] for c in emulator.control.calls()[seq:]}
