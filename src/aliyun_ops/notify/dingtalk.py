"""DingTalk custom group robot (自定义机器人).

With the robot's "加签" security setting, DingTalk checks two query parameters: ``timestamp`` (epoch
milliseconds, within an hour of its clock) and ``sign`` = urlencode(base64(HMAC-SHA256(key=secret,
msg=timestamp + "\\n" + secret))). It answers HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}`` on success
and a non-zero ``errcode`` (310000 for a bad signature) otherwise.
"""

from __future__ import annotations

from urllib.parse import quote_plus

import httpx

from aliyun_ops.models import IncidentRecord
from aliyun_ops.notify.base import Channel, Request, check_errcode, hmac_sha256_b64, json_body
from aliyun_ops.notify.messages import Message


def dingtalk_sign(timestamp_ms: str, secret: str) -> str:
    """The ``sign`` query value, already URL-encoded."""
    return quote_plus(hmac_sha256_b64(secret, f"{timestamp_ms}\n{secret}"))


class DingTalk(Channel):
    name = "dingtalk"

    def request(self, event: str, message: Message, record: IncidentRecord) -> Request:
        url = self.url
        if self.secret:
            timestamp = str(int(self.clock() * 1000))
            separator = "&" if "?" in url else "?"
            url = f"{url}{separator}timestamp={timestamp}&sign={dingtalk_sign(timestamp, self.secret)}"
        body = {"msgtype": "markdown", "markdown": {"title": message.plain_title, "text": message.markdown()}}
        return Request(url, json_body(body))

    def check(self, response: httpx.Response) -> None:
        check_errcode(response)
