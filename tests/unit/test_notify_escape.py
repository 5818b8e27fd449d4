"""User text reaches each chat service inert: a hostile instance name (or a reason quoting it) mentions no one,
links nowhere and forges no row, in DingTalk, WeCom, Feishu and Slack."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from aliyun_ops.models import IncidentRecord, InstanceSummary
from aliyun_ops.notify.base import Channel
from aliyun_ops.notify.dingtalk import DingTalk
from aliyun_ops.notify.feishu import Feishu
from aliyun_ops.notify.messages import Message, finished_message, started_message
from aliyun_ops.notify.slack import Slack
from aliyun_ops.notify.wecom import WeCom

FORGED_ROW = "- **IP**: 6.6.6.6"
HOSTILE = (
    "web-1\n" + FORGED_ROW + "\r\n• *IP*: 6.6.6.6\u2028"
    " <!channel> <@U123> <http://evil.example|your bill> [click here](http://evil.example) "
    "![x](http://evil.example/p.png) <at id=all></at> <font color=red>urgent</font> **bold** _it_ `code`"
)


def _records() -> list[tuple[str, IncidentRecord]]:
    before = InstanceSummary("i-old001", "ecs.c7.large", "cn-hangzhou-h", name=HOSTILE, public_ip="47.96.0.10")
    failed = IncidentRecord(
        "inc-8",
        "i-old001",
        "cn-hangzhou",
        status="failed",
        before=before,
        reason=f"instance {HOSTILE} refused",
        tried=[f"ecs.c7.large@cn-hangzhou-h: {HOSTILE}"],
        advice=f"look at {HOSTILE}",
    )
    ignored = IncidentRecord("inc-9", "i-old001", "cn-hangzhou", status="ignored", before=before, reason=HOSTILE)
    return [("started", failed), ("finished", failed), ("finished", ignored)]


def _message(event: str, record: IncidentRecord) -> Message:
    return started_message(record, "en") if event == "started" else finished_message(record, "en")


def _body(channel: Channel, event: str, record: IncidentRecord) -> tuple[dict[str, Any], Message]:
    message = _message(event, record)
    return json.loads(channel.request(event, message, record).body), message


def _assert_inert_markdown(text: str, message: Message) -> None:
    for live in ("<!channel>", "<@U123>", "<at", "<font", "](http", "[click here]", "**bold**", "`code`", "<http"):
        assert live not in text, live
    lines = text.split("\n")
    assert not any(line.startswith(FORGED_ROW) for line in lines)
    rows = [line for line in lines if line.startswith("- **")]
    assert len(rows) == len(message.rows)  # one line per row: a name cannot add one
    assert "web-1" in text  # the name is still shown


@pytest.mark.parametrize(("event", "record"), _records())
def test_dingtalk_markdown_holds_no_live_mention_link_or_forged_row(event: str, record: IncidentRecord) -> None:
    body, message = _body(DingTalk("https://oapi.dingtalk.com/robot/send?access_token=t"), event, record)
    _assert_inert_markdown(body["markdown"]["text"], message)
    assert "\n" not in body["markdown"]["title"]


@pytest.mark.parametrize(("event", "record"), _records())
def test_wecom_markdown_holds_no_live_mention_link_or_forged_row(event: str, record: IncidentRecord) -> None:
    body, message = _body(WeCom("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"), event, record)
    _assert_inert_markdown(body["markdown"]["content"], message)


@pytest.mark.parametrize(("event", "record"), _records())
def test_feishu_card_holds_no_live_mention_link_or_forged_row(event: str, record: IncidentRecord) -> None:
    body, message = _body(Feishu("https://open.feishu.cn/open-apis/bot/v2/hook/h"), event, record)
    card = body["card"]
    _assert_inert_markdown(card["elements"][0]["content"], message)
    assert "\n" not in card["header"]["title"]["content"]  # plain text: shown as written, on one line


@pytest.mark.parametrize(("event", "record"), _records())
def test_slack_mrkdwn_holds_no_live_mention_link_or_forged_row(event: str, record: IncidentRecord) -> None:
    body, message = _body(Slack("https://hooks.slack.com/services/T/B/x"), event, record)
    for text in (body["text"], body["blocks"][0]["text"]["text"]):
        assert not re.search(r"<[^>]*>", text), text  # no <...> token at all: no mention, link or date
        assert "&lt;!channel&gt;" in text  # shown as text
    mrkdwn = body["blocks"][0]["text"]["text"]
    lines = mrkdwn.split("\n")
    assert not any(line.startswith(("• *IP*: 6.6.6.6", FORGED_ROW)) for line in lines)
    assert len([line for line in lines if line.startswith("• *")]) == len(message.rows)
    assert "\n" not in body["text"]
