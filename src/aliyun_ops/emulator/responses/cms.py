"""CloudMonitor (cms 2019-01-01) DescribeSystemEventAttribute: the history of the events this emulator issued.

Answer shape (the API reference and the official SDK's model): ``{"Code": "200", "Message": "success",
"Success": "true", "SystemEvents": {"SystemEvent": [...]}}``, no total count; each item has ``Id``,
``Product``, ``Name``, ``Level``, ``Status``, ``GroupId``, ``InstanceName``, ``ResourceId``, ``RegionId``,
``Time`` (UNIX ms) and ``Content`` (a JSON string). ``PageSize`` 1 to 100 (default 10) and ``PageNumber``
1 to 100000000 (default 1) are checked by the shipped specification before this runs; ``StartTime`` and
``EndTime`` (strings in the specification) must hold UNIX milliseconds, or ``InvalidParameter``.
"""

from __future__ import annotations

from typing import Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator import params as p
from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.models.system_events import Filters
from aliyun_ops.emulator.responses.base import Params, register


def _millis(params: Params, name: str) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise exc.InvalidParameter(f'The specified parameter "{name}" is not valid.')
    return int(raw)


@register("cms", "DescribeSystemEventAttribute")
def describe_system_event_attribute(backend: Backend, params: Params) -> dict[str, Any]:
    filters = Filters(
        product=p.get_str(params, "Product"),
        event_type=p.get_str(params, "EventType"),
        name=p.get_str(params, "Name"),
        level=p.get_str(params, "Level"),
        status=p.get_str(params, "Status"),
        group_id=p.get_str(params, "GroupId"),
        keywords=p.get_str(params, "SearchKeywords"),
        start_ms=_millis(params, "StartTime"),
        end_ms=_millis(params, "EndTime"),
    )
    found = backend.system_events.query(filters)
    chunk, _, _ = p.page(found, params, default_size=10, max_size=100)
    return {"Code": "200", "Message": "success", "Success": "true", "SystemEvents": {"SystemEvent": chunk}}
