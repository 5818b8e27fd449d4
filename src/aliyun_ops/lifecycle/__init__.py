"""A lineage's life between incidents: moves the engine chooses itself (back to spot), and the restart of a
Stop-mode spot instance the cloud (not its user) stopped (``stopped``)."""

from __future__ import annotations

from aliyun_ops.lifecycle.respot import back_to_spot

__all__ = ["back_to_spot"]
