"""The bench must keep running: a tiny `python -m bench --smoke` prints every figure's label.

Only that it runs and says what it measures is checked. The values depend on the machine and are
never asserted (they belong to docs/performance.md, not to a test).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.report import LABELS

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_run_prints_every_figure() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke"], cwd=ROOT, capture_output=True, text=True,
                          timeout=110)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    missing = [label for label in LABELS.values() if label + ":" not in done.stdout]
    assert missing == [], done.stdout
    assert "error in" not in done.stdout
