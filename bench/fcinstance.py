"""One instance of the built-in runtime (s.builtin.yaml, python3.10): one process, one delivery, as FC 3.0 runs a
standard runtime (no instance concurrency: each delivery gets its own instance).

The process imports ``aliyun_ops.runtime.fc`` and calls its ``handler(event, context)`` with a context shaped like
FC's python3.10 one (request id, the function's credentials, region, timeout, account). Its configuration is its
environment, as FC sets a function's environment variables. The engine runs on the emulator's clock, found the way
``aliyun-ops serve`` finds it (``cli.emuclock.follow``): the handler's module-level runner is made with it.

Protocol, JSON lines. stdout: ``{"op": "ready", "rss_mib"}`` once imported and warm (one invocation about an
instance that does not exist, as any earlier delivery would have left it); stdin: one ``{"id", "event"}``; stdout:
``{"op": "done", "id", "ok", "message", "image_id", "cpu_s", "incident_cpu_s", "peak_rss_mib"}``; then it exits.
"""

from __future__ import annotations

import json
import os
import sys
import time
from types import SimpleNamespace
from typing import Any

from bench.functions import notice_event
from bench.worker import ACCESS_KEY_ID, ACCESS_KEY_SECRET, emit, rss_mib

TIMEOUT_S = 600


def context(request_id: str) -> Any:
    """What FC's python3.10 runtime passes as ``context`` (the fields the handler reads)."""
    credentials = SimpleNamespace(access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET,
                                  security_token=None)
    function = SimpleNamespace(name="aliyun-ops", handler="aliyun_ops.runtime.fc.handler", memory=512,
                               timeout=TIMEOUT_S)
    return SimpleNamespace(request_id=request_id, credentials=credentials, function=function,
                           region=os.environ.get("ALIYUN_OPS_REGION", "cn-hangzhou"), account_id="")


def invoke(handler: Any, job_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """One delivery: the outcome as the bench reads it; a raised error is a failed invocation, never a success."""
    try:
        answer = json.loads(handler(json.dumps(event).encode(), context(job_id)))
    except Exception as err:
        return {"ok": False, "message": f"{type(err).__name__}: {err}"}
    record = answer.get("record") or {}
    return {"ok": True, "status": answer.get("status"), "message": answer.get("message", ""),
            "image_id": record.get("image_id")}


def main() -> None:
    from aliyun_ops.cli.emuclock import follow
    from aliyun_ops.runtime import fc
    from aliyun_ops.runtime.invoke import Runner

    clock = None
    for _ in range(5):  # the probe times out after 2 s; a loaded machine may need another
        clock = follow(os.environ["ALIYUN_OPS_ENDPOINT"])
        if clock is not None:
            break
    if clock is None:
        raise SystemExit("the endpoint is not an emulator with a running clock")
    fc._runner = Runner(sleep=clock.sleep, clock=clock.now)  # what fc.runner() would make, on the emulator's time
    invoke(fc.handler, "warm-up", notice_event("i-bp1warmup000000000000"))
    emit({"op": "ready", "rss_mib": rss_mib("VmRSS")})
    job = json.loads(sys.stdin.readline())
    cpu0 = time.process_time()
    result = invoke(fc.handler, job["id"], job["event"])
    emit({**result, "op": "done", "id": job["id"], "incident_cpu_s": time.process_time() - cpu0,
          "cpu_s": time.process_time(), "peak_rss_mib": rss_mib("VmHWM")})


if __name__ == "__main__":
    main()
