"""The function role's RAM policy, rendered from configuration: what the engine calls, where it calls it,
and on which of its own resources.

    python -m aliyun_ops.deploy.policy [--out FILE]   # reads the settings like the function does

Guarantees, statement by statement (ARN formats and condition keys: see docs/emulator-fidelity.md):

- Lists, reads and creations that RAM does not scope to a resource (DescribeInstances, RunInstances,
  CreateDisk, DescribeVSwitches, CloudMonitor's event history...) are granted on ``*``: RAM documents
  them as "All Resources", so an ARN there would grant nothing.
- Every action on an existing ECS resource (start, stop, release, image, attach, snapshot, tag) is
  granted only on ``acs:ecs:<region>:<account>:<type>/*`` of the configured regions (``region`` and
  ``regions``) and, when the account is known, that account. With a ``selector`` (``key=value``),
  actions on instances also need the instance to carry that tag (``ecs:tag/<key>``).
- Stopping an instance, attaching a disk to it or tagging it needs ``aops:lineage`` (the engine's RunInstances
  writes it on replacements and fallbacks; the engine never stops, attaches to or tags anything else). Starting,
  releasing and imaging stay open on untagged instances (or those of the selector): RAM has no condition key
  for "spot", and the engine starts, images and releases the user's untagged spot originals.
- Deleting an image, snapshot or disk needs the ``aops:lineage`` tag the engine puts on what it creates.
- Instances tagged ``aops:managed=false`` can never be stopped, started, released, imaged, attached to or
  tagged (Deny).
- The guards cannot be switched off by the role (Deny): no TagResources writes ``aops:managed`` or the
  selector's key (``acs:RequestTag/<key>``), nor ``aops:lineage`` on an instance, image or snapshot; no ECS
  tag is ever removed (UntagResources). ``aops:lineage`` stays writable on disks: the engine labels the
  original's own disks with it (``disks.move.label``) and deletes them once their data is safe.
- The elastic IP actions apply to ``acs:vpc:<region>:<account>:eip/*``, vSwitch tags to ``vswitch/*``.
- ``ram:PassRole`` names only the roles of ``pass_roles`` (default ``aliyun-ops-*``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aliyun_ops.models import TAG_LINEAGE, TAG_MANAGED

UNSCOPED = (
    "ecs:DescribeInstances", "ecs:DescribeDisks", "ecs:DescribeUserData", "ecs:DescribeInstanceRamRole",
    "ecs:DescribeImages", "ecs:DescribeAvailableResource", "ecs:DescribeInstanceTypes",
    "ecs:DescribeSpotPriceHistory", "ecs:DescribeSnapshots", "ecs:RunInstances", "ecs:CreateDisk",
    "vpc:DescribeVSwitches", "vpc:DescribeEipAddresses", "cms:DescribeSystemEventAttribute", "ecs:DescribeSpotAdvice",
    "ecs:DescribeInstanceHistoryEvents",
)
# On any instance (of the selector): a spot original is untagged, and RAM cannot tell spot from pay-as-you-go.
ON_INSTANCES = ("ecs:StartInstance", "ecs:DeleteInstance", "ecs:CreateImage")
# Only on an instance the engine launched (``aops:lineage``, written at RunInstances and never by TagResources): the
# engine stops, attaches to and tags only its replacements and fallbacks (``aops:notified``, ``aops:disks``,
# ``aops:held``, ``aops:claim``), never a user's instance.
ON_LAUNCHED = ("ecs:StopInstance", "ecs:AttachDisk", "ecs:TagResources")
ON_OWN_RESOURCES = ("ecs:CreateImage", "ecs:AttachDisk", "ecs:ModifyDiskAttribute", "ecs:CreateSnapshot",
                    "ecs:TagResources")
DELETE_OWN = ("ecs:DeleteImage", "ecs:DeleteSnapshot", "ecs:DeleteDisk")
OPTED_OUT = ("ecs:StartInstance", "ecs:StopInstance", "ecs:DeleteInstance", "ecs:CreateImage", "ecs:AttachDisk",
             "ecs:TagResources")
NEVER = ("ecs:UntagResources",)  # the engine removes no ECS tag: no guard tag can be taken off
ON_EIPS = ("vpc:AssociateEipAddress", "vpc:UnassociateEipAddress")
ON_VSWITCHES = ("vpc:TagResources", "vpc:UnTagResources")
DEFAULT_PASS_ROLES = ("aliyun-ops-*",)
NO_SELECTOR_WARNING = (
    "warning: without ALIYUN_OPS_SELECTOR the role may start, image and release any untagged instance of these "
    "regions (RAM has no condition key for spot instances); set ALIYUN_OPS_SELECTOR=key=value and tag your spot "
    "instances with it to fence every instance action"
)


def _arns(product: str, kind: str, regions: Sequence[str], account: str) -> list[str]:
    return [f"acs:{product}:{region}:{account}:{kind}/*" for region in regions]


def role_arn(role: str, account: str) -> str:
    """A role name or pattern as an ARN pattern; a full ARN is kept. ``acs:ram:*:`` matches the role ARN RAM
    returns (``acs:ram::<account>:role/<name>``) and the form ECS's table writes (with a region)."""
    return role if role.startswith("acs:") else f"acs:ram:*:{account}:role/{role}"


def render_policy(
    regions: Sequence[str] = ("*",),
    account_id: str | None = None,
    pass_roles: Sequence[str] = DEFAULT_PASS_ROLES,
    selector: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The policy document for these regions, account, roles and selector (see the module)."""
    regions = list(dict.fromkeys(regions)) or ["*"]
    account = account_id or "*"
    instances = _arns("ecs", "instance", regions, account)
    own = [arn for kind in ("image", "snapshot", "disk") for arn in _arns("ecs", kind, regions, account)]
    created_only = [arn for kind in ("instance", "image", "snapshot") for arn in _arns("ecs", kind, regions, account)]
    selected = {} if selector is None else {f"ecs:tag/{selector[0]}": selector[1]}
    launched = {"StringLike": {f"ecs:tag/{TAG_LINEAGE}": "*"}, **({"StringEquals": selected} if selected else {})}
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": list(UNSCOPED), "Resource": "*"},
        _statement("Allow", ON_INSTANCES, instances, {"StringEquals": selected} if selected else None),
        _statement("Allow", ON_LAUNCHED, instances, launched),
        {"Effect": "Allow", "Action": list(ON_OWN_RESOURCES), "Resource": own},
        {"Effect": "Allow", "Action": list(DELETE_OWN), "Resource": own,
         "Condition": {"StringLike": {f"ecs:tag/{TAG_LINEAGE}": "*"}}},
        {"Effect": "Deny", "Action": list(OPTED_OUT), "Resource": instances,
         "Condition": {"StringEquals": {f"ecs:tag/{TAG_MANAGED}": "false"}}},
        *_guarded_keys(selector, created_only),
        {"Effect": "Deny", "Action": list(NEVER), "Resource": "*"},
        {"Effect": "Allow", "Action": list(ON_EIPS), "Resource": _arns("vpc", "eip", regions, account)},
        {"Effect": "Allow", "Action": list(ON_VSWITCHES), "Resource": _arns("vpc", "vswitch", regions, account)},
    ]
    if pass_roles:
        statements.append({"Effect": "Allow", "Action": ["ram:PassRole"],
                           "Resource": [role_arn(role, account) for role in pass_roles]})
    return {"Version": "1", "Statement": statements}


def _statement(effect: str, actions: Sequence[str], resources: list[str], condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect, "Action": list(actions), "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _guarded_keys(selector: tuple[str, str] | None, created_only: list[str]) -> list[dict[str, Any]]:
    """The tags the guards read can never be written by the role (one Deny per key: the keys of one condition
    operator are ANDed): ``aops:managed`` and the selector's key on nothing, ``aops:lineage`` on instances, images
    and snapshots (it is written when the engine creates them). On disks the engine itself labels the original's
    disks with ``aops:lineage`` (``disks.move.label``), so it stays writable there."""
    keys = dict.fromkeys([TAG_MANAGED, *([selector[0]] if selector is not None else [])])
    out = [_statement("Deny", ["ecs:TagResources"], ["*"], {"StringLike": {f"acs:RequestTag/{key}": "*"}})
           for key in keys]
    out.append(_statement("Deny", ["ecs:TagResources"], created_only,
                          {"StringLike": {f"acs:RequestTag/{TAG_LINEAGE}": "*"}}))
    return out


def policy_for(settings: Any) -> dict[str, Any]:
    """``render_policy`` from ``config.Settings``: its region and regions, account, pass_roles, selector."""
    return render_policy(
        regions=[settings.region_id, *settings.regions],
        account_id=settings.account_id,
        pass_roles=settings.pass_roles,
        selector=settings.selector,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aliyun_ops.deploy.policy",
                                     description="Render the function role's RAM policy from the settings.")
    parser.add_argument("--out", type=Path, help="write the policy here (default: standard output)")
    args = parser.parse_args(argv)
    from aliyun_ops.config import Settings
    from aliyun_ops.errors import ConfigError

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if settings.selector is None:
        print(NO_SELECTOR_WARNING, file=sys.stderr)
    text = json.dumps(policy_for(settings), indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
