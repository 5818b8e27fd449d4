"""The incident: image -> plan -> launch -> EIP -> tag -> housekeeping (see ``incident`` for the design)."""

from __future__ import annotations

from aliyun_ops.recovery.incident import Incident
from aliyun_ops.recovery.naming import incident_id

__all__ = ["Incident", "incident_id"]
