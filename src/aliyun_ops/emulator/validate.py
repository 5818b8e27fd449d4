"""Every request is checked against the official API specification before it reaches a response function.

``validate(product, action, params)`` raises the cloud's own error (code, HTTP status, message) for the
first violation it finds, and returns None for a request the specification accepts:

- a required parameter missing or empty -> ``MissingParameter`` (400, 'The input parameter "X" that is
  mandatory for processing this request is not supplied.') unless the action documents another code;
- a value of the wrong type (Integer/Long not an integer, Float not a number, Boolean not true/false in
  any case), also inside RepeatList items (``DataDisk.2.Size``) -> ``InvalidParameter`` (400);
- a value outside its stated range or enum (a comma-separated enum checked item by item), a string
  outside its length, prefix, character or hostname rules -> the documented code, else
  ``InvalidParameter``;
- more list items than allowed (``Tag.N``, ``InstanceTypes.N``, a JSON-array string) -> the documented
  code, else ``InvalidParameter``.

Parameters the specification does not know are ignored, as the real gateway does; so are empty values
of optional parameters. The rules come only from the shipped ``spec/spec.json`` (derived from the
official metadata by ``spec/derive.py``), compiled once, on first use.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aliyun_ops.emulator.core import EmulatorError

SPEC_PATH = Path(__file__).parent / "spec" / "spec.json"

MISSING = 'The input parameter "{}" that is mandatory for processing this request is not supplied.'
Params = dict[str, str]
Check = Callable[[str], bool]

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_HOST_SEGMENT = re.compile(r"[A-Za-z0-9-]+")
_SEQUENCE = re.compile(r"\[\d+,\d+\]")  # batch naming "name_prefix[begin_number,bits]name_suffix"


def hostname_ok(value: str) -> bool:
    """RunInstances HostName (Linux rules; the OS is not known here): 2-64 characters, no leading or
    trailing '.'/'-', no '..' or '--', '.'-separated segments of letters, digits and '-'; the
    ``${instance_id}`` placeholder and the sequential-name pattern ``[begin,bits]`` allowed."""
    name = _SEQUENCE.sub("0", value.replace("${instance_id}", "i-0"))
    if not 2 <= len(name) <= 64 or name[0] in ".-" or name[-1] in ".-" or ".." in name or "--" in name:
        return False
    return all(_HOST_SEGMENT.fullmatch(segment) for segment in name.split("."))


RULES: dict[str, Check] = {"hostname": hostname_ok}


@dataclass(frozen=True)
class Rule:
    """One parameter (or RepeatList item field), compiled."""

    name: str
    type: str
    required: bool = False
    checks: tuple[Check, ...] = ()
    max_items: int | None = None
    list_string: bool = False
    items: dict[str, Rule] = field(default_factory=dict)
    errors: dict[str, tuple[str, int, str | None]] = field(default_factory=dict)

    def type_ok(self, value: str) -> bool:
        if self.type in ("Integer", "Long"):
            return _INTEGER.fullmatch(value) is not None
        if self.type == "Float":
            return _NUMBER.fullmatch(value) is not None
        if self.type == "Boolean":
            return value.lower() in ("true", "false")
        return True


@dataclass(frozen=True)
class ActionRules:
    exact: dict[str, Rule]  # scalar parameters by their flat name ("SystemDisk.Category" included)
    lists: dict[str, Rule]  # RepeatList parameters by name ("Tag" for Tag.N.Key)
    required: tuple[Rule, ...]


def _value_checks(entry: dict[str, Any]) -> tuple[Check, ...]:
    checks: list[Check] = []
    numeric = entry["type"] in ("Integer", "Long", "Float")
    if "enum" in entry:
        if entry["type"] in ("Integer", "Long"):
            allowed_ints = frozenset(int(v) for v in entry["enum"])
            checks.append(lambda v: int(v) in allowed_ints)
        elif entry.get("csv"):
            allowed = frozenset(entry["enum"])
            checks.append(lambda v: all(part.strip() in allowed for part in v.split(",") if part.strip()))
        else:
            allowed = frozenset(entry["enum"])
            checks.append(lambda v: v in allowed)
    if numeric and "min" in entry:
        low = float(entry["min"])
        checks.append(lambda v: float(v) >= low)
    if numeric and "max" in entry:
        high = float(entry["max"])
        checks.append(lambda v: float(v) <= high)
    if "minLen" in entry:
        min_len = int(entry["minLen"])
        checks.append(lambda v: len(v) >= min_len)
    if "maxLen" in entry:
        max_len = int(entry["maxLen"])
        checks.append(lambda v: len(v) <= max_len)
    if "noPrefix" in entry:
        prefixes = tuple(p.lower() for p in entry["noPrefix"])
        checks.append(lambda v: not v.lower().startswith(prefixes))
    if "noContain" in entry:
        parts = tuple(p.lower() for p in entry["noContain"])
        checks.append(lambda v: not any(p in v.lower() for p in parts))
    if entry.get("startLetter"):
        checks.append(lambda v: v[:1].isalpha())
    if entry.get("ascii"):
        checks.append(str.isascii)
    if "rule" in entry:
        checks.append(RULES[entry["rule"]])
    return tuple(checks)


def _rule(name: str, entry: dict[str, Any]) -> Rule:
    return Rule(
        name=name,
        type=entry["type"],
        required=bool(entry.get("required")),
        checks=_value_checks(entry),
        max_items=entry.get("maxItems"),
        list_string=bool(entry.get("list")),
        items={sub: _rule(sub, rule) for sub, rule in (entry.get("items") or {}).items()},
        errors={kind: (str(e[0]), int(e[1]), e[2]) for kind, e in (entry.get("err") or {}).items()},
    )


@functools.lru_cache(maxsize=1)
def compiled() -> dict[tuple[str, str], ActionRules]:
    """Every action of the shipped spec, compiled (once per process)."""
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    out: dict[tuple[str, str], ActionRules] = {}
    for product, actions in spec["actions"].items():
        for action, params in actions.items():
            rules = {name: _rule(name, entry) for name, entry in params.items()}
            out[(product, action)] = ActionRules(
                exact={n: r for n, r in rules.items() if r.type != "RepeatList"},
                lists={n: r for n, r in rules.items() if r.type == "RepeatList"},
                required=tuple(r for r in rules.values() if r.required),
            )
    return out


def _error(rule: Rule, kind: str, default_code: str, message: str) -> EmulatorError:
    code, status, documented = rule.errors.get(kind, (default_code, 400, None))
    return EmulatorError(documented or message, code=code, http_status=status)


def _invalid(rule: Rule, kind: str, key: str) -> EmulatorError:
    return _error(rule, kind, "InvalidParameter", f'The specified parameter "{key}" is not valid.')


def _too_many(rule: Rule, key: str) -> EmulatorError:
    message = f'The specified parameter "{key}" is not valid: at most {rule.max_items} items are allowed.'
    return _error(rule, "count", "InvalidParameter", message)


def _present(rule: Rule, params: Params) -> bool:
    if params.get(rule.name):
        return True
    if rule.type != "RepeatList":
        return False
    prefix = rule.name + "."
    return any(value and key.startswith(prefix) for key, value in params.items())


def _list_length(value: str) -> int:
    """Items of a list sent in one string: a JSON array, else comma-separated values."""
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, list):
        return len(parsed)
    return len([v for v in value.split(",") if v.strip()])


def _check(rule: Rule, key: str, value: str) -> None:
    if not rule.type_ok(value):
        raise _invalid(rule, "type", key)
    if not all(check(value) for check in rule.checks):
        raise _invalid(rule, "value", key)
    if rule.list_string and rule.max_items is not None and _list_length(value) > rule.max_items:
        raise _too_many(rule, key)


def _check_item(rule: Rule, key: str, field_path: str, value: str) -> None:
    """``Tag.N.<field_path>``: the item field's own rules (a nested list element is not checked)."""
    name, _, nested = field_path.partition(".")
    item = rule.items.get(name)
    if item is not None and not nested:
        _check(item, key, value)


def validate(product: str, action: str, params: Params) -> None:
    """Raise the cloud's error for the first violation of the action's specification; see the module."""
    rules = compiled().get((product, action))
    if rules is None:
        return
    missing = next((rule for rule in rules.required if not _present(rule, params)), None)
    if missing is not None:
        raise _error(missing, "missing", "MissingParameter", MISSING.format(missing.name))
    indices: dict[str, set[str]] = {}
    for key, value in params.items():
        if value != "":
            _check_param(rules, key, value, indices)
    for head, seen in indices.items():
        rule = rules.lists[head]
        if rule.max_items is not None and len(seen) > rule.max_items:
            raise _too_many(rule, f"{head}.N")


def _check_param(rules: ActionRules, key: str, value: str, indices: dict[str, set[str]]) -> None:
    """One flat query field: a scalar (``SystemDisk.Category``), a list item (``Tag.2.Key``,
    ``InstanceTypes.3``, whose index is noted in ``indices``), a whole list as a JSON string, or unknown."""
    scalar = rules.exact.get(key)
    if scalar is not None:
        _check(scalar, key, value)
        return
    head, _, rest = key.partition(".")
    rule = rules.lists.get(head)
    if rule is None:
        return
    if not rest:
        if rule.max_items is not None and _list_length(value) > rule.max_items:
            raise _too_many(rule, key)
        return
    index, _, field_path = rest.partition(".")
    if index.isdigit():
        indices.setdefault(head, set()).add(index)
        if field_path:
            _check_item(rule, key, field_path, value)
