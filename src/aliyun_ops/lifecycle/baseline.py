"""A baseline for every lineage, taken in quiet time: a snapshot of its system disk, and an image made from it.

Why: the first reclaim of a lineage has no earlier image, so when the notice's snapshot cannot finish before the
release (a first snapshot copies the whole disk: a 40 GiB disk at 64 MiB/s takes 640 s) nothing can be launched.
A baseline gives that reclaim an image of *this* instance to fall back on, and it makes the notice's snapshot
incremental (it copies only the data changed since), so it usually finishes in time anyway.

The periodic reconcile, for each lineage (one guarded item each):

1. ``image``: a baseline snapshot that is accomplished and has no image yet becomes one (CreateImage from it;
   the image carries the snapshot's tags and the instance's identity, so a lost lineage can be relaunched from it);
2. ``take``: a lineage whose newest baseline is older than ``settings.baseline_hours`` (or that has none) gets a
   new snapshot of its instance's system disk, tagged ``aops:baseline=<UTC time>`` with its lineage, never while
   the instance is under notice, held for its data disks, busy with an incident's snapshot or image, or not
   Running, and never for an instance reconcile does not manage (``aops:managed=false``, the selector, an
   Auto Scaling group's or ACK's: ``orchestrators``);
3. ``prune``: each lineage keeps its ``settings.baseline_keep`` newest Available baseline images (never one an
   instance was launched from); older ones go with their snapshots. Only our own baselines are ever deleted
   (tagged ``aops:baseline`` and ``aops:lineage``; the shipped RAM policy refuses the rest anyway).

The pure part (``plan``, ``due``, ``surplus``) decides from the pass's listings; the cloud steps cost one call
each (CreateSnapshot, CreateImage, DeleteImage and DeleteSnapshot).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aliyun_ops import models, orchestrators, policy
from aliyun_ops.disks import plan as data_plan
from aliyun_ops.disks import slots as data_slots
from aliyun_ops.models import TAG_BASELINE, TAG_IMAGE_OF, TAG_LINEAGE
from aliyun_ops.recovery import housekeeping, identity, naming

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud

STAMP = "%Y%m%dT%H%M%SZ"  # the tag's value: UTC, valid in a tag value and in an image name
INCIDENT = "baseline"  # the ``aops:incident`` of a baseline: no incident made it
# New baseline snapshots one pass starts at most: quiet time, and within the API's rate limits. A 5-minute timer
# makes 288 passes a day, so 50 a pass covers 14,400 lineages daily (an assumption: docs/emulator-fidelity.md).
PER_PASS = 50
FAILED_IMAGE = ("CreateFailed", "UnAvailable", "Deprecated")
BUSY_IMAGE = ("Creating", "Waiting")


def stamp(at: float) -> str:
    return time.strftime(STAMP, time.gmtime(at))


def parse(value: str | None) -> float | None:
    """The epoch seconds of a baseline's tag value; None when it is not one."""
    try:
        return float(calendar.timegm(time.strptime(value or "", STAMP)))
    except ValueError:
        return None


def shown(value: str | None) -> str:
    """A baseline's time for people: ``2024-05-19 03:00 UTC``."""
    at = parse(value)
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at)) if at is not None else (value or "")


def is_baseline(resource: models.Image | models.Snapshot) -> bool:
    """Ours, and a baseline: tagged with its time and its lineage."""
    return parse(resource.tag(TAG_BASELINE)) is not None and bool(resource.tag(TAG_LINEAGE))


def due(last: float | None, now: float, hours: float) -> bool:
    """A lineage needs a new baseline: baselines are on (``hours`` > 0) and it has none, or its newest is older."""
    return hours > 0 and (last is None or now - last >= hours * 3600.0)


@dataclass(frozen=True)
class Take:
    """Snapshot this instance's system disk now."""

    lineage: str
    instance: models.Instance
    disk: models.Disk


@dataclass(frozen=True)
class MakeImage:
    """Image this accomplished baseline snapshot."""

    lineage: str
    snapshot: models.Snapshot


def plan(
    instances: Sequence[models.Instance],
    disks: Sequence[models.Disk],
    snapshots: Sequence[models.Snapshot],
    images: Sequence[models.Image],
    *,
    managed: Callable[[models.Instance], bool],
    now: float,
    hours: float,
) -> list[Take | MakeImage]:
    """What the pass does for baselines, from its listings: images of accomplished baseline snapshots first, then
    a snapshot for each lineage that is due and quiet (see the module)."""
    if hours <= 0:
        return []
    snaps = [s for s in snapshots if is_baseline(s)]
    made = [i for i in images if is_baseline(i) and i.status not in FAILED_IMAGE]
    imaged = {(i.tag(TAG_IMAGE_OF), i.tag(TAG_BASELINE)) for i in made}
    work: list[Take | MakeImage] = [
        MakeImage(s.tag(TAG_LINEAGE) or "", s)
        for s in sorted(snaps, key=lambda s: s.snapshot_id)
        if s.status == "accomplished" and (s.tag(TAG_IMAGE_OF), s.tag(TAG_BASELINE)) not in imaged
    ]
    last: dict[str, float] = {}
    taken = [(r.tag(TAG_LINEAGE) or "", r.tag(TAG_BASELINE)) for r in snaps if r.status != "failed"]
    taken += [(r.tag(TAG_LINEAGE) or "", r.tag(TAG_BASELINE)) for r in made]
    for lineage, when in taken:
        at = parse(when) or 0.0
        last[lineage] = max(last.get(lineage, at), at)
    busy = _busy(snapshots, images)
    by_lineage: dict[str, list[models.Instance]] = {}
    for inst in instances:
        if inst.status != "Deleted":
            by_lineage.setdefault(naming.lineage_of(inst), []).append(inst)
    system = {d.instance_id: d for d in disks if d.kind == "system" and d.instance_id}
    # Copy mode (aops:data=copy) puts the data disks in the notice's image; a baseline holds the system disk only
    # and is never launched in their place (recovery.incident), so such an instance gets none.
    copied = {d.instance_id for d in disks if d.kind == "data" and d.instance_id}
    takes: list[Take] = []
    for lineage, members in sorted(by_lineage.items(), key=lambda kv: (last.get(kv[0], 0.0), kv[0])):
        if len(members) != 1 or not due(last.get(lineage), now, hours):
            continue  # two instances: a replacement is under way; the lineage is not quiet
        inst = members[0]
        if inst.instance_id in copied and data_plan.mode(inst) == data_plan.COPY:
            continue
        disk = system.get(inst.instance_id)
        if disk is not None and quiet(inst, managed, busy):
            takes.append(Take(lineage, inst, disk))
    return [*work, *takes[:PER_PASS]]  # the lineages without a baseline, then the oldest, first


def quiet(inst: models.Instance, managed: Callable[[models.Instance], bool], busy: Collection[str]) -> bool:
    """A baseline may be taken of ``inst`` now: a managed spot instance (a pay-as-you-go one is never reclaimed; a
    fallback's move back to spot images it anyway), Running, not under notice, not held for its data disks, and no
    incident's snapshot or image of it in progress; never one an orchestrator owns (``orchestrators``: its Auto
    Scaling group or ACK launches a fresh node from its own template, never from our image)."""
    return (
        managed(inst)
        and not orchestrators.owner(inst.tags)
        and inst.status == "Running"
        and inst.is_spot
        and policy.RECYCLING not in inst.lock_reasons
        and inst.tag(models.TAG_DISKS) != "pending"
        and inst.instance_id not in busy
    )


def _busy(snapshots: Sequence[models.Snapshot], images: Sequence[models.Image]) -> set[str]:
    """Instances an incident is snapshotting or imaging now (its own snapshot or image still in progress)."""
    out = {s.tag(TAG_IMAGE_OF) or "" for s in snapshots if s.status == "progressing" and not is_baseline(s)}
    out |= {i.tag(TAG_IMAGE_OF) or "" for i in images if i.status in BUSY_IMAGE and not is_baseline(i)}
    return out


def surplus(images: Sequence[models.Image], keep: int, in_use: Collection[str]) -> list[models.Image]:
    """The Available baseline images beyond the ``keep`` newest of each lineage (never one in ``in_use``)."""

    def lineage(image: models.Image) -> str | None:
        return image.tag(TAG_LINEAGE) if is_baseline(image) and image.status == "Available" else None

    def newest(image: models.Image) -> tuple[float, str, str]:
        return (parse(image.tag(TAG_BASELINE)) or 0.0, image.creation_time, image.image_id)

    return housekeeping.beyond_keep(images, keep, in_use, lineage=lineage, newest=newest)


def newest(images: Sequence[models.Image], *, system_only: bool = False) -> models.Image | None:
    """The newest Available baseline image among ``images`` (with ``system_only``, none that carries data disks)."""
    found = [i for i in images if is_baseline(i) and i.status == "Available" and not (system_only and i.data_devices)]
    return max(found, key=lambda i: (parse(i.tag(TAG_BASELINE)) or 0.0, i.image_id), default=None)


# -- the cloud steps -------------------------------------------------------------------------------------------
def take(
    cloud: Cloud,
    inst: models.Instance,
    disk: models.Disk,
    disks: Sequence[models.Disk],
    selector: tuple[str, str] | None = None,
) -> str:
    """CreateSnapshot of the system disk, tagged as a baseline of the lineage taken now (with the data-disk slots,
    as the notice's snapshot records them, and the instance's identity: a relaunch from its image needs both)."""
    when = stamp(cloud.clock())
    mine = [d for d in disks if d.instance_id == inst.instance_id]
    record = (*data_slots.encode(data_slots.of_disks(mine)), (TAG_BASELINE, when))
    return cloud.create_snapshot(
        disk.disk_id,
        naming.image_name(inst.instance_id, f"baseline-{when}"),
        naming.image_token(inst.instance_id, f"baseline-{when}"),
        naming.image_tags(inst, INCIDENT, record, selector),
        description=identity.encode(inst),
    )


def image(cloud: Cloud, snap: models.Snapshot) -> str:
    """CreateImage from an accomplished baseline snapshot, with its tags and identity (idempotent per snapshot)."""
    iid, when = snap.tag(TAG_IMAGE_OF) or snap.disk_id, snap.tag(TAG_BASELINE) or ""
    return cloud.create_image(
        naming.image_name(iid, f"baseline-{when}"),
        naming.image_token(iid, f"baseline-image-{when}-{snap.snapshot_id}"),
        snap.tags,
        snap.description,
        snapshot_id=snap.snapshot_id,
    )


def prune(
    cloud: Cloud,
    images: Sequence[models.Image],
    snapshots: Sequence[models.Snapshot],
    keep: int,
    in_use: Collection[str],
) -> list[str]:
    """Delete the baseline images beyond ``keep`` per lineage and their snapshots, and failed baseline snapshots;
    returns the deleted ids. Only baselines (``is_baseline``) are ever looked at."""
    gone = surplus(images, keep, in_use)
    deleted = housekeeping.delete_each((img.image_id for img in gone), cloud.delete_image)
    pairs = {(i.tag(TAG_IMAGE_OF), i.tag(TAG_BASELINE)) for i in gone if i.image_id in deleted}
    doomed = (
        snap.snapshot_id
        for snap in snapshots
        if is_baseline(snap)
        and (snap.status == "failed" or (snap.tag(TAG_IMAGE_OF), snap.tag(TAG_BASELINE)) in pairs)
    )
    return deleted + housekeeping.delete_each(doomed, cloud.delete_snapshot)
