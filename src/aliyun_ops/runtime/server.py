"""HTTP server speaking Function Compute's custom-runtime contract (event handler), 0.0.0.0:9000.

Routes: POST /invoke (and POST /, which the original README's curl uses) with the raw event as body;
POST /initialize; GET /pre-stop; GET / answers a liveness probe. Credentials, region, timeout and the
request id come from the x-fc-* headers (else the environment).

Answers: 200 + the outcome JSON when the event was handled or ignored; 400 + {"error": reason} for a
malformed body (413 for one over the size limit, refused from its Content-Length without reading
it); 5xx + {"error": reason} for failures (500 configuration, 502 cloud API, 503 no candidate could
be launched, 504 deadline). Every answer carries ``x-fc-status`` (200 or 404): Function Compute
counts an invocation failed only when that header says 404, and only then retries it and fires
alerts. No input crashes the server; logs carry the request id, never a secret.

Too much at once: an incident over ``ALIYUN_OPS_MAX_INCIDENTS`` is 429 with Retry-After and x-fc-status 404 (FC
retries the delivery); a reconcile request while a pass of the region runs is 429 with Retry-After and
x-fc-status 200 ("a reconcile pass is already running"): an overlapping timer tick is not a failure, the running
pass does the work. The listen backlog (``LISTEN_BACKLOG``) holds a burst of deliveries until they are accepted,
each on its own thread, so every connection gets an HTTP answer, never a reset.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from aliyun_ops.config import Credentials, Settings
from aliyun_ops.events import MAX_EVENT_BYTES
from aliyun_ops.runtime.invoke import (
    RECONCILE_RETRY_AFTER_S,
    Invocation,
    ReconcileBusy,
    Runner,
    describe_error,
    parse_timeout,
    status_of,
    to_json,
)

log = logging.getLogger("aliyun_ops.runtime")

INVOKE_PATHS = ("/invoke", "/")
BUSY_RETRY_AFTER_S = 5  # a 429 (too many incidents at once) asks to be retried this much later
_DRAIN_LIMIT = 4 * MAX_EVENT_BYTES  # a refused body: read at most this much of it, then hang up
_DRAIN_TIMEOUT_S = 2.0
# Connections the kernel holds until they are accepted (socketserver's default of 5 reset a burst of 200
# deliveries); Linux caps it at net.core.somaxconn (4096 by default since 5.4).
LISTEN_BACKLOG = 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], runner: Runner) -> None:
        super().__init__(address, _Handler)
        self.runner = runner

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished mid-answer is not worth a traceback on stderr."""
        log.debug("connection from %s ended abruptly", client_address[0] if client_address else "?")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a client may take to send its request
    server_version = "aliyun-ops"

    def version_string(self) -> str:
        return self.server_version

    def do_POST(self) -> None:
        path = _path(self.path)
        if path in INVOKE_PATHS:
            self._invoke()
        elif path == "/initialize":
            if self._read_body() is not None:
                self._send(200, {"status": "initialized"})
        else:
            self._send(404, {"error": f"no such path: POST {path}"}, close=True)

    def do_GET(self) -> None:
        path = _path(self.path)
        if path == "/pre-stop":
            self._send(200, {"status": "stopping"})
        elif path in ("/", "/health"):
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"error": f"no such path: GET {path}"})

    def __getattr__(self, name: str) -> Any:
        """Any other method (PUT, DELETE, made-up ones) gets 405, not the base class's 501."""
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._send(405, {"error": f"method {self.command} not allowed"}, close=True)

    def _invoke(self) -> None:
        started = time.time()
        body = self._read_body()
        if body is None:
            return
        inv = _invocation(body, self.headers, started)
        # whatever the headers carried is kept out of answers and logs, used or not
        secrets = tuple(self.headers.get(h, "").strip() for h in ("x-fc-access-key-secret", "x-fc-security-token"))
        try:
            result = self.server.runner.run(inv)
        except Exception as exc:
            status, reason = status_of(exc), describe_error(exc, secrets)
            log.warning("request %s: %s %s after %.1fs", inv.request_id, status, reason, time.time() - started)
            retry = {"Retry-After": str(BUSY_RETRY_AFTER_S)} if status == 429 else {}
            if isinstance(exc, ReconcileBusy):  # not a failure for FC: the running pass does the work
                retry = {"Retry-After": str(RECONCILE_RETRY_AFTER_S), "x-fc-status": "200"}
            self._send(status, {"error": reason, "type": type(exc).__name__}, headers=retry)
            return
        log.info("request %s: 200 %s: %s", inv.request_id, result.get("status"), result.get("message"))
        self._send(200, result)

    def _read_body(self) -> bytes | None:
        """The body, or None after answering why it cannot be read (size, framing, a vanished client)."""
        if self.headers.get("Transfer-Encoding", "identity").strip().lower() != "identity":
            self._send(411, {"error": "send the event with a Content-Length"}, close=True)
            return None
        raw = self.headers.get("Content-Length", "0").strip() or "0"
        if not raw.isdigit():
            self._send(400, {"error": f"invalid Content-Length {raw[:20]!r}"}, close=True)
            return None
        length = int(raw)
        if length > MAX_EVENT_BYTES:
            self._send(413, {"error": f"event of {length} bytes is over the {MAX_EVENT_BYTES}-byte limit"}, close=True)
            self._discard(min(length, _DRAIN_LIMIT))
            return None
        try:
            body = self.rfile.read(length)
        except OSError:
            body = b""
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _discard(self, length: int) -> None:
        """Swallow a bounded part of a refused body so the client reads our answer instead of a reset."""
        try:
            self.connection.settimeout(_DRAIN_TIMEOUT_S)
            while length > 0:
                chunk = self.rfile.read1(min(length, 65536))
                if not chunk:
                    break
                length -= len(chunk)
        except OSError:
            pass

    def _send(
        self, status: int, payload: Mapping[str, Any], *, close: bool = False, headers: Mapping[str, str] | None = None
    ) -> None:
        data = to_json(dict(payload)).encode("utf-8")
        try:
            self.send_response(status)
            headers = dict(headers or {})
            fc_status = headers.pop("x-fc-status", "200" if status < 400 else "404")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-fc-status", fc_status)
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client went away; nothing more to do

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors found by the base class, as JSON; bad request lines are 4xx, not 5xx."""
        code = {501: 405, 505: 400}.get(code, code)
        self._send(code, {"error": message or HTTPStatus(code).phrase}, close=True)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def _path(raw: str) -> str:
    return urlsplit(raw).path.rstrip("/") or "/"


def _invocation(body: bytes, headers: Message, started: float) -> Invocation:
    """The invocation as FC sends it. Credentials from the headers only in FC's shape: the function role's STS
    triple (key id, secret and security token). A plain key pair in headers is ignored (the environment's
    credentials apply), so a caller cannot swap in long-lived keys of its own."""
    key_id = headers.get("x-fc-access-key-id", "").strip()
    secret = headers.get("x-fc-access-key-secret", "").strip()
    token = headers.get("x-fc-security-token", "").strip() or None
    as_fc_sends = bool(key_id and secret and token)
    return Invocation(
        body=body,
        request_id=headers.get("x-fc-request-id", "").strip()[:128] or "-",
        credentials=Credentials(key_id, secret, token) if as_fc_sends else None,
        region_id=headers.get("x-fc-region", "").strip() or None,
        timeout_s=parse_timeout(headers.get("x-fc-function-timeout")),
        started=started,
        account_id=headers.get("x-fc-account-id", "").strip() or None,
    )


class RuntimeServer:
    """The runtime server in a background thread: ``with RuntimeServer(port=0) as srv: srv.url``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: Settings | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        runner: Runner | None = None,
    ) -> None:
        self._server = _Server((host, port), runner or Runner(settings, environ))
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> RuntimeServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="aliyun-ops-runtime", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> RuntimeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 9000,
    settings: Settings | None = None,
    on_start: Callable[[], None] | None = None,
    runner: Runner | None = None,
) -> None:
    """Serve until interrupted (the custom runtime's main process; on FC it needs ``host="0.0.0.0"``).

    Logs are JSON lines (``ALIYUN_OPS_LOG_FORMAT=text`` for plain text). ``runner``: instead of one made from
    ``settings`` (the CLI passes one on the emulator's clock)."""
    from aliyun_ops.logs import configure_json_logging, wants_json

    if wants_json(default=True):
        configure_json_logging()
    server = _Server((host, port), runner or Runner(settings))
    log.info("aliyun-ops runtime listening on http://%s:%d", host, port)
    if on_start is not None:
        on_start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
