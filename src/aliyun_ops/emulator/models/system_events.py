"""CloudMonitor's system-event history: every event the emulator issued, kept for ``DescribeSystemEventAttribute``.

Each entry is the item exactly as the API lists it (``delivery.Event.history_item``) plus its event type,
which the API filters on but does not list. ``query`` applies the API's filters: ``Product``, ``EventType``,
``Name``, ``Level`` and ``Status`` (case-insensitive equality, as the documented samples mix "ECS"/"oss"
and "normal"/"Normal"), ``GroupId``, ``SearchKeywords`` (``a and b`` / ``a or b`` over the item's text),
and the ``StartTime``..``EndTime`` window in UNIX milliseconds, both ends included. Newest first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Entry:
    event_type: str
    item: dict[str, Any]


@dataclass(frozen=True)
class Filters:
    product: str | None = None
    event_type: str | None = None
    name: str | None = None
    level: str | None = None
    status: str | None = None
    group_id: str | None = None
    keywords: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None


class SystemEvents:
    """The account's history, in the order the events happened (the backend lock guards it)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def record(self, item: dict[str, Any], event_type: str = "StatusNotification") -> None:
        self.entries.append(Entry(event_type, dict(item)))

    def query(self, f: Filters) -> list[dict[str, Any]]:
        found = [dict(e.item) for e in self.entries if _matches(e, f)]
        return sorted(found, key=lambda item: int(item["Time"]), reverse=True)


def _same(wanted: str | None, value: Any) -> bool:
    return wanted is None or wanted.lower() == str(value).lower()


def _matches(entry: Entry, f: Filters) -> bool:
    item = entry.item
    at = int(item["Time"])
    return (
        _same(f.product, item.get("Product"))
        and _same(f.event_type, entry.event_type)
        and _same(f.name, item.get("Name"))
        and _same(f.level, item.get("Level"))
        and _same(f.status, item.get("Status"))
        and _same(f.group_id, item.get("GroupId"))
        and (f.start_ms is None or at >= f.start_ms)
        and (f.end_ms is None or at <= f.end_ms)
        and _keywords(f.keywords, json.dumps(item, ensure_ascii=False))
    )


def _keywords(expression: str | None, text: str) -> bool:
    """``a and b``: both appear; ``a or b``: either does; one word: it appears."""
    if not expression or not expression.strip():
        return True
    lowered = text.lower()
    for alternative in expression.lower().split(" or "):
        words = [w.strip() for w in alternative.split(" and ") if w.strip()]
        if words and all(w in lowered for w in words):
            return True
    return False
