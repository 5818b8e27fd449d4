"""The HTTP runtime holds a burst of deliveries, and one process runs one reconcile pass per region at a time.

A reclaim wave delivers hundreds of events at once; the old listen backlog of 5 reset connections beyond it. And
overlapping reconcile requests (a slow pass, a retried timer) each started a full pass over the same instances.
The reconcile here is a stand-in that blocks until released, so "at the same time" is certain, not timed.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from aliyun_ops.config import Settings
from aliyun_ops.runtime import fc
from aliyun_ops.runtime.invoke import ReconcileBusy, Runner
from aliyun_ops.runtime.server import RuntimeServer

BURST = 200
TIMER = json.dumps(
    {
        "triggerTime": "2026-11-27T10:00:00Z",
        "triggerName": "reconcile",
        "payload": json.dumps({"aliyun-ops": "reconcile"}),
    }
).encode()


class HeldPass:
    """A reconcile that counts its passes and holds each one until ``release``."""

    def __init__(self) -> None:
        self.passes = 0
        self.running = threading.Event()
        self.released = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, **context: Any) -> list[Any]:
        with self._lock:
            self.passes += 1
        self.running.set()
        assert self.released.wait(120), "the test never released the pass"
        return []


@pytest.fixture
def held() -> Iterator[HeldPass]:
    held = HeldPass()
    yield held
    held.released.set()


def _runner(held: HeldPass) -> Runner:
    return Runner(Settings(region_id="cn-hangzhou"), environ={}, reconcile=held)


def _status_line(sock: socket.socket) -> str:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def test_a_burst_of_connections_waiting_to_be_accepted_each_gets_an_http_answer() -> None:
    """200 connections arrive before the server accepts any (it is busy): the backlog holds them all, none is
    refused or reset, and each is answered once the server gets to it."""
    srv = RuntimeServer(runner=Runner(Settings(region_id="cn-hangzhou"), environ={}))  # listening, not accepting
    socks: list[socket.socket] = []
    try:
        for _ in range(BURST):
            sock = socket.create_connection((srv.host, srv.port), timeout=5)  # held in the backlog, or it times out
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: runtime\r\nConnection: close\r\n\r\n")
            socks.append(sock)
        srv.start()
        lines = [_status_line(sock) for sock in socks]
    finally:
        for sock in socks:
            sock.close()
        srv.stop()
    assert lines == ["HTTP/1.1 200 OK"] * BURST


def test_concurrent_reconcile_requests_run_one_pass_and_the_rest_are_told_to_retry(held: HeldPass) -> None:
    with (
        RuntimeServer(runner=_runner(held)) as srv,
        httpx.Client(timeout=120) as client,
        ThreadPoolExecutor(max_workers=1) as first_pool,
    ):
        first = first_pool.submit(client.post, f"{srv.url}/invoke", content=TIMER)
        assert held.running.wait(60)
        with ThreadPoolExecutor(max_workers=50) as pool:
            # one connection per request, as FC's deliveries come (a pooled keep-alive connection the server has
            # just closed would fail on the client's side, not the server's)
            others = list(
                pool.map(lambda _: httpx.post(f"{srv.url}/invoke", content=TIMER, timeout=60), range(BURST - 1))
            )
        held.released.set()
        answer = first.result()
    assert held.passes == 1
    assert answer.status_code == 200 and answer.json()["status"] == "reconciled"
    assert {r.status_code for r in others} == {429}
    assert all(r.headers["Retry-After"] == "60" for r in others)
    assert all(r.headers["x-fc-status"] == "200" for r in others)  # FC does not count the overlap as a failure
    assert "a reconcile pass is already running" in others[0].json()["error"]


def test_the_builtin_runtime_reports_an_overlapping_timer_as_skipped_not_failed(
    held: HeldPass, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fc, "_runner", _runner(held))
    context = type("Context", (), {"request_id": "r", "region": "cn-hangzhou"})()
    with ThreadPoolExecutor(max_workers=1) as first_pool:
        first = first_pool.submit(fc.handler, TIMER, context)
        assert held.running.wait(60)
        with ThreadPoolExecutor(max_workers=20) as pool:
            skipped = [json.loads(a) for a in pool.map(lambda _: fc.handler(TIMER, context), range(40))]
        held.released.set()
        done = json.loads(first.result())
    assert held.passes == 1
    assert done["status"] == "reconciled"
    assert [a["status"] for a in skipped] == ["skipped"] * 40
    assert "already running" in skipped[0]["message"]


def test_another_region_reconciles_while_one_pass_runs(held: HeldPass) -> None:
    """The limit is per region: a pass of another region is not held up."""
    from aliyun_ops.runtime.invoke import Invocation

    runner = _runner(held)
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(runner.run, Invocation(TIMER))
        assert held.running.wait(60)
        with pytest.raises(ReconcileBusy):
            runner.run(Invocation(TIMER))
        other = Runner(Settings(region_id="cn-shanghai"), environ={}, reconcile=lambda **_: [])
        assert other.run(Invocation(TIMER))["status"] == "reconciled"
        held.released.set()
        first.result()
