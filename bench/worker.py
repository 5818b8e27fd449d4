"""A function process: it runs the incidents the bench hands it, as Function Compute runs a handler.

One process per tool and phase, so that its CPU time and peak RSS belong to the incidents alone (the
emulator lives in the bench process). It imports and warms up before the notice: a warm function
instance. Cold start is measured on its own (``bench.coldstart``).

Protocol, JSON lines. stdin: ``{"op": "job", "id", "event", "endpoint", "region_id", "time",
"timeout_s"}`` ... then ``{"op": "end"}``. stdout: ``{"op": "ready"}``, one ``{"op": "done", "id",
...}`` per job, then ``{"op": "stats", "cpu_s", "peak_rss_mib", "ready_rss_mib"}``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from typing import Any

from bench.latency import EmuTime

ACCESS_KEY_ID = "emulator-access-key-id"
ACCESS_KEY_SECRET = "emulator-access-key-secret"  # the emulator's public default pair, not a secret
_out_lock = threading.Lock()


def emit(message: dict[str, Any]) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def rss_mib(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process, from /proc."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def warm_up(tool: str) -> None:
    """Import what a warm function instance has already imported."""
    import alibabacloud_ecs20140526.client  # noqa: F401

    if tool == "ours":
        import alibabacloud_vpc20160428.client  # noqa: F401

        import aliyun_ops.service  # noqa: F401


def run_ours(job: dict[str, Any], t: EmuTime) -> dict[str, Any]:
    from aliyun_ops.config import Credentials, Settings
    from aliyun_ops.service import handle_event

    endpoint = job["endpoint"]
    settings = Settings(region_id=job["region_id"], ecs_endpoint=endpoint, vpc_endpoint=endpoint,
                        protocol="http", function_timeout_s=job["timeout_s"])
    outcome = handle_event(json.dumps(job["event"]), settings=settings,
                           credentials=Credentials(ACCESS_KEY_ID, ACCESS_KEY_SECRET), request_id=job["id"],
                           deadline=t.now() + job["timeout_s"], sleep=t.sleep, clock=t.now, notifier=_notifier())
    record = outcome.record
    return {"ok": True, "status": outcome.status, "message": outcome.message,
            "new_instance_id": record.new_instance_id if record else None,
            "image_id": record.image_id if record else None, "image_source": record.image_source if record else None,
            "timeline": [[at, what] for at, what in record.timeline] if record else []}


_notifiers: list[Any] = []


def _notifier() -> Any:
    """The channels configured in this process's environment (none unless the bench sets one), built once."""
    from aliyun_ops.notify import build_notifier

    with _out_lock:
        if not _notifiers:
            _notifiers.append(build_notifier())
        return _notifiers[0]


def run_baseline(job: dict[str, Any], t: EmuTime) -> dict[str, Any]:
    from bench.baseline import replay

    res = replay(job["event"], endpoint=job["endpoint"], region_id=job["region_id"], access_key_id=ACCESS_KEY_ID,
                 secret=ACCESS_KEY_SECRET, sleep=t.sleep, clock=t.now, timeout_s=job["timeout_s"])
    return {"ok": res.error is None, "status": res.returned, "message": res.error or "",
            "new_instance_id": res.new_instance_id, "image_id": res.image_id}


def run_job(tool: str, job: dict[str, Any]) -> None:
    t = EmuTime.from_dict(job["time"])
    t.sleep(float(job.get("delay_s", 0.0)))  # a re-delivery of the same notice comes later
    cpu0, thread_cpu0 = time.process_time(), time.thread_time()
    try:
        result = (run_ours if tool == "ours" else run_baseline)(job, t)
    except Exception as err:  # a failed invocation: report it, never as a success
        result = {"ok": False, "status": "failed", "message": f"{type(err).__name__}: {err}",
                  "trace": traceback.format_exc(limit=3)}
    result.update(op="done", id=job["id"], finished_at=t.now(), cpu_s=time.process_time() - cpu0,
                  thread_cpu_s=time.thread_time() - thread_cpu0)
    emit(result)


def main() -> None:
    tool = sys.argv[1]
    warm_up(tool)
    emit({"op": "ready", "rss_mib": rss_mib("VmRSS")})
    ready_rss = rss_mib("VmRSS")
    cpu0 = time.process_time()
    threads = []
    for line in sys.stdin:
        message = json.loads(line)
        if message["op"] == "end":
            break
        thread = threading.Thread(target=run_job, args=(tool, message), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    emit({"op": "stats", "cpu_s": time.process_time() - cpu0, "peak_rss_mib": rss_mib("VmHWM"),
          "ready_rss_mib": ready_rss})


if __name__ == "__main__":
    main()
