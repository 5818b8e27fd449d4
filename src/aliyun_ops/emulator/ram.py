"""RAM policy enforcement at action level, so a least-privilege policy can be tested before deploying.

A policy document is ``{"Version": "1", "Statement": [{"Effect": "Allow"|"Deny", "Action": ...,
"Resource": ...}]}``. A call ``ecs:RunInstances`` is allowed when some Allow statement matches it and
no Deny statement does (Deny wins; nothing matching = implicit deny). Action patterns use ``*`` and
``?`` wildcards and are case-insensitive, as RAM's are. Resources and conditions are not evaluated:
every statement is taken to cover its actions on every resource.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .core import EmulatorError


class ForbiddenRam(EmulatorError):
    code = "Forbidden.RAM"
    http_status = 403
    default_message = "User not authorized to operate on the specified resource, or this API doesn't support RAM."


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" or "Deny"
    patterns: tuple[str, ...]  # lower-case "product:Action" patterns

    def matches(self, product: str, action: str) -> bool:
        name = f"{product}:{action}".lower()
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)


class RamPolicy:
    """A parsed policy document; construction raises ``ValueError`` on a malformed one."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        if not isinstance(document, Mapping):
            raise ValueError("a RAM policy must be a JSON object")
        if str(document.get("Version", "1")) != "1":
            raise ValueError("RAM policy Version must be \"1\"")
        statements = document.get("Statement")
        if not isinstance(statements, list):
            raise ValueError("RAM policy needs a Statement list")
        self.document = dict(document)
        self.statements = tuple(_parse_statement(item) for item in statements)

    def allows(self, product: str, action: str) -> bool:
        matching = [s for s in self.statements if s.matches(product, action)]
        if any(s.effect == "Deny" for s in matching):
            return False
        return any(s.effect == "Allow" for s in matching)

    def check(self, product: str, action: str) -> None:
        if not self.allows(product, action):
            raise ForbiddenRam()


def _parse_statement(item: Any) -> Statement:
    if not isinstance(item, Mapping):
        raise ValueError("each RAM policy statement must be an object")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise ValueError("statement Effect must be Allow or Deny")
    actions = item.get("Action")
    if isinstance(actions, str):
        actions = [actions]
    if not isinstance(actions, list) or not actions or not all(isinstance(a, str) for a in actions):
        raise ValueError("statement Action must be a string or a non-empty list of strings")
    return Statement(effect=effect, patterns=tuple(a.lower() for a in actions))


def parse_policy(document: Mapping[str, Any] | None) -> RamPolicy | None:
    """None (no policy: everything allowed) or a parsed policy."""
    return None if document is None else RamPolicy(document)
