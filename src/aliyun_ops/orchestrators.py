"""Which orchestrator owns an instance, from its tags. Pure: no I/O.

An instance launched by an Auto Scaling group (ESS) or an ACK Kubernetes cluster or node pool is replaced by
its own orchestrator: replacing it too buys a second machine, boots a copy of a Kubernetes node outside its
pool, and can make the group scale in the wrong instance. So every decision to act on an instance (the notice,
reconcile's restarts, relaunches, baselines and moves, ``plan`` and ``replace``) asks ``owner`` first and leaves
an owned instance alone, saying who owns it.

The keys (ACK's node-pool documentation; docs/emulator-fidelity.md "Orchestrated instances"): ACK writes
``ack.aliyun.com: <cluster id>`` and ``ack.alibabacloud.com/nodepool-id: <node pool id>``, Auto Scaling writes
``acs:autoscaling:scalingGroupId: <scaling group id>`` (a reserved ``acs:`` key no user can write).
"""

from __future__ import annotations

from aliyun_ops.models import Tags

ESS_GROUP_KEY = "acs:autoscaling:scalingGroupId"
ACK_CLUSTER_PREFIX = "ack.aliyun.com"
ACK_NODE_POOL_KEY = "ack.alibabacloud.com/nodepool-id"


def owner(tags: Tags) -> str:
    """Who owns the instance with these tags ("ACK node pool np-1 of ACK cluster c1", "ACK cluster c1",
    "Auto Scaling group asg-1"), or "" when nobody does. The most specific owner a user manages comes first: an
    ACK node pool's nodes are launched by a scaling group of ACK's, and the user resizes the pool, not the group."""
    pool = cluster = group = None
    for key, value in tags:
        if key == ACK_NODE_POOL_KEY:
            pool = value
        elif key.startswith(ACK_CLUSTER_PREFIX):
            cluster = value
        elif key == ESS_GROUP_KEY:
            group = value
    if pool is not None:
        return f"ACK node pool {pool}" + (f" of ACK cluster {cluster}" if cluster else "")
    if cluster is not None:
        return f"ACK cluster {cluster}"
    if group is not None:
        return f"Auto Scaling group {group}"
    return ""


def left_alone(instance_id: str, who: str) -> str:
    """What the user is told about an owned instance aliyun-ops does not touch."""
    return f"{instance_id} belongs to {who}, which replaces it itself: aliyun-ops leaves it to its orchestrator"
