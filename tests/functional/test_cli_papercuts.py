"""A newcomer's papercuts (issue 20 item 8), each as the user meets it: the command typed, against the
in-process emulator over loopback, and what the user is told or what the cloud then holds."""

from __future__ import annotations

import json
from typing import Any

import httpx
from typer.testing import CliRunner

from aliyun_ops.cli.app import app
from aliyun_ops.emulator import Emulator
from tests.functional.engine_support import World
from tests.functional.test_cli import CREDS_ENV, MUTATING


def run(emu: Emulator | None, *args: str, env: dict[str, str | None] | None = None) -> Any:
    argv = [*args, *(["--endpoint", emu.endpoint] if emu is not None else [])]
    return CliRunner().invoke(app, argv, env={**CREDS_ENV, **(env or {})})


# -- plan: the DryRun takes the launch's own fallbacks ------------------------------------------
def test_plan_of_an_instance_without_password_or_key_pair_is_valid_as_its_launch_would_be(
    emulator: Emulator,
) -> None:
    """Its image has no preset password: RunInstances refuses PasswordInherit, and the launch then retries
    without it. The plan's DryRun must take that same second step, not report the first refusal."""
    world = World(emulator)
    iid = world.launch(key_pair=None, password=None)
    before = {i["InstanceId"] for i in world.instances()}
    seq = len(emulator.control.calls())

    result = run(emulator, "plan", iid, "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["dry_run"]["valid"] is True
    writes = [c for c in emulator.control.calls()[seq:] if c["action"] in MUTATING]
    assert [str(c["params"].get("DryRun")).lower() for c in writes] == ["true", "true"]  # refused, then without
    assert str(writes[0]["params"].get("PasswordInherit")).lower() == "true"
    assert str(writes[1]["params"].get("PasswordInherit", "false")).lower() == "false"
    assert {i["InstanceId"] for i in world.instances()} == before
    text = run(emulator, "plan", iid)
    assert text.exit_code == 0 and "DryRun of the launch: valid" in text.stdout


# -- --help: a flag takes no value, so it shows no type -----------------------------------------
def _command_paths() -> list[list[str]]:
    """Every command and group as a user reaches it: [], ["plan"], ["images"], ["images", "prune"], ..."""
    import typer.main

    paths: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        paths.append(path)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_no_help_page_shows_a_bool_type_for_a_flag() -> None:
    paths = _command_paths()
    assert ["plan"] in paths and len(paths) > 10
    for path in paths:
        result = run(None, *path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "--help" in result.stdout, path
        for bogus in ("<bool>", "BOOLEAN"):
            assert bogus not in result.stdout, (path, bogus, result.stdout)


# -- images: the lineage images the engine keeps -------------------------------------------------
def test_images_lists_the_lineage_images_and_not_the_users_own(emulator: Emulator) -> None:
    from tests.functional.test_cli import _lineage_images

    world = World(emulator)
    iid = world.launch(eip=False)
    made = _lineage_images(world, iid, 2)
    _own_image(world, iid)  # the user's own image: not aliyun-ops's to list

    result = run(emulator, "images", "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    rows = json.loads(result.stdout)
    assert sorted(r["image_id"] for r in rows) == sorted(made)
    for row in rows:
        assert (row["lineage"], row["instance"], row["status"]) == (iid, iid, "Available")
        assert row["size_gib"] == 40 and row["created"]
    text = run(emulator, "images")
    assert text.exit_code == 0, text.stdout + text.stderr
    assert all(image_id in text.stdout for image_id in made) and iid in text.stdout
    assert run(emulator, "images", "prune", "--keep", "1", "--json").exit_code == 0  # the group still has prune
    assert [r["image_id"] for r in json.loads(run(emulator, "images", "--json").stdout)] == [made[-1]]


def _own_image(world: World, instance_id: str) -> str:
    from alibabacloud_ecs20140526 import models as ecs_models

    req = ecs_models.CreateImageRequest().from_map(
        {"RegionId": "cn-hangzhou", "InstanceId": instance_id, "ImageName": "my-golden"}
    )
    image_id: str = world.ecs.create_image_with_options(req, world.rt).body.image_id
    world.advance(200)
    return image_id


# -- notify test: one message to each configured channel ----------------------------------------
def test_notify_test_sends_one_message_to_each_configured_channel_and_none_elsewhere() -> None:
    from tests.functional.test_notify import Receivers

    receivers = Receivers()
    try:
        env = receivers.env()
        for unset in ("ALIYUN_OPS_NOTIFY_FEISHU_URL", "ALIYUN_OPS_NOTIFY_SLACK_URL"):
            env.pop(unset)
        result = run(None, "notify", "test", "--json", env={**_no_channels(), **env})
        assert result.exit_code == 0, result.stdout + result.stderr
        assert [(s.channel, s.verified) for s in receivers.seen if s.channel in ("feishu", "slack")] == []
        for channel in ("dingtalk", "wecom", "webhook"):
            assert len(receivers.accepted(channel)) == 1, (channel, receivers.seen)
        assert len(receivers.seen) == 3
        assert {r["channel"]: r["sent"] for r in json.loads(result.stdout)} == dict.fromkeys(
            ("dingtalk", "wecom", "webhook"), True
        )
        assert "test" in json.dumps(receivers.accepted("webhook")[0]).lower()

        receivers.status = 500  # a channel that refuses: the user is told which, and the exit code says so
        failed = run(None, "notify", "test", env={**_no_channels(), **env})
        assert failed.exit_code == 1 and "dingtalk" in failed.stdout and "HTTP 500" in failed.stdout
    finally:
        receivers.server.shutdown()
        receivers.server.server_close()


def test_notify_test_without_a_channel_says_how_to_configure_one() -> None:
    result = run(None, "notify", "test", env=_no_channels())
    assert result.exit_code == 1
    assert "ALIYUN_OPS_NOTIFY_DINGTALK_URL" in result.stderr


def _no_channels() -> dict[str, str | None]:
    from aliyun_ops.notify import ENV_VARS

    return dict.fromkeys(ENV_VARS.values(), None)


# -- plan prints the README's score formula ------------------------------------------------------
def _readme_score_formula() -> str:
    """The first line of the formula block under README's "Where a replacement goes" heading."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = text.split("### Where a replacement goes: price x interruption risk", 1)[1]
    block = section.split("```", 2)[1]
    line = next(x for x in block.splitlines() if x.startswith("score"))
    return " ".join(line.replace(" (CNY/h)", "").split())


def test_plan_prints_the_score_formula_the_readme_gives(emulator: Emulator) -> None:
    world = World(emulator)
    iid = world.launch(eip=False)

    result = run(emulator, "plan", iid)

    assert result.exit_code == 0, result.stdout + result.stderr
    printed = " ".join(result.stdout.split())
    assert "score = " in printed
    formula = printed.split("score = ", 1)[1].split(" per interruption", 1)[0]  # "spot price + ... x 24 h of ..."
    head = formula.split(" x ", 1)[0]  # what the ranking computes; what follows names this run's cost
    assert _readme_score_formula().startswith(f"score = {head} x "), (_readme_score_formula(), formula)


# -- POST /_emulator/scenario: what it replaces and what it keeps, as documented -------------------
def test_post_scenario_replaces_the_world_and_keeps_faults_policy_journal_and_clock_as_documented(
    emulator: Emulator,
) -> None:
    from pathlib import Path

    import aliyun_ops.emulator.control as control

    world = World(emulator)
    iid = world.launch()
    emulator.control.faults(actions=["DescribeRegions"], error_rate=0.0, code="Throttling.User", http_status=400)
    calls, now = len(emulator.control.calls()), emulator.clock.now()

    emulator.control.scenario({"timing": {"instanceBootSeconds": 5}})

    assert world.instances() == [] and world.instance(iid) is None  # the world is the scenario's: no instance
    assert httpx.get(f"{emulator.url}/_emulator/faults").json()["rules"] != []  # kept, unlike POST reset
    assert len(emulator.control.calls()) >= calls  # the journal is kept
    assert emulator.clock.now() >= now  # the clock runs on
    doc = " ".join((control.__doc__ or "").split())
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8").split())
    for text in (doc, readme):
        assert "replaces the world" in text and "keeps the faults, subscriptions, call journal, RAM policy" in text


# -- the demo sends to the channels that are configured -----------------------------------------
def test_the_demo_sends_its_incident_to_the_configured_channels() -> None:
    from tests.functional.test_notify import Receivers

    receivers = Receivers()
    try:
        env = receivers.env()
        env.pop("ALIYUN_OPS_NOTIFY_SLACK_URL")
        result = run(None, "demo", "--time-scale", "150", "--json", env={**_no_channels(), **env})
        assert result.exit_code == 0, result.stdout + result.stderr
        record = json.loads(result.stdout)
        webhook = receivers.accepted("webhook")
        assert [m["event"] for m in webhook] == ["incident.started", "incident.finished"]
        assert webhook[1]["record"]["new_instance_id"] == record["new_instance_id"]
        for channel in ("dingtalk", "feishu", "wecom"):
            assert len(receivers.accepted(channel)) == 2, channel
        assert not [s for s in receivers.seen if s.channel == "slack"]
    finally:
        receivers.server.shutdown()
        receivers.server.server_close()


# -- the Chinese README covers the CLI and the configuration table ------------------------------
def _readme() -> str:
    from pathlib import Path

    return (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_chinese_readme_names_every_command_and_every_setting_of_the_configuration_table() -> None:
    import re

    text = _readme()
    chinese = text.split("## 中文快速上手", 1)[1]
    table = text.split("## Configuration", 1)[1].split("\n### ", 1)[0]
    first_cells = [row.split(" | ", 1)[0] for row in table.splitlines() if row.startswith("| `") or "| tag" in row]
    names = {n for cell in first_cells for n in re.findall(r"`((?:ALIYUN_OPS_|ALIBABA_CLOUD_|aops:|FC_)[^`]*)`", cell)}
    assert len(names) > 30
    missing = sorted(n for n in names if f"`{n}`" not in chinese)
    assert missing == [], missing
    commands = [" ".join(p) for p in _command_paths() if p]
    absent = sorted(c for c in commands if f"aliyun-ops {c}" not in chinese)
    assert absent == [], absent
