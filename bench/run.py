"""`python -m bench [--smoke] [--json PATH] [--markdown PATH]`: run every phase, print every figure.

Order: calibrate the per-call cost, cold start (real time), then the time-scaled phases one after the
other (pair, share, mass, topology: (e) in each deployment's topology, matrix, data), so that they do not
share the CPU with each other, then the
reconcile pass at 10 to 5,000 instances (scale: figure (o), in this process, on the emulator's clock). A phase that
fails prints its error and "n/a" for its figures; the run goes on and the exit status is 1.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import calls, month, phases, report, scale, topology
from bench.functions import notice_event


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
    except OSError:
        pass
    return (f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
            f"load average {os.getloadavg()[0]:.1f} at start")


def coldstart(cfg: phases.BenchConfig) -> dict[str, Any]:
    """Figure (f), against an emulator at real time: the notice is about a pay-as-you-go instance."""
    from bench.coldstart import measure

    world = phases.new_world("coldstart", "ours", cfg, scale=1.0)
    try:
        original = world.launch("payg-0", spot=False)
        world.boot_all()
        return measure(world.emu.endpoint, notice_event(original.instance_id, "bench-cold"), rounds=cfg.cold_rounds)
    finally:
        world.stop()


def run(cfg: phases.BenchConfig, mode: str, only: list[str] | None = None, parallel: bool = False) -> dict[str, Any]:
    """Every phase in turn (or all at once for the smoke run, whose values mean nothing anyway)."""
    started = time.monotonic()
    now = datetime.datetime.now().astimezone().isoformat(" ", "seconds")
    result: dict[str, Any] = {"mode": mode, "scale": cfg.scale, "time_scale": cfg.scale,  # scale: overwritten
                              "latency_ms": cfg.latency_ms, "notice_s": cfg.notice_s,
                              "mass_scale": cfg.mass_scale, "data_scale": cfg.data_scale, "machine": machine(),
                              "date": now, "errors": {}}
    latency = phases.calibrate_latency(cfg)
    result["overhead_ms"] = latency[cfg.scale].overhead_ms
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("coldstart", lambda: coldstart(cfg)),
        ("pair", lambda: phases.pair(cfg, latency)),
        ("share", lambda: phases.share(cfg, latency)),
        ("mass", lambda: phases.mass(cfg, latency)),
        ("topology", lambda: topology.measure(topology.TopologyConfig(bench=cfg, spread=2 if mode == "smoke" else 4),
                                              latency)),
        ("matrix", lambda: phases.matrix(cfg, latency)),
        ("data", lambda: phases.data(cfg, latency)),
        ("calls", lambda: calls.measure()),
        ("scale", lambda: scale.measure(scale.SMOKE if mode == "smoke" else scale.ScaleConfig())),
        ("month", lambda: month.measure(month.SMOKE if mode == "smoke" else month.MonthConfig())),
    ]
    chosen = [(name, step) for name, step in steps if not only or name in only]
    if parallel:
        threads = [threading.Thread(target=_step, args=(name, step, result)) for name, step in chosen]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for name, step in chosen:
            _step(name, step, result)
    result["wall_s"] = time.monotonic() - started
    return result


def _step(name: str, step: Callable[[], dict[str, Any]], result: dict[str, Any]) -> None:
    t0 = time.monotonic()
    try:
        result[name] = step()
    except Exception as err:
        result["errors"][name] = f"{type(err).__name__}: {err}"
        traceback.print_exc(file=sys.stderr)
    print(f"  {name} done in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds): every label, no meaningful value")
    parser.add_argument("--json", type=Path, help="also write the raw readings here")
    parser.add_argument("--markdown", type=Path, help="also write the headline table here")
    parser.add_argument("--only", nargs="*",
                        choices=["coldstart", "pair", "share", "mass", "topology", "matrix", "data", "calls", "scale",
                                 "month"])
    args = parser.parse_args(argv)
    if not _engine_available():
        print("engine not available yet: aliyun_ops.service cannot be imported", file=sys.stderr)
        return 2
    cfg = phases.SMOKE if args.smoke else phases.BenchConfig()
    result = run(cfg, "smoke" if args.smoke else "full", args.only, parallel=args.smoke)
    print(report.text(result))
    for name, error in result["errors"].items():
        print(f"error in {name}: {error}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(report.markdown(result) + "\n", encoding="utf-8")
    return 1 if result["errors"] else 0


def _engine_available() -> bool:
    try:
        import aliyun_ops.service  # noqa: F401
    except ImportError:
        return False
    return True
