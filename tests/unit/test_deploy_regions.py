"""``python -m aliyun_ops.deploy.regions``: one ``s deploy`` per configured region, with a fake ``s`` on PATH that
records each call (its arguments and the region it was given) and fails in the region it is told to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SECRET = "fake-secret-0123456789abcdef"  # what the deploy's own credentials look like in its environment
FAKE_S = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["FAKE_S_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "region": os.environ.get("ALIYUN_OPS_DEPLOY_REGION"),
                          "has_secret": os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET") == {SECRET!r}}}) + "\\n")
sys.exit(3 if os.environ.get("ALIYUN_OPS_DEPLOY_REGION") == os.environ.get("FAKE_S_FAIL") else 0)
"""


def run(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """The command as a user runs it, with the fake ``s`` first on PATH; returns its result and the calls ``s`` got."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "s"
    fake.write_text(FAKE_S, encoding="utf-8")
    fake.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    environ = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "FAKE_S_LOG": str(log),
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-fake-id",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-m", "aliyun_ops.deploy.regions", *args],
        env=environ, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    assert SECRET not in done.stdout + done.stderr  # never printed, whatever happened
    return done, calls


def test_one_deploy_per_region_in_order_each_with_its_region(tmp_path: Path) -> None:
    done, calls = run(
        tmp_path, "--template", "s.custom.yaml", "--", "--debug",
        ALIYUN_OPS_REGION="cn-hangzhou", ALIYUN_OPS_REGIONS="cn-shanghai, cn-hangzhou,eu-west-1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [c["region"] for c in calls] == ["cn-hangzhou", "cn-shanghai", "eu-west-1"]  # each once, in order
    assert all(c["argv"] == ["deploy", "-y", "-t", "s.custom.yaml", "--debug"] for c in calls)
    assert all(c["has_secret"] for c in calls)  # s gets the deploy's credentials ...
    assert "eu-west-1" in done.stdout  # ... and the user sees each region


def test_the_first_failing_region_stops_the_run_and_says_what_was_deployed(tmp_path: Path) -> None:
    done, calls = run(
        tmp_path,
        ALIYUN_OPS_REGION="cn-hangzhou", ALIYUN_OPS_REGIONS="cn-shanghai,cn-beijing,eu-west-1",
        FAKE_S_FAIL="cn-shanghai",
    )  # fmt: skip
    assert done.returncode != 0
    assert [c["region"] for c in calls] == ["cn-hangzhou", "cn-shanghai"]  # nothing after the failure
    assert calls[0]["argv"] == ["deploy", "-y", "-t", "s.yaml"]
    assert "failed in cn-shanghai" in done.stderr
    assert "deployed: cn-hangzhou;" in done.stderr and "not deployed: cn-shanghai, cn-beijing, eu-west-1" in done.stderr


def test_dry_run_prints_the_commands_and_runs_nothing(tmp_path: Path) -> None:
    done, calls = run(tmp_path, "--dry-run", ALIYUN_OPS_REGION="cn-beijing", ALIYUN_OPS_REGIONS="cn-shanghai")
    assert done.returncode == 0 and calls == []
    assert done.stdout.splitlines() == [
        "ALIYUN_OPS_DEPLOY_REGION=cn-beijing s deploy -y -t s.yaml",
        "ALIYUN_OPS_DEPLOY_REGION=cn-shanghai s deploy -y -t s.yaml",
    ]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ALIYUN_OPS_REGIONS": "cn-shanghai,Shanghai"}, "ALIYUN_OPS_REGIONS"),
        ({"ALIYUN_OPS_REGION": "cn_hangzhou"}, "ALIYUN_OPS_REGION"),
        ({"ALIYUN_OPS_REGIONS": "cn-shanghai;rm -rf /"}, "ALIYUN_OPS_REGIONS"),
    ],
)
def test_a_malformed_region_is_refused_before_anything_runs(tmp_path: Path, env: dict[str, str], named: str) -> None:
    done, calls = run(tmp_path, **env)
    assert done.returncode != 0 and calls == []
    assert named in done.stderr and "not a region id" in done.stderr


def test_unset_region_deploys_the_templates_default_region(tmp_path: Path) -> None:
    done, calls = run(tmp_path)
    assert done.returncode == 0 and [c["region"] for c in calls] == ["cn-hangzhou"]
