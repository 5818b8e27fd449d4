"""The credentials and region a user already has: the aliyun CLI's ``~/.aliyun/config.json`` profiles,
``--profile`` / ``ALIBABA_CLOUD_PROFILE`` and ``ALIBABA_CLOUD_REGION_ID``.

Each command runs as a user runs it, in its own process (the credentials library reads HOME and its
variables when it is imported), with a temporary HOME and working directory and none of the test run's
ALIBABA_CLOUD_* / ALIYUN_OPS_* variables. Which identity and region were used is read from the
emulator's journal (the key id each call was signed with, each call's RegionId), not from the output.
The ECS metadata server is disabled for every child (tests reach only loopback).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator
from aliyun_ops.emulator.backend import (
    FUNCTION_ROLE_ACCESS_KEY_ID,
    FUNCTION_ROLE_ACCESS_KEY_SECRET,
    FUNCTION_ROLE_SECURITY_TOKEN,
)

# An AccessKey the emulator does not know: a profile holding it cannot be the one that was used.
STRANGER = {"access_key_id": "stranger-key-not-known-here", "access_key_secret": "not-known-secret"}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """The emulator with the function role's STS identity (a second identity a profile can hold)."""
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emulator:
        yield emulator


def _home(tmp_path: Path, current: str, *profiles: dict[str, object]) -> Path:
    """A HOME whose ~/.aliyun/config.json is what `aliyun configure` writes."""
    home = tmp_path / "home"
    (home / ".aliyun").mkdir(parents=True)
    body = {"current": current, "profiles": list(profiles), "meta_path": ""}
    (home / ".aliyun" / "config.json").write_text(json.dumps(body, indent=2), encoding="utf-8")
    return home


def _ak(name: str, region: str, key_id: str, secret: str) -> dict[str, object]:
    return {"name": name, "mode": "AK", "access_key_id": key_id, "access_key_secret": secret, "region_id": region}


def _sts(name: str, region: str) -> dict[str, object]:
    return {
        "name": name,
        "mode": "StsToken",
        "access_key_id": FUNCTION_ROLE_ACCESS_KEY_ID,
        "access_key_secret": FUNCTION_ROLE_ACCESS_KEY_SECRET,
        "sts_token": FUNCTION_ROLE_SECURITY_TOKEN,
        "region_id": region,
    }


def _cli(emu: Emulator, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`aliyun-ops ARGS probe ... --endpoint EMULATOR` in a fresh process with only HOME's profile to go on."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "ALIYUN_OPS_", "FC_"))}
    clean.update(HOME=str(home), ALIBABA_CLOUD_ECS_METADATA_DISABLED="true", **env)
    argv = [*args, "probe", "--cores", "2", "--memory", "4", "--json", "--endpoint", emu.endpoint]
    code = "from aliyun_ops.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], env=clean, cwd=home, capture_output=True, text=True, timeout=120
    )


def _signed_by(emu: Emulator) -> set[str | None]:
    return {entry["accessKeyId"] for entry in emu.journal.entries()}


def _regions(emu: Emulator) -> set[str]:
    """The regions the calls named (DescribeInstanceTypes names none)."""
    return {entry["params"]["RegionId"] for entry in emu.journal.entries() if entry["params"].get("RegionId")}


def _one_line(result: subprocess.CompletedProcess[str], starts: str) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {starts}"), lines[0]
    return lines[0]


def test_the_aliyun_cli_current_profile_gives_credentials_and_region(emu: Emulator, tmp_path: Path) -> None:
    home = _home(tmp_path, "default", _ak("default", "cn-shanghai", DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET))
    result = _cli(emu, home)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout), "probe found no offers"
    assert _signed_by(emu) == {DEFAULT_ACCESS_KEY_ID}
    assert _regions(emu) == {"cn-shanghai"}  # the profile's region_id
    assert DEFAULT_ACCESS_KEY_SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("how", ["--profile", "ALIBABA_CLOUD_PROFILE"])
def test_a_second_profile_is_picked_by_option_or_environment(emu: Emulator, tmp_path: Path, how: str) -> None:
    home = _home(tmp_path, "default", {"name": "default", "mode": "AK", **STRANGER}, _sts("ops", "cn-shanghai"))
    result = _cli(emu, home, "--profile", "ops") if how == "--profile" else _cli(emu, home, ALIBABA_CLOUD_PROFILE="ops")
    assert result.returncode == 0, result.stderr
    assert _signed_by(emu) == {FUNCTION_ROLE_ACCESS_KEY_ID}  # the StsToken profile "ops", token and all
    assert _regions(emu) == {"cn-shanghai"}


def test_environment_keys_beat_the_current_profile_but_not_the_profile_option(emu: Emulator, tmp_path: Path) -> None:
    home = _home(tmp_path, "ops", _sts("ops", "cn-hangzhou"))
    keys = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
    }
    chain = _cli(emu, home, **keys)
    assert chain.returncode == 0, chain.stderr
    assert _signed_by(emu) == {DEFAULT_ACCESS_KEY_ID}  # the default chain: the environment comes first
    emu.journal.clear()
    named = _cli(emu, home, "--profile", "ops", **keys)
    assert named.returncode == 0, named.stderr
    assert _signed_by(emu) == {FUNCTION_ROLE_ACCESS_KEY_ID}  # a profile named on the command line is used alone


def test_region_order_flag_then_environment_then_profile(emu: Emulator, tmp_path: Path) -> None:
    home = _home(tmp_path, "default", _ak("default", "cn-shanghai", DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET))
    by_env = _cli(emu, home, ALIBABA_CLOUD_REGION_ID="eu-west-1")
    assert by_env.returncode == 0, by_env.stderr
    assert _regions(emu) == {"eu-west-1"}  # ALIBABA_CLOUD_REGION_ID beats the profile's region_id
    emu.journal.clear()
    ours = _cli(emu, home, ALIBABA_CLOUD_REGION_ID="eu-west-1", ALIYUN_OPS_REGION="cn-hangzhou")
    assert ours.returncode == 0, ours.stderr
    assert _regions(emu) == {"cn-hangzhou"}  # ALIYUN_OPS_REGION beats ALIBABA_CLOUD_REGION_ID
    emu.journal.clear()
    code = "from aliyun_ops.cli import main; main()"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "ALIYUN_OPS_", "FC_"))}
    flag = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "probe",
            "--cores",
            "2",
            "--memory",
            "4",
            "--json",
            "--region",
            "cn-shanghai",
            "--endpoint",
            emu.endpoint,
        ],
        env={
            **clean,
            "HOME": str(home),
            "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
            "ALIYUN_OPS_REGION": "eu-west-1",
        },
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert flag.returncode == 0, flag.stderr
    assert _regions(emu) == {"cn-shanghai"}  # --region beats everything


@pytest.mark.parametrize("how", ["--profile", "ALIBABA_CLOUD_PROFILE"])
def test_a_missing_profile_is_one_clear_line(emu: Emulator, tmp_path: Path, how: str) -> None:
    home = _home(tmp_path, "default", _ak("default", "cn-shanghai", DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET))
    result = (
        _cli(emu, home, "--profile", "nope") if how == "--profile" else _cli(emu, home, ALIBABA_CLOUD_PROFILE="nope")
    )
    line = _one_line(result, "profile 'nope' not found")
    assert "config.json" in line and "default" in line  # where it looked, and what it has
    assert _signed_by(emu) == set()  # nothing was asked of the cloud


def test_no_profile_file_and_no_keys_is_one_line_with_where_to_look(emu: Emulator, tmp_path: Path) -> None:
    home = tmp_path / "empty-home"
    home.mkdir()
    line = _one_line(_cli(emu, home), "no credentials")
    assert "aliyun configure" in line and "ALIBABA_CLOUD_ACCESS_KEY_ID" in line
