"""Figure (e), the 100-instance mass reclaim, in the topologies a deployment can give it, side by side in one run.

`python -m bench.topology [--smoke] [--json PATH]`, or `python -m bench --only topology`.

- (e1) in-process: the wave's deliveries in the bench's one function process (``bench.worker``), as figure (e);
- (e2) the default deployment: the custom runtime with instance concurrency, i.e. the CLI's ``serve`` started with
  the command line of the shipped YAML (the custom-runtime one: ``customRuntimeConfig``; only ``--host`` and
  ``--port`` differ, loopback and a free port), the deliveries POSTed to ``/invoke`` all at once, as FC's
  dispatcher would with ``instanceConcurrency: 100``. Its variant spreads the wave round-robin over ``spread``
  server processes: a MODELLED spread (FC may start more instances while the first one starts; how it splits a
  burst is not published);
- (e3) the built-in runtime (s.builtin.yaml): one process per delivery (``bench.fcinstance``), each calling
  ``aliyun_ops.runtime.fc.handler`` with an FC-like context.

Every topology gets its own world (the same scenario as (e): ``mass_n`` spot instances of 20 + 20 GiB ESSD, the
default scenario's lags and refusals, ``mass_qps`` calls per emulated second per action, at ``mass_scale``), and
every function process is imported and warm before the notice (one invocation about an instance that does not
exist). The functions' environment is the shipped YAML's (``${env(..., default)}`` at its default) plus the
emulator's address and key pair and a webhook on loopback that counts the notifications sent. A process's CPU
time counts ``mass_scale`` times in emulated time, and the machine's cores are shared by every process: (e3)'s
100 processes contend for them, so the report gives the CPU seconds per incident beside each ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench import phases
from bench.functions import ROOT, FunctionProcess, notice_event
from bench.latency import EmuTime, LatencyModel
from bench.world import REGION, SETUP_KEY, Notice, World


@dataclass(frozen=True)
class TopologyConfig:
    bench: phases.BenchConfig = field(default_factory=phases.BenchConfig)  # notice, latency, qps, mass_scale
    spread: int = 4  # (e2)'s modelled spread: server processes the wave is split over
    instance_concurrency: int = 100  # the default deployment's instanceConcurrency


SMOKE = TopologyConfig(bench=phases.SMOKE, spread=2)
START_BATCH = 10  # (e3)'s processes start (import, warm up) this many at a time, all before the notice
TOPOLOGIES = ("e1", "e2", "e2-spread", "e3")
TITLES = {"e1": "in one bench worker process (figure (e))",
          "e2": "custom runtime, one `serve` instance takes the wave (the default deployment)",
          "e2-spread": "custom runtime, the wave spread over {k} `serve` instances (modelled)",
          "e3": "built-in runtime, one process per delivery (s.builtin.yaml)"}


# ---- the shipped deployment
def function_props(custom: bool) -> tuple[str, dict[str, Any]]:
    """(file name, props) of the shipped YAML for the custom runtime or the built-in one: the first of the
    candidates whose runtime is of that kind."""
    import yaml

    names = ("s.yaml", "s.custom.yaml") if custom else ("s.builtin.yaml", "s.yaml")
    for name in names:
        path = ROOT / name
        if not path.exists():
            continue
        for resource in (yaml.safe_load(path.read_text(encoding="utf-8")).get("resources") or {}).values():
            props = resource.get("props") or {}
            if str(props.get("runtime", "")).startswith("custom") == custom:
                return name, props
    raise RuntimeError(f"no shipped YAML with a {'custom' if custom else 'built-in'} runtime among {names}")


_ENV_DEFAULT = re.compile(r"^\$\{env\('[A-Z0-9_]+',\s*'([^']*)'\)\}$")


def shipped_env(props: dict[str, Any]) -> dict[str, str]:
    """The function's environment variables as deployed with nothing exported: ``${env('X', 'd')}`` is ``d``,
    ``${vars.region}`` the bench's region; any other expression is left out (the bench sets what it needs)."""
    out: dict[str, str] = {}
    for name, raw in (props.get("environmentVariables") or {}).items():
        value = str(raw)
        found = _ENV_DEFAULT.match(value)
        if found:
            value = found.group(1)
        elif value == "${vars.region}":
            value = REGION
        elif "${" in value:
            continue
        if value:
            out[str(name)] = value
    return out


def serve_argv(props: dict[str, Any], port: int) -> list[str]:
    """The shipped ``customRuntimeConfig`` command line on this machine's Python, listening on loopback:port."""
    config = props["customRuntimeConfig"]
    args = [str(a) for a in config.get("args") or []]
    for flag, value in (("--host", "127.0.0.1"), ("--port", str(port))):
        args[args.index(flag) + 1] = value
    return [sys.executable, *args]


def function_env(shipped: dict[str, str], endpoint: str, hook: str) -> dict[str, str]:
    """The bench's environment without any cloud setting of its own, the shipped variables, the emulator and the
    loopback webhook."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ALIYUN_OPS_", "ALIBABA_CLOUD_", "FC_"))}
    return {**base, **shipped, "ALIYUN_OPS_ENDPOINT": endpoint, "ALIBABA_CLOUD_ACCESS_KEY_ID": SETUP_KEY[0],
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SETUP_KEY[1], "ALIYUN_OPS_NOTIFY_WEBHOOK_URL": hook,
            "ALIYUN_OPS_LOG_FORMAT": "text"}


# ---- what the functions tell people
class Hook:
    """A webhook on loopback: counts the notifications (``incident.started`` / ``incident.finished``) per instance."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()
        lock = threading.Lock()
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                with lock:
                    seen[(str(body.get("event")), str((body.get("record") or {}).get("instance_id")))] += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def figures(self, notices: list[Notice]) -> dict[str, Any]:
        """Messages about the wave's originals (the warm-up's are not counted) and incidents told twice."""
        ids = {n.original.instance_id for n in notices}
        mine = {key: count for key, count in self.seen.items() if key[1] in ids}
        kinds: Counter[str] = Counter()
        for (event, _), count in mine.items():
            kinds[event] += count
        return {"notifications": sum(mine.values()), "by_kind": dict(kinds),
                "told_twice": sum(1 for count in mine.values() if count > 1)}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_stats(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) and peak RSS of a live process, from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    peak = 0.0
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024.0
    return {"cpu_s": cpu, "peak_rss_mib": peak}


class ServeProcess:
    """One custom-runtime instance: the shipped command line, answering on loopback."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str], log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.ready: dict[str, float] = {}

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log.read_text(errors='replace')[-600:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise TimeoutError("serve did not answer")

    def warm(self) -> None:
        post(self.url + "/invoke", "warm-up", notice_event("i-bp1warmup000000000000"), 120.0)
        self.ready = _proc_stats(self.proc.pid)

    def stop(self) -> dict[str, float]:
        stats = _proc_stats(self.proc.pid) if self.proc.poll() is None else {}
        self.proc.terminate()
        self.proc.wait(timeout=10)
        return {**stats, "incidents_cpu_s": stats.get("cpu_s", 0.0) - self.ready.get("cpu_s", 0.0)}


def post(url: str, job_id: str, event: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One delivery as FC's dispatcher makes it: the raw event, the request id header."""
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST",
                                     headers={"x-fc-request-id": job_id, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            code, body = answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as err:
        code, body = err.code, json.loads(err.read() or b"{}")
    except OSError as err:
        code, body = 0, {"error": f"{type(err).__name__}: {err}"}
    record = body.get("record") or {}
    return {"ok": code == 200, "code": code, "message": body.get("message") or f"{code} {body.get('error', '')}",
            "image_id": record.get("image_id")}


class FcInstance:
    """One built-in-runtime instance (``python -m bench.fcinstance``)."""

    def __init__(self, env: dict[str, str], log: Any) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.fcinstance"], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        self.result: dict[str, Any] = {}

    def wait_ready(self, log: Path) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith('{"op": "ready"'):
            said = log.read_text(encoding="utf-8", errors="replace")[-400:]
            raise RuntimeError(f"built-in instance not ready: {line[:200]!r} {said}")

    def send(self, job_id: str, event: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": job_id, "event": event}) + "\n")
        self.proc.stdin.flush()
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.result = json.loads(line) if line.startswith("{") else {"ok": False, "message": "no answer"}

    def join(self, timeout: float) -> dict[str, Any]:
        self.proc.wait(timeout=timeout)
        deadline = time.monotonic() + 5
        while not self.result and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.result


# ---- one wave per topology
def _wave(label: str, cfg: TopologyConfig) -> World:
    world = phases.new_world(label, "ours", cfg.bench, scale=cfg.bench.mass_scale)
    phases.launch_wave(world, cfg.bench.mass_n)
    return world


def _notify_all(world: World, cfg: TopologyConfig, clock_of: Callable[[], EmuTime],
                deliver: Callable[[int, Notice], None]) -> list[Notice]:
    """Arm the world, then each notice handed over as soon as it is issued."""
    clock_of()
    notices = []
    for i, original in enumerate(world.originals):
        notice = world.notice(original, cfg.bench.notice_s)
        notices.append(notice)
        deliver(i, notice)
    return notices


def _settle(world: World, notices: list[Notice]) -> None:
    ends = [t for n in notices for t in world.running_at(n.original.name, n.at)]
    if ends:
        world.wait_until(max(ends) + 0.5, real_cap_s=30)


def in_process(cfg: TopologyConfig, lat: LatencyModel, hook: Hook) -> dict[str, Any]:
    """(e1): figure (e)'s own topology (its worker process, with the webhook configured)."""
    world = _wave("topology-e1", cfg)
    env = function_env({}, world.emu.endpoint, hook.url)
    proc = FunctionProcess("ours", env=env)
    try:
        proc.wait_ready()
        notices = phases.race([world], {"ours": proc}, {world.scale: lat}, cfg.bench, qps=cfg.bench.mass_qps)
        wave = notices[world.label]
        done = list(proc.done.values())
        out = phases.wave_figures(world, wave, done, cfg.bench, lat)
        return {**out, **hook.figures(wave), "processes": 1, "peak_rss_mib": [proc.stats.get("peak_rss_mib")],
                "cpu_s_per_incident": (proc.stats.get("cpu_s") or 0.0) / len(wave)}
    finally:
        proc.kill()
        world.stop()


def custom_runtime(cfg: TopologyConfig, lat: LatencyModel, hook: Hook, instances: int,
                   logs: Path) -> dict[str, Any]:
    """(e2): ``instances`` servers started with the shipped command line, the wave's deliveries POSTed at once,
    delivery i to server i mod ``instances``."""
    name, props = function_props(custom=True)
    world = _wave(f"topology-e2-{instances}", cfg)
    shipped = shipped_env(props)
    env = function_env(shipped, world.emu.endpoint, hook.url)
    set_limit = int(env.get("ALIYUN_OPS_MAX_INCIDENTS", "20")) < cfg.instance_concurrency
    if set_limit:  # see the report: the default (20) refuses 80 of a 100-delivery wave with 429
        env["ALIYUN_OPS_MAX_INCIDENTS"] = str(cfg.instance_concurrency)
    servers: list[ServeProcess] = []
    try:
        for _ in range(instances):
            port = _free_port()
            servers.append(ServeProcess(serve_argv(props, port), port, env, logs / f"serve-{instances}.log"))
        for server in servers:
            server.wait_ready()
            server.warm()
        answers: dict[int, dict[str, Any]] = {}
        threads: list[threading.Thread] = []
        real_timeout = cfg.bench.timeout_s / world.scale + 60

        def deliver(i: int, notice: Notice) -> None:
            url = servers[i % instances].url + "/invoke"
            thread = threading.Thread(target=lambda: answers.__setitem__(
                i, post(url, f"{world.label}/{i}", notice.event, real_timeout)), daemon=True)
            thread.start()
            threads.append(thread)

        wave = _notify_all(world, cfg, lambda: world.arm(lat, cfg.bench.mass_qps), deliver)
        for thread in threads:
            thread.join(real_timeout)
        _settle(world, wave)
        stats = [server.stop() for server in servers]
        done = list(answers.values())
        out = phases.wave_figures(world, wave, done, cfg.bench, lat)
        return {**out, **hook.figures(wave), "processes": instances, "yaml": name,
                "argv": serve_argv(props, 9000)[1:], "max_incidents_set_by_bench": set_limit,
                "answers": dict(Counter(d["code"] for d in done)),
                "peak_rss_mib": [s.get("peak_rss_mib") for s in stats],
                "cpu_s_per_incident": sum(s.get("incidents_cpu_s", 0.0) for s in stats) / len(wave)}
    finally:
        for server in servers:
            if server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait()
        world.stop()


def builtin_runtime(cfg: TopologyConfig, lat: LatencyModel, hook: Hook, logs: Path) -> dict[str, Any]:
    """(e3): one warm process per delivery, each calling the built-in runtime's handler once."""
    name, props = function_props(custom=False)
    world = _wave("topology-e3", cfg)
    env = function_env(shipped_env(props), world.emu.endpoint, hook.url)
    instances: list[FcInstance] = []
    with open(logs / "builtin.log", "ab") as log:
        try:
            for first in range(0, len(world.originals), START_BATCH):  # 100 imports at once starve the emulator
                batch = [FcInstance(env, log) for _ in world.originals[first:first + START_BATCH]]
                instances += batch
                for instance in batch:
                    instance.wait_ready(logs / "builtin.log")
            wave = _notify_all(world, cfg, lambda: world.arm(lat, cfg.bench.mass_qps),
                               lambda i, notice: instances[i].send(f"{world.label}/{i}", notice.event))
            real_timeout = cfg.bench.timeout_s / world.scale + 60
            done = [instance.join(real_timeout) for instance in instances]
            _settle(world, wave)
            out = phases.wave_figures(world, wave, done, cfg.bench, lat)
            return {**out, **hook.figures(wave), "processes": len(instances), "yaml": name,
                    "handler": props.get("handler"),
                    "peak_rss_mib": [d.get("peak_rss_mib") for d in done],
                    "cpu_s_per_incident": sum(d.get("incident_cpu_s") or 0.0 for d in done) / len(wave),
                    "cpu_s_per_process_with_imports": sum(d.get("cpu_s") or 0.0 for d in done) / len(wave)}
        finally:
            for instance in instances:
                if instance.proc.poll() is None:
                    instance.proc.kill()
                    instance.proc.wait()
            world.stop()


def measure(cfg: TopologyConfig, latency: dict[float, LatencyModel] | None = None) -> dict[str, Any]:
    """Every topology in turn (never side by side: they would share the CPU), each its own world and webhook."""
    latency = latency or phases.calibrate_latency(cfg.bench)
    lat = latency[cfg.bench.mass_scale]
    out: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": os.getloadavg()[0],
                           "python": sys.version.split()[0], "scale": cfg.bench.mass_scale, "n": cfg.bench.mass_n,
                           "spread": cfg.spread, "instance_concurrency": cfg.instance_concurrency}
    runs: dict[str, Callable[[Hook, Path], dict[str, Any]]] = {
        "e1": lambda hook, logs: in_process(cfg, lat, hook),
        "e2": lambda hook, logs: custom_runtime(cfg, lat, hook, 1, logs),
        "e2-spread": lambda hook, logs: custom_runtime(cfg, lat, hook, cfg.spread, logs),
        "e3": lambda hook, logs: builtin_runtime(cfg, lat, hook, logs),
    }
    with tempfile.TemporaryDirectory(prefix="bench-topology-") as tmp:
        for key, run in runs.items():
            hook = Hook()
            try:
                out[key] = run(hook, Path(tmp))
            except Exception as err:  # one topology's failure is reported, the others still run
                out[key] = {"error": f"{type(err).__name__}: {err}"}
            finally:
                hook.close()
    return out


# ---- the report
def ratio(r: dict[str, Any]) -> str:
    """The ratio only when every instance was replaced: a partial run's time says nothing."""
    if "error" in r:
        return f"n/a ({r['error'][:80]})"
    if r.get("replaced") != r.get("total") or r.get("elapsed_s") is None:
        return f"missed: {r.get('replaced', 0)}/{r.get('total')} replaced"
    return f"{r['elapsed_s'] / r['bound_s']:.3f}"


def _rss(values: list[Any]) -> str:
    found = sorted(v for v in values if v is not None)
    if not found:
        return "n/a"
    if len(found) == 1:
        return f"{found[0]:.0f} MiB"
    return f"{found[len(found) // 2]:.0f} MiB median, {found[-1]:.0f} max"


def summary(result: dict[str, Any]) -> str:
    """The four ratios on one line (bench.report's (e) topology row)."""
    return ", ".join(f"{key} {ratio(result.get(key, {'error': 'not run'}))}" for key in TOPOLOGIES)


def report(result: dict[str, Any]) -> str:
    lines = [f"(e) by topology: {result.get('n')} deliveries at x{result.get('scale')}, "
             f"{result.get('cpus')} CPUs (load average {result.get('load_average', 0):.1f} at start), "
             f"Python {result.get('python')}"]
    for key in TOPOLOGIES:
        r = result.get(key, {})
        title = TITLES[key].format(k=result.get("spread"))
        lines.append(f"  {key} {title}: {ratio(r)}" + (f" [{r['yaml']}]" if r.get("yaml") else ""))
        if "error" in r:
            continue
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r.get("by_kind", {}).items()))
        lines.append(
            f"     {r['replaced']}/{r['total']} replaced ({r.get('launched_twice')} launched twice) in "
            f"{phases_num(r.get('elapsed_s'))} s, bound {phases_num(r.get('bound_s'))} s; "
            f"{r['calls_per_incident']:.1f} calls/incident, {r['throttled_calls']} throttled, "
            f"{r['spot_advice_calls']} DescribeSpotAdvice; {r['notifications']} notifications ({kinds}; "
            f"{r['told_twice']} incidents told twice); {r['processes']} process(es), "
            f"peak RSS {_rss(r['peak_rss_mib'])}; "
            f"CPU {r['cpu_s_per_incident']:.3f} s/incident"
            + (f" ({r['cpu_s_per_process_with_imports']:.2f} s with each process's imports and warm-up)"
               if "cpu_s_per_process_with_imports" in r else "")
            + (f"; answers {r['answers']}" if "answers" in r else "")
            + ("; ALIYUN_OPS_MAX_INCIDENTS raised to the instance concurrency by the bench"
               if r.get("max_incidents_set_by_bench") else "")
            + "".join(f"; {n} failed: {m}" for m, n in r.get("failures", [])))
    return "\n".join(lines)


def phases_num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.topology", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="4 deliveries, 2 servers for the spread")
    parser.add_argument("--json", type=Path, help="also write the raw readings here")
    parser.add_argument("--scale", type=float, help="emulated seconds per real second (default: (e)'s mass_scale); "
                        "lower counts each process's CPU time less: (e3)'s 100 processes on 2 cores need it")
    args = parser.parse_args(argv)
    cfg = SMOKE if args.smoke else TopologyConfig()
    if args.scale:
        cfg = replace(cfg, bench=replace(cfg.bench, mass_scale=args.scale))
    result = measure(cfg)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    return 1 if any("error" in result.get(key, {}) for key in TOPOLOGIES) else 0


if __name__ == "__main__":
    sys.exit(main())
