"""JSON-lines logs for the function: one object per line (time, level, logger, message, and any
``extra=`` fields such as ``request_id``), which Function Compute's log service indexes as fields.

The custom runtime (``aliyun-ops serve``) always logs this way; the built-in runtime's handler does when
it runs on Function Compute (``FC_FUNCTION_NAME`` is set) or when ``ALIYUN_OPS_LOG_FORMAT=json``.
``ALIYUN_OPS_LOG_FORMAT=text`` keeps plain text. The CLI keeps its rich output for people.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import IO

LOG_FORMAT_ENV = "ALIYUN_OPS_LOG_FORMAT"
_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(_FIELDS, rename_fields=_RENAMES, json_ensure_ascii=False)


def wants_json(default: bool) -> bool:
    choice = os.environ.get(LOG_FORMAT_ENV, "").strip().lower()
    return default if choice not in ("json", "text") else choice == "json"


def configure_json_logging(level: int = logging.INFO, stream: IO[str] | None = None) -> None:
    """Every root handler writes JSON lines (FC's own handler is kept, only reformatted); if there is
    none, one to ``stream`` (stderr) is added. aliyun-ops' own loggers log at ``level``."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(stream or sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(json_formatter())
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    logging.getLogger("aliyun_ops").setLevel(level)
