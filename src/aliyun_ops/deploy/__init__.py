"""Deployment assets: the least-privilege RAM policy for the function's role, and the packager
(``python -m aliyun_ops.deploy.package``) that builds the code folder ``s.yaml`` deploys.

``ram-policy.json`` lists exactly the API actions the engine calls (no wildcard actions):
ECS reads and writes for imaging and launching, VPC for vSwitches and the elastic IP, and
``ram:PassRole`` so that a replacement can be launched with the original instance's RAM role.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

POLICY_FILE = "ram-policy.json"


def load_ram_policy() -> dict[str, Any]:
    """The policy document, as shipped in the package (attach it to the function's role)."""
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
