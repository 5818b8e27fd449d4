"""Slack incoming webhook: the URL is the credential. Slack answers ``ok`` (HTTP 200) or an error
word such as ``invalid_payload`` with a 4xx. ``text`` is the notification fallback; the block holds
the mrkdwn body.
"""

from __future__ import annotations

from aliyun_ops.models import IncidentRecord
from aliyun_ops.notify.base import Channel, Request, json_body
from aliyun_ops.notify.messages import Message, slack_escaped


class Slack(Channel):
    name = "slack"

    def request(self, event: str, message: Message, record: IncidentRecord) -> Request:
        body = {
            "text": slack_escaped(message.title),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": message.slack()[:3000]}}],
        }
        return Request(self.url, json_body(body))
