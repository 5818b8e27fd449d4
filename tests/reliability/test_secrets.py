"""Scenario 9: a known access key secret and STS token never show up anywhere a person or a log store
can read: logs (every logger at DEBUG, the SDK's, httpx's and urllib3's included), stdout/stderr,
outcomes, incident records, notification bodies, HTTP answers and exception strings.

Flows: a replacement with a webhook notification, a failed replacement, calls refused for a bad token,
and the custom-runtime server given the credentials in its x-fc-* headers (success and failure).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aliyun_ops import errors, service
from aliyun_ops.config import Credentials
from aliyun_ops.emulator import Emulator
from aliyun_ops.emulator.backend import load_default_scenario
from aliyun_ops.notify import build_notifier
from aliyun_ops.runtime.server import RuntimeServer
from tests.functional.engine_support import World, settings

KEY_ID = "STS.reliability-key-id"
SECRET = "SeCrEt-reliability-4242-do-not-leak"
TOKEN = "ToKeN-reliability-sts-9797-do-not-leak"
CREDS = Credentials(KEY_ID, SECRET, TOKEN)
WEBHOOK_SECRET = "WhSeCrEt-reliability-5151"


class Leaks:
    """Everything the flows produced that a person or a log store could read."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, value: Any) -> None:
        self.texts.append(value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False))

    def check(self, *secrets: str) -> None:
        for secret in secrets:
            found = [t[:200] for t in self.texts if secret in t]
            assert not found, f"secret {secret[:6]}... leaked in: {found}"


@pytest.fixture
def world() -> Iterator[World]:
    scenario = load_default_scenario()
    scenario["credentials"] = [*scenario.get("credentials", []),
                               {"accessKeyId": KEY_ID, "accessKeySecret": SECRET, "securityToken": TOKEN}]
    with Emulator(host="127.0.0.1", port=0, scenario=scenario) as emu:
        yield World(emu)


@pytest.fixture
def leaks(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[Leaks]:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "urllib3", "alibabacloud", "darabonba", "aliyun_ops"):
        caplog.set_level(logging.DEBUG, logger=name)
    found = Leaks()
    yield found
    formatter = logging.Formatter()
    records = [r for phase in ("setup", "call") for r in caplog.get_records(phase)]  # not the teardown's
    assert any(r.levelno == logging.DEBUG for r in records)  # the check saw the chattiest logs
    found.texts.extend(formatter.format(r) for r in records)
    out, err = capfd.readouterr()
    found.add(out + err)
    found.check(SECRET, TOKEN, WEBHOOK_SECRET)


def _handle(world: World, event: Any, notifier: Any = None, creds: Credentials = CREDS) -> service.Outcome:
    return service.handle_event(event, settings=settings(world.emu), credentials=creds, notifier=notifier,
                                sleep=world.advance, clock=world.emu.clock.now)


def _webhook(sent: list[bytes]) -> Any:
    def receive(request: httpx.Request) -> httpx.Response:
        sent.append(request.content + json.dumps(dict(request.headers)).encode())
        return httpx.Response(200, json={"ok": True})

    environ = {"ALIYUN_OPS_NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9/hook",
               "ALIYUN_OPS_NOTIFY_WEBHOOK_SECRET": WEBHOOK_SECRET, "ALIYUN_OPS_NOTIFY_LANG": "en"}
    return build_notifier(environ, transport=httpx.MockTransport(receive))


def test_a_replacement_and_its_notifications_never_show_the_secret(world: World, leaks: Leaks) -> None:
    sent: list[bytes] = []
    old = world.launch()
    outcome = _handle(world, world.interrupt(old), _webhook(sent))
    assert outcome.status == "replaced" and len(sent) == 2
    leaks.add(outcome.to_json())
    leaks.add(outcome.message)
    leaks.texts.extend(b.decode("utf-8", "replace") for b in sent)
    leaks.add(repr(CREDS) + str(CREDS))
    leaks.add(world.emu.control.calls())


def test_failures_never_show_the_secret(world: World, leaks: Leaks) -> None:
    sent: list[bytes] = []
    old = world.launch()
    event = world.interrupt(old)
    world.emu.control.faults(actions=["RunInstances"], error_rate=1.0, code="OperationDenied.NoStock")
    with pytest.raises(errors.ReplacementFailed) as failed:
        _handle(world, event, _webhook(sent))
    leaks.add(str(failed.value) + repr(failed.value))
    leaks.texts.extend(b.decode("utf-8", "replace") for b in sent)
    world.emu.control.clear_faults()
    for wrong in (Credentials(KEY_ID, SECRET, "ToKeN-wrong"), Credentials(KEY_ID, SECRET + "x", TOKEN)):
        with pytest.raises(errors.PermissionDenied) as denied:
            _handle(world, event, creds=wrong)
        leaks.add(f"{denied.value} {denied.value!r} {denied.value.message} {denied.value.__dict__}")


def test_the_runtime_server_never_shows_the_secret(world: World, leaks: Leaks) -> None:
    old = world.launch(eip=False)
    event = world.interrupt(old)
    environ = {"ALIYUN_OPS_ECS_ENDPOINT": world.emu.endpoint, "ALIYUN_OPS_VPC_ENDPOINT": world.emu.endpoint,
               "ALIYUN_OPS_PROTOCOL": "http", "ALIYUN_OPS_REGION": "cn-hangzhou",
               "ALIYUN_OPS_IMAGE_POLL_MAX": "1"}
    good = {"x-fc-access-key-id": KEY_ID, "x-fc-access-key-secret": SECRET, "x-fc-security-token": TOKEN}
    bad = {**good, "x-fc-security-token": "ToKeN-wrong"}
    with RuntimeServer(port=0, environ=environ) as srv, httpx.Client(base_url=srv.url, timeout=60) as http:
        world.emu.control.clock(time_scale=200)  # the server's engine sleeps for real: let time fly
        for headers in (bad, good, good):
            response = http.post("/invoke", json=event, headers=headers)
            leaks.add(f"{response.status_code} {response.text} {dict(response.headers)}")
        world.emu.control.clock(time_scale=1)
    assert '"replaced"' in leaks.texts[1] or '"already-replaced"' in leaks.texts[2]
