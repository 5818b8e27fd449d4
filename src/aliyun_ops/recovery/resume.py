"""Finish a replacement held stopped for its data disks, after the delivery that launched it ended early.

A delivery can die (timeout, crash, ``kill -9``) between launching the replacement and starting it with its
disks. The replacement says so itself (``aops:disks=pending``, ``aops:replaces``, ``aops:eip``), so a later
delivery of the same notice, or reconcile, can finish the move from the cloud's state alone: attach the kept
disks in device order (copying any that sit in another zone), start it, and move the lineage's EIP to it.

Which slots it must start with comes from the record (``disks.slots``) on the replacement and on the original's
system snapshot and image, merged with the disks the tags name: a slot whose disk is gone, or attached to another
server, keeps the replacement stopped (``DataUnavailable``), and so does a replacement with no record at all. Only the
user starts it without a slot (``skip``: ``aliyun-ops start-held --without``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING

from aliyun_ops import errors, models
from aliyun_ops.disks.move import DataMove
from aliyun_ops.disks.slots import TAG_SLOTS, Slot, merge, recorded
from aliyun_ops.models import TAG_EIP, TAG_IMAGE_OF, TAG_LINEAGE, TAG_REPLACES
from aliyun_ops.recovery.eip import move_eip

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud

log = logging.getLogger(__name__)


def finish_held(
    cloud: Cloud, replacement: models.Instance, *, deadline: float, poll_s: float, skip: Collection[str] = ()
) -> list[str]:
    """Attach, start, move the EIP; what happened, in words. Raises like the incident would (``DataUnavailable``: a
    slot has no disk to fill it; the replacement stays stopped)."""
    record = original_record(cloud, replacement.tag(TAG_REPLACES) or "")  # read once: the slots and the address
    said, move = _attach_disks(cloud, replacement, record, deadline=deadline, poll_s=poll_s, skip=skip)
    said.extend(eip_follows(cloud, replacement, deadline=deadline, poll_s=poll_s, record=record))  # before the boot
    move.start(replacement.instance_id)
    return said


def _started_whole(move: DataMove, replacement: models.Instance) -> bool:
    """A delivery died just after it started the replacement with every slot attached (the tag that says so had not
    landed): it is not stopped again, only marked."""
    if replacement.status not in ("Running", "Starting"):
        return False
    steps = move.look(replacement)
    return bool(steps) and all(s.action in ("done", "finishing") for s in steps)


def eip_follows(
    cloud: Cloud,
    replacement: models.Instance,
    *,
    deadline: float,
    poll_s: float,
    record: models.Tags | None = None,
) -> list[str]:
    """The lineage's EIP (recorded on the replacement at its launch, else on the original's record: ``record``, read
    here when not given) ends on the replacement, if it is free."""
    allocation = replacement.tag(TAG_EIP)
    if not allocation:
        if record is None:
            record = original_record(cloud, replacement.tag(TAG_REPLACES) or "")
        allocation = models.tag_value(record, TAG_EIP)
    if not allocation:
        return []
    eip = models.Eip(allocation_id=allocation, ip_address=allocation)
    old = replacement.tag(TAG_REPLACES) or ""
    return [move_eip(cloud, eip, old, replacement.instance_id, deadline=deadline, poll_s=poll_s)]


def original_record(cloud: Cloud, original_id: str) -> models.Tags:
    """What the incident recorded of the original from its first write (the data-disk slots, the lineage's
    address): the tags of its system snapshot (taken at its notice) or of its image, the first that carries the slot
    record, else the first with any tags. Empty when neither exists. The image is read only when no snapshot
    carries the record."""
    if not original_id:
        return ()
    found: models.Tags = ()
    for snap in cloud.describe_snapshots(tags=((TAG_IMAGE_OF, original_id),)):
        if snap.tag(TAG_IMAGE_OF) == original_id and snap.tags:
            if snap.tag(TAG_SLOTS) is not None:
                return snap.tags
            found = found or snap.tags
    for image in cloud.describe_images(tags=((TAG_IMAGE_OF, original_id),)):
        if image.tag(TAG_IMAGE_OF) == original_id and image.tags:
            if image.tag(TAG_SLOTS) is not None:
                return image.tags
            found = found or image.tags
    return found


def expected_slots(
    cloud: Cloud, replacement: models.Instance, record: models.Tags | None = None
) -> tuple[Slot, ...]:
    """Every data-disk slot the replacement must start with, as recorded: on the original's system snapshot or image
    (``record``, read here when not given; with the disk ids) and on the replacement itself (without them).
    ``DataUnavailable`` when nothing records them."""
    original_id = replacement.tag(TAG_REPLACES) or ""
    own = recorded(replacement.tags, replacement.instance_id)
    if record is None:
        record = original_record(cloud, original_id)
    with_ids = recorded(record, f"the snapshot or image of {original_id}")
    if not own and not with_ids:
        raise errors.DataUnavailable(
            f"no record of {original_id}'s data-disk slots on {replacement.instance_id}, its snapshot or its image: "
            "it stays stopped rather than start without a disk it may have had"
        )
    return merge(with_ids, own)


def _attach_disks(
    cloud: Cloud,
    replacement: models.Instance,
    record: models.Tags,
    *,
    deadline: float,
    poll_s: float,
    skip: Collection[str] = (),
) -> tuple[list[str], DataMove]:
    said: list[str] = []

    def note(what: str) -> None:
        said.append(what)
        log.info("%s: %s", replacement.instance_id, what)

    original_id = replacement.tag(TAG_REPLACES) or ""
    slots = expected_slots(cloud, replacement, record)
    move = DataMove(
        cloud,
        original_id,
        (),
        lineage=replacement.tag(TAG_LINEAGE) or original_id,
        deadline=deadline,
        log=note,
        poll_s=poll_s,
        slots=slots,
        skip=skip,
    )
    if skip:
        note("started without " + ", ".join(sorted(skip)) + " as its user asked")
    if _started_whole(move, replacement):
        note(f"{replacement.instance_id} already runs with every data disk attached")
        return said, move
    move.hold(replacement.instance_id)
    move.attach_all(replacement)
    return said, move
