"""One test message to each configured channel (``aliyun-ops notify test``).

A notification only matters on the day a spot instance is reclaimed; a wrong robot URL or secret should show up
before that. Unlike the incident fan-out, which is best effort and only logs a failure, this reports each channel's
answer, so the user sees which one to fix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aliyun_ops.models import IncidentRecord
from aliyun_ops.notify import ChannelNotifier
from aliyun_ops.notify.base import NotifyFailed
from aliyun_ops.notify.messages import Message

EVENT = "test"  # the generic webhook sends it as ``incident.test`` (X-Aliyun-Ops-Event)

_TEXT = {
    "zh": ("[aliyun-ops] 测试消息", "这是 aliyun-ops notify test 发送的测试消息：收到即表示此通知渠道配置正确。"),
    "en": ("[aliyun-ops] Test message", "Sent by `aliyun-ops notify test`: this channel is configured correctly."),
}


@dataclass(frozen=True)
class TrialResult:
    channel: str
    sent: bool
    error: str = ""  # never holds a URL token or a secret (NotifyFailed's text, or the exception's kind)


def trial_message(lang: str, region: str) -> Message:
    title, intro = _TEXT.get(lang, _TEXT["zh"])
    return Message(EVENT, title, intro, (("region" if lang == "en" else "地域", region),), lang=lang)


def send_trial(notifier: ChannelNotifier, region: str, clock: float | None = None) -> list[TrialResult]:
    """One message per channel, in order; each channel's outcome, failures included (never raised)."""
    now = time.time() if clock is None else clock
    record = IncidentRecord(f"test-{int(now)}", "-", region, started_at=now, status=EVENT, reason="notify test")
    message = trial_message(notifier.lang, region)
    results = []
    for channel in notifier.channels:
        try:
            channel.send(EVENT, message, record)
        except NotifyFailed as exc:
            results.append(TrialResult(channel.name, False, str(exc)))
        except Exception as exc:  # never print a text that could quote a secret
            results.append(TrialResult(channel.name, False, type(exc).__name__))
        else:
            results.append(TrialResult(channel.name, True))
    return results
