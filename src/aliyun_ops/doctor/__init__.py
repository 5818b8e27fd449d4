"""``aliyun-ops doctor``: will the next reclaim of each managed instance work? Read-only.

``checks`` holds the questions as pure functions of facts, ``gather`` reads those facts through ``cloud/``,
``policyeval`` evaluates the function role's RAM policies against the engine's requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aliyun_ops.doctor import checks, gather

if TYPE_CHECKING:
    from aliyun_ops import models
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.cloud.controlplane import ControlPlane
    from aliyun_ops.config import Settings


def run(
    cloud: Cloud,
    plane: ControlPlane,
    settings: Settings,
    instances: Sequence[models.Instance],
    *,
    function_name: str,
    hours: float,
    make_plan: gather.MakePlan,
) -> dict[str, Any]:
    """Every check, the function's first, then each instance's; ``ok`` is False when any check failed."""
    found, documents, account = gather.function_checks(plane, settings, function_name, hours)
    for inst in instances:
        facts = gather.instance_facts(cloud, plane, settings, inst, make_plan)
        found += checks.instance_checks(facts, documents, account)
    return {
        "ok": checks.exit_code(found) == 0,
        "region": settings.region_id,
        "function": function_name,
        "instances": [i.instance_id for i in instances],
        "checks": [c.to_json() for c in found],
    }
