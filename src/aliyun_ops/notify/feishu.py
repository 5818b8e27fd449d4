"""Feishu / Lark custom bot (自定义机器人).

With "签名校验" on, the JSON body carries ``timestamp`` (epoch seconds, as a string) and ``sign`` =
base64(HMAC-SHA256(key=timestamp + "\\n" + secret, msg=empty)): note the unusual key/message roles.
Feishu answers ``{"code": 0, ...}`` on success (older deployments: ``{"StatusCode": 0, ...}``); a bad
signature is ``code`` 19021. The message is an interactive card whose header colour shows the outcome.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx

from aliyun_ops.models import IncidentRecord
from aliyun_ops.notify.base import Channel, NotifyFailed, Request, json_answer, json_body
from aliyun_ops.notify.messages import Message

_COLOURS = {True: "green", False: "red", None: "blue"}


def feishu_sign(timestamp_s: str, secret: str) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


class Feishu(Channel):
    name = "feishu"

    def request(self, event: str, message: Message, record: IncidentRecord) -> Request:
        body: dict[str, Any] = {}
        if self.secret:
            timestamp = str(int(self.clock()))
            body |= {"timestamp": timestamp, "sign": feishu_sign(timestamp, self.secret)}
        body |= {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {
                    "title": {"tag": "plain_text", "content": message.plain_title},
                    "template": _COLOURS[message.ok],
                },
                "elements": [{"tag": "markdown", "content": message.markdown(heading=False)}],
            },
        }
        return Request(self.url, json_body(body))

    def check(self, response: httpx.Response) -> None:
        answer = json_answer(response)
        if not isinstance(answer, dict):
            raise NotifyFailed("unexpected answer")
        code = answer.get("code", answer.get("StatusCode", 0))
        if code != 0:
            raise NotifyFailed(f"code={code}: {str(answer.get('msg') or answer.get('StatusMessage') or '')[:200]}")
