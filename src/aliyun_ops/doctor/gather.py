"""Read the facts doctor's checks need, through ``cloud/`` only, changing nothing.

Per managed instance the plan is the one ``aliyun-ops plan`` computes (``make_plan``: the incident's own
reads and ranking), and the login question is the launch's own request: a RunInstances ``DryRun`` of the
spec the engine would send (``recovery.launch.build_spec``), with ``PasswordInherit`` as the engine asks
for it. A DryRun creates nothing (RunInstances ``DryRun``: "sends a check request without creating an
instance").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aliyun_ops import errors, models
from aliyun_ops.doctor import checks as c

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.cloud.controlplane import ControlPlane
    from aliyun_ops.config import Settings
    from aliyun_ops.recovery.gather import Inputs

MakePlan = Callable[["Cloud", "Settings", models.Instance], tuple[models.Plan, "Inputs", models.Instance]]
# FC 3.0 function metrics in CloudMonitor's acs_fc namespace, every qualifier together (the FC console's names).
ERROR_METRICS = ("FunctionFunctionErrors", "FunctionServerErrors")
TOTAL_METRIC = "FunctionTotalInvocations"
_ROLE_ARN = re.compile(r"^acs:ram::(\d+):role/(.+)$")


def role_of(function: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(account id, role name) from the function's role ARN (``acs:ram::<account>:role/<name>``)."""
    match = _ROLE_ARN.match(str((function or {}).get("role") or ""))
    return (match.group(1), match.group(2)) if match else (None, None)


def function_checks(
    plane: ControlPlane, settings: Settings, name: str, hours: float
) -> tuple[list[c.Check], Any, str]:
    """The function's checks, the role's policy documents (None when unreadable) and the account id (from the
    role's ARN), for the instances' checks."""
    function = plane.get_function(name)
    out = [c.function_deployed(name, function)]
    if function is None:
        return out, None, settings.account_id or "*"
    out += c.triggers(plane.list_triggers(name))
    out.append(c.event_rules(plane.event_rules(), name))
    out.append(c.failure_destination(plane.async_invoke_config(name)))
    out.append(_invocations(plane, settings, name, hours))
    account, role = role_of(function)
    documents = None
    if role:
        try:
            documents = [p["document"] for p in plane.role_policies(role)]
        except errors.PermissionDenied:
            documents = None
    account = account or settings.account_id or "*"
    out.append(c.role_actions(role, documents, settings.region_id, account))
    return out, documents, account


def _invocations(plane: ControlPlane, settings: Settings, name: str, hours: float) -> c.Check:
    dims = {"region": settings.region_id, "functionName": name}
    total, points = plane.metric_sum(TOTAL_METRIC, dims, hours)
    failed = {}
    for metric in ERROR_METRICS:
        failed[metric], _ = plane.metric_sum(metric, dims, hours)
    return c.invocations(hours, total, failed, points)


def instance_facts(
    cloud: Cloud, plane: ControlPlane, settings: Settings, inst: models.Instance, make_plan: MakePlan
) -> c.InstanceFacts:
    from aliyun_ops.disks import plan as data_plan

    plan, inputs, enriched = make_plan(cloud, settings, inst)
    role = inputs.ram_role_name or inst.ram_role_name
    return c.InstanceFacts(
        instance_id=inst.instance_id,
        name=inst.name,
        copy_mode=data_plan.mode(inst) == data_plan.COPY,
        lock_reasons=inst.lock_reasons,
        disks=_disks(cloud, inst.instance_id),
        ram_role=role,
        role_found=plane.role(role) if role else None,
        key_pair=inst.key_pair_name,
        password_inherit="accepted"
        if inst.key_pair_name
        else _password_inherit(cloud, settings, enriched, inputs, plan),
        chosen=f"{plan.chosen.instance_type}@{plan.chosen.zone_id}" if plan.chosen else None,
        skipped=tuple(f"{what}: {why}" for what, why in plan.skipped),
    )


def _disks(cloud: Cloud, instance_id: str) -> tuple[c.DiskFacts, ...]:
    """DescribeDisks (for ``Portable``, which the engine's model leaves out) and each disk's manual snapshot
    count (DescribeSnapshots ``SnapshotType=user``, its TotalCount)."""
    body = cloud.call("ecs", "DescribeDisks", {"InstanceId": instance_id, "PageSize": 100})
    out = []
    for d in (body.get("Disks") or {}).get("Disk") or []:
        counted = cloud.call("ecs", "DescribeSnapshots", {"DiskId": d.get("DiskId"), "SnapshotType": "user",
                                                          "PageSize": 1})  # fmt: skip
        out.append(c.DiskFacts(
            disk_id=d.get("DiskId", ""), kind="system" if d.get("Type") == "system" else "data",
            category=d.get("Category", ""), portable=bool(d.get("Portable", True)),
            delete_with_instance=bool(d.get("DeleteWithInstance", True)),
            manual_snapshots=int(counted.get("TotalCount") or 0),
        ))  # fmt: skip
    return tuple(out)


def _password_inherit(
    cloud: Cloud, settings: Settings, enriched: models.Instance, inputs: Inputs, plan: models.Plan
) -> str:
    """Would RunInstances take ``PasswordInherit`` from the image? Asked with a DryRun of the engine's own spec."""
    from aliyun_ops.cloud.errors import is_password_inherit_refused
    from aliyun_ops.recovery.launch import build_spec
    from aliyun_ops.recovery.naming import incident_id

    if plan.chosen is None:
        return "unknown: no candidate to check the launch with"
    spec = build_spec(enriched, inputs, plan.chosen, enriched.image_id, settings, incident_id(enriched.instance_id))
    try:
        cloud.run_instances(spec, "ao-doctor-" + enriched.instance_id, dry_run=True)
    except errors.InvalidRequest as exc:
        if not is_password_inherit_refused(exc.code, exc.message):
            return f"unknown: the DryRun was refused ({exc.code})"
        if not enriched.image_id.startswith("m-"):  # a public image has no preset password, yet the instance may
            return (f"unknown: it runs the public image {enriched.image_id} (no preset password); whether a "
                    "password was set at launch cannot be read")  # fmt: skip
        return "refused"
    except errors.CloudError as exc:
        return f"unknown: the DryRun failed ({exc.code})"
    return "accepted"
