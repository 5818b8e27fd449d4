"""Finish a replacement held stopped for its data disks, after the delivery that launched it ended early.

A delivery can die (timeout, crash, ``kill -9``) between launching the replacement and starting it with its
disks. The replacement says so itself (``aops:disks=pending``, ``aops:replaces``, ``aops:eip``), so a later
delivery of the same notice, or reconcile, can finish the move from the cloud's state alone: attach the kept
disks in device order (copying any that sit in another zone), start it, and move the lineage's EIP to it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aliyun_ops import models
from aliyun_ops.disks.move import DataMove
from aliyun_ops.models import TAG_EIP, TAG_LINEAGE, TAG_REPLACES
from aliyun_ops.recovery.eip import move_eip

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud

log = logging.getLogger(__name__)


def finish_held(cloud: Cloud, replacement: models.Instance, *, deadline: float, poll_s: float) -> list[str]:
    """Attach, start, move the EIP; what happened, in words. Raises like the incident would."""
    said, move = _attach_disks(cloud, replacement, deadline=deadline, poll_s=poll_s)
    said.extend(eip_follows(cloud, replacement, deadline=deadline, poll_s=poll_s))  # before the boot, as ever
    move.start(replacement.instance_id)
    return said


def eip_follows(cloud: Cloud, replacement: models.Instance, *, deadline: float, poll_s: float) -> list[str]:
    """The lineage's EIP (recorded on the replacement at its launch) ends on the replacement, if it is free."""
    allocation = replacement.tag(TAG_EIP)
    if not allocation:
        return []
    eip = models.Eip(allocation_id=allocation, ip_address=allocation)
    old = replacement.tag(TAG_REPLACES) or ""
    return [move_eip(cloud, eip, old, replacement.instance_id, deadline=deadline, poll_s=poll_s)]


def _attach_disks(
    cloud: Cloud, replacement: models.Instance, *, deadline: float, poll_s: float
) -> tuple[list[str], DataMove]:
    said: list[str] = []

    def note(what: str) -> None:
        said.append(what)
        log.info("%s: %s", replacement.instance_id, what)

    original_id = replacement.tag(TAG_REPLACES) or ""
    move = DataMove(
        cloud,
        original_id,
        (),
        lineage=replacement.tag(TAG_LINEAGE) or original_id,
        deadline=deadline,
        log=note,
        poll_s=poll_s,
    )
    move.hold(replacement.instance_id)
    move.attach_all(replacement)
    return said, move
