"""RAM policy enforcement per action and per resource, so a least-privilege policy can be tested before
deploying.

A policy document is ``{"Version": "1", "Statement": [{"Effect": "Allow"|"Deny", "Action": ...,
"Resource": ..., "Condition": ...}]}``. A call is allowed when, for every resource it touches, some Allow
statement matches it and no Deny statement does (Deny wins; nothing matching = implicit deny,
``Forbidden.RAM`` 403).

- Action patterns use ``*`` and ``?`` and are case-insensitive, as RAM's are.
- Resource patterns (ARNs such as ``acs:ecs:cn-hangzhou:*:instance/*``) use ``*`` and ``?`` against the
  ARN of the resource the call touches (``ram_resources``); a missing ``Resource`` means ``*``. A call that
  touches no particular resource (lists, creations) is checked against the resource ``*``, which only the
  pattern ``*`` matches: RAM documents such actions as "All Resources" (e.g. ecs:RunInstances).
- Conditions: ``StringEquals``, ``StringNotEquals``, ``StringLike``, ``StringNotLike`` on the resource's
  tags, under ``ecs:tag/<key>`` or ``acs:ResourceTag/<key>``, and on the tags the request writes
  (``Tag.N.Key``/``Tag.N.Value`` of TagResources and of the creations), under ``acs:RequestTag/<key>`` (key
  names case-insensitive). A key absent (from the resource, or from the request: UntagResources names keys
  without values and carries none) fails the positive operators and passes the negated ones. Any other
  operator or key (``acs:TagKeys``, ``ForAnyValue:``/``ForAllValues:``...) is refused when the policy is
  loaded, so a test can never pass on a condition the emulator ignored.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .core import EmulatorError

OPERATORS = frozenset({"stringequals", "stringnotequals", "stringlike", "stringnotlike"})
TAG_KEY_PREFIXES = ("ecs:tag/", "acs:resourcetag/")  # the resource's tags
REQUEST_TAG_PREFIX = "acs:requesttag/"  # the tags the request writes
CONDITION_KEY_PREFIXES = (*TAG_KEY_PREFIXES, REQUEST_TAG_PREFIX)


class ForbiddenRam(EmulatorError):
    code = "Forbidden.RAM"
    http_status = 403
    default_message = "User not authorized to operate on the specified resource, or this API doesn't support RAM."


@dataclass(frozen=True)
class Resource:
    """What a call touches: its ARN and tags (``*`` for a call on no particular resource), and the tags the
    call writes on it (``request_tags``, the same for every resource of one call)."""

    arn: str
    tags: Mapping[str, str] = field(default_factory=dict)
    request_tags: Mapping[str, str] = field(default_factory=dict)

    def context(self) -> dict[str, str]:
        """The condition keys this resource and request answer, lower-case."""
        keys: dict[str, str] = {}
        for key, value in self.tags.items():
            for prefix in TAG_KEY_PREFIXES:
                keys[f"{prefix}{key}".lower()] = value
        for key, value in self.request_tags.items():
            keys[f"{REQUEST_TAG_PREFIX}{key}".lower()] = value
        return keys


ANY = Resource("*")


@dataclass(frozen=True)
class Condition:
    operator: str  # lower-case, one of OPERATORS
    key: str  # lower-case
    values: tuple[str, ...]

    def holds(self, context: Mapping[str, str]) -> bool:
        value = context.get(self.key)
        negated = "not" in self.operator
        if value is None:
            return negated
        if self.operator.endswith("like"):
            hit = any(fnmatch.fnmatchcase(value, pattern) for pattern in self.values)
        else:
            hit = value in self.values
        return hit != negated


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" or "Deny"
    patterns: tuple[str, ...]  # lower-case "product:Action" patterns
    resources: tuple[str, ...] = ("*",)
    conditions: tuple[Condition, ...] = ()

    def matches(self, product: str, action: str, resource: Resource = ANY) -> bool:
        name = f"{product}:{action}".lower()
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns):
            return False
        if not any(fnmatch.fnmatchcase(resource.arn, pattern) for pattern in self.resources):
            return False
        context = resource.context()
        return all(condition.holds(context) for condition in self.conditions)


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

    def allows(self, product: str, action: str, resource: Resource = ANY) -> bool:
        matching = [s for s in self.statements if s.matches(product, action, resource)]
        if any(s.effect == "Deny" for s in matching):
            return False
        return any(s.effect == "Allow" for s in matching)

    def check(self, product: str, action: str, resources: Sequence[Resource] = (ANY,)) -> None:
        """Raise ``Forbidden.RAM`` unless the action is allowed on every resource."""
        for resource in resources or (ANY,):
            if not self.allows(product, action, resource):
                raise ForbiddenRam()


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"statement {what} must be a string or a non-empty list of strings")
    return tuple(value)


def _parse_conditions(block: Any) -> tuple[Condition, ...]:
    if block is None:
        return ()
    if not isinstance(block, Mapping):
        raise ValueError("statement Condition must be an object")
    conditions = []
    for operator, pairs in block.items():
        if str(operator).lower() not in OPERATORS:
            raise ValueError(f"condition operator {operator!r} is not emulated (only {sorted(OPERATORS)})")
        if not isinstance(pairs, Mapping):
            raise ValueError(f"condition {operator} must map keys to values")
        for key, values in pairs.items():
            if not str(key).lower().startswith(CONDITION_KEY_PREFIXES):
                raise ValueError(f"condition key {key!r} is not emulated "
                                 "(only ecs:tag/<key>, acs:ResourceTag/<key>, acs:RequestTag/<key>)")
            conditions.append(Condition(str(operator).lower(), str(key).lower(), _strings(values, "condition value")))
    return tuple(conditions)


def _parse_statement(item: Any) -> Statement:
    if not isinstance(item, Mapping):
        raise ValueError("each RAM policy statement must be an object")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise ValueError("statement Effect must be Allow or Deny")
    return Statement(
        effect=effect,
        patterns=tuple(a.lower() for a in _strings(item.get("Action"), "Action")),
        resources=_strings(item.get("Resource", "*"), "Resource"),
        conditions=_parse_conditions(item.get("Condition")),
    )


def parse_policy(document: Mapping[str, Any] | None) -> RamPolicy | None:
    """None (no policy: everything allowed) or a parsed policy."""
    return None if document is None else RamPolicy(document)
