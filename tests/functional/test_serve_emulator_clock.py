"""`aliyun-ops serve` pointed at the local emulator runs the engine on the emulator's clock.

The emulator at x100 makes a reclaim's five-minute notice last three real seconds; a runtime on real time would wait
the whole five minutes for the release (the README's local try-out blocked for 5 min 28 s without a word).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from aliyun_ops.cli.emuclock import follow
from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from aliyun_ops.runtime.invoke import Runner
from aliyun_ops.runtime.server import RuntimeServer
from tests.functional.engine_support import CREDS, World, tags_of
from tests.functional.engine_support import settings as emulator_settings


@pytest.fixture
def fast() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, time_scale=100, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def test_a_reclaim_through_serve_runs_on_the_emulators_time(fast: World) -> None:
    old = fast.launch()
    event = fast.interrupt(old)
    clock = follow(fast.emu.endpoint)
    assert clock is not None and clock.scale == 100
    runner = Runner(emulator_settings(fast.emu), environ={}, sleep=clock.sleep, clock=clock.now)
    headers = {
        "x-fc-access-key-id": CREDS.access_key_id,
        "x-fc-access-key-secret": CREDS.access_key_secret,
        "x-fc-security-token": CREDS.security_token or "",
    }
    with RuntimeServer(runner=runner) as srv:
        answer = httpx.post(f"{srv.url}/invoke", content=json.dumps(event).encode(), headers=headers, timeout=110)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "replaced"
    record = body["record"]
    # the record is on the emulator's time: the incident lasted the notice and more, in emulated seconds
    assert record["finished_at"] - record["started_at"] >= 250
    assert abs(record["finished_at"] - fast.emu.clock.now()) < 120
    (new,) = [i for i in fast.instances() if tags_of(i).get("aops:replaces") == old]
    assert new["Status"] == "Running"


def test_an_endpoint_that_is_not_the_emulator_is_followed_on_real_time() -> None:
    with RuntimeServer(runner=Runner(environ={})) as srv:  # answers 404 to /_emulator/clock
        assert follow(f"{srv.host}:{srv.port}") is None
    assert follow("127.0.0.1:9") is None  # nothing listening


def test_the_serve_command_says_it_follows_the_emulator_with_no_extra_flag(fast: World) -> None:
    import os
    import sys

    from tests.functional.test_cli import CREDS_ENV

    env = {**os.environ, **{k: v for k, v in CREDS_ENV.items() if v is not None}, "ALIYUN_OPS_LOG_FORMAT": "text"}
    argv = [sys.executable, "-c", "from aliyun_ops.cli import main; main()", "serve", "--port", "0",
            "--endpoint", fast.emu.endpoint]
    said = _serve_says(argv, env)
    assert f"following the emulator's clock at {fast.emu.endpoint} (x100)" in said, said


def test_the_shipped_serve_command_follows_an_emulator_named_in_the_environment(fast: World) -> None:
    """The default deployment's command line (s.yaml, the custom runtime) has no --endpoint: an emulator named by
    ALIYUN_OPS_ENDPOINT is followed all the same (the README's local try-out, and the bench's (e) through serve)."""
    import os
    import sys

    from bench.coldstart import SERVE_CODE
    from tests.functional.test_cli import CREDS_ENV

    env = {**os.environ, **{k: v for k, v in CREDS_ENV.items() if v is not None}, "ALIYUN_OPS_LOG_FORMAT": "text",
           "ALIYUN_OPS_ENDPOINT": fast.emu.endpoint, "ALIYUN_OPS_REGION": "cn-hangzhou"}
    argv = [sys.executable, "-c", SERVE_CODE, "serve", "--host", "127.0.0.1", "--port", "0"]
    said = _serve_says(argv, env)
    assert f"following the emulator's clock at {fast.emu.endpoint} (x100)" in said, said


def _serve_says(argv: list[str], env: dict[str, str]) -> str:
    """What ``serve`` prints until it listens (the process is stopped then)."""
    import subprocess

    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "listening on" in line:
                break
        return "".join(lines)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
