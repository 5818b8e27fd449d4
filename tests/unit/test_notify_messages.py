"""The text people read: before/after values, failure reason and advice, zh and en; the env table."""

from __future__ import annotations

import pytest

from aliyun_ops.models import IncidentRecord, InstanceSummary
from aliyun_ops.notify import build_notifier
from aliyun_ops.notify.config import ENV_VARS, NotifySettings
from aliyun_ops.notify.messages import default_advice, finished_message, started_message

BEFORE = InstanceSummary("i-old001", "ecs.c7.large", "cn-hangzhou-h", name="web-1", cpu=2, memory_gib=4,
                         spot_price=0.1234, public_ip="47.96.0.10", private_ip="172.16.0.5")
AFTER = InstanceSummary("i-new002", "ecs.g7.large", "cn-hangzhou-i", name="web-1", cpu=2, memory_gib=8,
                        spot_price=0.2345, public_ip="47.96.0.10", private_ip="172.16.1.9")


def replaced() -> IncidentRecord:
    return IncidentRecord("inc-7", "i-old001", "cn-hangzhou", started_at=1000.0, finished_at=1095.0,
                          status="replaced", new_instance_id="i-new002", before=BEFORE, after=AFTER, image_id="m-abc")


def failed(
    reason: str, tried: list[str] | None = None, advice: str = "", image_id: str | None = None
) -> IncidentRecord:
    return IncidentRecord("inc-8", "i-old001", "cn-hangzhou", status="failed", reason=reason, advice=advice,
                          tried=tried or [], before=BEFORE, image_id=image_id)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_success_shows_every_before_after_pair(lang: str) -> None:
    msg = finished_message(replaced(), lang)
    rows = dict(msg.rows)
    assert msg.ok is True
    assert "i-old001 → i-new002" in rows.values()
    assert "ecs.c7.large → ecs.g7.large" in rows.values()
    assert "cn-hangzhou-h → cn-hangzhou-i" in rows.values()
    assert "¥0.1234/h → ¥0.2345/h" in rows.values()
    assert "47.96.0.10 → 47.96.0.10" in rows.values()
    assert "m-abc" in rows.values()
    for rendered in (msg.markdown(), msg.slack(), msg.text()):
        assert "ecs.c7.large → ecs.g7.large" in rendered and "web-1" in rendered


def test_language_changes_the_words_not_the_facts() -> None:
    zh, en = finished_message(replaced(), "zh"), finished_message(replaced(), "en")
    assert "已替换" in zh.title and "规格" in zh.markdown()
    assert "replaced" in en.title and "Type" in en.markdown() and "规格" not in en.markdown()
    assert ("耗时", "95 秒") in zh.rows and ("Took", "95 s") in en.rows
    assert [v for _, v in zh.rows if v != "95 秒"] == [v for _, v in en.rows if v != "95 s"]


def test_unknown_language_falls_back_to_chinese() -> None:
    assert "开始替换" in started_message(replaced(), "fr").title


def test_started_message_names_the_doomed_instance() -> None:
    msg = started_message(replaced(), "en")
    assert msg.ok is None
    assert "i-old001" in msg.title and "web-1" in msg.title
    assert ("Type", "ecs.c7.large") in msg.rows and ("Spot price", "¥0.1234/h") in msg.rows


def test_failure_carries_reason_tried_and_the_engines_advice() -> None:
    record = failed("all candidates refused", ["ecs.c7.large@cn-hangzhou-h: OperationDenied.NoStock"],
                    advice="Launch from image m-x by hand.")
    msg = finished_message(record, "en")
    assert msg.ok is False
    assert ("Reason", "all candidates refused") in msg.rows
    assert any("OperationDenied.NoStock" in v for _, v in msg.rows)
    assert msg.advice == "Launch from image m-x by hand."
    assert "Launch from image m-x by hand." in msg.markdown()


@pytest.mark.parametrize(("reason", "tried", "expect_en", "expect_zh"), [
    ("no candidate", ["ecs.c7.large@cn-hangzhou-h: OperationDenied.NoStock"], "pay-as-you-go", "按量付费"),
    ("RunInstances: Forbidden.RAM: not authorized", [], "ram-policy.json", "ram-policy.json"),
    ("DeadlineExceeded: 590 s", [], "reconcile", "巡检"),
    ("QuotaExceed.Image", [], "quota", "配额"),
    ("something odd", [], "inc-8", "inc-8"),
])
def test_default_advice_fits_the_failure(reason: str, tried: list[str], expect_en: str, expect_zh: str) -> None:
    assert expect_en in default_advice(failed(reason, tried), "en")
    assert expect_zh in default_advice(failed(reason, tried), "zh")


def test_advice_mentions_the_kept_image_only_when_there_is_one() -> None:
    assert "m-keep" in default_advice(failed("sold out", image_id="m-keep"), "en")
    assert "Image" not in default_advice(failed("sold out"), "en")


def test_ignored_incident_is_neither_success_nor_failure() -> None:
    record = IncidentRecord("inc-9", "i-1", "cn-hangzhou", status="ignored", reason="not a spot instance")
    msg = finished_message(record, "en")
    assert msg.ok is None and "not a spot instance" in msg.intro


def test_every_variable_is_in_the_one_table() -> None:
    assert set(ENV_VARS.values()) >= {
        "ALIYUN_OPS_NOTIFY_DINGTALK_URL", "ALIYUN_OPS_NOTIFY_DINGTALK_SECRET", "ALIYUN_OPS_NOTIFY_FEISHU_URL",
        "ALIYUN_OPS_NOTIFY_FEISHU_SECRET", "ALIYUN_OPS_NOTIFY_WECOM_URL", "ALIYUN_OPS_NOTIFY_SLACK_URL",
        "ALIYUN_OPS_NOTIFY_WEBHOOK_URL", "ALIYUN_OPS_NOTIFY_WEBHOOK_SECRET", "ALIYUN_OPS_NOTIFY_LANG",
    }


def test_settings_from_env_enable_channels_and_hide_secrets() -> None:
    env = {
        "ALIYUN_OPS_NOTIFY_DINGTALK_URL": "https://oapi.dingtalk.com/robot/send?access_token=tok-123",
        "ALIYUN_OPS_NOTIFY_DINGTALK_SECRET": "SECsecret-456",
        "ALIYUN_OPS_NOTIFY_SLACK_URL": "ftp://nope",
        "ALIYUN_OPS_NOTIFY_LANG": "EN_us",
        "ALIYUN_OPS_NOTIFY_TIMEOUT": "abc",
    }
    s = NotifySettings.from_env(env)
    assert s.dingtalk_secret == "SECsecret-456" and s.slack_url is None
    assert s.lang == "en" and s.timeout_s == 5.0
    notifier = build_notifier(env)
    assert [c.name for c in notifier.channels] == ["dingtalk"]
    for text in (repr(s), str(s), repr(notifier)):
        assert "tok-123" not in text and "secret-456" not in text


def test_no_channel_configured_means_a_silent_notifier() -> None:
    notifier = build_notifier({})
    assert notifier.channels == ()
    notifier.incident_started(replaced())
    notifier.incident_finished(replaced())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_data_disks_row_shows_old_and_new_device_names_and_warns_when_one_changed(lang: str) -> None:
    record = replaced()
    record.data_disks = [
        "/dev/xvdb: d-1 (20 GiB cloud_essd) at /dev/xvdb",
        "/dev/xvdd: d-2 (40 GiB cloud_essd) at /dev/xvdc",
    ]
    rows = finished_message(record, lang).rows
    assert "/dev/xvdb (d-1); /dev/xvdd → /dev/xvdc (d-2)" in [v for _, v in rows]
    assert any("UUID" in v for _, v in rows)
    record.data_disks = ["/dev/xvdb: d-1 (20 GiB cloud_essd) at /dev/xvdb"]
    rows = finished_message(record, lang).rows
    assert "/dev/xvdb (d-1)" in [v for _, v in rows] and not any("UUID" in v for _, v in rows)
