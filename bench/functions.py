"""The bench's side of a function process (``bench.worker``): start it, hand it incidents, collect.

Starting a process costs a second or two of imports, so a process is started before the notice and
reports ``ready`` once warm; incidents are handed over at the notice, on a JSON line each.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.latency import EmuTime

ROOT = Path(__file__).resolve().parent.parent


class FunctionProcess:
    """One ``python -m bench.worker <tool>`` process."""

    def __init__(self, tool: str, env: dict[str, str] | None = None) -> None:
        """``env``: the process's environment (default: the bench's)."""
        self.tool = tool
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", tool], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1, env=env)
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr: list[str] = []
        self.done: dict[str, dict[str, Any]] = {}
        self.stats: dict[str, Any] = {}
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.messages.put(json.loads(line))
        self.messages.put({"op": "exit"})

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())
            del self.stderr[:-40]

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            message = self.messages.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{self.tool} function process is silent") from None
        if message["op"] == "exit":
            raise RuntimeError(f"{self.tool} function process ended: " + " | ".join(self.stderr[-5:]))
        return message

    def wait_ready(self, timeout: float = 60.0) -> None:
        message = self._next(timeout)
        if message["op"] != "ready":
            raise RuntimeError(f"unexpected first message {message}")

    def send(self, job_id: str, event: dict[str, Any], endpoint: str, clock: EmuTime, timeout_s: float,
             delay_s: float = 0.0) -> None:
        self._write({"op": "job", "id": job_id, "event": event, "endpoint": endpoint, "region_id": "cn-hangzhou",
                     "time": clock.to_dict(), "timeout_s": timeout_s, "delay_s": delay_s})

    def warm(self, endpoint: str, clock: EmuTime, timeout: float = 60.0) -> None:
        """One invocation about an instance that does not exist, before the notice: the process is then
        a warm function instance (clients built, lazy imports done), as after any earlier invocation."""
        self.send("warm-up", notice_event("i-bp1warmup000000000000"), endpoint, clock, 600.0)
        deadline = time.monotonic() + timeout
        while "warm-up" not in self.done:
            self._pump(deadline)
        del self.done["warm-up"]

    def _pump(self, deadline: float) -> None:
        message = self._next(max(0.1, deadline - time.monotonic()))
        if message["op"] == "done":
            self.done[message["id"]] = message
        elif message["op"] == "stats":
            self.stats = message

    def _write(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def finish(self, real_timeout: float) -> None:
        """Tell the process no more jobs come, wait for every result and its stats, let it exit."""
        self._write({"op": "end"})
        deadline = time.monotonic() + real_timeout
        while not self.stats:
            self._pump(deadline)
        self.proc.wait(timeout=10)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_all(tools: list[str]) -> list[FunctionProcess]:
    """Start processes side by side (their imports overlap) and wait until each is warm."""
    procs = [FunctionProcess(tool) for tool in tools]
    for proc in procs:
        proc.wait_ready()
    return procs


def notice_event(instance_id: str, event_id: str = "bench-warm-up") -> dict[str, Any]:
    """A CloudMonitor spot interruption notice, as the function receives it."""
    return {"ver": "1.0", "id": event_id, "product": "ECS", "level": "WARN",
            "resourceId": f"acs:ecs:cn-hangzhou:1690700000000030:instance/{instance_id}",
            "name": "Instance:PreemptibleInstanceInterruption", "userId": "1690700000000030",
            "eventTime": "20240519T120000.000+0800", "regionId": "cn-hangzhou",
            "content": {"instanceId": instance_id, "action": "delete"}}
