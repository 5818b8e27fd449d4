"""Deployment assets: the RAM policy, s.yaml for Serverless Devs 3, and the code-folder packager.

The packaging test installs this project (without dependencies, without the index) into a temporary
folder and imports it from there, so it needs no network.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from aliyun_ops.deploy import load_ram_policy, policy_actions
from aliyun_ops.deploy.package import MARKER, PackageError, build, leave_out, prepare, project_command

ROOT = Path(__file__).resolve().parents[2]
HANDLER = "aliyun_ops.runtime.fc.handler"


# --- RAM policy -------------------------------------------------------------------------------------
# That the policy allows exactly what the engine calls is proved against the emulator's call journal in
# tests/functional/test_ram_policy.py.

def test_ram_policy_is_a_valid_document_without_wildcard_actions() -> None:
    policy = load_ram_policy()
    assert policy["Version"] == "1"
    assert policy["Statement"] and all(s["Effect"] in ("Allow", "Deny") for s in policy["Statement"])
    for action in policy_actions(policy):
        assert re.fullmatch(r"(ecs|vpc|cms|ram):[A-Z][A-Za-z]+", action), action
    assert "*" not in json.dumps([s["Action"] for s in policy["Statement"]])


def test_policy_actions_reads_string_and_list_actions_and_skips_deny() -> None:
    doc = {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "ecs:DescribeInstances", "Resource": "*"},
        {"Effect": "Deny", "Action": ["ecs:DeleteInstance"], "Resource": "*"},
    ]}
    assert policy_actions(doc) == {"ecs:DescribeInstances"}


# --- s.yaml -----------------------------------------------------------------------------------------

def _function(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    assert doc["edition"] == "3.0.0"
    [resource] = doc["resources"].values()
    assert resource["component"] == "fc3"
    props: dict[str, Any] = resource["props"]
    props["_actions"] = resource.get("actions", {})
    props["_vars"] = doc.get("vars", {})
    return props


def _patterns(props: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["triggerName"]: t for t in props["triggers"]}


@pytest.mark.parametrize("name", ["s.yaml", "s.builtin.yaml"])
def test_function_settings(name: str) -> None:
    props = _function(name)
    assert props["memorySize"] == (512 if name == "s.yaml" else 256) and props["timeout"] == 600
    assert props["role"] == "${vars.role}"
    assert props["_vars"]["role"] == "acs:ram::${config('AccountID')}:role/aliyun-ops-role"
    assert props["code"] == "./code"
    assert "aliyun_ops.deploy.package --out code" in props["_actions"]["pre-deploy"][0]["run"]
    assert props["environmentVariables"]["ALIYUN_OPS_REGION"] == "${vars.region}"


def test_builtin_runtime_and_handler() -> None:
    props = _function("s.builtin.yaml")
    assert props["runtime"] == "python3.10" and props["handler"] == HANDLER


def test_custom_runtime_serves_on_9000() -> None:
    props = _function("s.yaml")
    assert props["runtime"] == "custom.debian10"
    config = props["customRuntimeConfig"]
    assert config["port"] == 9000 and "serve" in config["args"] and "9000" in config["args"]


@pytest.mark.parametrize("name", ["s.yaml", "s.builtin.yaml"])
def test_triggers_deliver_spot_notices_state_changes_and_reconcile(name: str) -> None:
    triggers = _patterns(_function(name))
    spot = triggers["spot-interruption"]["triggerConfig"]
    state = triggers["instance-state-change"]["triggerConfig"]
    for config in (spot, state):
        assert triggers["spot-interruption"]["triggerType"] == "eventbridge"
        assert config["asyncInvocationType"] is True and config["triggerEnable"] is True
        assert config["eventSourceConfig"]["eventSourceType"] == "Default"
    assert json.loads(spot["eventRuleFilterPattern"]) == {
        "source": ["acs.ecs"], "type": ["ecs:Instance:PreemptibleInstanceInterruption"]}
    state_pattern = json.loads(state["eventRuleFilterPattern"])
    assert state_pattern["source"] == ["acs.ecs"] and state_pattern["type"] == ["ecs:Instance:StateChange"]
    timer = triggers["reconcile"]
    assert timer["triggerType"] == "timer"
    assert timer["triggerConfig"]["cronExpression"] == "@every 5m" and timer["triggerConfig"]["enable"] is True
    assert json.loads(timer["triggerConfig"]["payload"]) == {"aliyun-ops": "reconcile"}


@pytest.mark.parametrize("name", ["s.yaml", "s.builtin.yaml"])
def test_no_access_key_anywhere(name: str) -> None:
    """No key or value (comments aside) names or holds an AccessKey: the function uses its role."""

    def strings(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [s for k, v in node.items() for s in [str(k), *strings(v)]]
        if isinstance(node, list):
            return [s for item in node for s in strings(item)]
        return [str(node)]

    for text in strings(yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))):
        lowered = text.lower()
        assert not any(word in lowered for word in ("accesskey", "access_key", "access-key", "ltai")), text


def test_handler_path_is_importable() -> None:
    module_name, _, attr = HANDLER.rpartition(".")
    if importlib.util.find_spec("aliyun_ops.runtime") is None or \
            importlib.util.find_spec(module_name) is None:
        pytest.skip(f"{module_name} is not written yet (runtime owner)")
    assert callable(getattr(importlib.import_module(module_name), attr))


# --- packager ---------------------------------------------------------------------------------------

def test_pip_command_installs_the_project_alone_into_the_folder(tmp_path: Path) -> None:
    """The project is pure Python; its dependencies come as FC's wheels (tests/unit/test_package_target.py)."""
    cmd = project_command(tmp_path / "code", tmp_path / "proj")
    assert cmd[1:4] == ["-m", "pip", "install"]
    assert cmd[cmd.index("--target") + 1] == str(tmp_path / "code") and cmd[-1] == str(tmp_path / "proj")
    assert "--no-deps" in cmd and "--no-index" not in cmd


def test_prepare_refuses_a_foreign_folder_and_empties_its_own(tmp_path: Path) -> None:
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "keep.md").write_text("mine")
    with pytest.raises(PackageError):
        prepare(foreign)
    assert (foreign / "keep.md").exists()
    ours = tmp_path / "code"
    ours.mkdir()
    (ours / MARKER).write_text("")
    (ours / "stale.py").write_text("")
    prepare(ours)
    assert list(ours.iterdir()) == []


def test_build_refuses_to_write_over_the_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    for out in (tmp_path, tmp_path.parent, tmp_path / "src" / "pkg"):
        with pytest.raises(PackageError, match="overwrite the project"):
            build(out, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


def _can_build_offline() -> bool:
    if importlib.util.find_spec("wheel") is not None:
        return True
    import setuptools

    return int(setuptools.__version__.split(".")[0]) >= 70


@pytest.mark.skipif(not _can_build_offline(), reason="offline build needs the wheel package or setuptools >= 70")
def test_build_yields_an_importable_code_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "pyproject.toml", project)
    readme = ROOT / "README.md"
    (project / "README.md").write_text(readme.read_text(encoding="utf-8") if readme.exists() else "# aliyun-ops\n")
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))

    out = build(tmp_path / "code", project, deps=False, index=False, build_isolation=False)

    assert (out / "aliyun_ops" / "__init__.py").exists()
    assert json.loads((out / "aliyun_ops" / "deploy" / "ram-policy.json").read_text()) == load_ram_policy()
    _assert_no_emulator(out)
    handler_module = HANDLER.rpartition(".")[0]
    has_handler = (ROOT / "src" / Path(*handler_module.split("."))).with_suffix(".py").exists()
    probe = (
        "import sys, importlib; sys.path.insert(0, sys.argv[1]); import aliyun_ops; print(aliyun_ops.__file__)\n"
        f"if sys.argv[2] == '1': print(callable(importlib.import_module('{handler_module}').handler))"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(out), "1" if has_handler else "0"],
                          capture_output=True, text=True, check=True, cwd=tmp_path)
    lines = done.stdout.split()
    assert Path(lines[0]).resolve().is_relative_to(out.resolve())
    if has_handler:
        assert lines[1] == "True"


def _fc_like() -> bool:
    here = (sys.version_info[:2], platform.python_implementation(), platform.system(), platform.machine())
    return here == ((3, 10), "CPython", "Linux", "x86_64")


@pytest.mark.skipif(not _can_build_offline(), reason="offline build needs the wheel package or setuptools >= 70")
@pytest.mark.skipif(not _fc_like(), reason="--deps-from-env copies this Python's packages: only on CPython 3.10 "
                    "Linux x86_64 (refused elsewhere: tests/unit/test_package_target.py)")
def test_offline_build_holds_the_dependencies_and_runs_without_site_packages(tmp_path: Path) -> None:
    """--deps-from-env --with-cli: the code folder alone (python -I -S, no site-packages) imports the
    handler, the SDKs and the custom runtime's command."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "pyproject.toml", project)
    (project / "README.md").write_text("# aliyun-ops\n")
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))

    out = build(tmp_path / "code", project, index=False, build_isolation=False, deps_from_env=True, cli=True)

    vendored = ("alibabacloud_ecs20140526", "alibabacloud_vpc20160428", "alibabacloud_cms20190101", "tenacity")
    for package in (*vendored, "pydantic_core", "httpx"):
        assert (out / package).is_dir(), f"{package} was not vendored"
    _assert_no_emulator(out)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import site\n"
        "import aliyun_ops.runtime.fc as fc, alibabacloud_ecs20140526.client, alibabacloud_vpc20160428.client\n"
        "import alibabacloud_cms20190101.client\n"
        "import aliyun_ops.cloud.sdk, aliyun_ops.notify, pythonjsonlogger.json\n"
        "print(callable(fc.handler), alibabacloud_ecs20140526.client.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(out)], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ok, sdk_file = done.stdout.split()
    assert ok == "True" and Path(sdk_file).resolve().is_relative_to(out.resolve())
    # Both entry points run from the folder alone: the handler answers a notice it ignores, the custom
    # runtime's command (s.yaml: the CLI's `serve`) loads; neither misses the emulator.
    event = (ROOT / "tests" / "events" / "cloudmonitor_other_product.json").read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _ENTRY_POINTS_PROBE, str(out), event],
        capture_output=True, text=True, check=False, cwd=tmp_path, env={"ALIYUN_OPS_REGION": "cn-hangzhou"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {"status": "ignored", "serve": True, "emulator_modules": []}


_ENTRY_POINTS_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from types import SimpleNamespace
import aliyun_ops.runtime.fc as fc
status = json.loads(fc.handler(sys.argv[2].encode(), SimpleNamespace(request_id="r-1", credentials=None)))["status"]
from aliyun_ops.cli.app import app
import aliyun_ops.runtime.server
serve = any(c.name == "serve" for c in app.registered_commands)
print(json.dumps({"status": status, "serve": serve,
                  "emulator_modules": sorted(m for m in sys.modules if m.startswith("aliyun_ops.emulator"))}))
"""


def _assert_no_emulator(out: Path) -> None:
    """No emulator in the folder, nor in the installed RECORD; the rest of the package is listed."""
    assert not (out / "aliyun_ops" / "emulator").exists()
    assert not list(out.rglob("scenarios/default.json"))
    (record,) = out.glob("aliyun_ops-*.dist-info/RECORD")
    listed = [line.split(",", 1)[0] for line in record.read_text(encoding="utf-8").splitlines()]
    assert "aliyun_ops/runtime/fc.py" in listed and "aliyun_ops/deploy/ram-policy.json" in listed
    assert not [name for name in listed if name.startswith("aliyun_ops/emulator")]


def test_the_function_entry_points_do_not_import_the_emulator() -> None:
    """Here the emulator is installed; importing the handler module and running it on a notice still
    leaves it unimported (the static rule is in tests/unit/test_architecture.py)."""
    event = (ROOT / "tests" / "events" / "cloudmonitor_other_product.json").read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _ENTRY_POINTS_PROBE, str(ROOT / "src"), event],
        capture_output=True, text=True, check=False, env={"ALIYUN_OPS_REGION": "cn-hangzhou"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {"status": "ignored", "serve": True, "emulator_modules": []}
    assert importlib.util.find_spec("aliyun_ops.emulator") is not None  # so the check above meant something


def test_leave_out_removes_the_folder_and_its_record_lines(tmp_path: Path) -> None:
    (tmp_path / "aliyun_ops" / "emulator" / "scenarios").mkdir(parents=True)
    (tmp_path / "aliyun_ops" / "emulator" / "scenarios" / "default.json").write_text("{}")
    (tmp_path / "aliyun_ops" / "events.py").write_text("")
    info = tmp_path / "aliyun_ops-0.1.0.dist-info"
    info.mkdir()
    (info / "RECORD").write_text(
        "aliyun_ops/events.py,sha256=abc,10\n"
        "aliyun_ops/emulator/scenarios/default.json,sha256=def,2\n"
        '"aliyun_ops/emulator/a,b.py",sha256=ghi,3\n'
        "aliyun_ops/emulator_notes.txt,,\n"
        "aliyun_ops-0.1.0.dist-info/RECORD,,\n"
    )
    assert leave_out(tmp_path) == ["aliyun_ops/emulator"]
    assert not (tmp_path / "aliyun_ops" / "emulator").exists() and (tmp_path / "aliyun_ops" / "events.py").exists()
    assert (info / "RECORD").read_text().splitlines() == [
        "aliyun_ops/events.py,sha256=abc,10",
        "aliyun_ops/emulator_notes.txt,,",
        "aliyun_ops-0.1.0.dist-info/RECORD,,",
    ]
    assert leave_out(tmp_path) == []


def test_request_tag_conditions_read_the_tags_the_call_writes_not_the_resources() -> None:
    """``acs:RequestTag/<key>``: the call's ``Tag.N``; ``acs:ResourceTag``/``ecs:tag``: the resource's. Keys the
    emulator does not model (``acs:TagKeys``, ``ForAnyValue:``) are refused when the policy loads."""
    from aliyun_ops.emulator.ram import RamPolicy, Resource
    from aliyun_ops.emulator.ram_resources import request_tags

    policy = RamPolicy({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "ecs:TagResources", "Resource": "*"},
        {"Effect": "Deny", "Action": "ecs:TagResources", "Resource": "*",
         "Condition": {"StringLike": {"acs:RequestTag/aops:managed": "*"}}},
    ]})
    on = {"aops:managed": "false"}
    writing = request_tags({"Tag.1.Key": "aops:managed", "Tag.1.Value": "true", "ResourceId.1": "i-1"})
    assert writing == {"aops:managed": "true"}
    assert not policy.allows("ecs", "TagResources", Resource("acs:ecs:r:1:instance/i-1", on, writing))
    assert policy.allows("ecs", "TagResources", Resource("acs:ecs:r:1:instance/i-1", on, {"aops:stopped": "1"}))
    assert request_tags({"TagKey.1": "aops:managed"}) == {}  # UntagResources writes no tag
    for condition in ({"StringLike": {"acs:TagKeys": "aops:*"}},
                      {"ForAnyValue:StringLike": {"acs:RequestTag/aops:managed": "*"}}):
        with pytest.raises(ValueError):
            RamPolicy({"Version": "1", "Statement": [
                {"Effect": "Deny", "Action": "ecs:TagResources", "Resource": "*", "Condition": condition}]})


def test_the_guard_tags_are_denied_to_tag_resources_and_no_tag_can_be_removed() -> None:
    from aliyun_ops.deploy.policy import render_policy

    doc = render_policy(selector=("team", "web"))
    denied = [s for s in doc["Statement"] if s["Effect"] == "Deny"]
    written = {key for s in denied for block in s.get("Condition", {}).values() for key in block
               if key.startswith("acs:RequestTag/")}
    assert written == {"acs:RequestTag/aops:managed", "acs:RequestTag/team", "acs:RequestTag/aops:lineage"}
    assert any(s["Action"] == ["ecs:UntagResources"] and "Condition" not in s for s in denied)
    assert "ecs:UntagResources" not in policy_actions(doc)


def test_rendering_without_a_selector_warns_that_untagged_instances_stay_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aliyun_ops.deploy import policy

    monkeypatch.setenv("ALIYUN_OPS_REGION", "cn-hangzhou")
    monkeypatch.delenv("ALIYUN_OPS_SELECTOR", raising=False)
    assert policy.main(["--out", str(tmp_path / "p.json")]) == 0
    assert "ALIYUN_OPS_SELECTOR" in capsys.readouterr().err
    monkeypatch.setenv("ALIYUN_OPS_SELECTOR", "team=web")
    assert policy.main(["--out", str(tmp_path / "p.json")]) == 0
    assert "warning" not in capsys.readouterr().err
    rendered = json.loads((tmp_path / "p.json").read_text())
    on_instances = [s for s in rendered["Statement"] if "ecs:StartInstance" in s["Action"] and s["Effect"] == "Allow"]
    assert on_instances and all(s["Condition"]["StringEquals"] == {"ecs:tag/team": "web"} for s in on_instances)
