"""A manual check against a real Aliyun account: read-only, plus a RunInstances DryRun.

Skipped unless ALIYUN_OPS_REAL_CLOUD=1. It then needs ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET (or a role's
STS token), ALIYUN_OPS_REGION, and optionally ALIYUN_OPS_REAL_INSTANCE (a spot instance id to plan
for). It creates nothing: DescribeAvailableResource, DescribeInstanceTypes, DescribeSpotPriceHistory,
DescribeVSwitches, and the DryRun of the launch the engine would make.

    ALIYUN_OPS_REAL_CLOUD=1 ALIYUN_OPS_REAL_INSTANCE=i-... .venv/bin/python -m pytest tests/realcloud -v
"""

from __future__ import annotations

import os

import pytest

pytestmark = [
    pytest.mark.realcloud,
    pytest.mark.skipif(
        os.environ.get("ALIYUN_OPS_REAL_CLOUD") != "1", reason="manual real-cloud check: set ALIYUN_OPS_REAL_CLOUD=1"
    ),
]


def _cloud():  # type: ignore[no-untyped-def]
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Settings, resolve_credentials

    credentials = resolve_credentials()
    if credentials is None:
        pytest.fail("ALIYUN_OPS_REAL_CLOUD=1 needs ALIBABA_CLOUD_ACCESS_KEY_ID and _SECRET")
    settings = Settings.from_env()
    return Cloud(credentials, settings), settings


def test_the_real_api_lists_spot_stock_and_prices() -> None:
    cloud, _ = _cloud()
    offers = [o for o in cloud.describe_available_resource(spot=True) if o.in_stock]
    assert offers, "no spot type has stock in this region"
    prices = cloud.describe_spot_prices(offers[0].instance_type)
    assert prices and all(p.spot_price > 0 for p in prices)


def test_the_plan_for_a_real_instance_passes_the_dry_run() -> None:
    instance_id = os.environ.get("ALIYUN_OPS_REAL_INSTANCE")
    if not instance_id:
        pytest.skip("set ALIYUN_OPS_REAL_INSTANCE to a spot instance id")
    from aliyun_ops.cli.incident import dry_run, make_plan

    cloud, settings = _cloud()
    instance = cloud.describe_instance(instance_id)
    assert instance is not None, f"{instance_id} not found"
    plan, inputs, enriched = make_plan(cloud, settings, instance)
    assert plan.chosen is not None, plan.skipped[:5]
    assert dry_run(cloud, settings, enriched, inputs, plan)["valid"] is True
