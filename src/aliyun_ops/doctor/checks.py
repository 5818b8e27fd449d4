"""Each question doctor answers, as a small pure function of facts already read (``doctor.gather``).

A check answers ``ok``, ``warn`` (doctor cannot tell, or it does not stop the next reclaim) or ``fail``
(the next reclaim, or the alert about it, would not work). ``doctor`` exits non-zero on any ``fail``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from aliyun_ops.doctor import policyeval

OK, WARN, FAIL = "ok", "warn", "fail"
INTERRUPTION = "ecs:Instance:PreemptibleInstanceInterruption"
# CreateSnapshot: "you cannot create snapshots for a disk [when] the number of manual snapshots of the disk has
# reached 256" (ECS API reference, CreateSnapshot). The image of a reclaimed instance is made of its disks'
# snapshots, and a moved disk in another zone is copied through one.
SNAPSHOTS_PER_DISK = 256
# Disks that cannot outlive their instance: DeleteWithInstance=false is refused for local disks and for
# disks that are not portable (ECS API reference, ModifyDiskAttribute ``DeleteWithInstance``).
LOCAL_DISK_PREFIXES = ("ephemeral", "local_")
ECS_SERVICE = "ecs.aliyuncs.com"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    target: str = "function"  # "function", or the instance id

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DiskFacts:
    disk_id: str
    kind: str
    category: str
    portable: bool
    delete_with_instance: bool
    manual_snapshots: int


@dataclass(frozen=True)
class InstanceFacts:
    instance_id: str
    name: str
    copy_mode: bool  # aops:data=copy: the data disks are imaged, not moved
    lock_reasons: tuple[str, ...]
    disks: tuple[DiskFacts, ...]
    ram_role: str | None
    role_found: dict[str, Any] | None  # RAM GetRole's Role, when the instance has a role
    key_pair: str | None
    password_inherit: str  # "accepted" | "refused" | "unknown: <why>" (RunInstances DryRun, PasswordInherit=true)
    chosen: str | None  # "type@zone" the plan would launch, or None
    skipped: tuple[str, ...] = field(default=())  # why the plan has no candidate


# -- the function ---------------------------------------------------------------------------------
def function_deployed(name: str, function: dict[str, Any] | None) -> Check:
    if function is None:
        return Check("function", FAIL, f"function {name} does not exist in this region: run `s deploy`")
    state = str(function.get("state") or "Active")
    if state not in ("Active", ""):
        reason = function.get("stateReason") or function.get("lastUpdateStatusReason") or ""
        return Check("function", FAIL, f"function {name} is {state}{': ' + reason if reason else ''}")
    return Check("function", OK, f"{name}: {function.get('runtime', '?')}, role {function.get('role') or 'none'}")


def _pattern(trigger: dict[str, Any]) -> str:
    config = trigger.get("triggerConfig") or {}
    return str(config.get("eventRuleFilterPattern") or "")


def triggers(found: Sequence[dict[str, Any]]) -> list[Check]:
    """An enabled EventBridge trigger for the reclaim notice, and an enabled timer (reconcile)."""
    notice = [t for t in found if t.get("triggerType") == "eventbridge" and INTERRUPTION in _pattern(t)]
    on = [t for t in notice if (t.get("triggerConfig") or {}).get("triggerEnable", True) is not False]
    timers = [t for t in found if t.get("triggerType") == "timer"]
    enabled = [t for t in timers if (t.get("triggerConfig") or {}).get("enable", True) is not False]
    names = ", ".join(t.get("triggerName", "?") for t in found) or "none"
    return [
        Check("trigger.notice", OK, f"{on[0].get('triggerName')} receives {INTERRUPTION}") if on else
        Check("trigger.notice", FAIL, f"no enabled EventBridge trigger for {INTERRUPTION} (triggers: {names})"),
        Check("trigger.timer", OK, f"{enabled[0].get('triggerName')}: "
              f"{(enabled[0].get('triggerConfig') or {}).get('cronExpression', '?')}") if enabled else
        Check("trigger.timer", FAIL,
              f"no enabled timer trigger: nothing reconciles what events missed (triggers: {names})"),
    ]  # fmt: skip


def event_rules(rules: Sequence[dict[str, Any]], function_name: str) -> Check:
    """The EventBridge rule behind the notice trigger: enabled, matching the notice, targeting the function."""
    for rule in rules:
        targets = json.dumps(rule.get("Targets") or [])
        if INTERRUPTION in str(rule.get("FilterPattern") or "") and function_name in targets:
            if str(rule.get("Status", "")).upper() == "ENABLE":
                return Check("eventbridge.rule", OK, f"rule {rule.get('RuleName')} is enabled")
            return Check("eventbridge.rule", FAIL, f"rule {rule.get('RuleName')} is {rule.get('Status')}")
    missing = f"no EventBridge rule on the default bus sends {INTERRUPTION} to {function_name}"
    return Check("eventbridge.rule", FAIL, missing)


def failure_destination(config: dict[str, Any] | None) -> Check:
    on_failure = ((config or {}).get("destinationConfig") or {}).get("onFailure") or {}
    if on_failure.get("destination"):
        return Check("async.on_failure", OK, f"failed events go to {on_failure['destination']}")
    return Check("async.on_failure", WARN, "no failure destination: an event that fails for good is lost silently")


def invocations(hours: float, total: float, errors: dict[str, float], points: int) -> Check:
    failed = {name: int(value) for name, value in errors.items() if value}
    if failed:
        shown = ", ".join(f"{name} {value}" for name, value in sorted(failed.items()))
        return Check("invocations", FAIL, f"last {hours:g} h: {int(total)} invocations, errors: {shown}")
    if points == 0:
        return Check("invocations", OK, f"last {hours:g} h: no invocation recorded (no error either)")
    return Check("invocations", OK, f"last {hours:g} h: {int(total)} invocations, no error")


def role_actions(role: str | None, documents: Sequence[dict[str, Any]] | None, region: str, account: str) -> Check:
    if not role:
        return Check("role.actions", FAIL, "the function has no role: the engine has no credentials")
    if documents is None:
        return Check("role.actions", WARN, f"the policies of {role} could not be read")
    verdicts = policyeval.engine_verdicts(documents, region, account)
    denied = sorted({f"{v.action} on {v.resource}" for v in verdicts if not v.allowed})
    assumed = sorted({a for v in verdicts if v.allowed for a in v.assumed})
    if denied:
        return Check("role.actions", FAIL, f"{role} does not allow: " + "; ".join(denied))
    note = f" (conditions assumed: {'; '.join(assumed)})" if assumed else ""
    return Check("role.actions", OK, f"{role} allows all {len(verdicts)} engine requests{note}")


# -- each managed instance ------------------------------------------------------------------------
def disks_kept(inst: InstanceFacts) -> Check:
    if "security" in inst.lock_reasons:
        return Check("disks", FAIL, "locked for security: its disks are released with it whatever they say",
                     inst.instance_id)  # fmt: skip
    if inst.copy_mode:
        return Check("disks", OK, "aops:data=copy: the data disks go into the image", inst.instance_id)
    data = [d for d in inst.disks if d.kind == "data"]
    lost = [d for d in data if d.category.startswith(LOCAL_DISK_PREFIXES) or not d.portable]
    if lost:
        shown = ", ".join(f"{d.disk_id} ({d.category}{'' if d.portable else ', not portable'})" for d in lost)
        return Check("disks", FAIL, f"cannot be kept past the release (DeleteWithInstance=false is refused): {shown}",
                     inst.instance_id)  # fmt: skip
    return Check("disks", OK, f"{len(data)} data disk(s), all can be kept", inst.instance_id)


def role_passable(inst: InstanceFacts, documents: Sequence[dict[str, Any]] | None, account: str) -> Check:
    if not inst.ram_role:
        return Check("ram_role", OK, "no RAM role to pass", inst.instance_id)
    if inst.role_found is None:
        return Check("ram_role", FAIL, f"RAM role {inst.ram_role} does not exist", inst.instance_id)
    trust = inst.role_found.get("AssumeRolePolicyDocument") or "{}"
    trusted = json.dumps(json.loads(trust) if isinstance(trust, str) else trust)
    if ECS_SERVICE not in trusted:
        return Check("ram_role", FAIL, f"RAM role {inst.ram_role} does not trust {ECS_SERVICE}", inst.instance_id)
    if documents is None:
        return Check("ram_role", WARN, "the function role's policies could not be read", inst.instance_id)
    verdict = policyeval.evaluate(documents, "ram:PassRole", policyeval.role_arn(account, inst.ram_role))
    if not verdict.allowed:
        return Check("ram_role", FAIL, f"the function role may not pass {inst.ram_role} (ram:PassRole): set "
                     "ALIYUN_OPS_PASS_ROLES and redeploy the policy", inst.instance_id)  # fmt: skip
    return Check("ram_role", OK, f"{inst.ram_role} can be passed", inst.instance_id)


def login(inst: InstanceFacts) -> Check:
    if inst.key_pair:
        return Check("login", OK, f"key pair {inst.key_pair}", inst.instance_id)
    if inst.password_inherit == "accepted":
        return Check("login", OK, "the image keeps a password (PasswordInherit accepted)", inst.instance_id)
    if inst.password_inherit == "refused":
        return Check("login", FAIL, "no key pair, and its image has no password: the replacement would start with "
                     "no way to log in (attach a key pair or set a password)", inst.instance_id)  # fmt: skip
    return Check("login", WARN, f"no key pair; password {inst.password_inherit}", inst.instance_id)


def snapshot_quota(inst: InstanceFacts) -> Check:
    full = [d for d in inst.disks if d.manual_snapshots >= SNAPSHOTS_PER_DISK]
    if full:
        shown = ", ".join(f"{d.disk_id} ({d.manual_snapshots})" for d in full)
        return Check("snapshots", FAIL, f"manual snapshot limit ({SNAPSHOTS_PER_DISK} per disk) reached: {shown}",
                     inst.instance_id)  # fmt: skip
    most = max((d.manual_snapshots for d in inst.disks), default=0)
    return Check("snapshots", OK, f"at most {most} of {SNAPSHOTS_PER_DISK} manual snapshots per disk", inst.instance_id)


def stock(inst: InstanceFacts) -> Check:
    if inst.chosen:
        return Check("stock", OK, f"would launch {inst.chosen}", inst.instance_id)
    why = "; ".join(inst.skipped[:5]) or "no equivalent type is offered"
    return Check("stock", FAIL, f"no candidate in stock within the price limits: {why}", inst.instance_id)


def instance_checks(inst: InstanceFacts, documents: Sequence[dict[str, Any]] | None, account: str) -> list[Check]:
    return [disks_kept(inst), role_passable(inst, documents, account), login(inst), snapshot_quota(inst), stock(inst)]


def exit_code(checks: Sequence[Check]) -> int:
    return 1 if any(c.status == FAIL for c in checks) else 0
