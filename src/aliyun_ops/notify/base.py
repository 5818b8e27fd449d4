"""What every channel shares: one JSON POST with a short timeout, a per-service success check, and
logging that never shows a webhook token or a signing secret.

A channel builds its request (``request``) and judges the answer (``check``); ``send`` raises
``NotifyFailed`` on any failure and the fan-out in ``notify/__init__.py`` logs it and carries on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from aliyun_ops.models import IncidentRecord
from aliyun_ops.notify.messages import Message


class NotifyFailed(Exception):
    """A notification was not accepted. Its text never holds a URL token or a secret."""


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def redact_url(url: str) -> str:
    """``https://oapi.dingtalk.com/…``: the host is useful in a log, the path and query carry tokens."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def hmac_sha256_b64(key: str, message: str) -> str:
    digest = hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _RedactHttpxUrls(logging.Filter):
    """httpx logs ``HTTP Request: POST <full URL>`` at INFO: the URL of a robot carries its token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_url(str(a)) if isinstance(a, httpx.URL) or str(a).startswith(("http://", "https://")) else a
                for a in record.args
            )
        return True


def _install_httpx_redaction() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactHttpxUrls) for f in logger.filters):
        logger.addFilter(_RedactHttpxUrls())


_install_httpx_redaction()


class Channel(ABC):
    """One configured destination. Subclasses say how to build the request and how success looks."""

    name = "channel"

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.secret = secret
        self.timeout_s = timeout_s
        self.clock = clock
        self.transport = transport  # tests may inject one; the default is a real socket

    def __repr__(self) -> str:
        signed = ", signed" if self.secret else ""
        return f"{type(self).__name__}({redact_url(self.url)}{signed})"

    @abstractmethod
    def request(self, event: str, message: Message, record: IncidentRecord) -> Request:
        """The HTTP request that delivers ``message`` (``event`` is "started" or "finished")."""

    def check(self, response: httpx.Response) -> None:
        """Raise ``NotifyFailed`` unless the service accepted the message (default: any 2xx)."""
        if not response.is_success:
            raise NotifyFailed(f"HTTP {response.status_code}")

    def send(self, event: str, message: Message, record: IncidentRecord) -> None:
        req = self.request(event, message, record)
        headers = {"Content-Type": "application/json; charset=utf-8", **req.headers}
        try:
            with httpx.Client(timeout=self.timeout_s, transport=self.transport) as client:
                response = client.post(req.url, content=req.body, headers=headers)
        except httpx.HTTPError as exc:  # the text of some httpx errors quotes the URL: keep only the kind
            raise NotifyFailed(type(exc).__name__) from None
        self.check(response)


def json_answer(response: httpx.Response) -> Any:
    """The robot's JSON answer to a successful HTTP call; NotifyFailed otherwise."""
    if not response.is_success:
        raise NotifyFailed(f"HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise NotifyFailed(f"HTTP {response.status_code}, not JSON") from None


def check_errcode(response: httpx.Response, key: str = "errcode") -> None:
    """DingTalk and WeCom answer HTTP 200 with ``{"errcode": N, "errmsg": ...}``; N != 0 is a refusal."""
    answer = json_answer(response)
    code = answer.get(key, 0) if isinstance(answer, dict) else 0
    if code not in (0, "0", None):
        message = str(answer.get("errmsg") or answer.get("msg") or "")[:200]
        raise NotifyFailed(f"{key}={code}: {message}")
