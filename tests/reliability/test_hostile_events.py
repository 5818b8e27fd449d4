"""An event names an instance, never a destination (issue 12, items 1 and 2).

Every field of both delivery formats is fuzzed (hypothesis) and handed to the engine, which runs against the
emulator. Every name the process resolves and every address it connects to is recorded: no event may make it
reach any host but the configured endpoint, act in a region outside the configuration, or take a second before
it is refused or acted on.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aliyun_ops import errors, service
from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from aliyun_ops.models import REGION_ID
from tests.events import load_event
from tests.functional.engine_support import CREDS, REGION
from tests.functional.engine_support import settings as engine_settings

HOSTILE_TEXT = [
    "x@127.0.0.2:18102/?",
    "evil.example.com",
    "cn-hangzhou.evil.example.com",
    "127.0.0.1:1",
    "http://169.254.169.254/latest/meta-data",
    "cn-hangzhou\r\nHost: evil",
    "\ud800",
    "cn-" + "x" * 300,
    "../../etc/passwd",
    "",
]
FIELDS = {
    "cloudmonitor_interruption": ["id", "product", "resourceId", "name", "regionId", "userId", "eventTime", "level",
                                  ("content", "instanceId"), ("content", "action")],
    "eventbridge_interruption": ["id", "source", "type", "subject", "time", "aliyunaccountid", "aliyunregionid",
                                 ("data", "instanceId"), ("data", "action")],
}  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.from_regex(REGION_ID, fullmatch=True),  # a well-formed region that is not configured
    st.from_regex(r"\Ai-[a-z0-9]{1,30}\Z"),
    st.text(max_size=40),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)


class Sockets:
    """Every host name resolved and every address connected to, by any thread, while active."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.peers: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Sockets:
        self._getaddrinfo, self._connect = socket.getaddrinfo, socket.socket.connect
        watched = self

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            with watched._lock:
                watched.names.append(str(host))
            return watched._getaddrinfo(host, *args, **kwargs)

        def connect(sock: socket.socket, address: Any) -> None:
            if isinstance(address, tuple):
                with watched._lock:
                    watched.peers.append((str(address[0]), int(address[1])))
            watched._connect(sock, address)

        socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
        socket.socket.connect = connect  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        socket.getaddrinfo = self._getaddrinfo  # type: ignore[assignment]
        socket.socket.connect = self._connect  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emulator:
        yield emulator


def _handle(emu: Emulator, body: dict[str, Any], **overrides: Any) -> tuple[str, float]:
    """What the function answered ("400", "ok", or the failure's class) and how long it took, in wall seconds."""
    started = time.monotonic()
    try:
        service.handle_event(
            body,
            settings=engine_settings(emu, **overrides),
            credentials=CREDS,
            sleep=emu.clock.advance,
            clock=emu.clock.now,
        )
        answer = "ok"
    except errors.EventError:
        answer = "400"
    except errors.AliyunOpsError as exc:
        answer = type(exc).__name__
    return answer, time.monotonic() - started


def _mutated(name: str, path: str | tuple[str, ...], value: object) -> dict[str, Any]:
    body = load_event(name)
    keys = (path,) if isinstance(path, str) else path
    target = body
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_field_of_any_event_steers_the_function_to_another_host_region_or_a_long_wait(
    emu: Emulator, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(FIELDS)))
    path = data.draw(st.sampled_from(FIELDS[name]))
    body = _mutated(name, path, data.draw(VALUES))
    seq = len(emu.control.calls())
    with Sockets() as seen:
        answer, took = _handle(emu, body)
    host, port = emu.endpoint.rsplit(":", 1)
    assert set(seen.names) <= {host}, (path, seen.names)
    assert {p for p in seen.peers} <= {(host, int(port))}, (path, seen.peers)
    assert took < 1.0, (path, answer, took)  # refused or acted on within a second
    regions = {c["params"].get("RegionId") for c in emu.control.calls()[seq:]}
    assert regions <= {REGION}, (path, regions)


@pytest.mark.parametrize("region", ["x@127.0.0.2:18102/?", "cn-evil", "ap-southeast-1", "cn-shanghai", "\ud800"])
def test_a_hostile_or_foreign_region_is_refused_before_any_socket_opens(emu: Emulator, region: str) -> None:
    body = _mutated("eventbridge_interruption", "aliyunregionid", region)
    with Sockets() as seen:
        answer, took = _handle(emu, body)
    assert answer == "400" and took < 0.1
    assert seen.names == [] and seen.peers == []


def test_a_region_in_the_allowlist_is_acted_on_through_the_configured_endpoint_only(emu: Emulator) -> None:
    body = _mutated("eventbridge_interruption", "aliyunregionid", "cn-shanghai")
    seq = len(emu.control.calls())
    with Sockets() as seen:
        answer, _ = _handle(emu, body, regions=("cn-shanghai",))
    assert answer == "ok"  # the instance does not exist there: skipped, after one read in cn-shanghai
    host, port = emu.endpoint.rsplit(":", 1)
    assert set(seen.names) <= {host} and set(seen.peers) <= {(host, int(port))}
    assert {c["params"].get("RegionId") for c in emu.control.calls()[seq:]} == {"cn-shanghai"}


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("data", "instanceId"), "i-bp1other0000000000", "names two instances"),
        ("aliyunaccountid", "1690700000000", "names two accounts"),
    ],
)
def test_mismatched_ids_are_refused_before_any_call(emu: Emulator, path: Any, value: str, reason: str) -> None:
    body = _mutated("eventbridge_interruption", path, value)
    with Sockets() as seen, pytest.raises(errors.EventError, match=reason):
        service.handle_event(body, settings=engine_settings(emu), credentials=CREDS)
    assert seen.peers == []


def test_an_event_about_another_account_is_refused_when_the_function_knows_its_own(emu: Emulator) -> None:
    body = load_event("eventbridge_interruption")  # account 169070000000030
    with pytest.raises(errors.EventError, match="not this function's"):
        service.handle_event(body, settings=engine_settings(emu), credentials=CREDS, account_id="1537742922454562")
    with pytest.raises(errors.EventError, match="not this function's"):
        service.handle_event(body, settings=engine_settings(emu, account_id="1537742922454562"), credentials=CREDS)


def test_a_hundred_forged_notices_cost_at_most_a_hundred_reads_and_never_a_wait(emu: Emulator) -> None:
    """Forged release notices for the account's healthy spot instances (no Recycling lock): one read each, decided
    at once. Before, each re-read its instance for 20 s: 6 reads and a held thread per forgery."""
    from tests.functional.engine_support import World

    world = World(emu)
    victims = [world.launch(name=f"victim-{n}", eip=False) for n in range(4)]
    template = load_event("cloudmonitor_interruption")
    naps: list[float] = []
    seq = len(emu.control.calls())
    for n in range(100):
        victim = victims[n % len(victims)]
        body = {**template, "id": f"forged-{n}", "resourceId": template["resourceId"].replace(
            "i-bp1ecr0000005go2go", victim), "content": {"instanceId": victim, "action": "delete"}}
        outcome = service.handle_event(
            body, settings=engine_settings(emu), credentials=CREDS, sleep=naps.append, clock=emu.clock.now
        )
        assert outcome.status == "skipped" and "no Recycling lock" in outcome.message
    calls = [c for c in emu.control.calls()[seq:] if c["accessKeyId"] == CREDS.access_key_id]
    answered = [c for c in calls if c["status"] == 200]  # the rest: the cloud's 2% transient refusals, retried
    assert len(answered) <= 100 and {c["action"] for c in calls} == {"DescribeInstances"}
    # Nothing waited but the backoff of the cloud's own transient refusals: no thread is held by a forgery
    # (before: 20 s each, 2,000 s for the hundred).
    assert len(naps) <= len(calls) - len(answered) and sum(naps) < 10
    assert all(world.instance(v)["Status"] == "Running" for v in victims)  # and nothing was done to the victims


def test_a_flood_beyond_the_incident_bound_is_answered_429_retry_later(emu: Emulator) -> None:
    """The runtime runs at most ``max_incidents`` incidents at once; the rest are told to come back (429 with
    Retry-After), which FC's retries do, instead of piling up threads."""
    import httpx

    from aliyun_ops.runtime.invoke import Runner
    from aliyun_ops.runtime.server import RuntimeServer

    release, entered = threading.Event(), threading.Semaphore(0)

    def slow_handle(*args: Any, **kwargs: Any) -> service.Outcome:
        entered.release()
        release.wait(10)
        return service.Outcome("skipped", "held")

    body = json.dumps(load_event("eventbridge_interruption")).encode()
    runner = Runner(engine_settings(emu, max_incidents=2), environ={}, handle=slow_handle)
    answers: list[httpx.Response] = []
    with RuntimeServer(runner=runner) as srv:
        def post() -> None:
            answers.append(httpx.post(f"{srv.url}/invoke", content=body, timeout=15))

        busy = [threading.Thread(target=post) for _ in range(2)]
        for t in busy:
            t.start()
        assert entered.acquire(timeout=5) and entered.acquire(timeout=5)
        started = time.monotonic()
        refused = [httpx.post(f"{srv.url}/invoke", content=body, timeout=5) for _ in range(3)]
        took = time.monotonic() - started
        release.set()
        for t in busy:
            t.join(10)
    assert [r.status_code for r in refused] == [429, 429, 429] and took < 1.0
    assert all(r.headers["Retry-After"] == "5" and r.headers["x-fc-status"] == "404" for r in refused)
    assert "ALIYUN_OPS_MAX_INCIDENTS" in refused[0].json()["error"]
    assert sorted(a.status_code for a in answers) == [200, 200]  # the two in flight finish normally


def test_header_credentials_are_taken_only_in_the_shape_fc_sends_them() -> None:
    from email.message import Message

    from aliyun_ops.runtime.server import _invocation

    def headers(**values: str) -> Message:
        msg = Message()
        for key, value in values.items():
            msg[key.replace("_", "-")] = value
        return msg

    plain = _invocation(b"{}", headers(x_fc_access_key_id="LTAIkey", x_fc_access_key_secret="s3cret"), 0.0)
    assert plain.credentials is None  # a long-lived pair from a caller is not used: the environment's apply
    sts = _invocation(
        b"{}", headers(x_fc_access_key_id="STS.k", x_fc_access_key_secret="s", x_fc_security_token="t"), 0.0
    )
    assert sts.credentials is not None and sts.credentials.security_token == "t"
