"""Raw event bodies -> typed events, at the edge.

Three shapes reach the function, one event per body: a CloudMonitor event-alarm rule delivers its own
JSON (``product``/``name``/``content``), EventBridge delivers a CloudEvents 1.0 envelope
(``specversion``/``type``/``data``), and CloudMonitor's pull API (``DescribeSystemEventAttribute``,
cms 2019-01-01) lists items with PascalCase keys (``Product``/``Name``/``Content``), one of which may be
handed on as the body. The event's own fields (``content``/``data``/``Content``) may be an object or
a JSON string of one. Each shape has one small parser, looked up by the body's shape. Whatever is well
formed but not ours (another product, another ECS event) becomes :class:`Ignored` with a reason;
whatever cannot be understood raises :class:`~aliyun_ops.errors.EventError` with a reason and nothing
else, so the runtimes can answer "bad request" instead of crashing. Events are untrusted: the instance
id must look like an ECS id and the region like a region id, or the event is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from aliyun_ops.errors import EventError
from aliyun_ops.models import ACCOUNT_ID, REGION_ID, parse_time

MAX_EVENT_BYTES = 256 * 1024

INTERRUPTION = "Instance:PreemptibleInstanceInterruption"
STATE_CHANGE = "Instance:StateChange"
HANDLED_NAMES = (INTERRUPTION, STATE_CHANGE)

# Instance ids are short ASCII tokens ("i-bp1ecr0000005go2go"); anything else is not an id.
_INSTANCE_ID = re.compile(r"^i-[A-Za-z0-9_-]{1,62}$")
# acs:ecs:<region>:<account>:instance/<id>; samples also carry placeholders like "<resource-id>".
_ARN = re.compile(r"^acs:ecs:(?P<region>[^:]*):(?P<account>[^:]*):instance/(?P<id>.*)$")
# The event's region becomes the API endpoint's region: models.REGION_ID (configuration's rule), and short.
_REGION_MAX = 64

# DescribeSystemEventAttribute's Time is UNIX milliseconds; anything past 9999-12-31 is not a time.
_MAX_TIME_MS = 253_402_300_800_000


@dataclass(frozen=True)
class InstanceEvent:
    """An ECS instance event worth a policy decision."""

    event_id: str
    format: str  # "cloudmonitor" | "eventbridge" | "cloudmonitor-api" (a DescribeSystemEventAttribute item)
    name: str  # INTERRUPTION | STATE_CHANGE
    instance_id: str
    region_id: str  # "" when the event names none: the caller falls back to its configured region
    account_id: str = ""
    action: str | None = None  # content.action: "delete"; samples mask it ("de***")
    state: str | None = None  # StateChange: Stopped, Deleted, ...
    time: str = ""  # as the envelope gives it; a pull item's UNIX ms as ISO 8601 UTC

    @property
    def is_interruption(self) -> bool:
        return self.name == INTERRUPTION

    @property
    def action_masked(self) -> bool:
        """True when the action is absent or masked, so it must be confirmed another way."""
        return self.action is None or "*" in self.action


@dataclass(frozen=True)
class Ignored:
    """A well-formed event this tool has nothing to do with, and why."""

    reason: str


def parse_event(raw: bytes | str | Mapping[str, Any]) -> InstanceEvent | Ignored:
    """Parse one event body; raise EventError (and only EventError) when it cannot be understood."""
    body = _decode(raw)
    for looks_like, parser in _PARSERS:
        if looks_like(body):
            return parser(body)
    keys = ", ".join(sorted(str(k) for k in body)[:8]) or "none"
    raise EventError(
        "not a CloudMonitor (product/name/content), CloudEvents (specversion/type/data) nor "
        f"DescribeSystemEventAttribute item (Product/Name/Content) event; keys: {keys}"
    )


# What the 5-minute timer trigger in s.yaml sends. FC wraps a timer's payload:
# {"triggerTime": "...", "triggerName": "reconcile", "payload": "{\"aliyun-ops\":\"reconcile\"}"}.
RECONCILE_PAYLOAD = {"aliyun-ops": "reconcile"}


def is_reconcile_request(raw: bytes | str | Mapping[str, Any]) -> bool:
    """True for a timer trigger (or a bare payload) asking for reconciliation; never raises."""
    try:
        body = _decode(raw)
    except EventError:
        return False
    if body == RECONCILE_PAYLOAD:
        return True
    payload = body.get("payload") if "triggerName" in body or "triggerTime" in body else None
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return False
    return payload == RECONCILE_PAYLOAD


def _decode(raw: object) -> dict[str, Any]:
    """Bytes/str/mapping -> a JSON object, with size, encoding and type checks."""
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    if isinstance(raw, str):
        if len(raw) > MAX_EVENT_BYTES or len(raw.encode("utf-8", "surrogatepass")) > MAX_EVENT_BYTES:
            raise EventError(f"event larger than {MAX_EVENT_BYTES} bytes")
        text = raw
    elif isinstance(raw, bytes):
        if len(raw) > MAX_EVENT_BYTES:
            raise EventError(f"event larger than {MAX_EVENT_BYTES} bytes")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise EventError(f"event is not valid UTF-8 (byte {exc.start})") from None
    else:
        raise EventError(f"event must be bytes, str or a JSON object, not {type(raw).__name__}")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise EventError(f"event is not JSON: {short_text(exc)}") from None
    if not isinstance(body, dict):
        raise EventError(f"event must be a JSON object, not {_json_type(body)}")
    return body


@dataclass(frozen=True)
class _Envelope:
    """Where one delivery format keeps the fields every instance event needs."""

    format: str
    payload: str
    resource: str
    region: str
    account: str  # "" when the envelope has none (the resource name may still carry it)
    time: str
    id: str = "id"
    time_ms: bool = False  # the time is UNIX milliseconds (a number), not a string


_CLOUDMONITOR = _Envelope("cloudmonitor", "content", "resourceId", "regionId", "userId", "eventTime")
_CLOUDEVENTS = _Envelope("eventbridge", "data", "subject", "aliyunregionid", "aliyunaccountid", "time")
# One item of DescribeSystemEventAttribute's SystemEvents.SystemEvent[] (cms 2019-01-01): Content is a
# JSON string, Time is UNIX ms, Id exists in the newer API versions only, no account field.
_CMS_API = _Envelope("cloudmonitor-api", "Content", "ResourceId", "RegionId", "", "Time", id="Id", time_ms=True)


def _ecs_event(body: dict[str, Any], envelope: _Envelope, product_key: str, name_key: str) -> InstanceEvent | Ignored:
    """A CloudMonitor event (product ECS, name the event's name), in either key style."""
    product = _str(body, product_key, required=True) or ""
    name = _str(body, name_key, required=True) or ""
    if product.upper() != "ECS":
        return Ignored(f"product {product!r} is not ECS")
    return _instance_event(body, envelope, name)


def _parse_cloudmonitor(body: dict[str, Any]) -> InstanceEvent | Ignored:
    """CloudMonitor event-alarm body: camelCase keys."""
    return _ecs_event(body, _CLOUDMONITOR, "product", "name")


def _parse_cms_api(body: dict[str, Any]) -> InstanceEvent | Ignored:
    """One DescribeSystemEventAttribute item: the CloudMonitor event with PascalCase keys."""
    return _ecs_event(body, _CMS_API, "Product", "Name")


def _refuse_cms_api_response(body: dict[str, Any]) -> InstanceEvent | Ignored:
    """A whole DescribeSystemEventAttribute response (or its SystemEvents object): a body is one event, so
    whoever forwards the list must send its items one by one."""
    events = body.get("SystemEvents", body)
    items = events.get("SystemEvent") if isinstance(events, dict) else None
    count = f"{len(items)} item(s)" if isinstance(items, list) else "no SystemEvent list"
    raise EventError(
        f"a whole DescribeSystemEventAttribute response ({count}); send one SystemEvents.SystemEvent item per event"
    )


def _parse_cloudevents(body: dict[str, Any]) -> InstanceEvent | Ignored:
    """EventBridge CloudEvents 1.0 envelope: source acs.ecs, type "ecs:<event name>"."""
    etype = _str(body, "type", required=True) or ""
    source = _str(body, "source")
    if source is not None and source != "acs.ecs":
        return Ignored(f"source {source!r} is not acs.ecs")
    prefix, _, name = etype.partition(":")
    if prefix != "ecs" or not name:
        return Ignored(f"event type {etype!r} is not an ECS event")
    return _instance_event(body, _CLOUDEVENTS, name)


def _instance_event(body: dict[str, Any], env: _Envelope, name: str) -> InstanceEvent | Ignored:
    """The event; the instance id comes from the payload, else from the resource name, and the
    top-level region wins over the one inside the resource name (the README's sample has both).
    Another ECS event is ignored before its payload is read: what it carries is none of our business."""
    if name not in HANDLED_NAMES:
        return Ignored(f"ECS event {name!r} is not an interruption or a state change")
    payload = _payload(body, env.payload)
    resource = _str(body, env.resource)
    arn = _arn(resource)
    bare = resource if resource and not arn and _INSTANCE_ID.match(resource) else ""  # a pull item's plain id
    named = arn.get("id", "") if _INSTANCE_ID.match(arn.get("id", "")) else bare  # samples hold "<resource-id>"
    instance_id = _str(payload, "instanceId") or _str(payload, "resourceId") or arn.get("id", "") or bare
    if not instance_id:
        raise EventError(f"{name} event with no instance id")
    if not _INSTANCE_ID.match(instance_id):
        raise EventError(f"{name} event with an invalid instance id {short_text(instance_id)!r}")
    if named and named != instance_id:
        raise EventError(f"{name} event names two instances: {instance_id} in {env.payload}, {named} in {env.resource}")
    account_id = _account(body, env, arn)
    state = _str(payload, "state")
    if name == STATE_CHANGE and not state:
        raise EventError(f"{name} event without a state")
    region_id = _str(body, env.region) or arn.get("region", "")
    if region_id and (len(region_id) > _REGION_MAX or not REGION_ID.match(region_id)):
        raise EventError(f"{name} event with an invalid region id {short_text(region_id)!r}")
    return InstanceEvent(
        event_id=_str(body, env.id) or "",
        format=env.format,
        name=name,
        instance_id=instance_id,
        region_id=region_id,
        account_id=account_id,
        action=_str(payload, "action"),
        state=state,
        time=_time_ms(body, env.time) if env.time_ms else _str(body, env.time) or "",
    )


def _account(body: dict[str, Any], env: _Envelope, arn: dict[str, str]) -> str:
    """The account the event is about: the envelope's (a number, or refused) or its resource name's; refused when
    the two disagree. "" when the event names none."""
    own = (_str(body, env.account) if env.account else None) or ""
    if own and not ACCOUNT_ID.match(own):
        raise EventError(f"event with an invalid account id {short_text(own)!r}")
    in_arn = arn.get("account", "") if ACCOUNT_ID.match(arn.get("account", "")) else ""
    if own and in_arn and own != in_arn:
        raise EventError(f"event names two accounts: {own} in {env.account}, {in_arn} in {env.resource}")
    return own or in_arn


def notice_time(event: InstanceEvent) -> float | None:
    """When the cloud sent the event, as epoch seconds (``models.parse_time``: CloudMonitor's
    ``20190409T121826.922+0800``, EventBridge's and the pull API's ISO 8601). None when absent or unreadable.
    Untrusted: callers clamp it."""
    return parse_time(event.time)


def _looks_cloudmonitor(body: dict[str, Any]) -> bool:
    return "product" in body and "name" in body


def _looks_cloudevents(body: dict[str, Any]) -> bool:
    return "specversion" in body and "type" in body


def _looks_cms_api(body: dict[str, Any]) -> bool:
    return "Product" in body and "Name" in body


def _looks_cms_api_response(body: dict[str, Any]) -> bool:
    return "SystemEvents" in body or "SystemEvent" in body


_PARSERS: tuple[tuple[Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], InstanceEvent | Ignored]], ...] = (
    (_looks_cloudevents, _parse_cloudevents),
    (_looks_cloudmonitor, _parse_cloudmonitor),
    (_looks_cms_api, _parse_cms_api),
    (_looks_cms_api_response, _refuse_cms_api_response),
)


def _str(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """A string field; absent/null is None (or an error when required); any other type is an error."""
    value = body.get(key)
    if value is None:
        if required:
            raise EventError(f"event field {key!r} is missing")
        return None
    if not isinstance(value, str):
        raise EventError(f"event field {key!r} must be a string, not {_json_type(value)}")
    return value


def _payload(body: dict[str, Any], key: str) -> dict[str, Any]:
    """The event's own fields: an object, or a string holding the JSON text of one (as the pull API
    always sends ``Content``, and as a delivery may send ``content``); anything else is an EventError."""
    value = body.get(key)
    if value is None:
        raise EventError(f"event field {key!r} is missing")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise EventError(
                f"event field {key!r} must be an object or a JSON string of one; "
                f"this string is not JSON: {short_text(exc)}"
            ) from None
        if not isinstance(value, dict):
            raise EventError(
                f"event field {key!r} must be an object or a JSON string of one; this string holds {_json_type(value)}"
            )
        return value
    if not isinstance(value, dict):
        raise EventError(f"event field {key!r} must be an object, not {_json_type(value)}")
    return value


def _time_ms(body: dict[str, Any], key: str) -> str:
    """UNIX milliseconds (a number, or a string of digits) as ISO 8601 UTC; absent is ""."""
    value = body.get(key)
    if value is None or value == "":
        return ""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_TIME_MS:
        raise EventError(f"event field {key!r} must be UNIX milliseconds, not {short_text(repr(value))}")
    moment = datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _arn(resource: str | None) -> dict[str, str]:
    match = _ARN.match(resource or "")
    return {k: v for k, v in match.groupdict().items() if v} if match else {}


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def short_text(value: object, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
