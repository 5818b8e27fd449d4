"""Scenario 8: random event bodies, headers and sizes at the custom-runtime server and the handler.

Nothing crashes; malformed input never gets a 5xx (a 5xx means "we failed", and makes Function
Compute retry and alert); every rejection carries a reason; bodies over the size limit are refused.
Well-formed events about instances that do not exist reach the emulator and are skipped (200).
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aliyun_ops import errors
from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator
from aliyun_ops.events import MAX_EVENT_BYTES
from aliyun_ops.runtime.invoke import Invocation, Runner
from aliyun_ops.runtime.server import RuntimeServer
from tests.functional.engine_support import CREDS
from tests.functional.engine_support import settings as emu_settings

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
ids = st.sampled_from(["i-bp1doesnotexist0001", "i-", "", "i-bp1 space", "x" * 300]) | st.text(max_size=30)
regions = st.sampled_from(["cn-hangzhou", "cn-shanghai", "", "CN-HANGZHOU", "../etc", "xx"]) | st.text(max_size=20)
names = st.sampled_from(["Instance:PreemptibleInstanceInterruption", "Instance:StateChange", "Other"])
field = st.one_of(json_values, ids)


def _some_of(draw: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Most fields, sometimes one or more missing."""
    return {k: v for k, v in body.items() if draw(st.integers(0, 9)) > 0}


@st.composite
def cloudmonitor(draw: Any) -> dict[str, Any]:
    content = {"instanceId": draw(ids), "action": draw(st.sampled_from(["delete", "de***", None, 5]))}
    body = {"product": draw(st.sampled_from(["ECS", "ecs", "RDS"]) | field), "name": draw(names | field),
            "regionId": draw(regions | field), "content": draw(st.just(content) | field), "id": draw(field)}
    return _some_of(draw, body)


@st.composite
def cloudevents(draw: Any) -> dict[str, Any]:
    data = {"instanceId": draw(ids), "action": "delete", "state": draw(st.sampled_from(["Stopped", "Deleted", 1]))}
    body = {"specversion": "1.0", "type": draw(st.sampled_from(["ecs:" + n for n in
            ("Instance:PreemptibleInstanceInterruption", "Instance:StateChange", "Disk:Other")]) | field),
            "source": draw(st.sampled_from(["acs.ecs", "acs.rds"]) | field), "subject": draw(field),
            "aliyunregionid": draw(regions | field), "data": draw(st.just(data) | field), "id": draw(field)}
    return _some_of(draw, body)


bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),
    cloudmonitor().map(lambda v: json.dumps(v).encode()),
    cloudevents().map(lambda v: json.dumps(v).encode()),
)
# What an HTTP client can send at all (h11 refuses values with edge whitespace or control characters).
header_text = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c") + " ", max_size=30).map(str.strip)
headers = st.fixed_dictionaries(
    {},
    optional={
        "x-fc-region": st.sampled_from(["cn-hangzhou", "", "mars-1"]) | header_text,
        "x-fc-function-timeout": st.sampled_from(["600", "-1", "nan", "1e99", "0"]) | header_text,
        "x-fc-request-id": header_text,
        "content-type": header_text,
    },
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield emu


@pytest.fixture(scope="module")
def server(emulator: Emulator) -> Iterator[RuntimeServer]:
    """The runtime as deployed: settings from the environment (pointed at the emulator)."""
    environ = {"ALIYUN_OPS_ECS_ENDPOINT": emulator.endpoint, "ALIYUN_OPS_VPC_ENDPOINT": emulator.endpoint,
               "ALIYUN_OPS_PROTOCOL": "http", "ALIYUN_OPS_REGION": "cn-hangzhou"}
    with RuntimeServer(port=0, environ=environ) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server: RuntimeServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as client:
        yield client


CREDENTIAL_HEADERS = {"x-fc-access-key-id": DEFAULT_ACCESS_KEY_ID, "x-fc-access-key-secret": DEFAULT_ACCESS_KEY_SECRET}


def _check_answer(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    answer = response.json()
    if response.status_code >= 400:
        assert isinstance(answer.get("error"), str) and answer["error"].strip()
    else:
        assert answer["status"] in ("ignored", "skipped")


@FUZZ
@given(body=bodies, extra=headers)
def test_the_server_answers_any_body_and_headers_without_5xx(
    http: httpx.Client, body: bytes, extra: dict[str, str]
) -> None:
    _check_answer(http.post("/invoke", content=body, headers={**CREDENTIAL_HEADERS, **extra}))


@FUZZ
@given(body=bodies)
def test_the_handler_accepts_or_rejects_with_a_reason(emulator: Emulator, body: bytes) -> None:
    runner = Runner(emu_settings(emulator))
    try:
        result = runner.run(Invocation(body=body, credentials=CREDS))
    except errors.EventError as exc:
        assert str(exc).strip()
        return
    assert result["status"] in ("ignored", "skipped")


@pytest.mark.parametrize("size", [MAX_EVENT_BYTES + 1, 4 * MAX_EVENT_BYTES])
def test_bodies_over_the_limit_are_refused_with_413(http: httpx.Client, size: int) -> None:
    response = http.post("/invoke", content=b"{" + b" " * (size - 2) + b"}", headers=CREDENTIAL_HEADERS)
    assert response.status_code == 413 and str(MAX_EVENT_BYTES) in response.json()["error"]


def test_a_body_at_the_limit_is_read(http: httpx.Client) -> None:
    body = json.dumps({"product": "RDS", "name": "x", "pad": ""}).encode()
    body = body[:-2] + b" " * (MAX_EVENT_BYTES - len(body)) + body[-2:]
    response = http.post("/invoke", content=body, headers=CREDENTIAL_HEADERS)
    assert response.status_code == 200 and response.json()["status"] == "ignored"
