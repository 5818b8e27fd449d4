"""``aliyun-ops doctor`` against the emulator: the deployment (FC 3.0, EventBridge, RAM, CloudMonitor) is served
from recorded answers (tests/fixtures/doctor/deployment.json), the instances from the emulated ECS world. A
healthy world passes every check; each broken thing fails its own check, for the instance it concerns."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from typer.testing import CliRunner

from aliyun_ops.cli.app import app
from aliyun_ops.deploy.policy import render_policy
from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator
from tests.functional.engine_support import REGION, World

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "doctor" / "deployment.json"
ENV: dict[str, str | None] = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
    "ALIBABA_CLOUD_SECURITY_TOKEN": None,
    "ALIYUN_OPS_REGION": None,
    "ALIYUN_OPS_PLACEMENT": "price",
}
FUNCTION_CHECKS = ["function", "trigger.notice", "trigger.timer", "eventbridge.rule", "async.on_failure",
                   "invocations", "role.actions"]  # fmt: skip
INSTANCE_CHECKS = ["disks", "ram_role", "login", "snapshots", "stock"]
READS = ("Describe", "List", "Get")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(host="127.0.0.1", port=0) as emulator:
        yield emulator


def deployment(emu: Emulator, **changes: Any) -> dict[str, Any]:
    account = str(emu.backend.account_id)
    doc = json.loads(FIXTURE.read_text(encoding="utf-8").replace("{account}", account))
    doc.pop("_source")
    policy = render_policy(regions=[REGION], account_id=account)
    doc["roles"]["aliyun-ops-role"]["policies"][0]["document"] = policy
    for key, value in changes.items():
        doc[key] = value
    return doc


def load(emu: Emulator, doc: dict[str, Any]) -> None:
    answer = httpx.post(f"http://{emu.endpoint}/_emulator/controlplane", json=doc)
    assert answer.status_code == 200, answer.text


def doctor(emu: Emulator, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    argv = ["doctor", "--json", "--endpoint", emu.endpoint, *args]
    result = CliRunner().invoke(app, argv, env={**ENV, **(env or {})})
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads(result.stdout)


def by_name(report: dict[str, Any], target: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"] if c["target"] == target}


def healthy_instance(world: World, **kw: Any) -> str:
    options: dict[str, Any] = {"ram_role": "aliyun-ops-app", "data_disks": [{"Category": "cloud_essd", "Size": 40}]}
    return world.launch(**{**options, **kw})


def test_a_healthy_deployment_passes_every_check_and_changes_nothing(emu: Emulator) -> None:
    world = World(emu)
    iid = healthy_instance(world)
    load(emu, deployment(emu))
    seq = len(emu.control.calls())

    code, report = doctor(emu)

    assert code == 0 and report["ok"] is True, report
    assert report["instances"] == [iid] and report["function"] == "aliyun-ops" and report["region"] == REGION
    function = by_name(report, "function")
    assert list(function) == FUNCTION_CHECKS
    assert {name: c["status"] for name, c in function.items()} == dict.fromkeys(FUNCTION_CHECKS, "ok")
    assert function["trigger.notice"]["detail"].startswith("spot-interruption receives")
    assert function["trigger.timer"]["detail"] == "reconcile: @every 5m"
    assert function["invocations"]["detail"] == "last 24 h: 300 invocations, no error"
    assert function["role.actions"]["detail"].startswith("aliyun-ops-role allows all")
    instance = by_name(report, iid)
    assert list(instance) == INSTANCE_CHECKS
    assert {name: c["status"] for name, c in instance.items()} == dict.fromkeys(INSTANCE_CHECKS, "ok")
    assert instance["disks"]["detail"] == "1 data disk(s), all can be kept"
    assert instance["ram_role"]["detail"] == "aliyun-ops-app can be passed"
    assert instance["login"]["detail"] == "key pair ops-key"
    assert instance["stock"]["detail"].startswith("would launch ecs.")

    calls = emu.control.calls()[seq:]
    assert {c["product"] for c in calls} >= {"fc", "ram", "eventbridge", "cms", "ecs"}
    assert all(c["status"] == 200 for c in calls if c["product"] != "fc" or c["action"] != "GetAsyncInvokeConfig")
    writes = [c for c in calls if not c["action"].startswith(READS)]
    # the one non-read is the launch's DryRun (for an instance with a key pair, none at all)
    assert writes == []


def test_missing_timer_and_function_errors_fail_the_function_checks(emu: Emulator) -> None:
    World(emu).launch()
    doc = deployment(emu)
    entry = doc["functions"]["aliyun-ops"]
    entry["triggers"] = [t for t in entry["triggers"] if t["triggerType"] != "timer"]
    doc["metrics"]["FunctionFunctionErrors"] = [{"ageSeconds": 300, "Sum": 3}]
    load(emu, doc)

    code, report = doctor(emu)

    assert code == 1 and report["ok"] is False
    function = by_name(report, "function")
    assert function["trigger.timer"]["status"] == "fail"
    assert "no enabled timer trigger" in function["trigger.timer"]["detail"]
    assert function["invocations"]["status"] == "fail"
    assert function["invocations"]["detail"] == "last 24 h: 300 invocations, errors: FunctionFunctionErrors 3"
    assert function["trigger.notice"]["status"] == "ok"


def test_a_policy_missing_an_action_is_named(emu: Emulator) -> None:
    World(emu).launch()
    doc = deployment(emu)
    policy = doc["roles"]["aliyun-ops-role"]["policies"][0]["document"]
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != "ecs:CreateImage"]
    load(emu, doc)

    code, report = doctor(emu)

    assert code == 1
    check = by_name(report, "function")["role.actions"]
    assert check["status"] == "fail"
    assert "ecs:CreateImage on acs:ecs:cn-hangzhou:" in check["detail"]
    assert "ecs:RunInstances" not in check["detail"]


def test_a_missing_function_fails_without_reading_further(emu: Emulator) -> None:
    load(emu, deployment(emu, functions={}))
    code, report = doctor(emu)
    assert code == 1
    assert [c["name"] for c in report["checks"]] == ["function"]
    assert report["checks"][0]["status"] == "fail" and "does not exist" in report["checks"][0]["detail"]


def test_a_disk_that_cannot_be_kept_fails_for_its_instance(emu: Emulator) -> None:
    world = World(emu)
    good = healthy_instance(world, name="good")
    bad = healthy_instance(world, name="bad")
    with emu.backend.lock:  # a local disk (the emulator's RunInstances takes cloud disks only)
        disk = next(d for d in emu.backend.disks.items.values() if d.instance_id == bad and d.kind == "data")
        disk.category = "local_ssd_pro"
    load(emu, deployment(emu))

    code, report = doctor(emu)

    assert code == 1
    assert by_name(report, good)["disks"]["status"] == "ok"
    check = by_name(report, bad)["disks"]
    assert check["status"] == "fail" and f"{disk.disk_id} (local_ssd_pro)" in check["detail"]


def test_a_role_the_function_may_not_pass_fails(emu: Emulator) -> None:
    world = World(emu)
    iid = world.launch(ram_role="web-role")
    doc = deployment(emu)
    doc["roles"]["web-role"] = copy.deepcopy(doc["roles"]["aliyun-ops-app"])
    doc["roles"]["web-role"]["role"]["RoleName"] = "web-role"
    load(emu, doc)

    code, report = doctor(emu)

    assert code == 1
    check = by_name(report, iid)["ram_role"]
    assert check["status"] == "fail" and "may not pass web-role (ram:PassRole)" in check["detail"]


def test_an_instance_with_no_way_to_log_in_after_relaunch_fails(emu: Emulator) -> None:
    world = World(emu)
    source = world.launch(name="source", key_pair=None)  # no key pair, no password
    request = ecs_models.CreateImageRequest(region_id=REGION, instance_id=source, image_name="web-golden")
    image = world.ecs.create_image_with_options(request, world.rt).body.image_id
    world.advance(600)
    iid = world.launch(name="from-image", image=image, key_pair=None)
    keyed = world.launch(name="keyed")
    load(emu, deployment(emu))
    seq = len(emu.control.calls())

    code, report = doctor(emu)

    assert code == 1
    check = by_name(report, iid)["login"]
    assert check["status"] == "fail" and check["detail"].startswith("no key pair, and its image has no password")
    assert by_name(report, keyed)["login"]["status"] == "ok"
    writes = [c for c in emu.control.calls()[seq:] if not c["action"].startswith(READS)]
    assert {c["action"] for c in writes} == {"RunInstances"}  # the launch's own DryRun: nothing is created
    assert all(str(c["params"].get("DryRun")).lower() == "true" for c in writes)


def test_no_candidate_within_the_price_limit_fails_stock(emu: Emulator) -> None:
    iid = World(emu).launch()
    load(emu, deployment(emu))

    code, report = doctor(emu, env={"ALIYUN_OPS_MAX_SPOT_PRICE": "0.0001"})

    assert code == 1
    check = by_name(report, iid)["stock"]
    assert check["status"] == "fail" and check["detail"].startswith("no candidate in stock within the price limits")


def test_the_table_names_each_check(emu: Emulator) -> None:
    World(emu).launch()
    load(emu, deployment(emu))
    result = CliRunner().invoke(app, ["doctor", "--endpoint", emu.endpoint], env=ENV)
    assert result.exit_code == 0, result.output
    assert "trigger.timer" in result.stdout and "The next reclaim would work." in result.stdout
