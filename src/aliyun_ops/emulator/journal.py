"""The call journal: every RPC call the emulator answered, for tests to assert what a caller did.

Entries never hold a signature, an access key secret, a security token or a password: the fields
that carry them are dropped or masked before the entry is stored.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

# Parameters that are signing plumbing (dropped) or secrets (masked). Matched on the last
# dotted segment, so ``DataDisk.1.Password`` would be masked too.
DROPPED = frozenset({"Signature", "SecurityToken", "BearerToken", "AccessKeySecret"})
MASKED = frozenset({"Password"})
MASK = "******"
MAX_ENTRIES = 20_000


def redact(params: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``params`` that is safe to keep and show."""
    clean: dict[str, str] = {}
    for key, value in params.items():
        last = key.rsplit(".", 1)[-1]
        if last in DROPPED:
            continue
        clean[key] = MASK if last in MASKED else value
    return clean


class Journal:
    """Thread-safe, bounded (oldest entries fall off), numbered from 1."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._seq = itertools.count(1)

    def record(
        self,
        *,
        time: float,
        action: str,
        product: str,
        params: Mapping[str, str],
        access_key_id: str | None,
        status: int,
        code: str | None,
        request_id: str,
    ) -> dict[str, Any]:
        entry = {
            "time": time,
            "action": action,
            "product": product,
            "params": redact(params),
            "accessKeyId": access_key_id,
            "status": status,
            "code": code,
            "requestId": request_id,
        }
        with self._lock:
            entry = {"seq": next(self._seq), **entry}
            self._entries.append(entry)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry, params=dict(entry["params"])) for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
