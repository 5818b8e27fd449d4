"""Generic JSON webhook: the whole incident record, for your own automation.

Body (UTF-8 JSON)::

    {"event": "incident.started" | "incident.finished", "status": record.status, "ok": true|false|null,
     "lang": "zh"|"en", "title": "...", "text": "...", "record": {IncidentRecord as a dict}}

Headers: ``X-Aliyun-Ops-Event`` (the event), and when ``ALIYUN_OPS_NOTIFY_WEBHOOK_SECRET`` is set,
``X-Aliyun-Ops-Timestamp`` (epoch seconds) and ``X-Aliyun-Ops-Signature: sha256=<hex>`` where hex =
HMAC-SHA256(key=secret, msg=timestamp + "." + raw body bytes). A receiver recomputes it over the
raw body, compares with ``hmac.compare_digest`` and rejects timestamps more than 5 minutes away from
its clock (replays). Any 2xx answer is success.
"""

from __future__ import annotations

import hashlib
import hmac

from aliyun_ops.models import IncidentRecord
from aliyun_ops.notify.base import Channel, Request, json_body
from aliyun_ops.notify.messages import Message

EVENT_HEADER = "X-Aliyun-Ops-Event"
TIMESTAMP_HEADER = "X-Aliyun-Ops-Timestamp"
SIGNATURE_HEADER = "X-Aliyun-Ops-Signature"


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class Webhook(Channel):
    name = "webhook"

    def request(self, event: str, message: Message, record: IncidentRecord) -> Request:
        name = f"incident.{event}"
        body = json_body({
            "event": name,
            "status": record.status,
            "ok": message.ok,
            "lang": message.lang,
            "title": message.title,
            "text": message.text(),
            "record": record.to_dict(),
        })
        headers = {EVENT_HEADER: name}
        if self.secret:
            timestamp = str(int(self.clock()))
            headers |= {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: webhook_signature(self.secret, timestamp, body)}
        return Request(self.url, body, headers)
