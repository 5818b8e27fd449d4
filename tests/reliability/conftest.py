"""Reliability fixtures: the engine against a fresh emulator, and a record of the counts each scenario
observed (``reliability-counts.json``, summarised in docs/reliability.md)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from tests.functional.engine_support import World
from tests.reliability.support import COUNTS, COUNTS_LOCK


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


@pytest.fixture
def record_counts(request: pytest.FixtureRequest) -> Any:
    """``record_counts(incidents=50, replaced=50, duplicates=0, lost=0, ...)`` for this test's scenario."""

    def record(**counts: Any) -> None:
        with COUNTS_LOCK:
            COUNTS[request.node.name] = counts
        print(f"{request.node.name}: {counts}")

    return record


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the counts where CI can keep them (ALIYUN_OPS_RELIABILITY_COUNTS, else the pytest temp dir)."""
    if not COUNTS:
        return
    target = os.environ.get("ALIYUN_OPS_RELIABILITY_COUNTS")
    factory = getattr(session.config, "_tmp_path_factory", None)
    path = Path(target) if target else (factory.getbasetemp() if factory else Path(".")) / "reliability-counts.json"
    path.write_text(json.dumps(COUNTS, indent=2, sort_keys=True), encoding="utf-8")
