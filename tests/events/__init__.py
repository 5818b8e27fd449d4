"""Real event payloads (tests/events/*.json) and a helper to load them by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).parent


def load_event_bytes(name: str) -> bytes:
    """The raw body, exactly as delivered: ``load_event_bytes("eventbridge_interruption")``."""
    stem = name[:-5] if name.endswith(".json") else name
    return (EVENTS_DIR / f"{stem}.json").read_bytes()


def load_event(name: str) -> dict[str, Any]:
    """The payload as a dict (a fresh copy each call, so tests may mutate it)."""
    body = json.loads(load_event_bytes(name))
    assert isinstance(body, dict)
    return body


def event_names() -> list[str]:
    return sorted(p.stem for p in EVENTS_DIR.glob("*.json"))
