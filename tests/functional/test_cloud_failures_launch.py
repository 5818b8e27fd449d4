"""Issue 21, launches and calls: the real cloud's failures around RunInstances and the EIP, and the engine surviving
them. Each engine test fails on the code before this change (named in its docstring)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

from aliyun_ops import errors
from aliyun_ops.cloud import Cloud
from aliyun_ops.cloud.sdk import Sdk
from tests.functional.engine_support import CREDS, World, settings
from tests.reliability.data_watch import deliver_killed_after
from tests.reliability.support import bought, replacements

DATA = [{"Category": "cloud_essd", "Size": 20}]


def _settle(world: World, old: str) -> list[dict[str, Any]]:
    """The replacements of ``old`` once the cloud has released every launch it failed (within 5 minutes)."""
    world.advance(300)
    return replacements(world, old)


@pytest.mark.parametrize("data_disks", [None, DATA], ids=["copy-mode", "move-mode"])
def test_a_launch_that_dies_after_acceptance_ends_with_exactly_one_replacement(
    world: World, data_disks: list[dict[str, Any]] | None
) -> None:
    """Before: copy mode waited for the dead launch until DeadlineExceeded; move mode raised ReplacementFailed."""
    old = world.launch(data_disks=data_disks)
    world.emu.control.launch_failures(1)
    out = world.handle(world.interrupt(old))
    assert out.status == "replaced", out.message
    assert out.record is not None and any("SystemFailure.Delete" in t for t in out.record.tried)
    live = _settle(world, old)
    assert [r["InstanceId"] for r in live] == [out.record.new_instance_id]
    assert live[0]["Status"] == "Running"
    assert bought(world, old) == {old: 2}  # the launch the cloud failed, and exactly one more


def test_a_delivery_killed_after_the_relaunch_never_launches_a_third(world: World) -> None:
    """Before: the second RunInstances never came (the first delivery waited on the dead launch)."""
    old = world.launch()
    world.emu.control.launch_failures(1)
    event = world.interrupt(old)
    deliver_killed_after(world, event, "RunInstances", nth=2)
    out = world.handle(event)
    assert out.status in ("replaced", "resumed"), out.message
    live = _settle(world, old)
    assert len(live) == 1 and live[0]["Status"] == "Running"
    assert bought(world, old) == {old: 2}


def test_an_instance_not_listed_yet_after_run_instances_is_pending(world: World) -> None:
    """Before: move mode read the unlisted replacement as vanished (ReplacementFailed)."""
    old = world.launch(data_disks=DATA)
    backend = world.emu.backend
    backend.realism = dataclasses.replace(
        backend.realism, launch=dataclasses.replace(backend.realism.launch, list_lag=100)
    )
    out = world.handle(world.interrupt(old))
    assert out.status == "replaced", out.message
    assert len(_settle(world, old)) == 1
    assert bought(world, old) == {old: 1}  # never a second launch


def test_a_launch_whose_answer_was_lost_waits_out_idempotent_processing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first RunInstances runs but its answer is lost; the retry under the same ClientToken comes while the
    first is still processing (IdempotentProcessing, 403). Before: read as a permanent refusal."""
    old = world.launch()
    real, lost = Sdk.call, []

    def call(sdk: Sdk, product: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        result = real(sdk, product, action, params)
        if action == "RunInstances" and not lost:
            lost.append(action)
            raise OSError("connection reset by peer")
        return result

    monkeypatch.setattr(Sdk, "call", call)
    out = world.handle(world.interrupt(old))
    assert out.status == "replaced", out.message
    assert lost and len(_settle(world, old)) == 1
    assert bought(world, old) == {old: 1}


def test_a_repeated_eip_association_waits_out_the_repeat_limit(world: World) -> None:
    """The EIP moves to A, comes off, and must move on to B at once (a converging delivery). Before: TaskConflict was
    read as a permanent refusal."""
    a, b = world.launch(name="eip-a", eip=False), world.launch(name="eip-b", eip=False)
    cloud = Cloud(CREDS, settings(world.emu), sleep=world.advance, clock=world.emu.clock.now)
    cloud.deadline = world.emu.clock.now() + 120
    from alibabacloud_vpc20160428 import models as vm

    alloc = world.vpc.allocate_eip_address_with_options(
        vm.AllocateEipAddressRequest(region_id="cn-hangzhou", bandwidth="5"), world.rt
    ).body.allocation_id
    cloud.associate_eip(alloc, a, "tok-a")
    world.advance(5.5)
    cloud.unassociate_eip(alloc, a)
    world.advance(5.5)  # Available again, 11 s after the association: within its repeat limit (15 s)
    cloud.associate_eip(alloc, b, "tok-b")
    world.advance(6)
    assert [(e.instance_id, e.status) for e in cloud.describe_eips(allocation_id=alloc)] == [(b, "InUse")]


def test_the_emulator_fails_an_accepted_launch_and_answers_its_token_with_the_dead_id(world: World) -> None:
    """Pending, then a SystemFailure.Delete event, then released; the same ClientToken answers the dead id."""
    old = world.launch()
    world.emu.control.launch_failures(1)
    request = m.RunInstancesRequest().from_map(
        {"RegionId": "cn-hangzhou", "ImageId": "aliyun_3_x64_20G_alibase_20240819.vhd", "InstanceType": "ecs.c7.large",
         "VSwitchId": "vsw-bp1emu00000000000i", "SecurityGroupIds": ["sg-bp1emu000000000web"], "ClientToken": "t-1"}
    )
    first = world.ecs.run_instances_with_options(request, world.rt).body.instance_id_sets.instance_id_set[0]
    with pytest.raises(ClientException) as refused:  # repeated while the first is still processing
        world.ecs.run_instances_with_options(request, world.rt)
    assert (refused.value.code, refused.value.status_code) == ("IdempotentProcessing", 403)
    assert world.instance(first) is None  # not listed yet
    world.advance(30)
    assert world.instance(first)["Status"] == "Pending"  # type: ignore[index]
    events = world.ecs.describe_instance_history_events_with_options(
        m.DescribeInstanceHistoryEventsRequest(region_id="cn-hangzhou", instance_id=first), world.rt
    ).body.to_map()["InstanceSystemEventSet"]["InstanceSystemEventType"]
    assert [e["EventType"]["Name"] for e in events] == ["SystemFailure.Delete"]
    world.advance(150)
    assert world.instance(first) is None and world.instance(old) is not None
    again = world.ecs.run_instances_with_options(request, world.rt).body.instance_id_sets.instance_id_set[0]
    assert again == first


def test_throttling_is_answered_403_and_retried(world: World) -> None:
    """The CreateSnapshot reference's error table: Throttling is HTTP 403 (before: 400)."""
    world.emu.control.faults(actions=["DescribeRegions"], error_rate=1.0, code="Throttling")
    with pytest.raises(ClientException) as refused:
        world.ecs.describe_regions_with_options(m.DescribeRegionsRequest(), world.rt)
    assert (refused.value.code, refused.value.status_code) == ("Throttling", 403)
    assert errors.Throttled.retryable


def test_spot_advice_takes_only_the_documented_filter_combinations(world: World) -> None:
    def ask(**kw: Any) -> str:
        try:
            world.ecs.describe_spot_advice_with_options(
                m.DescribeSpotAdviceRequest(region_id="cn-hangzhou", **kw), world.rt
            )
        except ClientException as exc:
            return str(exc.code)
        return "ok"

    assert ask(instance_types=["ecs.c7.large"]) == "ok"
    assert ask(cores=2, memory=4.0) == "ok"
    assert ask(min_cores=2, min_memory=4.0, instance_type_family="ecs.c7") == "ok"
    assert ask(cores=2) == "InvalidParameter"  # half a pair
    assert ask(instance_type_family="ecs.c7") == "InvalidParameter"  # a family filter without a pair
