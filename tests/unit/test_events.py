"""Event parsing: real payloads become typed events, others are ignored with a reason, and bad bodies
raise EventError (never any other exception)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aliyun_ops.errors import EventError
from aliyun_ops.events import INTERRUPTION, MAX_EVENT_BYTES, STATE_CHANGE, Ignored, InstanceEvent, parse_event
from tests.events import event_names, load_event, load_event_bytes


def parsed(name: str) -> InstanceEvent:
    result = parse_event(load_event_bytes(name))
    assert isinstance(result, InstanceEvent), result
    return result


def test_official_cloudmonitor_sample() -> None:
    event = parsed("cloudmonitor_interruption")
    assert event == InstanceEvent(
        event_id="2256A988-0B26-4E2F-820A-6A8B3C1E1111",
        format="cloudmonitor",
        name=INTERRUPTION,
        instance_id="i-bp1ecr0000005go2go",
        region_id="cn-hangzhou",
        account_id="169070000000030",
        action="delete",
        time="20190409T121826.922+0800",
    )
    assert event.is_interruption and not event.action_masked


def test_readme_sample_masked_action_and_region_id_wins() -> None:
    event = parsed("cloudmonitor_readme_sample")
    assert event.instance_id == "i-d7o6oaa1z4lpi4ekuf6k"
    assert event.region_id == "eu-west-1"  # not us-east-1 from resourceId
    assert event.account_id == "1537742922454562"  # no userId: taken from resourceId
    assert event.action == "de***" and event.action_masked
    assert event.event_id == ""


def test_real_delivery_with_extra_fields() -> None:
    event = parsed("cloudmonitor_interruption_delivery")
    assert (event.instance_id, event.region_id, event.action) == ("i-uf6f4wzhmwgrchq2bxdm", "cn-shanghai", "delete")


def test_eventbridge_interruption() -> None:
    event = parsed("eventbridge_interruption")
    assert event.format == "eventbridge"
    assert event.is_interruption
    assert (event.instance_id, event.region_id, event.account_id) == (
        "i-bp1ecr0000005go2go",
        "cn-hangzhou",
        "169070000000030",
    )
    assert event.event_id == "45ef4dewdwe1-7c35-447a-bd93-fab****"


@pytest.mark.parametrize("fmt", ["cloudmonitor", "eventbridge"])
@pytest.mark.parametrize("state", ["Stopped", "Deleted"])
def test_state_change(fmt: str, state: str) -> None:
    event = parsed(f"{fmt}_statechange_{state.lower()}")
    assert (event.name, event.state, event.instance_id) == (STATE_CHANGE, state, "i-bp1ecr0000005go2go")
    assert not event.is_interruption


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("cloudmonitor_system_maintenance", "SystemMaintenance.Reboot"),
        ("eventbridge_system_maintenance", "SystemMaintenance.Reboot"),
        ("cloudmonitor_other_product", "RDS"),
        ("eventbridge_other_source", "acs.oss"),
    ],
)
def test_irrelevant_events_are_ignored_with_a_reason(name: str, why: str) -> None:
    result = parse_event(load_event_bytes(name))
    assert isinstance(result, Ignored)
    assert why in result.reason


def test_accepts_bytes_str_and_dict_alike() -> None:
    raw = load_event_bytes("eventbridge_interruption")
    assert parse_event(raw) == parse_event(raw.decode()) == parse_event(load_event("eventbridge_interruption"))


def test_instance_id_falls_back_to_the_resource_name() -> None:
    body = load_event("cloudmonitor_interruption")
    del body["content"]["instanceId"]
    assert parsed_dict(body).instance_id == "i-bp1ecr0000005go2go"


def parsed_dict(body: dict[str, object]) -> InstanceEvent:
    result = parse_event(body)
    assert isinstance(result, InstanceEvent)
    return result


def _mutated(name: str, path: tuple[str, ...], value: object) -> dict[str, object]:
    body = load_event(name)
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


_DELETE = object()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"my event", "not JSON"),  # the original README's curl body
        (b"", "not JSON"),
        (b"[1, 2]", "JSON object, not an array"),
        (b'"text"', "JSON object, not a string"),
        (b"\xff\xfe{}", "UTF-8"),
        (b"{}", "not a CloudMonitor"),
        (b"[" * 100_000, "not JSON"),
        (b" " * (MAX_EVENT_BYTES + 1), "larger than"),
        ("x" * (MAX_EVENT_BYTES + 1), "larger than"),
        (42, "must be bytes, str"),
        (_mutated("cloudmonitor_interruption", ("content", "instanceId"), _DELETE) | {"resourceId": "x"}, "no.* id"),
        (_mutated("cloudmonitor_readme_sample", ("content", "instanceId"), _DELETE), "invalid instance id"),
        (_mutated("cloudmonitor_interruption", ("content", "instanceId"), 42), "must be a string"),
        (_mutated("cloudmonitor_interruption", ("content", "instanceId"), "i-bad id; rm -rf"), "invalid instance id"),
        (_mutated("cloudmonitor_interruption", ("content",), "delete"), "'content' must be an object"),
        (_mutated("cloudmonitor_interruption", ("content",), _DELETE), "'content' is missing"),
        (_mutated("cloudmonitor_interruption", ("name",), None), "'name' is missing"),
        (_mutated("cloudmonitor_interruption", ("regionId",), ["cn-hangzhou"]), "must be a string"),
        (_mutated("eventbridge_interruption", ("data",), [1]), "'data' must be an object"),
        (_mutated("eventbridge_statechange_stopped", ("data", "state"), _DELETE), "without a state"),
    ],
)
def test_malformed_events_raise_event_error_with_a_reason(raw: object, reason: str) -> None:
    with pytest.raises(EventError, match=reason):
        parse_event(raw)  # type: ignore[arg-type]


def test_every_fixture_parses() -> None:
    for name in event_names():
        assert isinstance(parse_event(load_event_bytes(name)), (InstanceEvent, Ignored))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
interesting_keys = st.sampled_from(
    ["product", "name", "content", "specversion", "type", "data", "source", "instanceId", "resourceId",
     "regionId", "state", "action", "subject", "id"]
)  # fmt: skip
event_like = st.dictionaries(interesting_keys, json_values | st.dictionaries(interesting_keys, json_values), max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300), json_values, event_like))
def test_random_input_never_raises_anything_but_event_error(raw: object) -> None:
    candidates = [raw]
    if not isinstance(raw, (bytes, str)):
        candidates.append(json.dumps(raw).encode())
    for body in candidates:
        try:
            result = parse_event(body)  # type: ignore[arg-type]
        except EventError as err:
            assert str(err)
        else:
            assert isinstance(result, (InstanceEvent, Ignored))


@settings(max_examples=150, deadline=None)
@given(
    base=st.sampled_from(["cloudmonitor_interruption", "eventbridge_interruption", "cloudmonitor_statechange_stopped"]),
    key=interesting_keys,
    value=json_values,
)
def test_real_payloads_with_one_field_changed_never_raise_other_errors(base: str, key: str, value: object) -> None:
    body = load_event(base)
    inner = body.get("content", body.get("data"))
    for target in (body, inner):
        if isinstance(target, dict):
            target[key] = value
            with contextlib.suppress(EventError):
                parse_event(json.dumps(body))
