"""Every configured region is reconciled on the timer (issue 20, item 3).

A function configured with ``region=cn-hangzhou`` and ``regions=(cn-shanghai,)`` receives the timer's payload as
Function Compute sends it; its lineage in cn-shanghai lost its instance with no notice reaching anyone. One timer
invocation relaunches it there, with its data disk and elastic IP, and launches nothing in cn-hangzhou. A failure
in one region never stops the other's pass, and the invocation still fails so that FC's alerts see it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_vpc20160428 import models as vpc_models

from aliyun_ops import errors, service
from aliyun_ops.runtime.invoke import Invocation, Runner
from tests.functional.engine_support import BASE_IMAGE, CREDS, World, settings, tags_of

SHANGHAI, HANGZHOU = "cn-shanghai", "cn-hangzhou"
SH_ZONE, SH_VSW, SH_SG = "cn-shanghai-e", "vsw-uf6emu00000000000e", "sg-uf6emu000000000web"
NOTICE_S = 300.0
# What s.yaml's 5-minute timer trigger delivers (FC wraps the configured payload).
TIMER = {"triggerTime": "2026-11-27T10:00:00Z", "triggerName": "reconcile", "payload": '{"aliyun-ops":"reconcile"}'}


def launch_in_shanghai(world: World) -> str:
    """A user's spot instance in cn-shanghai: one data disk and an elastic IP of that region."""
    params: dict[str, Any] = {
        "RegionId": SHANGHAI,
        "ImageId": BASE_IMAGE,
        "InstanceType": "ecs.c7.large",
        "ZoneId": SH_ZONE,
        "VSwitchId": SH_VSW,
        "SecurityGroupIds": [SH_SG],
        "InstanceName": "sh-web-1",
        "SpotStrategy": "SpotAsPriceGo",
        "InstanceChargeType": "PostPaid",
        "SystemDisk": {"Category": "cloud_essd", "Size": 40},
        "DataDisk": [{"Category": "cloud_essd", "Size": 100, "PerformanceLevel": "PL1"}],
        "KeyPairName": "ops-key",
        "Tag": [{"Key": "app", "Value": "web"}],
        "Amount": 1,
    }
    request = ecs_models.RunInstancesRequest().from_map(params)
    iid: str = world.ecs.run_instances_with_options(request, world.rt).body.instance_id_sets.instance_id_set[0]
    world.advance(40)
    alloc = world.vpc.allocate_eip_address_with_options(
        vpc_models.AllocateEipAddressRequest(region_id=SHANGHAI, bandwidth="5"), world.rt
    ).body.allocation_id
    assoc = vpc_models.AssociateEipAddressRequest(
        region_id=SHANGHAI, allocation_id=alloc, instance_id=iid, instance_type="EcsInstance"
    )
    world.vpc.associate_eip_address_with_options(assoc, world.rt)
    world.advance(5)
    return iid


def instances(world: World, region: str) -> list[dict[str, Any]]:
    req = ecs_models.DescribeInstancesRequest(region_id=region, page_size=100)
    return list(world.ecs.describe_instances_with_options(req, world.rt).body.to_map()["Instances"]["Instance"])


def data_disk_ids(world: World, iid: str) -> list[str]:
    req = ecs_models.DescribeDisksRequest(region_id=SHANGHAI, instance_id=iid, disk_type="data", page_size=100)
    return [d["DiskId"] for d in world.ecs.describe_disks_with_options(req, world.rt).body.to_map()["Disks"]["Disk"]]


def eip_of(world: World, iid: str) -> str | None:
    req = vpc_models.DescribeEipAddressesRequest(region_id=SHANGHAI, page_size=100)
    rows = world.vpc.describe_eip_addresses_with_options(req, world.rt).body.to_map()["EipAddresses"]["EipAddress"]
    return next((e["IpAddress"] for e in rows if e.get("InstanceId") == iid), None)


def lose_a_shanghai_lineage(world: World) -> tuple[str, str, str]:
    """A lineage in cn-shanghai whose current instance was reclaimed with no notice reaching anyone: its first
    reclaim was handled (an event of cn-shanghai, which the function accepts), its second was not.
    Returns (lineage, data disk id, elastic IP address)."""
    gen0 = launch_in_shanghai(world)
    (disk,) = data_disk_ids(world, gen0)
    address = eip_of(world, gen0)
    assert address is not None
    multi = settings(world.emu, regions=(SHANGHAI,))
    event = world.interrupt(gen0)
    gen1 = service.handle_event(
        event, settings=multi, credentials=CREDS, sleep=world.advance, clock=world.emu.clock.now
    ).record.new_instance_id  # type: ignore[union-attr]
    assert gen1 is not None and eip_of(world, gen1) == address
    world.advance(400)
    world.interrupt(gen1)  # nobody handles this one
    world.advance(NOTICE_S + 5)
    assert not [i for i in instances(world, SHANGHAI) if i["InstanceId"] in (gen0, gen1)]  # the lineage is lost
    return gen0, disk, address


def timer_runner(world: World) -> Runner:
    """The function as deployed in cn-hangzhou with ALIYUN_OPS_REGIONS=cn-shanghai, on the emulator's clock."""
    return Runner(settings(world.emu, regions=(SHANGHAI,)), environ={}, sleep=world.advance, clock=world.emu.clock.now)


def fire_timer(runner: Runner) -> dict[str, Any]:
    return runner.run(Invocation(body=json.dumps(TIMER), request_id="timer-1", credentials=CREDS, timeout_s=600))


def test_one_timer_reconcile_recovers_a_lost_lineage_in_the_second_region(world: World) -> None:
    lineage, disk, address = lose_a_shanghai_lineage(world)

    answer = fire_timer(timer_runner(world))

    recovered = [o for o in answer["outcomes"] if o["status"] == "recovered"]
    assert len(recovered) == 1 and recovered[0]["message"].startswith(f"[{SHANGHAI}] lineage {lineage}")
    new = recovered[0]["record"]["new_instance_id"]
    (inst,) = [i for i in instances(world, SHANGHAI) if i["InstanceId"] == new]
    assert inst["Status"] == "Running" and inst["ZoneId"].startswith(SHANGHAI)
    assert tags_of(inst)["aops:lineage"] == lineage and inst["InstanceName"] == "sh-web-1"
    assert data_disk_ids(world, new) == [disk]  # the lineage's own data disk, moved
    assert eip_of(world, new) == address  # and its address
    assert instances(world, HANGZHOU) == []  # nothing launched in the configured region


def test_a_failing_region_never_stops_the_next_and_the_invocation_still_fails(world: World) -> None:
    lineage, disk, address = lose_a_shanghai_lineage(world)
    # cn-hangzhou's endpoint fails every call (the first region of the pass); cn-shanghai answers.
    world.emu.control.faults(actions=["*"], error_rate=1.0, code="ServiceUnavailable", regions=[HANGZHOU])

    with pytest.raises(errors.PassIncomplete) as failed:
        fire_timer(timer_runner(world))
    world.emu.control.clear_faults()

    assert f"{HANGZHOU}: " in str(failed.value) and f"{SHANGHAI}: " not in str(failed.value)
    outcomes: list[Any] = failed.value.outcomes
    assert any(o.status == "failed" and o.message.startswith(f"[{HANGZHOU}]") for o in outcomes)
    (recovered,) = [o for o in outcomes if o.status == "recovered"]
    assert recovered.message.startswith(f"[{SHANGHAI}] lineage {lineage}")
    new = recovered.record.new_instance_id
    assert [i["Status"] for i in instances(world, SHANGHAI) if i["InstanceId"] == new] == ["Running"]
    assert data_disk_ids(world, new) == [disk] and eip_of(world, new) == address


def test_each_region_gets_a_fair_share_of_the_time_and_a_failing_one_stops_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three regions, 600 s less the 10 s margin: the first may use a third of it; the time it leaves goes to the
    others. The second's pass raises: the third still runs, and the end says the second failed."""
    from aliyun_ops.config import Settings
    from aliyun_ops.recovery import reconcile as engine
    from aliyun_ops.service import Outcome

    now = [1000.0]
    seen: list[tuple[str, float]] = []

    class Pass:
        def __init__(self, cloud: Any, settings: Settings, **_: Any) -> None:
            self.cloud, self.region = cloud, settings.region_id

        def run(self) -> list[Outcome]:
            seen.append((self.region, self.cloud.deadline))
            now[0] += 30.0  # a quick pass: it leaves most of its share to the regions after it
            if self.region == "cn-beijing":
                raise errors.ServiceError("ServiceUnavailable", "the endpoint is down", action="DescribeInstances")
            return [Outcome("skipped", "nothing to do")]

    monkeypatch.setattr(engine, "Reconciler", Pass)
    configured = Settings(region_id=HANGZHOU, regions=("cn-beijing", SHANGHAI), function_timeout_s=600)
    with pytest.raises(errors.PassIncomplete) as failed:
        service.reconcile(settings=configured, credentials=CREDS, clock=lambda: now[0], sleep=lambda _: None)
    assert [region for region, _ in seen] == [HANGZHOU, "cn-beijing", SHANGHAI]
    assert [round(until - 1000.0, 1) for _, until in seen] == [
        round(590 / 3, 1),  # a third of the 590 s
        round(30 + 560 / 2, 1),  # half of what the first left
        590.0,  # the rest
    ]
    assert str(failed.value).startswith("reconcile: cn-beijing: ") and "[cn-shanghai] nothing to do" in [
        o.message for o in failed.value.outcomes  # type: ignore[attr-defined]
    ]


def test_a_pass_over_several_regions_never_overlaps_a_pass_of_any_of_them() -> None:
    """One pass per region at a time in a function instance: while a cn-shanghai pass runs, a pass covering
    cn-hangzhou and cn-shanghai is refused at once (and holds no lock after), and a cn-hangzhou-only pass still runs."""
    from concurrent.futures import ThreadPoolExecutor

    from aliyun_ops.config import Settings
    from aliyun_ops.runtime.invoke import ReconcileBusy
    from tests.functional.test_runtime_burst import TIMER as TIMER_BODY
    from tests.functional.test_runtime_burst import HeldPass

    held = HeldPass()
    shanghai = Runner(Settings(region_id=SHANGHAI), environ={}, reconcile=held)
    both = Runner(Settings(region_id=HANGZHOU, regions=(SHANGHAI,)), environ={}, reconcile=lambda **_: [])
    hangzhou = Runner(Settings(region_id=HANGZHOU), environ={}, reconcile=lambda **_: [])
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(shanghai.run, Invocation(TIMER_BODY))
        try:
            assert held.running.wait(60)
            with pytest.raises(ReconcileBusy, match=SHANGHAI):
                both.run(Invocation(TIMER_BODY))
            assert hangzhou.run(Invocation(TIMER_BODY))["status"] == "reconciled"  # its lock was given back
        finally:
            held.released.set()  # never leave the held pass (and the pool) waiting, whatever failed
        first.result()
    assert both.run(Invocation(TIMER_BODY))["status"] == "reconciled"
