"""The launch loop treats a vSwitch out of private addresses like a sold-out pool: it moves on, and remembers it.

DescribeVSwitches' count can be stale (another launch took the last address since the plan was made): the
refusal ``InvalidVSwitchId.IpNotEnough`` then comes from RunInstances itself. Here a recording cloud answers it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aliyun_ops import errors, models
from aliyun_ops.cloud import LaunchSpec
from aliyun_ops.config import Settings
from aliyun_ops.recovery import soldout
from aliyun_ops.recovery.launch import launch_first
from aliyun_ops.recovery.soldout import SoldOutMemory

ZI, ZH = "cn-hangzhou-i", "cn-hangzhou-h"
C7 = models.InstanceType("ecs.c7.large", "ecs.c7", 2, 4.0)
C6 = models.InstanceType("ecs.c6.large", "ecs.c6", 2, 4.0)
VSWITCHES = (
    models.VSwitch("vsw-i1", "vpc-1", ZI, available_ips=200),  # as listed: the count was read before it filled up
    models.VSwitch("vsw-i2", "vpc-1", ZI, available_ips=50),
    models.VSwitch("vsw-h", "vpc-1", ZH, available_ips=100),
    models.VSwitch("vsw-x", "vpc-2", ZI, available_ips=500),  # another VPC: never a choice
)


@pytest.fixture(autouse=True)
def _fresh_process() -> Iterator[None]:
    soldout.forget_all()
    yield
    soldout.forget_all()


class FullVSwitches:
    """RunInstances refuses ``full`` vSwitches with IpNotEnough; records every launch (type, zone, vSwitch)."""

    endpoint, region_id = "ecs.test", "cn-hangzhou"

    def __init__(self, *full: str) -> None:
        self.full = set(full)
        self.launches: list[tuple[str, str, str]] = []
        self.now = 1_000_000.0

    def clock(self) -> float:
        return self.now

    def run_instances(self, spec: LaunchSpec, token: str) -> str:
        self.launches.append((spec.instance_type, spec.zone_id or "", spec.vswitch_id))
        if spec.vswitch_id in self.full:
            raise errors.NoStock("InvalidVSwitchId.IpNotEnough", "not enough IpAddress", action="RunInstances")
        return f"i-new-{len(self.launches)}"


def _plan(*candidates: models.Candidate) -> models.Plan:
    original = models.Instance("i-old", "cn-hangzhou", ZI, "ecs.c7.large", "Stopped", vpc_id="vpc-1")
    return models.Plan(original=original, candidates=candidates)


def _spec(c: models.Candidate) -> LaunchSpec:
    return LaunchSpec(
        image_id="m-1",
        instance_type=c.instance_type,
        zone_id=c.zone_id,
        vswitch_id=c.vswitch_id,
        security_group_ids=("sg-1",),
    )


def _memory(cloud: FullVSwitches) -> SoldOutMemory:
    memory = SoldOutMemory(cloud, Settings(sold_out_memory_s=0))  # type: ignore[arg-type]
    memory.snapshot(VSWITCHES)
    return memory


def test_a_full_vswitch_moves_the_launch_to_another_vswitch_of_the_same_zone() -> None:
    cloud = FullVSwitches("vsw-i1")
    tried: list[str] = []
    plan = _plan(models.Candidate(ZI, "vsw-i1", C7), models.Candidate(ZH, "vsw-h", C7))

    new_id, launched = launch_first(cloud, plan, _spec, "inc-1", _memory(cloud), tried)  # type: ignore[arg-type]

    assert cloud.launches == [("ecs.c7.large", ZI, "vsw-i1"), ("ecs.c7.large", ZI, "vsw-i2")]
    assert (new_id, launched.zone_id, launched.vswitch_id) == ("i-new-2", ZI, "vsw-i2")


def test_a_zone_whose_every_vswitch_is_full_is_left_for_the_next_pool_and_remembered() -> None:
    cloud = FullVSwitches("vsw-i1", "vsw-i2")
    plan = _plan(
        models.Candidate(ZI, "vsw-i1", C7), models.Candidate(ZI, "vsw-i1", C6), models.Candidate(ZH, "vsw-h", C7)
    )

    _, launched = launch_first(cloud, plan, _spec, "inc-1", _memory(cloud), [])  # type: ignore[arg-type]

    assert (launched.zone_id, launched.vswitch_id) == (ZH, "vsw-h")
    # Full for every type: the second candidate of the zone costs no call.
    assert cloud.launches == [
        ("ecs.c7.large", ZI, "vsw-i1"),
        ("ecs.c7.large", ZI, "vsw-i2"),
        ("ecs.c7.large", ZH, "vsw-h"),
    ]
    # The next incident of this process does not try those vSwitches again while the memory lasts.
    cloud.launches.clear()
    launch_first(cloud, plan, _spec, "inc-2", _memory(cloud), [])  # type: ignore[arg-type]
    assert cloud.launches == [("ecs.c7.large", ZH, "vsw-h")]
    cloud.now += 301  # past the memory: tried again
    cloud.launches.clear()
    launch_first(cloud, plan, _spec, "inc-3", _memory(cloud), [])  # type: ignore[arg-type]
    assert cloud.launches[0] == ("ecs.c7.large", ZI, "vsw-i1")
