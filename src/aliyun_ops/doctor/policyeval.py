"""Does a set of RAM policy documents allow the requests the engine makes? Pure: documents in, verdicts out.

RAM's rule (RAM docs, "Policy evaluation"): a request is allowed when some Allow statement matches it and no
Deny statement does; Deny wins, nothing matching is an implicit deny. A statement matches when its
``Action`` (or everything but its ``NotAction``) and its ``Resource`` (or ``NotResource``; absent: ``*``)
patterns match, ``*`` and ``?`` as wildcards, actions case-insensitive.

What doctor cannot know is assumed, and said: a ``Condition`` depends on the request (the tags of the
instance touched, the tags written, the source IP, the time). An Allow with a condition is assumed to
match the engine's requests (the shipped policy's conditions are written for them), a Deny with one is
assumed not to; each assumption is listed with the action it was made for.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aliyun_ops.deploy import policy as shipped

# The resource kinds each engine action touches, from the shipped policy's own grouping (deploy.policy).
_KINDS: dict[str, tuple[str, ...]] = {}


def _add(actions: Iterable[str], *kinds: str) -> None:
    for action in actions:
        _KINDS[action] = tuple(dict.fromkeys([*_KINDS.get(action, ()), *kinds]))


_add(shipped.UNSCOPED, "*")
_add((*shipped.ON_INSTANCES, *shipped.ON_LAUNCHED), "ecs:instance")
_add((*shipped.ON_OWN_RESOURCES, *shipped.DELETE_OWN), "ecs:image", "ecs:snapshot", "ecs:disk")
_add(shipped.ON_EIPS, "vpc:eip")
_add(shipped.ON_VSWITCHES, "vpc:vswitch")
ENGINE_ACTIONS: dict[str, tuple[str, ...]] = dict(_KINDS)


@dataclass(frozen=True)
class Verdict:
    action: str
    resource: str
    allowed: bool
    assumed: tuple[str, ...] = field(default=())  # conditions assumed (see the module)


def arn(kind: str, region: str, account: str) -> str:
    """A resource of ``kind`` (``ecs:instance``...) in this region and account, as RAM names it."""
    if kind == "*":
        return "*"
    product, _, rtype = kind.partition(":")
    return f"acs:{product}:{region}:{account}:{rtype}/doctor-probe"


def role_arn(account: str, role_name: str) -> str:
    """The ARN RAM gives a role: no region (RAM API, GetRole ``Arn``)."""
    return f"acs:ram::{account}:role/{role_name}"


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _matches(patterns: Sequence[str], value: str, *, fold: bool) -> bool:
    probe = value.lower() if fold else value
    return any(fnmatch.fnmatchcase(probe, p.lower() if fold else p) for p in patterns)


def _statement_matches(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "NotAction" in statement:
        if _matches(_list(statement["NotAction"]), action, fold=True):
            return False
    elif not _matches(_list(statement.get("Action")), action, fold=True):
        return False
    if "NotResource" in statement:
        return not _matches(_list(statement["NotResource"]), resource, fold=False)
    resources = _list(statement.get("Resource", "*"))
    if resource == "*":  # "All Resources" actions: only the pattern * names them
        return "*" in resources
    return _matches(resources, resource, fold=False)


def statements(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for document in documents:
        found = document.get("Statement") or []
        out += [s for s in (found if isinstance(found, list) else [found]) if isinstance(s, dict)]
    return out


def evaluate(documents: Iterable[dict[str, Any]], action: str, resource: str) -> Verdict:
    """RAM's rule for one request (see the module for what is assumed)."""
    allowed = False
    assumed: list[str] = []
    for statement in statements(documents):
        if not _statement_matches(statement, action, resource):
            continue
        condition = statement.get("Condition")
        effect = str(statement.get("Effect", "")).lower()
        if effect == "deny":
            if not condition:
                return Verdict(action, resource, False, tuple(assumed))
            assumed.append(f"Deny {action} when {_show(condition)}: assumed not to apply")
        elif effect == "allow":
            if condition:
                assumed.append(f"Allow {action} when {_show(condition)}: assumed to hold")
            allowed = True
    return Verdict(action, resource, allowed, tuple(dict.fromkeys(assumed)))


def _show(condition: Any) -> str:
    if not isinstance(condition, dict):
        return str(condition)
    parts = [f"{op} {key}={value}" for op, keys in condition.items() if isinstance(keys, dict)
             for key, value in keys.items()]  # fmt: skip
    return ", ".join(parts) or str(condition)


def engine_verdicts(documents: Sequence[dict[str, Any]], region: str, account: str) -> list[Verdict]:
    """One verdict per (engine action, resource kind it touches)."""
    return [
        evaluate(documents, action, arn(kind, region, account))
        for action, kinds in sorted(ENGINE_ACTIONS.items())
        for kind in kinds
    ]
