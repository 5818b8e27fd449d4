"""Notifications reach local stand-ins of DingTalk, Feishu, WeCom, Slack and a JSON webhook.

Each receiver checks the request the way the real service does (DingTalk's query signature, Feishu's
body signature, WeCom's key, the webhook's HMAC header) and answers like it, so a wrong secret is
refused exactly as in production. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from aliyun_ops.models import IncidentRecord, InstanceSummary
from aliyun_ops.notify import build_notifier

DT_TOKEN, DT_SECRET = "dt-token-5f1e", "SECdingtalk-secret-77aa"
FS_HOOK, FS_SECRET = "fs-hook-0c4d", "feishu-secret-99bb"
WC_KEY = "wecom-key-3e2a"
SL_PATH = "/services/T000/B000/slack-token-8d7c"
WH_SECRET = "webhook-secret-11cc"
ALL_SECRETS = (DT_TOKEN, DT_SECRET, FS_HOOK, FS_SECRET, WC_KEY, "slack-token-8d7c", WH_SECRET)


@dataclass
class Seen:
    channel: str
    verified: bool
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Receivers:
    """One loopback server standing in for the five services; records what each one accepted."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.seen: list[Seen] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "ALIYUN_OPS_NOTIFY_DINGTALK_URL": f"{self.base}/robot/send?access_token={DT_TOKEN}",
            "ALIYUN_OPS_NOTIFY_DINGTALK_SECRET": DT_SECRET,
            "ALIYUN_OPS_NOTIFY_FEISHU_URL": f"{self.base}/open-apis/bot/v2/hook/{FS_HOOK}",
            "ALIYUN_OPS_NOTIFY_FEISHU_SECRET": FS_SECRET,
            "ALIYUN_OPS_NOTIFY_WECOM_URL": f"{self.base}/cgi-bin/webhook/send?key={WC_KEY}",
            "ALIYUN_OPS_NOTIFY_SLACK_URL": f"{self.base}{SL_PATH}",
            "ALIYUN_OPS_NOTIFY_WEBHOOK_URL": f"{self.base}/hooks/aliyun-ops",
            "ALIYUN_OPS_NOTIFY_WEBHOOK_SECRET": WH_SECRET,
            "ALIYUN_OPS_NOTIFY_LANG": "en",
        }
        return env | overrides

    def accepted(self, channel: str) -> list[dict[str, Any]]:
        return [s.body for s in self.seen if s.channel == channel and s.verified]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receivers.status != 200:
                    self._answer(receivers.status, b"internal error")
                    return
                url = urlsplit(self.path)
                channel, verified, answer = _verify(url.path, parse_qs(url.query), dict(self.headers), raw)
                receivers.seen.append(Seen(channel, verified, json.loads(raw), dict(self.headers)))
                self._answer(answer[0], answer[1])

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _b64_hmac(key: bytes, msg: bytes) -> str:
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


def _verify(path: str, query: dict[str, list[str]], headers: dict[str, str], raw: bytes) -> tuple[str, bool, Any]:
    """What each real service checks, and how it answers."""
    body = json.loads(raw)
    now = time.time()
    if path == "/robot/send":  # DingTalk: timestamp (ms) within 1 h, sign = b64(HMAC(secret, ts\nsecret))
        ts = query.get("timestamp", [""])[0]
        expected = _b64_hmac(DT_SECRET.encode(), f"{ts}\n{DT_SECRET}".encode())
        ok = (query.get("access_token") == [DT_TOKEN] and query.get("sign") == [expected]
              and abs(now * 1000 - int(ts or 0)) < 3600_000 and body.get("msgtype") == "markdown")
        reply = {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 310000, "errmsg": "sign not match"}
        return "dingtalk", ok, (200, json.dumps(reply).encode())
    if path.startswith("/open-apis/bot/v2/hook/"):  # Feishu: sign = b64(HMAC(key=ts\nsecret, msg=""))
        ts = str(body.get("timestamp", ""))
        expected = _b64_hmac(f"{ts}\n{FS_SECRET}".encode(), b"")
        ok = path.endswith(FS_HOOK) and body.get("sign") == expected and abs(now - int(ts or 0)) < 3600
        reply = {"code": 0, "msg": "success"} if ok else {"code": 19021, "msg": "sign match fail"}
        return "feishu", ok, (200, json.dumps(reply).encode())
    if path == "/cgi-bin/webhook/send":  # WeCom: the key is the credential
        ok = query.get("key") == [WC_KEY] and body.get("msgtype") == "markdown"
        reply = {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 93000, "errmsg": "invalid webhook url"}
        return "wecom", ok, (200, json.dumps(reply).encode())
    if path == SL_PATH:  # Slack: the path is the credential
        ok = isinstance(body.get("text"), str) and bool(body.get("blocks"))
        return "slack", ok, (200, b"ok") if ok else (400, b"invalid_payload")
    ts = headers.get("X-Aliyun-Ops-Timestamp", "")  # generic webhook: documented in notify/webhook.py
    mac = hmac.new(WH_SECRET.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(headers.get("X-Aliyun-Ops-Signature", ""), "sha256=" + mac) and \
        abs(now - int(ts or 0)) < 300
    return "webhook", ok, (200, b"{}") if ok else (401, b"bad signature")


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    r = Receivers()
    yield r
    r.server.shutdown()
    r.server.server_close()


BEFORE = InstanceSummary("i-bp1old0001", "ecs.c7.large", "cn-hangzhou-h", name="web-1",
                         spot_price=0.1234, public_ip="47.96.0.10")
AFTER = InstanceSummary("i-bp1new0002", "ecs.g7.large", "cn-hangzhou-i", name="web-1",
                        spot_price=0.2345, public_ip="47.96.0.11")


def incident(status: str = "started") -> IncidentRecord:
    record = IncidentRecord("inc-42", "i-bp1old0001", "cn-hangzhou", started_at=1000.0, before=BEFORE)
    if status == "replaced":
        record.status, record.finished_at = "replaced", 1080.0
        record.new_instance_id, record.after = AFTER.instance_id, AFTER
    elif status == "failed":
        record.status, record.finished_at = "failed", 1290.0
        record.reason, record.tried = "no candidate could be launched", ["ecs.c7.large@cn-hangzhou-h: NoStock"]
    return record


def _texts(r: Receivers) -> dict[str, str]:
    """The human-readable part each service would display."""
    dt, fs, wc, sl, wh = (r.accepted(c) for c in ("dingtalk", "feishu", "wecom", "slack", "webhook"))
    return {
        "dingtalk": " ".join(m["markdown"]["text"] for m in dt),
        "feishu": " ".join(m["card"]["header"]["title"]["content"] + m["card"]["elements"][0]["content"] for m in fs),
        "wecom": " ".join(m["markdown"]["content"] for m in wc),
        "slack": " ".join(m["blocks"][0]["text"]["text"] for m in sl),
        "webhook": " ".join(m["text"] for m in wh),
    }


def test_every_channel_gets_a_signed_start_and_success_message(receivers: Receivers) -> None:
    notifier = build_notifier(receivers.env())
    notifier.incident_started(incident())
    notifier.incident_finished(incident("replaced"))

    assert all(s.verified for s in receivers.seen), [s.channel for s in receivers.seen if not s.verified]
    for channel in ("dingtalk", "feishu", "wecom", "slack", "webhook"):
        assert len(receivers.accepted(channel)) == 2, channel
    for channel, text in _texts(receivers).items():
        assert "Spot instance being reclaimed" in text and "Spot instance replaced" in text, channel
        for pair in ("i-bp1old0001 → i-bp1new0002", "ecs.c7.large → ecs.g7.large",
                     "cn-hangzhou-h → cn-hangzhou-i", "¥0.1234/h → ¥0.2345/h", "47.96.0.10 → 47.96.0.11"):
            assert pair in text, (channel, pair)
    colours = [m["card"]["header"]["template"] for m in receivers.accepted("feishu")]
    assert colours == ["blue", "green"]


def test_webhook_carries_the_whole_record(receivers: Receivers) -> None:
    env = {k: v for k, v in receivers.env().items() if "WEBHOOK" in k}
    build_notifier(env).incident_finished(incident("replaced"))
    [body] = receivers.accepted("webhook")
    assert body["event"] == "incident.finished" and body["ok"] is True and body["status"] == "replaced"
    assert body["record"]["new_instance_id"] == "i-bp1new0002"
    assert body["record"]["after"]["instance_type"] == "ecs.g7.large"
    assert body["record"]["before"]["spot_price"] == 0.1234


def test_chinese_failure_message_gives_reason_and_advice(receivers: Receivers) -> None:
    build_notifier(receivers.env(ALIYUN_OPS_NOTIFY_LANG="zh")).incident_finished(incident("failed"))
    for channel, text in _texts(receivers).items():
        assert "替换失败" in text and "no candidate could be launched" in text, channel
        assert "建议" in text and "按量付费" in text, channel
    assert receivers.accepted("webhook")[0]["ok"] is False


def test_a_wrong_secret_is_refused_and_does_not_raise(receivers: Receivers, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env = receivers.env(ALIYUN_OPS_NOTIFY_DINGTALK_SECRET="SECwrong-one", ALIYUN_OPS_NOTIFY_FEISHU_SECRET="wrong-two",
                        ALIYUN_OPS_NOTIFY_WEBHOOK_SECRET="wrong-three")
    build_notifier(env).incident_started(incident())
    refused = {s.channel for s in receivers.seen if not s.verified}
    assert refused == {"dingtalk", "feishu", "webhook"}
    assert receivers.accepted("dingtalk") == [] and len(receivers.accepted("wecom")) == 1
    assert "errcode=310000" in caplog.text and "code=19021" in caplog.text and "HTTP 401" in caplog.text
    for secret in (*ALL_SECRETS, "SECwrong-one", "wrong-two", "wrong-three"):
        assert secret not in caplog.text


def test_server_errors_and_unreachable_receivers_do_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    failing = Receivers(status=500)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = failing.env(ALIYUN_OPS_NOTIFY_SLACK_URL=f"{dead}{SL_PATH}",
                      ALIYUN_OPS_NOTIFY_WEBHOOK_URL=f"{dead}/hooks/{WH_SECRET}")
    try:
        notifier = build_notifier(env)
        notifier.incident_started(incident())
        notifier.incident_finished(incident("failed"))
    finally:
        failing.server.shutdown()
        failing.server.server_close()
    assert failing.seen == []
    warnings = [r.getMessage() for r in caplog.records if r.name == "aliyun_ops.notify"]
    assert len(warnings) == 10  # five channels, two messages each: every failure logged, none raised
    assert sum(w.endswith("HTTP 500") for w in warnings) == 6 and sum(w.endswith("ConnectError") for w in warnings) == 4
    for secret in ALL_SECRETS:
        assert secret not in caplog.text
