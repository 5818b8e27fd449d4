"""The RPC gateway's XML answer: the same body as the JSON answer, in the shape Aliyun's XML has.

``render(body, root)`` turns a JSON body dict into ``<?xml version='1.0' encoding='UTF-8'?><root>...</root>``
as UTF-8 bytes, on one line (the real answers carry no indentation). The mapping is the one the
gateway's two formats share:

- a dict value is an element with one child per key, in the dict's order;
- a list value under key ``K`` repeats ``<K>`` once per item: ``{"Instances": {"Instance": [a, b]}}``
  -> ``<Instances><Instance>a</Instance><Instance>b</Instance></Instances>``; an empty list adds
  nothing, so ``{"IpAddress": []}`` under ``PrivateIpAddress`` gives ``<PrivateIpAddress/>``;
- booleans are ``true``/``false``, numbers are written as in the JSON answer, ``None`` is an empty
  element, strings are escaped (``&``, ``<``, ``>``; a carriage return as ``&#13;`` so that it
  survives parsing) and written as UTF-8, not as character references;
- characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates) become U+FFFD, so the
  document is always well-formed.

Success answers use ``<ActionName>Response`` as the root (``root_for``), errors ``<Error>``. Keys
must be XML names (every key the emulator answers is a PascalCase API field); any other raises
``ValueError``.
"""

from __future__ import annotations

import json
import re
from typing import Any

DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>"
CONTENT_TYPE = "text/xml;charset=utf-8"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def root_for(action: str, status: int) -> str:
    """``<Action>Response`` for a 2xx answer, ``Error`` for any other."""
    return f"{action}Response" if 200 <= status < 300 and action else "Error"


def render(body: dict[str, Any], root: str) -> bytes:
    """The XML document for ``body`` under the element ``root``, UTF-8 encoded."""
    parts = [DECLARATION]
    _element(parts, root, body)
    return "".join(parts).encode("utf-8")


def _element(parts: list[str], name: str, value: Any) -> None:
    if isinstance(value, list):  # a list repeats its own element name
        for item in value:
            _element(parts, name, item)
        return
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not an XML element name")
    if isinstance(value, dict):
        if not value:
            parts.append(f"<{name}/>")
            return
        start = len(parts)
        parts.append(f"<{name}>")
        for key, child in value.items():
            _element(parts, str(key), child)
        if len(parts) == start + 1:  # only empty lists inside: nothing was written
            parts[start] = f"<{name}/>"
        else:
            parts.append(f"</{name}>")
        return
    if value is None:
        parts.append(f"<{name}/>")
        return
    parts.append(f"<{name}>{_text(value)}</{name}>")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return _NOT_XML.sub("\ufffd", str(value)).translate(_ESCAPES)
