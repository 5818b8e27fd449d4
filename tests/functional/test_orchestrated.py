"""Issue 22, item 3: an instance an orchestrator owns is left to it, through the official SDKs.

An Auto Scaling (ESS) member or an ACK node is replaced by its own group or node pool: aliyun-ops never replaces,
relaunches, restarts, moves or baselines it, and says who owns it (the event answer, a 2xx so FC does not retry;
``plan``; ``status``). The instances get their owner's tags the way the orchestrator gives them: the emulator's
control API (``POST /_emulator/instances/<id>/system-tags``), since TagResources refuses a user the ``acs:`` keys.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from aliyun_ops import service
from aliyun_ops.cli.app import app
from aliyun_ops.config import Credentials
from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator
from aliyun_ops.recovery import identity, naming
from aliyun_ops.runtime.invoke import Runner
from aliyun_ops.runtime.server import RuntimeServer
from tests.functional.engine_support import CREDS, World, settings, tags_of

ESS = {"acs:autoscaling:scalingGroupId": "asg-bp1emu0000000group"}
ACK = {"ack.aliyun.com": "c0123456789abcdef0123456789abcdef", "ack.alibabacloud.com/nodepool-id": "np0123456789abcdef"}
WRITES = {"CreateImage", "CreateSnapshot", "RunInstances", "StartInstance", "StopInstance", "DeleteInstance",
          "AssociateEipAddress", "UnassociateEipAddress", "ModifyDiskAttribute", "DetachDisk", "AttachDisk"}
NOTICE_S = 300.0


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def owned(world: World, tags: dict[str, str], **launch: Any) -> str:
    """A spot instance its orchestrator launched: the user's tags, then the orchestrator's own."""
    iid = world.launch(**launch)
    world.emu.control.system_tags(iid, tags)
    assert tags.items() <= tags_of(world.instance(iid) or {}).items()
    return iid


def writes_since(world: World, seq: int) -> list[dict[str, Any]]:
    return [c for c in world.emu.control.calls()[seq:] if c["action"] in WRITES]


def test_a_notice_for_an_ess_member_gets_a_2xx_naming_its_group_and_nothing_is_made(world: World) -> None:
    member = owned(world, ESS, name="asg-node-1")
    event = world.interrupt(member)
    seq = len(world.emu.control.calls())
    handle = functools.partial(service.handle_event, sleep=world.advance, clock=world.emu.clock.now)
    headers = {
        "x-fc-access-key-id": CREDS.access_key_id,
        "x-fc-access-key-secret": CREDS.access_key_secret,
        "x-fc-security-token": CREDS.security_token or "",
    }
    with RuntimeServer(runner=Runner(settings(world.emu), environ={}, handle=handle)) as srv:
        answer = httpx.post(f"{srv.url}/invoke", content=json.dumps(event).encode(), headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text  # a 2xx: FC does not retry it
    body = answer.json()
    assert body["status"] == "skipped"
    assert "Auto Scaling group asg-bp1emu0000000group" in body["message"]
    assert writes_since(world, seq) == []  # no image, no snapshot, no launch
    world.advance(NOTICE_S + 20)  # the cloud releases it; its group launches its own replacement
    assert world.reconcile() == []
    assert writes_since(world, seq) == []
    assert [i for i in world.instances() if i["InstanceName"] == "asg-node-1"] == []
    assert world.images() == []


def test_an_ack_node_under_notice_is_neither_replaced_by_the_notice_nor_by_reconcile(world: World) -> None:
    node = owned(world, ACK, name="ack-node-1", data_disks=[{"Category": "cloud_essd", "Size": 20}])
    event = world.interrupt(node)
    seq = len(world.emu.control.calls())
    outcome = world.handle(event)
    assert outcome.status == "skipped"
    assert "ACK node pool np0123456789abcdef of ACK cluster c0123456789abcdef0123456789abcdef" in outcome.message
    assert world.reconcile() == []  # the notice it missed: still left to ACK
    assert writes_since(world, seq) == []
    assert [i["InstanceId"] for i in world.instances() if i["InstanceName"] == "ack-node-1"] == [node]


def _lineage_image_of(world: World, iid: str) -> str:
    """The image an earlier aliyun-ops left of the instance (before it knew orchestrators): the lineage tags, the
    instance's own tags (ACK's among them, as an image copies a user's) and its identity in the description."""
    admin = service.make_cloud(
        settings(world.emu), Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
        sleep=world.advance, clock=world.emu.clock.now,
    )
    inst = admin.describe_instance(iid)
    assert inst is not None
    image_id = admin.create_image(
        f"aops-{iid}-old", f"old-{iid}", naming.image_tags(inst, f"inc-{iid}"), identity.encode(inst), instance_id=iid
    )
    world.advance(300)
    (row,) = [i for i in world.images() if i["ImageId"] == image_id]
    assert row["Status"] == "Available" and tags_of(row).get("ack.aliyun.com") == ACK["ack.aliyun.com"]
    return image_id


def test_a_lost_lineage_whose_last_instance_was_an_ack_node_is_not_relaunched(world: World) -> None:
    node = owned(world, ACK, name="ack-node-2")
    _lineage_image_of(world, node)
    world.interrupt(node)  # reclaimed; the notice never arrives
    world.advance(NOTICE_S + 30)
    assert world.instance(node) is None
    seq = len(world.emu.control.calls())
    outcomes = world.reconcile()
    assert [o.status for o in outcomes] == ["skipped"]
    assert f"{node} belongs to ACK node pool np0123456789abcdef" in outcomes[0].message
    assert writes_since(world, seq) == []
    assert [i for i in world.instances() if i["InstanceName"] == "ack-node-2"] == []


def test_a_stopped_ack_node_is_not_restarted(world: World) -> None:
    node = owned(world, ACK, name="ack-node-3", behavior="Stop", eip=False)
    world.interrupt(node)  # the reclaim stops it (Stop mode)
    world.advance(NOTICE_S + 20)
    assert (world.instance(node) or {})["Status"] == "Stopped"
    seq = len(world.emu.control.calls())
    assert world.reconcile() == []
    world.advance(120)
    assert world.reconcile(stopped_migrate_after_s=60) == []  # nor migrated once its zone "stayed sold out"
    assert writes_since(world, seq) == []
    assert (world.instance(node) or {})["Status"] == "Stopped"
    assert [i["InstanceId"] for i in world.instances() if i["InstanceName"] == "ack-node-3"] == [node]


def test_no_baseline_of_an_ess_member(world: World) -> None:
    member = owned(world, ESS, name="asg-node-2")
    plain = world.launch(name="web-2")
    seq = len(world.emu.control.calls())
    world.reconcile()
    world.advance(300)
    world.reconcile()
    world.advance(60)
    snapped = {c["params"].get("DiskId") for c in world.emu.control.calls()[seq:] if c["action"] == "CreateSnapshot"}
    disks = {iid: _system_disk(world, iid) for iid in (member, plain)}
    assert snapped == {disks[plain]}  # the plain instance's baseline proves baselines ran; the member has none
    assert member not in {tags_of(i).get("aops:image-of") for i in world.images()}


def _system_disk(world: World, iid: str) -> str:
    from alibabacloud_ecs20140526 import models as ecs_models

    req = ecs_models.DescribeDisksRequest(region_id="cn-hangzhou", instance_id=iid, disk_type="system")
    disk_id: str = world.ecs.describe_disks_with_options(req, world.rt).body.to_map()["Disks"]["Disk"][0]["DiskId"]
    return disk_id


def test_plan_and_status_say_which_cluster_owns_an_ack_node_and_launch_nothing(world: World) -> None:
    node = owned(world, ACK, name="ack-node-4")
    env: dict[str, str | None] = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
        "ALIBABA_CLOUD_SECURITY_TOKEN": None,
        "ALIYUN_OPS_REGION": None,
    }
    seq = len(world.emu.control.calls())
    endpoint = ["--endpoint", world.emu.endpoint]
    as_json = CliRunner().invoke(app, ["plan", node, "--json", *endpoint], env=env)
    assert as_json.exit_code == 0, as_json.stderr
    plan = json.loads(as_json.stdout)
    assert plan["owner"] == "ACK node pool np0123456789abcdef of ACK cluster c0123456789abcdef0123456789abcdef"
    assert plan["chosen"] is None and plan["dry_run"] is None
    text = CliRunner().invoke(app, ["plan", node, *endpoint], env=env)
    assert text.exit_code == 0, text.stderr
    assert "ACK cluster c0123456789abcdef0123456789abcdef" in " ".join(text.stdout.split())
    status = CliRunner().invoke(app, ["status", "--json", *endpoint], env=env)
    assert status.exit_code == 0, status.stderr
    (row,) = [r for r in json.loads(status.stdout)["instances"] if r["instance_id"] == node]
    assert row["owner"] == plan["owner"]
    assert [c["action"] for c in world.emu.control.calls()[seq:] if c["action"] == "RunInstances"] == []
