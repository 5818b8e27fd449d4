"""The Function Compute entry points over loopback: the custom-runtime HTTP server and the built-in
runtime's handler(), with a stand-in service for the contract and the real engine against the emulator."""

from __future__ import annotations

import functools
import json
import logging
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aliyun_ops import errors, service
from aliyun_ops.config import Credentials, Settings
from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from aliyun_ops.events import MAX_EVENT_BYTES
from aliyun_ops.runtime import fc
from aliyun_ops.runtime.invoke import Runner
from aliyun_ops.runtime.server import RuntimeServer
from tests.events import load_event, load_event_bytes
from tests.functional.engine_support import CREDS, World
from tests.functional.engine_support import settings as emulator_settings

SECRET = "Sup3rS3cretValue-never-logged"
TOKEN = "STS-token-never-logged-either"
README_CURL_BODY = (
    b'{"product":"ECS","resourceId":"acs:ecs:us-east-1:1537742922454562:instance/<resource-id>","level":"WARN",'
    b'"instanceName":"uk-prod006","regionId":"eu-west-1","groupId":"0",'
    b'"name":"Instance:PreemptibleInstanceInterruption","content":{"instanceId":"i-d7o6oaa1z4lpi4ekuf6k",'
    b'"action":"de***"},"status":"Normal"}'
)


class FakeService:
    """Stands in for service.handle_event: records each call, answers or raises as told."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error: BaseException | None = None

    def __call__(self, raw: Any, **kwargs: Any) -> service.Outcome:
        self.calls.append({"raw": raw, **kwargs})
        if self.error is not None:
            raise self.error
        return service.Outcome("skipped", "stand-in service: nothing done")


@pytest.fixture
def fake() -> FakeService:
    return FakeService()


@pytest.fixture
def server(fake: FakeService) -> Iterator[RuntimeServer]:
    runner = Runner(Settings(), environ={}, handle=fake)
    with RuntimeServer("127.0.0.1", 0, runner=runner) as srv:
        yield srv


def post(srv: RuntimeServer, body: bytes, path: str = "/invoke", **headers: str) -> httpx.Response:
    return httpx.post(srv.url + path, content=body, headers=headers, timeout=30)


@pytest.mark.parametrize("path", ["/", "/invoke"])
def test_readme_curl_body_gets_a_well_formed_answer(server: RuntimeServer, fake: FakeService, path: str) -> None:
    resp = post(server, README_CURL_BODY, path, **{"x-fc-request-id": "rid123456"})
    assert resp.status_code == 200 and resp.headers["x-fc-status"] == "200"
    assert resp.json() == {"status": "skipped", "message": "stand-in service: nothing done", "record": None}
    assert fake.calls[0]["raw"] == README_CURL_BODY and fake.calls[0]["request_id"] == "rid123456"


def test_readme_debug_body_is_a_bad_request(server: RuntimeServer, fake: FakeService) -> None:
    resp = post(server, b"my event", **{"x-fc-request-id": "rid123456"})  # the README's local curl
    assert resp.status_code == 400 and resp.headers["x-fc-status"] == "404"
    assert "not JSON" in resp.json()["error"]
    assert fake.calls == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON"),
        (b"[]", "must be a JSON object"),
        (b"\xff\xfe\x00", "UTF-8"),
        (b'{"product": "ECS", "name": "Instance:PreemptibleInstanceInterruption", "content": {}}', "instance id"),
        (b'{"hello": "world"}', "not a CloudMonitor"),
    ],
)
def test_malformed_bodies_get_400_with_the_reason(server: RuntimeServer, body: bytes, reason: str) -> None:
    resp = post(server, body)
    assert resp.status_code == 400
    assert reason in resp.json()["error"]


def test_irrelevant_event_is_ignored_without_touching_the_service(server: RuntimeServer, fake: FakeService) -> None:
    resp = post(server, load_event_bytes("cloudmonitor_system_maintenance"))
    assert resp.status_code == 200 and resp.json()["status"] == "ignored"
    assert "SystemMaintenance.Reboot" in resp.json()["message"]
    assert fake.calls == []


def test_oversized_body_is_413(server: RuntimeServer) -> None:
    resp = post(server, b" " * (MAX_EVENT_BYTES + 1))
    assert resp.status_code == 413 and "limit" in resp.json()["error"]


def test_oversized_content_length_is_refused_before_the_body_arrives(server: RuntimeServer) -> None:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"POST /invoke HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n{")
        head = sock.recv(4096)  # answered although almost nothing of the body was sent
    assert head.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.ReplacementFailed("no candidate could be launched"), 503),
        (errors.DeadlineExceeded("image not ready before the deadline"), 504),
        (errors.Throttled("Throttling.User", "slow down", action="RunInstances"), 502),
        (errors.ConfigError("no credentials"), 500),
        (RuntimeError("boom"), 500),
    ],
)
def test_failures_are_never_successes(
    server: RuntimeServer, fake: FakeService, error: BaseException, status: int
) -> None:
    fake.error = error
    resp = post(server, load_event_bytes("eventbridge_interruption"))
    assert resp.status_code == status and resp.headers["x-fc-status"] == "404"
    body = resp.json()
    assert body["type"] == type(error).__name__
    assert body["error"] == ("internal error (RuntimeError)" if isinstance(error, RuntimeError) else str(error))
    assert post(server, b"", "/initialize").status_code == 200  # and the server lives on


def test_headers_become_credentials_region_deadline_and_request_id(server: RuntimeServer, fake: FakeService) -> None:
    headers = {
        "x-fc-request-id": "req-1",
        "x-fc-access-key-id": "STS.key-id",
        "x-fc-access-key-secret": SECRET,
        "x-fc-security-token": TOKEN,
        "x-fc-region": "cn-shanghai",
        "x-fc-function-timeout": "300",
    }
    assert post(server, load_event_bytes("cloudmonitor_interruption"), **headers).status_code == 200
    call = fake.calls[0]
    assert call["credentials"] == Credentials("STS.key-id", SECRET, TOKEN)
    assert call["request_id"] == "req-1"
    assert call["settings"] == Settings()  # explicit settings are used as given
    assert 290 < call["deadline"] - __import__("time").time() <= 300


def test_region_header_applies_unless_configured(fake: FakeService) -> None:
    body = load_event_bytes("cloudmonitor_interruption")
    for environ, expected in (({}, "cn-shanghai"), ({"ALIYUN_OPS_REGION": "cn-beijing"}, "cn-beijing")):
        with RuntimeServer(runner=Runner(None, environ=environ, handle=fake)) as srv:
            post(srv, body, **{"x-fc-region": "cn-shanghai"})
        assert fake.calls[-1]["settings"].region_id == expected
        assert fake.calls[-1]["credentials"] is None  # none in headers nor environment: the service refuses


def test_lifecycle_routes(server: RuntimeServer) -> None:
    assert post(server, b"{}", "/initialize").json() == {"status": "initialized"}
    assert httpx.get(server.url + "/pre-stop").json() == {"status": "stopping"}
    assert httpx.get(server.url + "/nope").status_code == 404
    assert httpx.put(server.url + "/invoke", content=b"{}").status_code == 405


def test_secrets_never_reach_logs_or_answers(
    server: RuntimeServer, fake: FakeService, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"x-fc-access-key-id": "STS.key-id", "x-fc-access-key-secret": SECRET, "x-fc-security-token": TOKEN}
    answers = [post(server, load_event_bytes("cloudmonitor_interruption"), **headers).text]
    fake.error = errors.PermissionDenied("SignatureDoesNotMatch", f"signature made with {SECRET} / {TOKEN}")
    answers.append(post(server, load_event_bytes("cloudmonitor_interruption"), **headers).text)
    answers.append(post(server, b"not json", **headers).text)
    captured = capsys.readouterr()
    everything = caplog.text + captured.out + captured.err + "".join(answers)
    assert "request -: 502" in caplog.text  # the failure was logged ...
    assert SECRET not in everything and TOKEN not in everything  # ... without the secret


header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
header_names = st.sampled_from(
    [
        "x-fc-request-id",
        "x-fc-access-key-id",
        "x-fc-access-key-secret",
        "x-fc-region",
        "x-fc-function-timeout",
        "x-fc-security-token",
        "Content-Type",
        "Transfer-Encoding",
        "x-fc-retry-count",
    ]
)
bodies = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).map(str.encode),
    st.builds(
        lambda k, v: json.dumps({**load_event("cloudmonitor_interruption"), k: v}).encode(),
        st.sampled_from(["content", "name", "product", "regionId"]),
        st.integers() | st.text(max_size=5),
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=bodies,
    headers=st.dictionaries(header_names, header_values, max_size=5),
    path=st.sampled_from(["/", "/invoke"]),
)
def test_random_bodies_and_headers_never_get_a_5xx(
    server: RuntimeServer, body: bytes, headers: dict[str, str], path: str
) -> None:
    try:
        resp = httpx.post(server.url + path, content=body, headers=headers, timeout=30)
    except httpx.HTTPError:
        pass  # e.g. a Transfer-Encoding the client itself cannot honour; the server must still live
    else:
        assert resp.status_code < 500, resp.text
        assert resp.headers["x-fc-status"] == ("200" if resp.status_code == 200 else "404")
    assert httpx.get(server.url + "/health", timeout=30).status_code == 200


# -- the built-in Python runtime's handler() ------------------------------------------------------
def context(creds: Any = None, region: str = "cn-hangzhou", timeout: Any = None) -> SimpleNamespace:
    return SimpleNamespace(
        request_id="fc-req-1",
        credentials=creds,
        region=region,
        function=SimpleNamespace(name="aliyun-ops", timeout=timeout),
    )


def test_handler_returns_json_and_reads_credentials_from_the_context(
    monkeypatch: pytest.MonkeyPatch, fake: FakeService
) -> None:
    monkeypatch.setattr(fc, "_runner", Runner(Settings(), environ={}, handle=fake))
    creds = SimpleNamespace(access_key_id="STS.id", access_key_secret=SECRET, security_token=TOKEN)
    result = json.loads(fc.handler(load_event_bytes("eventbridge_interruption"), context(creds, timeout=120)))
    assert result["status"] == "skipped"
    assert fake.calls[0]["credentials"] == Credentials("STS.id", SECRET, TOKEN)
    assert fake.calls[0]["request_id"] == "fc-req-1"
    assert fake.calls[0]["deadline"] is not None


def test_handler_falls_back_to_environment_credentials(monkeypatch: pytest.MonkeyPatch, fake: FakeService) -> None:
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "STS.env", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET}
    monkeypatch.setattr(fc, "_runner", Runner(None, environ=env, handle=fake))
    fc.handler(load_event_bytes("cloudmonitor_interruption"), context(None, region="cn-shenzhen"))
    assert fake.calls[0]["credentials"] == Credentials("STS.env", SECRET)
    assert fake.calls[0]["settings"].region_id == "cn-shenzhen"
    assert fake.calls[0]["deadline"] is None  # no timeout known: the service uses the configured one


def test_handler_raises_on_malformed_input_and_on_failure(monkeypatch: pytest.MonkeyPatch, fake: FakeService) -> None:
    monkeypatch.setattr(fc, "_runner", Runner(Settings(), environ={}, handle=fake))
    with pytest.raises(errors.EventError, match="not JSON"):
        fc.handler(b"my event", context())
    fake.error = errors.ReplacementFailed("every candidate was sold out")
    with pytest.raises(errors.ReplacementFailed):
        fc.handler(load_event_bytes("cloudmonitor_interruption"), context())
    assert json.loads(fc.handler(load_event_bytes("cloudmonitor_other_product"), context()))["status"] == "ignored"


# -- the real engine against the emulator ---------------------------------------------------------
@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def emulator_runner(world: World) -> Runner:
    """The real service, on the emulator's clock (its sleep advances the clock: no real waiting)."""
    handle = functools.partial(service.handle_event, sleep=world.advance, clock=world.emu.clock.now)
    return Runner(emulator_settings(world.emu), environ={}, handle=handle)


def test_interruption_through_the_server_replaces_the_instance(world: World) -> None:
    old = world.launch()
    event = world.interrupt(old)
    headers = {
        "x-fc-request-id": "rid-1",
        "x-fc-access-key-id": CREDS.access_key_id,
        "x-fc-access-key-secret": CREDS.access_key_secret,
        "x-fc-security-token": CREDS.security_token or "",
    }
    with RuntimeServer(runner=emulator_runner(world)) as srv:
        first = post(srv, json.dumps(event).encode(), **headers)
        again = post(srv, json.dumps(event).encode(), "/", **headers)  # FC retries deliver it again
        unknown = post(
            srv,
            json.dumps(
                {
                    **event,
                    "regionId": "cn-hangzhou",
                    "resourceId": event["resourceId"].replace(old, "i-bp1nosuchinstance"),
                    "content": {"instanceId": "i-bp1nosuchinstance", "action": "delete"},
                }
            ).encode(),
            **headers,
        )
        readme = post(srv, README_CURL_BODY, **headers)
    assert first.status_code == 200 and first.json()["status"] == "replaced"
    new_id = first.json()["record"]["new_instance_id"]
    new = world.instance(new_id)
    assert new is not None and new["Status"] == "Running" and new["InstanceName"] == "web-1"
    assert again.status_code == 200 and again.json()["status"] == "already-replaced"
    assert [i["InstanceId"] for i in world.instances() if i["InstanceName"] == "web-1"] == [new_id]
    assert unknown.status_code == 200 and unknown.json()["status"] == "skipped"
    # The old README's sample names region eu-west-1: the function acts in its configured region only, so the
    # event is refused before any call (the old tool would have acted in the region the event chose).
    assert readme.status_code == 400 and "event for region eu-west-1" in readme.json()["error"]


def test_string_content_notice_through_the_server_replaces_the_instance(world: World) -> None:
    """CloudMonitor's ``content`` as a JSON string goes the whole way: parsed, acted on, replaced; the same
    notice pulled from DescribeSystemEventAttribute (PascalCase, ``Content`` a string) finds it done."""
    old = world.launch()
    event = world.interrupt(old)
    notice = {**event, "content": json.dumps(event["content"])}
    pulled = {
        "Id": event["id"],
        "Product": "ECS",
        "Name": event["name"],
        "Level": "WARN",
        "Status": "Normal",
        "ResourceId": event["resourceId"],
        "RegionId": event["regionId"],
        "Time": 1554783506922,
        "Content": json.dumps(event["content"]),
    }
    headers = {
        "x-fc-access-key-id": CREDS.access_key_id,
        "x-fc-access-key-secret": CREDS.access_key_secret,
        "x-fc-security-token": CREDS.security_token or "",
    }
    with RuntimeServer(runner=emulator_runner(world)) as srv:
        first = post(srv, json.dumps(notice).encode(), **headers)
        again = post(srv, json.dumps(pulled).encode(), **headers)
        broken = post(srv, json.dumps({**notice, "content": '{"instanceId": "' + old}).encode(), **headers)
    assert isinstance(notice["content"], str)
    assert first.status_code == 200 and first.json()["status"] == "replaced", first.text
    new_id = first.json()["record"]["new_instance_id"]
    new = world.instance(new_id)
    assert new is not None and new["Status"] == "Running" and new["InstanceName"] == "web-1"
    assert again.status_code == 200 and again.json()["status"] == "already-replaced", again.text
    assert broken.status_code == 400 and "'content'" in broken.json()["error"]
    assert [i["InstanceId"] for i in world.instances() if i["InstanceName"] == "web-1"] == [new_id]


def test_interruption_through_the_handler_replaces_the_instance(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    old = world.launch()
    event = world.interrupt(old, format="eventbridge")
    monkeypatch.setattr(fc, "_runner", emulator_runner(world))
    creds = SimpleNamespace(
        access_key_id=CREDS.access_key_id,
        access_key_secret=CREDS.access_key_secret,
        security_token=CREDS.security_token,
    )
    result = json.loads(fc.handler(json.dumps(event).encode(), context(creds)))
    assert result["status"] == "replaced"
    new = world.instance(result["record"]["new_instance_id"])
    assert new is not None and new["Status"] == "Running" and new["InstanceType"] == "ecs.c7.large"


def test_timer_trigger_reconciles_a_reclaim_stopped_instance(world: World) -> None:
    """s.yaml's 5-minute timer sends {"aliyun-ops":"reconcile"} wrapped by FC: the runtime reconciles."""
    old = world.launch(behavior="Stop")
    world.interrupt(old)
    world.advance(400)  # past the notice: stop mode leaves it Stopped instead of releasing it
    assert world.instance(old)["Status"] == "Stopped"
    reconcile = functools.partial(service.reconcile, sleep=world.advance, clock=world.emu.clock.now)
    runner = Runner(emulator_settings(world.emu), environ={}, reconcile=reconcile)
    timer_body = {"triggerTime": "2026-11-27T10:00:00Z", "triggerName": "reconcile",
                  "payload": json.dumps({"aliyun-ops": "reconcile"})}
    headers = {
        "x-fc-access-key-id": CREDS.access_key_id,
        "x-fc-access-key-secret": CREDS.access_key_secret,
        "x-fc-security-token": CREDS.security_token or "",
    }
    with RuntimeServer(runner=runner) as srv:
        answer = post(srv, json.dumps(timer_body).encode(), **headers)
    assert answer.status_code == 200 and answer.json()["status"] == "reconciled"
    world.advance(60)
    assert world.instance(old)["Status"] == "Running"
    assert len([i for i in world.instances() if i["InstanceName"] == "web-1"]) == 1


def test_a_timer_with_another_payload_is_not_a_reconcile_request() -> None:
    from aliyun_ops.events import is_reconcile_request

    assert is_reconcile_request(b'{"triggerName":"t","payload":"{\\"aliyun-ops\\":\\"reconcile\\"}"}')
    assert is_reconcile_request({"aliyun-ops": "reconcile"})
    assert not is_reconcile_request({"triggerName": "t", "payload": "hello"})
    assert not is_reconcile_request(b"not json")
