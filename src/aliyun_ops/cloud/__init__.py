"""The only package that talks to Alibaba Cloud (through the official SDKs, imported lazily)."""

from __future__ import annotations

from aliyun_ops.cloud.client import IMAGE_STATUSES, Cloud
from aliyun_ops.cloud.errors import is_no_stock, is_throttled, translate
from aliyun_ops.cloud.spec import DataDiskSpec, LaunchSpec

__all__ = ["IMAGE_STATUSES", "Cloud", "DataDiskSpec", "LaunchSpec", "is_no_stock", "is_throttled", "translate"]
