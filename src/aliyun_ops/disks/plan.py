"""What each data disk slot of a moved instance needs next. Pure: no I/O.

A *slot* is one data disk of the original, named by its device (``/dev/xvdb``). The disks that can fill it
are the original disk (tagged ``aops:disk-of=<original>`` and ``aops:device=<device>`` at the notice) and,
after a cross-zone copy, the copy (same tags). ``steps`` looks at where those disks are now and says, per
slot in device order, what the move does next. The order of the rules is the safety argument:

1. a disk of the slot attached to the replacement: the slot is done (or attaching); the slot's other disks
   are leftovers, deleted only once nothing needs them: the copy is In_use on the replacement and the
   snapshot it was made from is accomplished (``finishing`` until then). A disk still being snapshotted
   would take that snapshot with it (CreateSnapshot: a snapshot being created is deleted when its disk is
   released), and an instant-access copy still reads its unread blocks from that snapshot. A copy whose
   snapshot ended before it was accomplished (failed, or deleted) may be incomplete: the slot is lost, and
   the old disk is kept;
2. a disk still attached to the original: wait for the release (nothing is copied from a live disk);
3. a detached disk in the replacement's zone: attach it;
4. a disk being created or detached: wait;
5. a detached disk in another zone: copy it (snapshot, then a new disk in the replacement's zone);
6. no disk at all: the data is lost, and the move fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aliyun_ops import models
from aliyun_ops.models import TAG_DATA, TAG_DEVICE, TAG_DISK_OF

MOVE, COPY = "move", "copy"
ATTACHED_STATES = ("In_use",)
SETTLING_STATES = ("Attaching", "Detaching", "Creating", "ReIniting")


def mode(instance: models.Instance) -> str:
    """``copy`` when the user tagged the instance ``aops:data=copy``; ``move`` otherwise."""
    return COPY if (instance.tag(TAG_DATA) or "").strip().lower() == COPY else MOVE


def data_disks(disks: Iterable[models.Disk]) -> tuple[models.Disk, ...]:
    """The data disks, in device order (the order they were attached in, and the order they go back in)."""
    return tuple(sorted((d for d in disks if d.kind == "data"), key=lambda d: (device_of(d), d.disk_id)))


def device_of(disk: models.Disk) -> str:
    """The slot a disk fills: the device it had on the original, as tagged, else its device now."""
    return disk.tag(TAG_DEVICE) or disk.device


def needs_keeping(disk: models.Disk, instance_id: str) -> bool:
    """Would be deleted with its instance, or does not say yet whose data it holds."""
    return disk.delete_with_instance or disk.tag(TAG_DISK_OF) != instance_id or disk.tag(TAG_DEVICE) != disk.device


@dataclass(frozen=True)
class Step:
    device: str
    action: str  # done | finishing | attaching | attach | wait | copy | lost
    disk: models.Disk | None = None
    leftovers: tuple[models.Disk, ...] = ()  # disks of a done slot left in another zone: now safe to delete
    why: str = ""


def steps(
    devices: Sequence[str],
    disks: Iterable[models.Disk],
    *,
    original_id: str,
    replacement_id: str,
    zone_id: str,
    snapshots: Iterable[models.Snapshot] = (),
) -> list[Step]:
    """One step per slot, in device order (see the module's rules). ``snapshots``: every snapshot of the
    leftovers a slot would have (by source disk); without them no leftover is released."""
    by_slot: dict[str, list[models.Disk]] = {dev: [] for dev in devices}
    for d in disks:
        by_slot.setdefault(device_of(d), []).append(d)
    snaps = tuple(snapshots)
    out = []
    for dev in sorted(by_slot):
        out.append(_step(dev, by_slot[dev], original_id, replacement_id, zone_id, snaps))
    return out


def _step(
    device: str,
    disks: list[models.Disk],
    original_id: str,
    replacement_id: str,
    zone_id: str,
    snapshots: tuple[models.Snapshot, ...] = (),
) -> Step:
    mine = [d for d in disks if d.instance_id == replacement_id]
    if mine:
        disk = mine[0]
        others = tuple(d for d in disks if d is not disk and not d.instance_id and d.status == "Available")
        if disk.status in ATTACHED_STATES:
            return _done(device, disk, others, snapshots)
        return Step(device, "attaching", disk, (), f"{disk.disk_id} {disk.status}")
    on_original = [d for d in disks if d.instance_id == original_id]
    if on_original:
        return Step(device, "wait", on_original[0], (), f"{on_original[0].disk_id} still on {original_id}")
    elsewhere = [d for d in disks if d.instance_id]
    if elsewhere:
        other = elsewhere[0]
        return Step(device, "lost", other, (), f"{other.disk_id} is attached to {other.instance_id}")
    local = [d for d in disks if d.zone_id == zone_id]
    ready = [d for d in local if d.status == "Available"]
    if ready:
        return Step(device, "attach", ready[0], (), f"{ready[0].disk_id} is free in {zone_id}")
    settling = [d for d in disks if d.status in SETTLING_STATES]
    if settling:
        return Step(device, "wait", settling[0], (), f"{settling[0].disk_id} {settling[0].status}")
    remote = [d for d in disks if d.status == "Available"]
    if remote:
        return Step(device, "copy", remote[0], (), f"copying {remote[0].disk_id} from {remote[0].zone_id} to {zone_id}")
    return Step(device, "lost", None, (), f"no disk holds the data of {device}")


def _done(
    device: str, disk: models.Disk, others: tuple[models.Disk, ...], snapshots: tuple[models.Snapshot, ...]
) -> Step:
    """Rule 1: ``disk`` is In_use on the replacement; ``others`` (the slot's detached disks) go only once nothing
    needs them any more."""
    if not others:
        return Step(device, "done", disk, (), f"{disk.disk_id} attached")
    ids = {o.disk_id for o in others}
    busy = [s for s in snapshots if s.disk_id in ids and s.status == "progressing"]
    if busy:
        first = busy[0]
        why = f"{disk.disk_id} attached; {first.disk_id} stays until its snapshot {first.snapshot_id} is done"
        return Step(device, "finishing", disk, (), f"{why} ({first.progress}%)")
    source = disk.source_snapshot_id
    if source and any(o.zone_id != disk.zone_id for o in others):  # a cross-zone copy of one of them
        snap = next((s for s in snapshots if s.snapshot_id == source), None)
        if snap is None or snap.status != "accomplished":
            state = "was deleted" if snap is None else f"is {snap.status}"
            kept = ", ".join(sorted(ids))
            why = f"copy {disk.disk_id} was made from snapshot {source}, which {state} before it was accomplished"
            return Step(device, "lost", disk, (), f"{why}: the copy may be incomplete; {kept} kept")
    return Step(device, "done", disk, others, f"{disk.disk_id} attached")
