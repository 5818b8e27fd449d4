"""A pass relaunches its lost lineages concurrently (issue 20, item 6): a user whose servers were all lost while
the function was broken gets them back in one pass, not one pass per couple of servers.

Each lineage here is lost as in ``test_lineage``: its reclaim was handled while RunInstances was refused, so the
incident kept its data disk and imaged it, and the instance was then released with nothing launched. The pass's
time allows only about two relaunches one after another (each waits for its replacement to be Running); the
emulator's clock is the engine's (``sleep`` advances it), so what fits in the pass is what fits on that clock.
"""

from __future__ import annotations

from typing import Any

import pytest

from aliyun_ops import errors, service
from aliyun_ops.emulator.models.network import SecurityGroup
from bench.scale import OverlappingSleep
from tests.functional import engine_support
from tests.functional.engine_support import CREDS, REGION, SGS, VPC, World, tags_of
from tests.functional.test_data_disks import data_disks

NOTICE_S = 300.0
LINEAGES = 5  # recoverable; one more whose relaunch fails
GONE_SG = "sg-bp1emu0000000000gone"
# The pass's whole time: its fixed steps, then about two relaunches one after another (RELAUNCH_MIN_S each).
TIGHT_TIMEOUT_S = 330.0


def lose(world: World, name: str, monkeypatch: pytest.MonkeyPatch, groups: list[str] = SGS) -> tuple[str, str, str]:
    """A lineage whose reclaim found no stock: imaged, its data disk kept, released, nothing launched.
    Returns (instance id, data disk id, EIP allocation id)."""
    monkeypatch.setattr(engine_support, "SGS", groups)
    old = world.launch(name=name, eip=True, data_disks=[{"Category": "cloud_essd", "Size": 40}])
    monkeypatch.setattr(engine_support, "SGS", SGS)
    (disk,) = [d["DiskId"] for d in data_disks(world, old)]
    world.emu.control.write_marker(disk, f"data of {name}")
    (allocation,) = [e["AllocationId"] for e in world.eips() if e.get("InstanceId") == old]
    event = world.interrupt(old)
    world.emu.control.faults(actions=["RunInstances"], error_rate=1.0, code="OperationDenied.NoStock", http_status=403)
    with pytest.raises(errors.ReplacementFailed):
        world.handle(event)
    world.emu.control.clear_faults()
    return old, disk, allocation


def reconcile(world: World, **overrides: Any) -> list[service.Outcome]:
    try:
        return service.reconcile(settings=engine_support.settings(world.emu, **overrides), credentials=CREDS,
                                 sleep=OverlappingSleep(world.emu.clock), clock=world.emu.clock.now)
    except errors.PassIncomplete as exc:  # an item failed: every item was handled, the pass says it failed
        return [o for o in exc.outcomes if isinstance(o, service.Outcome)]


def test_one_pass_relaunches_every_lost_lineage_once_and_a_failing_one_stops_none(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.emu.backend.network.groups[GONE_SG] = SecurityGroup(GONE_SG, VPC, REGION, "gone")
    lost = [lose(world, f"app-{k}", monkeypatch) for k in range(LINEAGES)]
    broken, _, _ = lose(world, "broken-1", monkeypatch, groups=[SGS[0], GONE_SG])
    world.advance(NOTICE_S + 100)
    assert all(world.instance(old) is None for old, _, _ in lost)
    # The user deleted a security group of broken-1 (the emulator has no DeleteSecurityGroup): its relaunch fails.
    del world.emu.backend.network.groups[GONE_SG]

    outcomes = reconcile(world, function_timeout_s=TIGHT_TIMEOUT_S)

    lineages = sorted([old for old, _, _ in lost] + [broken])
    about = [(o.status, o.message.split()[1].rstrip(":")) for o in outcomes if o.message.startswith("lineage ")]
    # every lineage in this one pass, in lineage order: one after another, only the first few fit
    assert about == [("failed" if lin == broken else "recovered", lin) for lin in lineages]
    (failed,) = [o for o in outcomes if o.status == "failed"]
    assert "InvalidSecurityGroupId.NotFound" in failed.message
    for old, disk, allocation in lost:  # each lineage once, with its data and its address
        (new,) = [i for i in world.instances() if tags_of(i).get("aops:lineage") == old and i["Status"] != "Deleted"]
        assert new["Status"] == "Running"
        assert [d["DiskId"] for d in data_disks(world, new["InstanceId"])] == [disk]
        assert world.emu.control.markers(disk) == [f"data of {name_of(lost, old)}"]
        (eip,) = [e for e in world.eips() if e["AllocationId"] == allocation]
        assert eip["InstanceId"] == new["InstanceId"]
    assert [i for i in world.instances() if tags_of(i).get("aops:lineage") == broken and i["Status"] != "Deleted"] == []


def name_of(lost: list[tuple[str, str, str]], old: str) -> str:
    return f"app-{[o for o, _, _ in lost].index(old)}"
