"""The record of an instance's data-disk slots: what its replacement must start with. Pure: no I/O.

A disk's own tags say whose data it holds (``plan``), but a disk that was never labelled, was deleted or was
attached elsewhere by its user has nothing to say: a resume that trusted only the disks it can find would start
the replacement without that slot, a blank server where the user's data should be. So the slots are also written
down, from the first moment, where resuming code reads them even when a disk is gone:

- on the system snapshot taken at the notice (CreateSnapshot's own ``Tag.N``: the record exists as soon as the
  incident's first write does), and on the image made from it (CreateImage copies them);
- on the replacement (RunInstances ``Tag.N``) when it has room for them.

One slot is ``device:disk id:size GiB:category[:performance level]``, e.g. ``xvdb:d-bp1...:40:essd:PL1`` (the
replacement's copy leaves the disk id out: ``xvdb::40:essd``, so that 16 slots fit in a few tags); the slots go in
device order, as many to a tag as its 128 characters hold, under ``aops:slots`` (the count first: ``3;...``), then
``aops:slots.2``, ``aops:slots.3`` and so on. A record whose count does not match the slots it holds (a tag lost,
or cut) is unreadable, never taken for a smaller one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from aliyun_ops import errors, models
from aliyun_ops.disks import plan

TAG_SLOTS = "aops:slots"
VALUE_MAX = 128  # characters in a tag value (ECS tag documentation)
DEV_PREFIX = "/dev/"
CATEGORY_PREFIX = "cloud_"


@dataclass(frozen=True)
class Slot:
    device: str  # /dev/xvdb: where the data disk was attached on the original
    disk_id: str  # the disk that held the slot when the record was made
    size_gib: int
    category: str  # cloud_essd, cloud_efficiency, ...
    performance_level: str | None = None

    def describe(self) -> str:
        pl = f" {self.performance_level}" if self.performance_level else ""
        return f"{self.device} ({self.size_gib} GiB {self.category}{pl}, was {self.disk_id})"


class Unreadable(ValueError):
    """A slot record exists but cannot be trusted (a part is missing or malformed)."""


def of_disks(disks: Iterable[models.Disk]) -> tuple[Slot, ...]:
    """The data-disk slots of an instance's disks as DescribeDisks shows them now, in device order."""
    return tuple(
        Slot(plan.device_of(d), d.disk_id, d.size_gib, d.category, d.performance_level)
        for d in plan.data_disks(disks)
        if plan.device_of(d)
    )


def _one(slot: Slot, with_ids: bool) -> str:
    device = slot.device.removeprefix(DEV_PREFIX)
    category = slot.category.removeprefix(CATEGORY_PREFIX)
    parts = [device, slot.disk_id if with_ids else "", str(slot.size_gib), category]
    if slot.performance_level:
        parts.append(slot.performance_level)
    return ":".join(parts)


def encode(slots: Iterable[Slot], *, with_ids: bool = True) -> models.Tags:
    """The record as tags (none for an instance without data disks)."""
    ordered = sorted(slots, key=lambda s: (s.device, s.disk_id))
    if not ordered:
        return ()
    values: list[str] = [f"{len(ordered)};"]
    for slot in ordered:
        item = _one(slot, with_ids)
        if len(item) + 1 > VALUE_MAX - len(str(len(ordered))) - 1:
            raise ValueError(f"slot {item[:40]!r} is longer than a tag value holds")
        sep = "" if values[-1].endswith(";") or not values[-1] else ","
        if len(values[-1]) + len(sep) + len(item) > VALUE_MAX:
            values.append(item)
        else:
            values[-1] += sep + item
    return tuple((key(n), value) for n, value in enumerate(values, start=1))


def key(n: int) -> str:
    return TAG_SLOTS if n == 1 else f"{TAG_SLOTS}.{n}"


def is_slot_key(tag_key: str) -> bool:
    return tag_key == TAG_SLOTS or tag_key.startswith(TAG_SLOTS + ".")


def decode(tags: models.Tags) -> tuple[Slot, ...] | None:
    """The slots the tags record; None when they record none. ``Unreadable`` when a record is there but broken."""
    first = models.tag_value(tags, TAG_SLOTS)
    if first is None:
        return None
    count_text, _, rest = first.partition(";")
    try:
        count = int(count_text)
    except ValueError as exc:
        raise Unreadable(f"slot record {first[:40]!r} has no count") from exc
    values = [rest]
    n = 2
    while (more := models.tag_value(tags, key(n))) is not None:
        values.append(more)
        n += 1
    slots = tuple(_parse(item) for value in values for item in value.split(",") if item)
    if len(slots) != count or len({s.device for s in slots}) != count:
        raise Unreadable(f"slot record names {count} slot(s) but holds {len(slots)} distinct ones")
    return slots


def recorded(tags: models.Tags, where: str) -> tuple[Slot, ...]:
    """The slots ``where`` (a snapshot, image or instance id) records: none when it records none; a broken record is
    ``DataUnavailable``: nothing is started on a guess of how many disks it had."""
    try:
        return decode(tags) or ()
    except Unreadable as exc:
        raise errors.DataUnavailable(f"the data-disk record on {where} is unreadable ({exc})") from exc


def _parse(item: str) -> Slot:
    parts = item.split(":")
    if len(parts) not in (4, 5) or not parts[0]:
        raise Unreadable(f"slot {item[:60]!r} is malformed")
    try:
        size = int(parts[2])
    except ValueError as exc:
        raise Unreadable(f"slot {item[:60]!r} has no size") from exc
    category = parts[3] if parts[3] == "cloud" else CATEGORY_PREFIX + parts[3]
    return Slot(DEV_PREFIX + parts[0], parts[1], size, category, parts[4] if len(parts) == 5 else None)


def in_slot(disk: models.Disk, slots: Iterable[Slot]) -> models.Disk:
    """``disk``, with the slot the record gives it when its own tags do not say (never labelled: the function died
    first, or the disk had no tag room)."""
    if disk.tag(models.TAG_DEVICE):
        return disk
    slot = next((s for s in slots if s.disk_id == disk.disk_id), None)
    return disk if slot is None else dataclasses.replace(disk, tags=(*disk.tags, (models.TAG_DEVICE, slot.device)))


def merge(recorded: Iterable[Slot], found: Iterable[Slot]) -> tuple[Slot, ...]:
    """Every slot either source knows, the record's first: a slot is never dropped because one source lacks it."""
    out: dict[str, Slot] = {}
    for s in (*recorded, *found):
        out.setdefault(s.device, s)
    return tuple(sorted(out.values(), key=lambda s: s.device))
