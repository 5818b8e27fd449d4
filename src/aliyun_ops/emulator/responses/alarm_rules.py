"""CloudMonitor (cms 2019-01-01) threshold alert rules: PutResourceMetricRule and DescribeMetricRuleList.

What the official metadata (aliyun/aliyun-openapi-meta ``en-US/cms/*.json``) and the SDK's models say:

- PutResourceMetricRule requires ``RuleId``, ``RuleName``, ``Namespace``, ``MetricName`` and ``ContactGroups``
  (``MissingParameter`` otherwise); "if you specify a new ID, a threshold-triggered alert rule is created",
  an existing ID is modified (so one ID is always one rule); at least one of the Critical/Warn/Info levels
  must come with all of ``Statistics``, ``ComparisonOperator``, ``Threshold`` and ``Times``. The answer is
  ``{"Code": "200", "Message": "", "Success": true}``.
- DescribeMetricRuleList filters by ``RuleIds`` (comma-separated, at most 20), ``Namespace``,
  ``MetricName`` and ``RuleName``; pages with ``Page``/``PageSize`` (default 10); answers
  ``{"Code": 200, "Success": true, "Total": "<n>", "Alarms": {"Alarm": [...]}}`` (Total a string, Code an
  integer, as typed in the SDK's model), each rule with its escalations, contact groups and resources.

Assumed (no documented code): a rule with no complete level, or more than 20 ``RuleIds``, is refused with
``InvalidParameter``. Alarms never fire here: the emulator has no Function Compute metrics.
"""

from __future__ import annotations

from typing import Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator import params as p
from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.responses.base import Params, register

REQUIRED = ("RuleId", "RuleName", "Namespace", "MetricName", "ContactGroups")
LEVELS = ("Critical", "Warn", "Info")
LEVEL_FIELDS = ("Statistics", "ComparisonOperator", "Threshold", "Times")
KEPT = ("Resources", "Period", "Interval", "SilenceTime", "EmailSubject", "NoDataPolicy", "EffectiveInterval",
        "Webhook")


def _rules(backend: Backend) -> dict[str, dict[str, Any]]:
    """The account's alert rules by ID (one store per loaded world)."""
    return backend.metric_rules


def _escalations(params: Params) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for level in LEVELS:
        values = {f: (params.get(f"Escalations.{level}.{f}") or "").strip() for f in LEVEL_FIELDS}
        if all(values.values()):
            found[level] = {**values, "Times": int(values["Times"])}
    if not found:
        raise exc.InvalidParameter("At least one of the Critical, Warn and Info levels must set Statistics, "
                                   "ComparisonOperator, Threshold and Times.")
    return found


@register("cms", "PutResourceMetricRule")
def put_resource_metric_rule(backend: Backend, params: Params) -> dict[str, Any]:
    for name in REQUIRED:
        if not (params.get(name) or "").strip():
            raise exc.MissingParameter(
                f'The input parameter "{name}" that is mandatory for processing this request is not supplied.')
    rule: dict[str, Any] = {name: params[name].strip() for name in REQUIRED}
    rule.update({name: params[name] for name in KEPT if params.get(name)})
    rule["Escalations"] = _escalations(params)
    rule["EnableState"] = True
    _rules(backend)[rule["RuleId"]] = rule
    return {"Code": "200", "Message": "", "Success": True}


def _listed(rule: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in rule.items() if k != "EmailSubject"}
    if "EmailSubject" in rule:
        shown["MailSubject"] = rule["EmailSubject"]
    return shown


@register("cms", "DescribeMetricRuleList")
def describe_metric_rule_list(backend: Backend, params: Params) -> dict[str, Any]:
    found = list(_rules(backend).values())
    ids = [i.strip() for i in (p.get_str(params, "RuleIds") or "").split(",") if i.strip()]
    if len(ids) > 20:
        raise exc.InvalidParameter('The specified parameter "RuleIds" is not valid (at most 20).')
    if ids:
        found = [r for r in found if r["RuleId"] in ids]
    for name in ("Namespace", "MetricName", "RuleName"):
        wanted = p.get_str(params, name)
        if wanted:
            found = [r for r in found if r[name] == wanted]
    size = p.get_int(params, "PageSize", 10) or 10
    number = max(1, p.get_int(params, "Page", 1) or 1)
    chunk = found[(number - 1) * size: number * size]
    return {"Code": 200, "Success": True, "Total": str(len(found)), "Alarms": {"Alarm": [_listed(r) for r in chunk]}}
