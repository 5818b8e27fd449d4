"""Importing this package registers every ECS/VPC action in ``core.REGISTRY``."""

from __future__ import annotations

from aliyun_ops.emulator.responses import catalogue, disks, images, instances, network, tags

__all__ = ["catalogue", "disks", "images", "instances", "network", "tags"]
