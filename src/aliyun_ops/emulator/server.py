"""The emulator's HTTP server: one address for ECS, VPC and CloudMonitor RPC calls plus the ``/_emulator/``
control API.

RPC answers come in the format the request asks for (``dispatch.answer_format``): JSON as
``application/json;charset=utf-8``, XML (``xmlout``) as ``text/xml;charset=utf-8``. The control API
always answers JSON.

A stdlib ``ThreadingHTTPServer`` (a thread per connection, HTTP/1.1 keep-alive, a deep listen backlog
so hundreds of concurrent calls are accepted). A ticker thread fires the emulated clock's due
callbacks, so with ``time_scale > 0`` scheduled releases happen and subscribed events go out without
any traffic. ``stop()`` is clean: it stops accepting, wakes requests held by latency or timeout
faults, closes idle keep-alive connections and joins every thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import control, controlplane, gateway, xmlout
from .control_client import EmulatorControl
from .core import Clock, EmulatorError
from .delivery import Deliverer, interruption_event, state_change_event
from .dispatch import XML, Dispatcher, answer_format
from .faults import Faults
from .journal import Journal
from .ram import RamPolicy, parse_policy
from .signing import SignedRequest

log = logging.getLogger(__name__)

TICK_SECONDS = 0.05
Scenario = dict[str, Any] | str | Path | None


def load_scenario(scenario: Scenario) -> dict[str, Any] | None:
    """None (the backend's default), a scenario dict, or the path of a JSON file holding one."""
    if scenario is None or isinstance(scenario, dict):
        return scenario
    data = json.loads(Path(scenario).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"scenario {scenario} must hold a JSON object")
    return data


class _Server(ThreadingHTTPServer):
    """Tracks open connections so that stop() can close idle keep-alive ones and join their threads."""

    daemon_threads = True
    block_on_close = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms a call
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header tells the cloud's own time, as Aliyun's gateway does: the emulated clock."""
        return super().date_time_string(self.server.emulator.clock.now() if timestamp is None else timestamp)

    def _serve(self) -> None:
        emulator = self.server.emulator
        url = urlsplit(self.path)
        try:
            length = gateway.body_length(self._header_lists())
        except EmulatorError as err:  # framing refused before any body byte is buffered
            self._refuse(err, url.path, url.query)
            return
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:  # the client went away mid-body
            self.close_connection = True
            return
        if url.path.startswith(control.PREFIX):
            status, body = control.handle(emulator, self.command, url.path, raw)
            self._send(status, body)
            return
        if url.path.startswith(controlplane.FC_PREFIX):  # Function Compute 3.0 is a ROA API
            self._send(*controlplane.handle_fc(emulator, self._signed_request(url.path, url.query, raw)))
            return
        result = emulator.dispatcher.handle(self._signed_request(url.path, url.query, raw))
        if result.body is None:  # a timeout fault: answer nothing and drop the connection
            self.close_connection = True
            return
        headers = {"x-acs-request-id": result.request_id}
        if result.fmt != XML:
            self._send(result.status, result.body, headers)
            return
        status, body = result.status, result.body
        try:
            data = xmlout.render(body, xmlout.root_for(result.action, status))
        except ValueError:  # a body with a key XML cannot name: our bug, answered like Aliyun's own
            log.exception("emulator action %s: the answer cannot be written as XML", result.action)
            status, data = 500, xmlout.render(EmulatorError().body(result.request_id), "Error")
        self._send_bytes(status, data, xmlout.CONTENT_TYPE, headers)

    def _header_lists(self) -> dict[str, list[str]]:
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        return headers

    def _refuse(self, err: EmulatorError, path: str, query: str) -> None:
        """Answer a framing refusal (JSON for the control API, the RPC error body otherwise), then drain a
        bounded part of the unread body so the client sees the answer, and close the connection."""
        self.close_connection = True
        request_id = str(uuid.uuid4()).upper()
        headers = {"Connection": "close"}
        if path.startswith(control.PREFIX):
            self._send(err.http_status, {"error": err.message, "code": err.code}, headers)
        else:
            headers["x-acs-request-id"] = request_id
            fmt = answer_format(self._signed_request(path, query, b""))
            if fmt == XML:
                data = xmlout.render(err.body(request_id), "Error")
                self._send_bytes(err.http_status, data, xmlout.CONTENT_TYPE, headers)
            else:
                self._send(err.http_status, err.body(request_id), headers)
        self._drain()

    def _drain(self) -> None:
        declared = self.headers.get("content-length", "").strip()
        left = min(int(declared), gateway.DRAIN_BYTES) if declared.isascii() and declared.isdigit() else 0
        try:
            self.wfile.flush()
            self.connection.settimeout(gateway.DRAIN_TIMEOUT_S)
            while left > 0:
                chunk = self.rfile.read1(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    def _signed_request(self, path: str, query: str, raw: bytes) -> SignedRequest:
        headers = self._header_lists()
        form: dict[str, str] = {}
        if (self.headers.get("content-type") or "").startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
        return SignedRequest(
            method=self.command,
            path=path or "/",
            query=dict(parse_qsl(query, keep_blank_values=True)),
            headers=headers,
            body=raw,
            form=form,
        )

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._send_bytes(status, data, "application/json;charset=utf-8", headers)

    def _send_bytes(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class Emulator:
    """An in-process emulator: ``with Emulator() as emu:`` then point the SDKs at ``emu.endpoint``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        scenario: Scenario = None,
        time_scale: float = 1.0,
        policy: dict[str, Any] | None = None,
        *,
        backend: Any = None,
        function_role_policy: dict[str, Any] | None = None,  # the FUNCTION_ROLE_* identity exists only with one
    ) -> None:
        self.host, self._port = host, port
        if backend is None:
            from .backend import Backend  # the resource layer; imported here to keep it swappable in tests

            backend = Backend(Clock(time_scale), load_scenario(scenario), function_role_policy=function_role_policy)
        self.backend: Any = backend
        self.clock: Clock = backend.clock
        self.faults = Faults(ambient=lambda: getattr(backend, "transient_errors", None))
        self.journal = Journal()
        self.deliverer = Deliverer()
        self._initial_policy = parse_policy(policy)
        self.policy: RamPolicy | None = self._initial_policy
        self._stopping = threading.Event()
        self.dispatcher = Dispatcher(backend, self.faults, self.journal, lambda: self.policy, self._stopping)
        self.backend.add_listener(self._on_backend_event)
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._control: EmulatorControl | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Emulator:
        if self._server is not None:
            return self
        import_actions()
        self._stopping.clear()
        self._server = _Server((self.host, self._port), self)
        self.deliverer.start()
        for name, target in (("emulator-http", self._serve_forever), ("emulator-ticker", self._tick)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()  # joins the connection threads
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        self.deliverer.stop()
        if self._control is not None:
            self._control.close()
            self._control = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        """``host:port`` for ``Config(endpoint=..., protocol="http")``."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            self._control = EmulatorControl(self.url)
        return self._control

    # -- operations the control API exposes ------------------------------------------------------
    def reset(self, scenario: dict[str, Any] | None = None) -> None:
        """Fresh scenario state, no faults, no subscriptions, an empty journal, the initial policy."""
        with self.backend.lock:
            self.backend.reset(scenario)
        self.faults.clear()
        self.deliverer.clear()
        self.journal.clear()
        self.policy = self._initial_policy

    def set_policy(self, document: dict[str, Any] | None) -> None:
        self.policy = parse_policy(document)

    def interrupt(
        self,
        instance_id: str,
        *,
        notice_seconds: float = 300.0,
        fmt: str = "cloudmonitor",
        deliver_to: str | None = None,
        mark_sold_out: bool = False,
    ) -> dict[str, Any]:
        """Mark a spot instance for release, record the interruption in CloudMonitor's event history and
        deliver the notice; the receiver runs outside the lock (it will usually call this emulator back)."""
        with self.backend.lock:
            info = self.backend.interrupt(instance_id, notice_seconds=notice_seconds, mark_sold_out=mark_sold_out)
            event = interruption_event(info, self.backend.account_id, self.clock.now())
            self.backend.system_events.record(event.history_item())  # CloudMonitor keeps it, delivered or not
        self.deliverer.publish(event)
        body = event.render(fmt)
        delivered = self.deliverer.post(deliver_to, body) if deliver_to else None
        return {"event": body, "delivered": delivered}

    # -- internals -------------------------------------------------------------------------------
    def _on_backend_event(self, kind: str, info: dict[str, Any]) -> None:
        """Called by the backend, under its lock: format and queue, never block."""
        if kind == "state_change":
            self.deliverer.publish(state_change_event(info, self.backend.account_id, self.clock.now()))
        elif kind == "interruption":  # a reclaim the spot market issued (models/market.py)
            self.deliverer.publish(info["event"])

    def _serve_forever(self) -> None:
        assert self._server is not None
        self._server.serve_forever(poll_interval=TICK_SECONDS)  # a short poll makes stop() prompt

    def _tick(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            try:
                with self.backend.lock:
                    self.clock.fire_due()
            except Exception:
                log.exception("a scheduled emulator callback failed")


def import_actions() -> None:
    """Register every real action (``@action`` decorators run on import)."""
    from . import responses  # noqa: F401


def serve(
    host: str = "127.0.0.1",
    port: int = 8900,
    scenario: Scenario = None,
    time_scale: float = 1.0,
    *,
    scenario_path: str | Path | None = None,
    policy: dict[str, Any] | None = None,
    on_start: Callable[[Emulator], None] | None = None,
    function_role_policy: dict[str, Any] | None = None,
) -> None:
    """Run an emulator until Ctrl-C or SIGTERM (the ``aliyun-ops emulator`` command); ``on_start``
    runs once it answers (e.g. to seed sample instances through the SDK)."""
    emulator = Emulator(
        host,
        port,
        scenario if scenario is not None else scenario_path,
        time_scale,
        policy,
        function_role_policy=function_role_policy,
    )
    done = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: done.set())
    emulator.start()
    log.info("emulator listening on %s", emulator.url)
    if on_start is not None:
        on_start(emulator)
    try:
        while not done.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
