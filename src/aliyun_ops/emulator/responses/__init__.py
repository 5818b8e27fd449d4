"""Importing this package registers every ECS/VPC/CloudMonitor action in ``core.REGISTRY``."""

from __future__ import annotations

from aliyun_ops.emulator.responses import (
    alarm_rules,
    catalogue,
    cms,
    disks,
    images,
    instances,
    network,
    spot_advice,
    tags,
    vpc_tags,
)

__all__ = [
    "alarm_rules", "catalogue", "cms", "disks", "images", "instances", "network", "spot_advice", "tags", "vpc_tags",
]
