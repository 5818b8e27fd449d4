"""Event parsing: real payloads become typed events, others are ignored with a reason, and bad bodies
raise EventError (never any other exception)."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime

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


# -- content given as a JSON string, and CloudMonitor's pull API (DescribeSystemEventAttribute) ------------


@pytest.mark.parametrize(
    ("variant", "twin"),
    [
        ("cloudmonitor_interruption_string_content", "cloudmonitor_interruption"),
        ("cloudmonitor_statechange_stopped_string_content", "cloudmonitor_statechange_stopped"),
        ("cloudmonitor_system_maintenance_string_content", "cloudmonitor_system_maintenance"),
    ],
)
def test_string_content_parses_like_its_object_twin(variant: str, twin: str) -> None:
    assert isinstance(load_event(variant)["content"], str)
    assert parse_event(load_event_bytes(variant)) == parse_event(load_event_bytes(twin))


def test_pull_api_item_is_the_same_notice_as_the_delivered_one() -> None:
    item, pushed = parsed("cms_api_interruption"), parsed("cloudmonitor_interruption")
    same = ("name", "instance_id", "region_id", "account_id", "action", "state", "event_id")
    assert [getattr(item, f) for f in same] == [getattr(pushed, f) for f in same]
    assert item.format == "cloudmonitor-api" and item.is_interruption and not item.action_masked
    # Time is UNIX ms; the same instant as the delivery's eventTime.
    assert datetime.fromisoformat(item.time.replace("Z", "+00:00")) == datetime.strptime(
        pushed.time, "%Y%m%dT%H%M%S.%f%z"
    )


def test_pull_api_item_variants() -> None:
    item = load_event("cms_api_interruption")
    as_text = parse_event(item | {"Time": str(item["Time"])})
    assert isinstance(as_text, InstanceEvent) and as_text.time == "2019-04-09T04:18:26.922Z"
    # Older API versions have no Id; a plain instance id as ResourceId; Content without instanceId.
    bare = {k: v for k, v in item.items() if k != "Id"} | {
        "ResourceId": "i-bp1ecr0000005go2go",
        "Content": json.dumps({"action": "delete"}),
    }
    event = parsed_dict(bare)
    assert (event.event_id, event.instance_id, event.account_id) == ("", "i-bp1ecr0000005go2go", "")
    stopped = parsed_dict(
        item | {"Name": STATE_CHANGE, "Content": json.dumps({"resourceId": "i-bp1ecr0000005go2go", "state": "Stopped"})}
    )
    assert (stopped.name, stopped.state, stopped.is_interruption) == (STATE_CHANGE, "Stopped", False)
    assert "not ECS" in _ignored(item | {"Product": "RDS"})
    assert "SystemMaintenance.Reboot" in _ignored(item | {"Name": "Instance:SystemMaintenance.Reboot", "Content": "?"})


def _ignored(body: dict[str, object]) -> str:
    result = parse_event(body)
    assert isinstance(result, Ignored), result
    return result.reason


def test_a_whole_pull_api_response_is_refused_not_half_read() -> None:
    """A body is one event: a response listing several must be split by whoever forwards it."""
    items = [load_event("cms_api_interruption")] * 2
    response = {"Code": "200", "Message": "success", "RequestId": "60912C8D-B340-4253-ADE7-61ACDFD25CFC",
                "Success": "true", "SystemEvents": {"SystemEvent": items}}  # fmt: skip
    with pytest.raises(EventError, match=r"DescribeSystemEventAttribute response \(2 item"):
        parse_event(json.dumps(response))
    with pytest.raises(EventError, match=r"one SystemEvents\.SystemEvent item"):
        parse_event(response["SystemEvents"])  # type: ignore[arg-type]


_CM = "cloudmonitor_interruption"
_ID = "i-bp1ecr0000005go2go"  # the instance the sample events name
_CM_STR = "cloudmonitor_interruption_string_content"
_API = "cms_api_interruption"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # content/Content strings that are not JSON, or JSON but not an object
        (_mutated(_CM_STR, ("content",), '{"instanceId":"i-bp1ecr0000005go2go",'), "'content' .*is not JSON"),
        (_mutated(_CM_STR, ("content",), ""), "'content' .*is not JSON"),
        (_mutated(_CM_STR, ("content",), "[1, 2]"), "'content' .*holds an array"),
        (_mutated(_CM_STR, ("content",), "null"), "'content' .*holds null"),
        (_mutated(_CM_STR, ("content",), json.dumps(json.dumps({"instanceId": "i-x"}))), "holds a string"),
        (_mutated(_CM_STR, ("content",), "[" * 100_000), "'content' .*is not JSON"),
        (_mutated("eventbridge_interruption", ("data",), "not json"), "'data' .*is not JSON"),
        (_mutated(_API, ("Content",), "de***"), "'Content' .*is not JSON"),
        (_mutated(_API, ("Content",), "42"), "'Content' .*holds a number"),
        (_mutated(_API, ("Content",), _DELETE), "'Content' is missing"),
        (_mutated(_API, ("Content",), {"instanceId": 7}), "'instanceId' must be a string"),
        # what a string content holds is checked like an object's
        (_mutated(_CM_STR, ("content",), '{"instanceId":"i-bad id; rm -rf","action":"delete"}'), "invalid instance id"),
        (_mutated(_CM_STR, ("content",), '{"action":"delete"}') | {"resourceId": "x"}, "no instance id"),
        (_mutated(_API, ("Content",), '{"action":"delete"}') | {"ResourceId": "i-../../x"}, "no instance id"),
        (_mutated("cloudmonitor_statechange_stopped_string_content", ("content",), f'{{"resourceId":"{_ID}"}}'),
         "without a state"),
        # pull API fields of the wrong type
        (_mutated(_API, ("Time",), True), "'Time' must be UNIX milliseconds"),
        (_mutated(_API, ("Time",), -1), "'Time' must be UNIX milliseconds"),
        (_mutated(_API, ("Time",), 1.5e12), "'Time' must be UNIX milliseconds"),
        (_mutated(_API, ("Time",), "yesterday"), "'Time' must be UNIX milliseconds"),
        (_mutated(_API, ("Time",), 10**20), "'Time' must be UNIX milliseconds"),
        (_mutated(_API, ("Product",), ["ECS"]), "'Product' must be a string"),
        (_mutated(_API, ("Name",), None), "'Name' is missing"),
        (_mutated(_API, ("Id",), 12), "'Id' must be a string"),
        # one event names one instance and one account: a disagreement is refused, not resolved
        (_mutated(_CM, ("content", "instanceId"), "i-bp1other0000000000"), "names two instances"),
        (_mutated("eventbridge_interruption", ("data", "instanceId"), "i-bp1other0000000000"), "names two instances"),
        (_mutated("eventbridge_interruption", ("aliyunaccountid",), "1690700000000"), "names two accounts"),
        (_mutated("eventbridge_interruption", ("aliyunaccountid",), "1690@evil"), "invalid account id"),
        (_mutated(_CM, ("userId",), "169070000000031"), "names two accounts"),
        # regions: the event's region becomes the API endpoint's, so only a region id passes
        (_mutated(_CM, ("regionId",), "evil.example.com"), "invalid region id"),
        (_mutated(_CM, ("regionId",), "cn-hangzhou/../x"), "invalid region id"),
        (_mutated(_CM, ("regionId",), "CN-HANGZHOU"), "invalid region id"),
        (_mutated(_CM, ("regionId",), "cn-" + "x" * 70), "invalid region id"),
        (_mutated(_CM, ("regionId",), _DELETE) | {"resourceId": f"acs:ecs:evil.com:169070000000030:instance/{_ID}"},
         "invalid region id"),
        (_mutated("eventbridge_interruption", ("aliyunregionid",), "cn hangzhou"), "invalid region id"),
        (_mutated(_API, ("RegionId",), "127.0.0.1:8080"), "invalid region id"),
    ],
)  # fmt: skip
def test_malformed_new_shapes_raise_event_error_with_a_reason(body: dict[str, object], reason: str) -> None:
    with pytest.raises(EventError, match=reason):
        parse_event(body)
    with pytest.raises(EventError, match=reason):
        parse_event(json.dumps(body).encode())


def test_region_falls_back_to_the_resource_name_and_then_to_none() -> None:
    body = load_event(_API)
    del body["RegionId"]
    assert parsed_dict(body).region_id == "cn-hangzhou"
    body["ResourceId"] = "i-bp1ecr0000005go2go"
    assert parsed_dict(body).region_id == ""  # the caller's configured region applies


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
     "regionId", "state", "action", "subject", "id", "Product", "Name", "Content", "ResourceId", "RegionId",
     "Time", "Id", "SystemEvents"]
)  # fmt: skip
inner_objects = st.dictionaries(interesting_keys, json_values)
event_like = st.dictionaries(
    interesting_keys,
    json_values | inner_objects | inner_objects.map(json.dumps) | json_values.map(json.dumps),
    max_size=8,
)


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
    base=st.sampled_from(
        ["cloudmonitor_interruption", "eventbridge_interruption", "cloudmonitor_statechange_stopped",
         "cloudmonitor_interruption_string_content", "cms_api_interruption"]
    ),
    key=interesting_keys,
    value=json_values,
)  # fmt: skip
def test_real_payloads_with_one_field_changed_never_raise_other_errors(base: str, key: str, value: object) -> None:
    body = load_event(base)
    inner_key = next(k for k in ("content", "data", "Content") if k in body)
    inner = body[inner_key]
    inner = json.loads(inner) if isinstance(inner, str) else inner
    for target in (body, inner):
        target[key] = value
        if target is inner and isinstance(load_event(base)[inner_key], str):
            body[inner_key] = json.dumps(inner)
        with contextlib.suppress(EventError):
            result = parse_event(json.dumps(body))
            assert isinstance(result, (InstanceEvent, Ignored))


def test_the_notice_time_is_read_from_every_format_and_is_none_when_unreadable() -> None:
    from aliyun_ops.events import notice_time

    cloudmonitor = parsed("cloudmonitor_interruption")  # eventTime 20190409T121826.922+0800
    assert notice_time(cloudmonitor) == datetime.fromisoformat("2019-04-09T12:18:26.922+08:00").timestamp()
    eventbridge = parsed("eventbridge_interruption")  # time 2026-11-20T10:11:12.000Z
    assert notice_time(eventbridge) == datetime.fromisoformat("2026-11-20T10:11:12+00:00").timestamp()
    for text in ("", "yesterday", "2026-13-40T99:00:00Z"):
        assert notice_time(InstanceEvent("", "eventbridge", INTERRUPTION, "i-x", "", time=text)) is None
