"""WeCom (企业微信) group robot: the webhook ``key`` in the URL is the only credential; no signature.

Markdown content is limited to 4096 bytes; WeCom answers ``{"errcode": 0, "errmsg": "ok"}``.
"""

from __future__ import annotations

import httpx

from aliyun_ops.models import IncidentRecord
from aliyun_ops.notify.base import Channel, Request, check_errcode, json_body
from aliyun_ops.notify.messages import Message

MAX_BYTES = 4096


def truncate_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


class WeCom(Channel):
    name = "wecom"

    def request(self, event: str, message: Message, record: IncidentRecord) -> Request:
        body = {"msgtype": "markdown", "markdown": {"content": truncate_utf8(message.markdown(), MAX_BYTES)}}
        return Request(self.url, json_body(body))

    def check(self, response: httpx.Response) -> None:
        check_errcode(response)
