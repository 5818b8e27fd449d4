"""Figure (f), cold start, in real wall seconds (not scaled): each measurement against `python -c pass`.

- import: ``python -X importtime -c "import aliyun_ops.runtime.fc"`` (the built-in runtime's handler
  module): its wall time, and the cumulative import time the interpreter reports for it;
- first answer: from starting the custom runtime's process (the command s.yaml, the default deployment, runs) to the
  first answered POST /invoke, for a notice about a pay-as-you-go instance (one DescribeInstances,
  then "not a spot instance": the import, credentials and client path, without a replacement);
- CLI: ``aliyun-ops --help``.
The median of ``rounds`` runs each; the first run of each is a discarded warm-up of the page cache.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

HANDLER_MODULE = "aliyun_ops.runtime.fc"
SERVE_CODE = 'import sys; from aliyun_ops.cli import main; sys.argv[0] = "aliyun-ops"; sys.exit(main())'


def _wall(argv: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def _median(fn: Callable[[], float], rounds: int) -> float:
    if rounds > 1:
        fn()  # a discarded warm-up of the page cache
    return statistics.median(fn() for _ in range(rounds))


def import_profile(python: str) -> dict[str, Any]:
    """Cumulative import time of the handler module and its three heaviest direct costs."""
    done = subprocess.run([python, "-X", "importtime", "-c", f"import {HANDLER_MODULE}"], check=True,
                          capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line.split(":", 1)[1].split("|")
        rows.append((name.strip(), int(self_us), int(cumulative_us)))
    top = next((r for r in rows if r[0] == HANDLER_MODULE), ("?", 0, 0))
    heavy = sorted((r for r in rows if r[0].count(".") == 0 and r[0] != "aliyun_ops"), key=lambda r: -r[2])[:3]
    return {"cumulative_s": top[2] / 1e6, "heaviest": [(name, cum / 1e6) for name, _, cum in heavy]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_invoke(python: str, endpoint: str, event: dict[str, Any]) -> float:
    """Seconds from spawning the runtime process to the answer of its first POST /invoke."""
    port = _free_port()
    env = {**os.environ, "ALIYUN_OPS_ECS_ENDPOINT": endpoint, "ALIYUN_OPS_VPC_ENDPOINT": endpoint,
           "ALIYUN_OPS_PROTOCOL": "http", "ALIYUN_OPS_REGION": "cn-hangzhou",
           "ALIBABA_CLOUD_ACCESS_KEY_ID": "emulator-access-key-id",
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "emulator-access-key-secret"}
    body = json.dumps(event).encode()
    t0 = time.perf_counter()
    proc = subprocess.Popen([python, "-c", SERVE_CODE, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/invoke", data=body, method="POST")
                with urllib.request.urlopen(request, timeout=30) as answer:
                    answer.read()
                return time.perf_counter() - t0
            except urllib.error.HTTPError:
                return time.perf_counter() - t0  # answered, even if not 200: the figure is the wait
            except (ConnectionError, urllib.error.URLError):
                if proc.poll() is not None:
                    raise RuntimeError("the runtime process exited before answering") from None
                time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure(endpoint: str, event: dict[str, Any], rounds: int = 3) -> dict[str, Any]:
    """Every cold-start figure, each also as a multiple of `python -c pass`."""
    python = sys.executable
    cli = str(Path(python).with_name("aliyun-ops"))
    baseline = _median(lambda: _wall([python, "-c", "pass"]), rounds)
    results = {
        "import": _median(lambda: _wall([python, "-c", f"import {HANDLER_MODULE}"]), rounds),
        "first_invoke": _median(lambda: first_invoke(python, endpoint, event), rounds),
        "cli_help": _median(lambda: _wall([cli, "--help"]), rounds),
    }
    return {"python_pass_s": baseline, **{k: {"s": v, "x": v / baseline} for k, v in results.items()},
            "importtime": import_profile(python)}
