"""The ``aliyun-ops`` commands as a user types them, against an in-process emulator over loopback.

Instances are seeded through the official SDK (``World``); outcomes are checked through the SDK or
the emulator's journal, never through what the command says about itself alone.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from aliyun_ops.cli import common
from aliyun_ops.cli.app import app
from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator
from aliyun_ops.models import TAG_IMAGE_OF, TAG_LINEAGE, TAG_REPLACES
from tests.functional.engine_support import REGION, World, live, tags_of

CREDS_ENV: dict[str, str | None] = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
    "ALIBABA_CLOUD_SECURITY_TOKEN": None,
    "ALIYUN_OPS_REGION": None,
    "ALIYUN_OPS_IMAGE_POLL_MAX": "0.2",  # poll the fast emulated cloud often
}
MUTATING = {
    "RunInstances",
    "CreateImage",
    "DeleteImage",
    "DeleteInstance",
    "StartInstance",
    "StopInstance",
    "TagResources",
    "UntagResources",
    "AssociateEipAddress",
    "UnassociateEipAddress",
    "AllocateEipAddress",
    "ReleaseEipAddress",
}


@pytest.fixture
def fast() -> Iterator[Emulator]:
    """Emulated time 100x: a 70 s image takes 0.7 s, so `replace` runs for real in seconds."""
    with Emulator(host="127.0.0.1", port=0, time_scale=100) as emu:
        yield emu


def run(emu: Emulator | None, *args: str, env: dict[str, str | None] | None = None) -> Any:
    argv = [*args, *(["--endpoint", emu.endpoint] if emu is not None else [])]
    return CliRunner().invoke(app, argv, env={**CREDS_ENV, **(env or {})})


def one_line_error(result: Any, starts: str) -> None:
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {starts}"), lines[0]
    assert "Traceback" not in result.output + result.stderr


# -- probe ---------------------------------------------------------------------------------------
def test_probe_lists_offers_cheapest_first(emulator: Emulator) -> None:
    result = run(emulator, "probe", "--cores", "2", "--memory", "4", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    in_stock = [r for r in rows if r["in_stock"]]
    prices = [r["spot_price"] for r in in_stock]
    assert prices == sorted(prices) and len(prices) > 5
    assert all(r["cpu"] == 2 and r["memory_gib"] == 4 for r in rows)
    assert {"ecs.c7.large", "ecs.c6.large"} <= {r["instance_type"] for r in rows}
    sold_out = [r for r in rows if not r["in_stock"]]
    assert ("cn-hangzhou-h", "ecs.c7.large") in {(r["zone"], r["instance_type"]) for r in sold_out}
    assert rows.index(sold_out[0]) > rows.index(in_stock[-1])  # sold-out offers come last

    table = run(emulator, "probe", "--cores", "2", "--memory", "4", "--arch", "ARM", "--zone", "cn-hangzhou-i")
    assert table.exit_code == 0
    assert "ecs.c8y.large" in table.stdout and "ecs.c7.large" not in table.stdout


# -- plan ----------------------------------------------------------------------------------------
def test_plan_changes_nothing_and_names_the_chosen_candidate(emulator: Emulator) -> None:
    world = World(emulator)
    iid = world.launch(zone="cn-hangzhou-i")
    emulator.control.stock("cn-hangzhou-i", "ecs.c7.large", True, False)  # its own zone is sold out now
    before_instances = {i["InstanceId"] for i in world.instances()}
    before_images = world.images()
    seq = len(emulator.control.calls())

    # price placement: the same type in another zone ranks first (risk placement: tests/functional/test_risk_placement)
    result = run(emulator, "plan", iid, "--json", env={"ALIYUN_OPS_PLACEMENT": "price"})
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    chosen = plan["chosen"]
    assert chosen["instance_type"] == "ecs.c7.large" and chosen["zone"] != "cn-hangzhou-i"
    assert plan["dry_run"] == {"valid": True, "code": "DryRunOperation", "message": "RunInstances would succeed"}
    prices = [c["spot_price"] for c in plan["candidates"] if c["tier"] == chosen["tier"]]
    assert chosen["spot_price"] == min(prices)

    calls = emulator.control.calls()[seq:]
    writes = [c for c in calls if c["action"] in MUTATING]
    assert [c["action"] for c in writes] == ["RunInstances"]
    assert str(writes[0]["params"].get("DryRun")).lower() == "true"
    assert {i["InstanceId"] for i in world.instances()} == before_instances
    assert world.images() == before_images

    text = run(emulator, "plan", iid, env={"ALIYUN_OPS_PLACEMENT": "price"})
    assert text.exit_code == 0
    assert f"Chosen: ecs.c7.large in {chosen['zone']}" in " ".join(text.stdout.split())
    assert "DryRun of the launch: valid" in text.stdout


def test_plan_skips_a_pair_another_function_instance_found_sold_out(emulator: Emulator) -> None:
    """The sold-out memory other function instances keep on the vSwitches (``aops:sold-out:<type>``): ``plan``
    skips those pairs as a real incident would, and says why."""
    from alibabacloud_vpc20160428 import models as vpc_models

    from tests.functional.engine_support import VSW

    world = World(emulator)
    iid = world.launch(zone="cn-hangzhou-i")
    expiry = str(int(emulator.clock.now() + 300))
    tag = vpc_models.TagResourcesRequest(
        region_id=REGION, resource_type="VSWITCH", resource_id=[VSW["cn-hangzhou-i"]],
        tag=[vpc_models.TagResourcesRequestTag(key="aops:sold-out:ecs.c7.large", value=expiry)],
    )
    world.vpc.tag_resources_with_options(tag, world.rt)

    result = run(emulator, "plan", iid, "--json", env={"ALIYUN_OPS_PLACEMENT": "price"})
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert (plan["chosen"]["instance_type"], plan["chosen"]["zone"]) != ("ecs.c7.large", "cn-hangzhou-i")
    assert not [c for c in plan["candidates"] if (c["instance_type"], c["zone"]) == ("ecs.c7.large", "cn-hangzhou-i")]
    assert any("ecs.c7.large" in s["what"] and "cn-hangzhou-i" in s["what"] and "sold out" in s["why"]
               for s in plan["skipped"])


# -- replace + status ----------------------------------------------------------------------------
def test_replace_leaves_one_new_running_instance_and_status_shows_the_lineage(fast: Emulator) -> None:
    world = World(fast)
    iid = world.launch(name="shop-1")
    ip = next(e["IpAddress"] for e in world.eips() if e.get("InstanceId") == iid)

    result = run(fast, "replace", iid, "--yes")
    assert result.exit_code == 0, result.stderr
    replacements = [i for i in live(world) if tags_of(i).get(TAG_REPLACES) == iid]
    assert len(replacements) == 1
    new = replacements[0]
    assert new["Status"] == "Running" and new["InstanceName"] == "shop-1" and new["HostName"] == "shop-1"
    assert world.instance(iid) is None  # released once the replacement ran
    assert next(e["IpAddress"] for e in world.eips() if e.get("InstanceId") == new["InstanceId"]) == ip
    assert f"replaced by {new['InstanceId']}" in result.stdout

    status = run(fast, "status", "--json")
    assert status.exit_code == 0, status.stderr
    data = json.loads(status.stdout)
    row = next(r for r in data["instances"] if r["instance_id"] == new["InstanceId"])
    assert (row["lineage"], row["generation"], row["replaces"]) == (iid, 1, iid)
    assert data["last_incident"]["replaced"] == iid and data["last_incident"]["by"] == new["InstanceId"]
    assert [i["image_of"] for i in data["images"]] == [iid]
    assert data["month"]["payg_cost"] >= data["month"]["cost"]
    text = run(fast, "status")
    assert text.exit_code == 0 and new["InstanceId"] in text.stdout and "Last incident" in text.stdout


def test_replace_asks_before_releasing(emulator: Emulator) -> None:
    world = World(emulator)
    iid = world.launch(eip=False)
    result = CliRunner().invoke(app, ["replace", iid, "--endpoint", emulator.endpoint], input="n\n", env=CREDS_ENV)
    assert result.exit_code == 1
    assert world.images() == [] and [i["InstanceId"] for i in live(world)] == [iid]


# -- images prune --------------------------------------------------------------------------------
def _lineage_images(world: World, instance_id: str, count: int) -> list[str]:
    from alibabacloud_ecs20140526 import models as ecs_models

    ids = []
    for n in range(count):
        tags = [{"Key": TAG_IMAGE_OF, "Value": instance_id}, {"Key": TAG_LINEAGE, "Value": instance_id}]
        req = ecs_models.CreateImageRequest().from_map(
            {"RegionId": REGION, "InstanceId": instance_id, "ImageName": f"lineage-{n}", "Tag": tags}
        )
        ids.append(world.ecs.create_image_with_options(req, world.rt).body.image_id)
        world.advance(200)  # Available, and each one newer than the last
    return ids


def test_images_prune_keeps_the_newest_k(emulator: Emulator) -> None:
    world = World(emulator)
    iid = world.launch(eip=False)
    made = _lineage_images(world, iid, 4)

    result = run(emulator, "images", "prune", "--keep", "2", "--json")
    assert result.exit_code == 0, result.stderr
    left = sorted(i["ImageId"] for i in world.images())
    assert left == sorted(made[-2:])
    assert sorted(json.loads(result.stdout)["deleted"]) == sorted(made[:2])


# -- reconcile, invoke, serve, emulator ----------------------------------------------------------
def test_reconcile_with_nothing_to_do_prints_an_empty_list(emulator: Emulator) -> None:
    World(emulator).launch(eip=False)
    result = run(emulator, "reconcile", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_invoke_sends_a_notice_that_the_runtime_acts_on(fast: Emulator) -> None:
    from aliyun_ops.runtime.server import RuntimeServer
    from tests.functional.engine_support import settings

    world = World(fast)
    iid = world.launch(eip=False)
    fast.control.interrupt(iid)  # the cloud marks it for reclaim (Recycling lock); the notice comes from invoke
    environ = {k: v for k, v in CREDS_ENV.items() if k.startswith("ALIBABA") and v is not None}
    with RuntimeServer(settings=settings(fast, image_poll_max_s=0.2), environ=environ) as rt:
        result = run(None, "invoke", "--format", "eventbridge", iid, "--url", f"{rt.url}/invoke", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == 200 and answer["body"]["status"] == "replaced"
    assert [tags_of(i).get(TAG_REPLACES) for i in live(world) if i["InstanceId"] != iid] == [iid]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def _start(*args: str, **extra_env: str) -> subprocess.Popen[bytes]:
    code = "from aliyun_ops.cli import main; main()"
    env = {**os.environ, **{k: v for k, v in CREDS_ENV.items() if v is not None}, **extra_env}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_emulator_and_serve_commands_start_servers_a_user_can_use() -> None:
    eport, rport = _free_port(), _free_port()
    emulator = _start("emulator", "--port", str(eport), "--time-scale", "10")
    at = f"127.0.0.1:{eport}"
    runtime = _start(
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(rport),
        ALIYUN_OPS_ECS_ENDPOINT=at,
        ALIYUN_OPS_VPC_ENDPOINT=at,
        ALIYUN_OPS_PROTOCOL="http",
    )
    try:
        _wait_http(f"http://127.0.0.1:{eport}/_emulator/state", emulator)
        _wait_http(f"http://127.0.0.1:{rport}/", runtime)
        probe = run(None, "probe", "--cores", "2", "--memory", "4", "--json", "--endpoint", f"127.0.0.1:{eport}")
        assert probe.exit_code == 0 and json.loads(probe.stdout)[0]["in_stock"] is True
        answer = run(None, "invoke", "i-bp1notthere0000000000", "--url", f"http://127.0.0.1:{rport}/invoke", "--json")
        assert answer.exit_code == 0, answer.stdout
        body = json.loads(answer.stdout)["body"]
        assert body["status"] == "skipped"  # the runtime asked the emulator: no such instance, nothing to do
    finally:
        for proc in (emulator, runtime):
            proc.terminate()
            proc.wait(timeout=10)


# -- the four one-line errors --------------------------------------------------------------------
def test_missing_credentials_is_one_line() -> None:
    result = run(None, "status", env={"ALIBABA_CLOUD_ACCESS_KEY_ID": None, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": None})
    one_line_error(result, "no credentials")


def test_unknown_instance_is_one_line(emulator: Emulator) -> None:
    one_line_error(run(emulator, "plan", "i-bp1doesnotexist00000"), "not found")
    one_line_error(run(emulator, "replace", "i-bp1doesnotexist00000", "--yes"), "not found")


def test_unreachable_endpoint_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "RETRY_BUDGET_S", 0.2)
    one_line_error(run(None, "status", "--endpoint", f"127.0.0.1:{_free_port()}"), "cannot reach")
    one_line_error(run(None, "invoke", "i-x", "--url", f"http://127.0.0.1:{_free_port()}/invoke"), "cannot reach")


def test_denied_permission_is_one_line(emulator: Emulator) -> None:
    iid = World(emulator).launch(eip=False)
    emulator.set_policy({"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["vpc:*"], "Resource": "*"}]})
    result = run(emulator, "plan", iid)
    one_line_error(result, "permission denied (Forbidden.RAM")
    assert DEFAULT_ACCESS_KEY_SECRET not in result.stderr


def test_bad_endpoint_is_a_usage_error_not_a_traceback() -> None:
    one_line_error(run(None, "status", "--endpoint", "http://127.0.0.1"), "--endpoint must be HOST:PORT")


@pytest.mark.parametrize("command", ["emulator", "serve"])
def test_a_busy_port_is_one_line_not_a_traceback(command: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = run(None, command, "--port", port)
    one_line_error(result, f"cannot listen on 127.0.0.1:{port}")
    assert "listening" not in result.stdout and "Emulator on" not in result.stdout


def test_an_unreachable_endpoint_names_the_address_and_the_cause() -> None:
    port = _free_port()
    result = run(None, "status", "--endpoint", f"127.0.0.1:{port}")
    one_line_error(result, "cannot reach the API")
    assert f"127.0.0.1:{port}" in result.stderr and "Connection refused" in result.stderr


def test_status_counts_cost_on_the_clouds_clock_not_ours(emulator: Emulator) -> None:
    """Against an emulated cloud whose clock runs ahead of ours, the month's hours and cost come from the cloud's
    own creation times and its own time (its answers' Date header): 6 emulated hours cost 6 hours."""
    from aliyun_ops.cli.inventory import month_start
    from aliyun_ops.models import parse_time

    world = World(emulator)
    iid = world.launch(name="cost-1", eip=False)
    world.advance(6 * 3600)
    data = json.loads(run(emulator, "status", "--json").stdout)
    row = next(r for r in data["instances"] if r["instance_id"] == iid)
    now = emulator.clock.now()
    created = parse_time(row["created"])
    assert created is not None
    expected = (now - max(created, month_start(now))) / 3600
    assert expected > 0 and abs(row["hours_this_month"] - expected) < 0.05  # wall-clock counting gives ~0 here
    assert row["cost"] == round(row["spot_price"] * row["hours_this_month"], 2) and row["cost"] > 0
