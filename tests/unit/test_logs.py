"""The function's logs are JSON lines with the fields a log service indexes."""

from __future__ import annotations

import io
import json
import logging

import pytest

from aliyun_ops.logs import configure_json_logging, wants_json


def test_every_line_is_a_json_object_with_time_level_logger_message_and_extras() -> None:
    root = logging.getLogger()
    ours = logging.getLogger("aliyun_ops")
    saved = (root.handlers[:], root.level, [h.formatter for h in root.handlers], ours.level)
    stream = io.StringIO()
    root.handlers = []
    try:
        configure_json_logging(stream=stream)
        log = logging.getLogger("aliyun_ops.runtime")
        log.info("request %s: %s", "rid-1", "replaced", extra={"request_id": "rid-1"})
        log.warning("替换失败: 库存不足")
    finally:
        root.handlers, root.level, ours.level = saved[0], saved[1], saved[3]
        for handler, formatter in zip(saved[0], saved[2], strict=True):
            handler.setFormatter(formatter)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["level"], x["logger"]) for x in lines] == [
        ("INFO", "aliyun_ops.runtime"),
        ("WARNING", "aliyun_ops.runtime"),
    ]
    assert lines[0]["message"] == "request rid-1: replaced" and lines[0]["request_id"] == "rid-1"
    assert lines[1]["message"] == "替换失败: 库存不足" and lines[0]["time"]


@pytest.mark.parametrize(
    ("env", "default", "expected"), [("", True, True), ("", False, False), ("text", True, False), ("JSON", False, True)]
)
def test_log_format_switch(monkeypatch: pytest.MonkeyPatch, env: str, default: bool, expected: bool) -> None:
    monkeypatch.setenv("ALIYUN_OPS_LOG_FORMAT", env)
    assert wants_json(default) is expected
