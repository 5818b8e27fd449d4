"""Notification settings, read from the environment.

Every environment variable the notify package reads is named in ``ENV_VARS`` below, so that the
documentation, ``s.yaml`` and the tests have one table to agree with. A channel is enabled when its
URL is set; a bad value never stops a replacement (notifications are best effort): it is logged and
the channel (or the language) falls back to something safe.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

LANGUAGES = ("zh", "en")
DEFAULT_LANG = "zh"
DEFAULT_TIMEOUT_S = 5.0

# field name -> environment variable. The only place these names are spelled.
ENV_VARS: dict[str, str] = {
    "dingtalk_url": "ALIYUN_OPS_NOTIFY_DINGTALK_URL",  # https://oapi.dingtalk.com/robot/send?access_token=...
    "dingtalk_secret": "ALIYUN_OPS_NOTIFY_DINGTALK_SECRET",  # "SEC..." (robot security setting: sign)
    "feishu_url": "ALIYUN_OPS_NOTIFY_FEISHU_URL",  # https://open.feishu.cn/open-apis/bot/v2/hook/...
    "feishu_secret": "ALIYUN_OPS_NOTIFY_FEISHU_SECRET",  # bot security setting: signature verification
    "wecom_url": "ALIYUN_OPS_NOTIFY_WECOM_URL",  # https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...
    "slack_url": "ALIYUN_OPS_NOTIFY_SLACK_URL",  # https://hooks.slack.com/services/...
    "webhook_url": "ALIYUN_OPS_NOTIFY_WEBHOOK_URL",  # any endpoint that accepts a JSON POST
    "webhook_secret": "ALIYUN_OPS_NOTIFY_WEBHOOK_SECRET",  # signs the body (see notify/webhook.py)
    "lang": "ALIYUN_OPS_NOTIFY_LANG",  # zh | en (default zh)
    "timeout_s": "ALIYUN_OPS_NOTIFY_TIMEOUT",  # seconds per HTTP request (default 5)
}

_URL_FIELDS = ("dingtalk_url", "feishu_url", "wecom_url", "slack_url", "webhook_url")


@dataclass(frozen=True)
class NotifySettings:
    """Which channels are configured, in which language. ``repr`` hides URLs and secrets."""

    dingtalk_url: str | None = None
    dingtalk_secret: str | None = None
    feishu_url: str | None = None
    feishu_secret: str | None = None
    wecom_url: str | None = None
    slack_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    lang: str = DEFAULT_LANG
    timeout_s: float = DEFAULT_TIMEOUT_S

    def __repr__(self) -> str:
        enabled = [f.removesuffix("_url") for f in _URL_FIELDS if getattr(self, f)]
        return f"NotifySettings(channels={enabled}, lang={self.lang!r}, timeout_s={self.timeout_s})"

    __str__ = __repr__

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NotifySettings:
        """Read ``ENV_VARS`` from ``environ`` (default ``os.environ``); never raises."""
        env = os.environ if environ is None else environ
        raw = {field: (env.get(name) or "").strip() for field, name in ENV_VARS.items()}
        values: dict[str, str | None] = {}
        for field in _URL_FIELDS:
            values[field] = _valid_url(ENV_VARS[field], raw[field])
        for field in ("dingtalk_secret", "feishu_secret", "webhook_secret"):
            values[field] = raw[field] or None
        return cls(
            **values,
            lang=_lang(raw["lang"]),
            timeout_s=_timeout(raw["timeout_s"]),
        )


def _valid_url(name: str, value: str) -> str | None:
    """Accept http(s) URLs only; anything else disables the channel (logged without the value)."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        return value
    log.warning("notify: %s is not an http(s) URL; that channel is disabled", name)
    return None


def _lang(value: str) -> str:
    lang = value.lower().replace("_", "-").split("-")[0] if value else DEFAULT_LANG
    if lang in LANGUAGES:
        return lang
    log.warning("notify: %s=%r is not one of %s; using %s", ENV_VARS["lang"], value, LANGUAGES, DEFAULT_LANG)
    return DEFAULT_LANG


def _timeout(value: str) -> float:
    if not value:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if 0 < seconds <= 60:
        return seconds
    log.warning("notify: %s=%r is not a number of seconds in (0, 60]; using %s",
                ENV_VARS["timeout_s"], value, DEFAULT_TIMEOUT_S)
    return DEFAULT_TIMEOUT_S
