"""Tell people when a spot instance is being replaced and how it ended.

``build_notifier(os.environ)`` returns a ``Notifier`` sending to every configured channel (DingTalk,
Feishu/Lark, WeCom, Slack, a generic JSON webhook; see ``notify/config.py`` for the variables).
Notifications are best effort: a channel that fails is logged (without its URL token or secret) and
never stops the replacement, so neither method raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import httpx

from aliyun_ops.models import IncidentRecord
from aliyun_ops.notify.base import Channel, NotifyFailed, redact_url
from aliyun_ops.notify.config import ENV_VARS, NotifySettings
from aliyun_ops.notify.dingtalk import DingTalk
from aliyun_ops.notify.feishu import Feishu
from aliyun_ops.notify.messages import Message, finished_message, started_message
from aliyun_ops.notify.slack import Slack
from aliyun_ops.notify.webhook import Webhook
from aliyun_ops.notify.wecom import WeCom

__all__ = ["ENV_VARS", "ChannelNotifier", "Notifier", "NotifySettings", "build_notifier"]

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def incident_started(self, record: IncidentRecord) -> None: ...

    def incident_finished(self, record: IncidentRecord) -> None: ...  # success or failure (record.status)


class ChannelNotifier:
    """Sends each message to all its channels at once (one thread each) and waits for them all."""

    def __init__(self, channels: Sequence[Channel] = (), lang: str = "zh") -> None:
        self.channels = tuple(channels)
        self.lang = lang

    def __repr__(self) -> str:
        return f"ChannelNotifier({list(self.channels)!r}, lang={self.lang!r})"

    def incident_started(self, record: IncidentRecord) -> None:
        self._fan_out("started", record, started_message)

    def incident_finished(self, record: IncidentRecord) -> None:
        self._fan_out("finished", record, finished_message)

    def _fan_out(self, event: str, record: IncidentRecord, render: Callable[[IncidentRecord, str], Message]) -> None:
        if not self.channels:
            return
        try:
            message = render(record, self.lang)
        except Exception as exc:  # a notification must never break the incident
            log.warning("notify: cannot render the %s message of incident %s: %s",
                        event, getattr(record, "incident_id", "?"), type(exc).__name__)
            return
        if len(self.channels) == 1:
            _deliver(self.channels[0], event, message, record)
            return
        threads = [
            threading.Thread(target=_deliver, args=(channel, event, message, record), daemon=True)
            for channel in self.channels
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def _deliver(channel: Channel, event: str, message: Message, record: IncidentRecord) -> None:
    where = f"{channel.name} ({redact_url(channel.url)})"
    try:
        channel.send(event, message, record)
    except NotifyFailed as exc:
        log.warning("notify: %s message of incident %s to %s failed: %s", event, record.incident_id, where, exc)
    except Exception as exc:  # never raise, never print a text that could quote a secret
        log.warning("notify: %s message of incident %s to %s failed: %s", event, record.incident_id, where,
                    type(exc).__name__)
    else:
        log.info("notify: %s message of incident %s sent to %s", event, record.incident_id, where)


def build_notifier(
    environ: Mapping[str, str] | None = None,
    *,
    clock: Callable[[], float] = time.time,
    transport: httpx.BaseTransport | None = None,
) -> ChannelNotifier:
    """A notifier for every channel configured in ``environ`` (default ``os.environ``); never raises.

    With no channel configured it does nothing. ``clock`` and ``transport`` are for tests.
    """
    s = NotifySettings.from_env(environ)

    def make(cls: type[Channel], url: str | None, secret: str | None = None) -> list[Channel]:
        return [cls(url, secret=secret, timeout_s=s.timeout_s, clock=clock, transport=transport)] if url else []

    channels = [
        *make(DingTalk, s.dingtalk_url, s.dingtalk_secret),
        *make(Feishu, s.feishu_url, s.feishu_secret),
        *make(WeCom, s.wecom_url),
        *make(Slack, s.slack_url),
        *make(Webhook, s.webhook_url, s.webhook_secret),
    ]
    return ChannelNotifier(channels, s.lang)
