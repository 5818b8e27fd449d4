"""The engine against the emulator, checked through the official SDK: which instances exist, how."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aliyun_ops.emulator import Emulator
from tests.functional.engine_support import VSW, World, tags_of


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0) as emu:
        yield World(emu)


def test_reclaim_replaces_the_instance_with_its_identity(world: World) -> None:
    old = world.launch()
    outcome = world.handle(world.interrupt(old))
    assert outcome.status == "replaced"
    new = world.instance(outcome.record.new_instance_id)
    assert new is not None and new["Status"] == "Running"
    assert new["InstanceName"] == "web-1" and new["HostName"] == "web-1"
    assert new["InstanceType"] == "ecs.c7.large"
    assert sorted(new["SecurityGroupIds"]["SecurityGroupId"]) == sorted(
        ["sg-bp1emu000000000web", "sg-bp1emu000000000ssh"]
    )
    assert new["VpcAttributes"]["VSwitchId"] == VSW[new["ZoneId"]]
    assert new["KeyPairName"] == "ops-key"
    assert new["SpotStrategy"] == "SpotAsPriceGo"
    tags = tags_of(new)
    assert tags["app"] == "web" and tags["aliyun-ops:replaces"] == old
    assert tags["aliyun-ops:lineage"] == old and tags["aliyun-ops:generation"] == "1"


def test_bandwidth_and_billing_are_copied_not_hard_coded(world: World) -> None:
    old = world.launch(bandwidth=7, eip=False)
    outcome = world.handle(world.interrupt(old))
    new = world.instance(outcome.record.new_instance_id)
    assert new["InternetMaxBandwidthOut"] == 7 and new["InternetChargeType"] == "PayByTraffic"
