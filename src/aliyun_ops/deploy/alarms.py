"""CloudMonitor alarm rules on the deployed function: ``python -m aliyun_ops.deploy.alarms --function NAME``.

Every alert the engine sends comes from inside the function; a function that cannot start, keeps failing,
is throttled or loses events says nothing itself. Function Compute reports those as CloudMonitor metrics
(namespace ``acs_fc``), and fc3 (``s deploy``) cannot create alarm rules, so s.yaml's post-deploy step runs
this module: one rule per metric below, sent to the alert contact group named by
``ALIYUN_OPS_ALARM_CONTACT_GROUP`` (CloudMonitor then notifies its contacts by email, SMS, DingTalk, as set
on the group).

Idempotent: each rule has a fixed ID derived from the region, the function and the metric, and
PutResourceMetricRule modifies the rule that has that ID, so a second deploy updates, never duplicates.
Runs with the deployer's credentials (the official default chain: ALIBABA_CLOUD_* environment, the aliyun
CLI profile, ...), never the function's role, which has no business editing alarms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CONTACT_GROUP_ENV = "ALIYUN_OPS_ALARM_CONTACT_GROUP"
NAMESPACE = "acs_fc"
PERIOD_S = 60  # FC metrics are aggregated per minute

Call = Callable[[str, str, dict[str, Any]], dict[str, Any]]


class AlarmSetupError(Exception):
    """What the person running the deploy must fix; printed as one line."""


@dataclass(frozen=True)
class Alarm:
    """One rule: the metric (a per-minute count), and the sentence the alert's email subject carries."""

    key: str
    metric: str
    subject: str
    threshold: int = 1  # any occurrence in a minute


ALARMS: tuple[Alarm, ...] = (
    Alarm("function-errors", "FunctionFunctionErrors",
          "aliyun-ops {function} ({region}): the function failed (exception, timeout, or it could not start)"),
    Alarm("server-errors", "FunctionServerErrors",
          "aliyun-ops {function} ({region}): Function Compute could not run the function (server error)"),
    Alarm("throttles", "FunctionConcurrencyThrottles",
          "aliyun-ops {function} ({region}): invocations throttled (instance limit reached)"),
    Alarm("async-dropped", "FunctionAsyncEventExpiredDropped",
          "aliyun-ops {function} ({region}): events dropped unprocessed (expired in the async queue)"),
)


def rule_id(region: str, function: str, alarm: Alarm) -> str:
    """Stable across deploys: the same function in the same region always names the same rules."""
    return f"aliyun-ops-{region}-{function}-{alarm.key}"


def rule_params(alarm: Alarm, *, region: str, function: str, contact_group: str) -> dict[str, Any]:
    """PutResourceMetricRule's request (API parameter names, as the SDK's ``from_map`` takes them)."""
    return {
        "RuleId": rule_id(region, function, alarm),
        "RuleName": rule_id(region, function, alarm),
        "Namespace": NAMESPACE,
        "MetricName": alarm.metric,
        "Resources": json.dumps([{"region": region, "functionName": function}], separators=(",", ":")),
        "ContactGroups": contact_group,
        "Period": str(PERIOD_S),
        "Escalations": {"Critical": {
            "Statistics": "Sum",
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": str(alarm.threshold),
            "Times": 1,
        }},
        "NoDataPolicy": "KEEP_LAST_STATE",  # no invocation, no data: not an alarm by itself
        "SilenceTime": 3600,  # one reminder an hour while it lasts
        "EmailSubject": alarm.subject.format(function=function, region=region),
    }


def contact_group(environ: Mapping[str, str] | None = None) -> str:
    """The alert contact group; an alarm that reaches nobody is refused rather than created."""
    env = os.environ if environ is None else environ
    name = env.get(CONTACT_GROUP_ENV, "").strip()
    if not name:
        raise AlarmSetupError(
            f"{CONTACT_GROUP_ENV} is not set: create an alert contact group in CloudMonitor (console: "
            "Alerts > Alert Contacts > Alert Contact Group), add the people to warn, and export its name"
        )
    return name


def put_alarms(call: Call, *, region: str, function: str, group: str) -> list[str]:
    """Create or update every rule; returns their IDs."""
    done = []
    for alarm in ALARMS:
        params = rule_params(alarm, region=region, function=function, contact_group=group)
        answer = call("cms", "PutResourceMetricRule", params)
        if answer.get("Success") not in (True, "true"):
            raise AlarmSetupError(f"PutResourceMetricRule {params['RuleId']}: {answer.get('Message') or answer}")
        done.append(params["RuleId"])
    return done


def _sdk_call(region: str) -> Call:
    """The official CMS SDK through ``cloud.sdk`` (the one place that talks to the SDKs), deployer credentials."""
    from aliyun_ops.cloud.sdk import Sdk
    from aliyun_ops.config import Settings, credentials_from_default_chain, credentials_from_env

    credentials = credentials_from_env() or credentials_from_default_chain()
    if credentials is None:
        raise AlarmSetupError(
            "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET or configure the aliyun CLI (`aliyun configure`)"
        )
    return Sdk(credentials, Settings.from_env(region_id=region)).call


def main(argv: Sequence[str] | None = None, call: Call | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aliyun_ops.deploy.alarms", description=__doc__.split("\n")[0])
    parser.add_argument("--function", default="aliyun-ops", help="the function's name (s.yaml: vars.functionName)")
    parser.add_argument("--region", default=None, help="default: ALIYUN_OPS_REGION, else cn-hangzhou")
    args = parser.parse_args(argv)
    region = args.region or os.environ.get("ALIYUN_OPS_REGION", "").strip() or "cn-hangzhou"
    try:
        group = contact_group()
        ids = put_alarms(call or _sdk_call(region), region=region, function=args.function, group=group)
    except AlarmSetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # the SDK's errors: code and message, never a traceback with request details
        code = getattr(err, "code", None) or type(err).__name__
        print(f"error: CloudMonitor refused the alarm rules ({code}): {getattr(err, 'message', err)}", file=sys.stderr)
        return 1
    print(f"{len(ids)} CloudMonitor alarm rules on {args.function} ({region}) -> contact group {group!r}:")
    for rule in ids:
        print(f"  {rule}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
