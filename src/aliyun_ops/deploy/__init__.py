"""Deployment assets: the least-privilege RAM policy for the function's role, its renderer
(``python -m aliyun_ops.deploy.policy``, from the settings) and the packager
(``python -m aliyun_ops.deploy.package``) that builds the code folder ``s.yaml`` deploys.

``ram-policy.json`` is ``render_policy()`` with nothing configured: exactly the API actions the engine
calls (no wildcard actions), writes scoped to the engine's resource types in any region and account,
deletes to what carries the lineage tag, and ``ram:PassRole`` to roles named ``aliyun-ops-*``. Render it
for your region, account and roles before attaching it (``deploy.policy``).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

POLICY_FILE = "ram-policy.json"


def load_ram_policy(**render: Any) -> dict[str, Any]:
    """The policy document as shipped in the package; with arguments, ``render_policy(**render)`` instead
    (``regions``, ``account_id``, ``pass_roles``, ``selector``)."""
    if render:
        from aliyun_ops.deploy.policy import render_policy

        return render_policy(**render)
    text = resources.files(__package__).joinpath(POLICY_FILE).read_text(encoding="utf-8")
    policy: dict[str, Any] = json.loads(text)
    return policy


def policy_actions(policy: dict[str, Any] | None = None) -> set[str]:
    """Every action the policy allows, as written (``ecs:RunInstances``, ``vpc:AssociateEipAddress``...)."""
    doc = load_ram_policy() if policy is None else policy
    actions: set[str] = set()
    for statement in doc.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        action = statement.get("Action", [])
        actions.update([action] if isinstance(action, str) else action)
    return actions
