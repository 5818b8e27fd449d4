"""The system disk kept past a reclaimed instance (move mode): its lineage is never stranded, the disk never leaks.

At the notice the engine keeps the system disk past the release (``aops:system-of=<instance>``, the lineage's
tags, the identity in its description: ``disks.move.label_system``) and snapshots it; the image is made from the
accomplished snapshot. The snapshot can fail, be refused (``IncorrectDiskStatus``), or never be asked for (the
function died first); without an image the lineage is invisible to ``Reconciler._lost_lineages``. So reconcile,
for every kept system disk whose instance is gone (``reconcile_system_disks``):

- ``imaged``: an accomplished ``-system`` snapshot of a lost instance without an image becomes its image (the
  next pass relaunches the lineage from it, with its kept data disks);
- ``cleaned``: the disk is deleted once an accomplished snapshot of it exists and its image is made (its failed
  snapshots go with it), or when its lineage is retired or already has a live successor (which was launched from
  an image: it does not need the disk);
- ``requested``: no accomplished or progressing snapshot of it, and no Available image of the lineage to relaunch
  from (``_lost_lineages`` relaunches from one, as the incident's fallback would have): a new snapshot of the disk,
  under a new name and ClientToken (from the attempt count and the failed snapshots' ids: never a replay of the
  failed request), with the tags and identity the failed snapshot carried, else the disk's own, else the lineage's
  newest image's;
- ``failed``: no identity anywhere, or a call refused: said loudly, the disk is left (data is never deleted on a
  guess), and the next pass tries again. One disk's failure never stops the others.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aliyun_ops import errors, models
from aliyun_ops.models import TAG_GENERATION, TAG_IMAGE_OF, TAG_INCIDENT, TAG_LINEAGE, TAG_SYSTEM_OF
from aliyun_ops.recovery import identity, naming
from aliyun_ops.recovery.image import FAILED_STATUSES, image_of_system_snapshot

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.service import Outcome

log = logging.getLogger(__name__)
SYSTEM_SUFFIX = "-system"  # the name of every system snapshot ends so (``naming.image_name(iid, "...system")``)
CREATING_SNAPSHOT = "IncorrectDiskStatus.CreatingSnapshot"  # one is in progress already: nothing to do


def reconcile_system_disks(
    cloud: Cloud,
    instances: Sequence[models.Instance],
    disks: Sequence[models.Disk],
    snapshots: Sequence[models.Snapshot],
    images: Sequence[models.Image],
) -> list[Outcome]:
    """Image the accomplished system snapshots of lost instances, then settle every kept system disk of a lost
    instance (see the module). ``instances``, ``disks``, ``snapshots``, ``images``: the pass's listings."""
    alive = {i.instance_id for i in instances}
    # a baseline is older than the notice's snapshot: it does not make that snapshot's image unneeded
    imaged: dict[str, models.Image | str] = {
        i.tag(TAG_IMAGE_OF) or "": i for i in images if i.tag(TAG_IMAGE_OF) and not i.tag(models.TAG_BASELINE)
    }
    out = _image_snapshots(cloud, alive, snapshots, imaged)
    kept = sorted(
        (d for d in (*disks, *_unlabelled(disks, snapshots, alive)) if d.tag(TAG_SYSTEM_OF) and d.tag(TAG_SYSTEM_OF)
         not in alive),
        key=lambda d: d.disk_id,
    )
    for disk in kept:
        try:
            said = _settle(cloud, disk, instances, snapshots, images, imaged)
        except Exception as exc:  # one bad disk never stops the others; the next pass tries again
            log.warning("kept system disk %s not settled", disk.disk_id, exc_info=True)
            said = _outcome("failed", f"kept system disk {disk.disk_id} of lost {disk.tag(TAG_SYSTEM_OF)}: {exc}")
        if said is not None:
            out.append(said)
    counts = Counter(o.status for o in out)
    if counts:
        log.info("kept system disks: %s", ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    return out


def _outcome(status: str, message: str) -> Outcome:
    from aliyun_ops.service import Outcome

    return Outcome(status, message)


def _image_snapshots(
    cloud: Cloud, alive: set[str], snapshots: Sequence[models.Snapshot], imaged: dict[str, models.Image | str]
) -> list[Outcome]:
    """An image of each lost instance whose system snapshot is accomplished and that has none yet (``imaged``
    gains it)."""
    out = []
    for snap in snapshots:
        iid = snap.tag(TAG_IMAGE_OF) or ""
        if not iid or iid in alive or iid in imaged or not _is_system(snap) or snap.status != "accomplished":
            continue
        try:
            image_id = image_of_system_snapshot(cloud, iid, snap.snapshot_id, snap.tags, snap.description)
        except Exception as exc:  # the disk is kept: the next pass tries again
            log.warning("image of %s from %s not made", iid, snap.snapshot_id, exc_info=True)
            out.append(_outcome("failed", f"image of lost {iid} from its system snapshot {snap.snapshot_id}: {exc}"))
            continue
        imaged[iid] = image_id
        out.append(_outcome("imaged", f"image {image_id} of lost {iid} made from its system snapshot"))
    return out


def _unlabelled(
    disks: Sequence[models.Disk], snapshots: Sequence[models.Snapshot], alive: set[str]
) -> list[models.Disk]:
    """Kept system disks whose labels never landed (the function died before it tagged them): the system snapshot
    taken at the notice names its source disk, so the disk is known by that, and judged as if it carried them."""
    sources = {
        s.disk_id: s for s in snapshots if _is_system(s) and s.tag(TAG_IMAGE_OF) and s.tag(TAG_IMAGE_OF) not in alive
    }
    out = []
    for d in disks:
        snap = sources.get(d.disk_id)
        if snap is None or d.tag(TAG_SYSTEM_OF) or d.kind != "system" or d.instance_id:
            continue
        iid = snap.tag(TAG_IMAGE_OF) or ""
        labels = ((TAG_SYSTEM_OF, iid), (TAG_LINEAGE, snap.tag(TAG_LINEAGE) or iid))
        out.append(dataclasses.replace(d, tags=(*d.tags, *labels)))
    return out


def _is_system(snap: models.Snapshot) -> bool:
    return snap.name.endswith(SYSTEM_SUFFIX)


def _settle(
    cloud: Cloud,
    disk: models.Disk,
    instances: Sequence[models.Instance],
    snapshots: Sequence[models.Snapshot],
    images: Sequence[models.Image],
    imaged: dict[str, models.Image | str],
) -> Outcome | None:
    """What one kept system disk of a lost instance needs now (None: nothing, e.g. its snapshot is progressing)."""
    iid = disk.tag(TAG_SYSTEM_OF) or ""
    lineage = disk.tag(TAG_LINEAGE) or iid
    if disk.instance_id or disk.status != "Available":
        return None  # attached again, or busy: not a kept disk to judge now
    mine = [s for s in snapshots if s.disk_id == disk.disk_id and s.tag(TAG_IMAGE_OF) == iid]
    failed = sorted(s.snapshot_id for s in mine if s.status == "failed")
    unneeded = _unneeded(iid, lineage, instances, images)
    if unneeded:
        return _drop(cloud, disk, iid, failed, unneeded)
    if any(s.status == "accomplished" for s in mine):
        made = imaged.get(iid)
        if made is None or (isinstance(made, models.Image) and made.status in FAILED_STATUSES):
            return None  # the image is made from the snapshot first (``_image_snapshots``, this pass or the next)
        return _drop(cloud, disk, iid, failed, "its snapshot is accomplished and the image made")
    if any(s.status == "progressing" for s in mine):
        return None
    if _relaunchable(lineage, images):
        return None  # ``_lost_lineages`` relaunches it from that image (the incident's fallback); the disk goes then
    return _snapshot_again(cloud, disk, iid, lineage, [s for s in mine if s.status == "failed"], images)


def _unneeded(iid: str, lineage: str, instances: Sequence[models.Instance], images: Sequence[models.Image]) -> str:
    """Why the disk is not needed any more ("" when it is): its lineage is retired, or has a live instance."""
    if any(i.tag(TAG_LINEAGE) == lineage and i.tag(models.TAG_RETIRED) == "true" for i in images):
        return f"its lineage {lineage} is retired"
    successors = [
        i.instance_id
        for i in instances
        if i.instance_id != iid
        and i.status != "Deleted"
        and (i.tag(models.TAG_REPLACES) == iid or naming.lineage_of(i) == lineage)
    ]
    return f"its lineage {lineage} lives on as {min(successors)}" if successors else ""


def _relaunchable(lineage: str, images: Sequence[models.Image]) -> bool:
    """The lineage has an Available image to relaunch from: a new snapshot would only race that relaunch."""
    return any(
        i.tag(TAG_LINEAGE) == lineage and i.tag(TAG_IMAGE_OF) and i.status == "Available"
        and i.tag(models.TAG_RETIRED) != "true"
        for i in images
    )


def _drop(cloud: Cloud, disk: models.Disk, iid: str, failed: list[str], why: str) -> Outcome:
    """DeleteDisk of the kept system disk, then its failed snapshots (nothing can be made from them)."""
    from aliyun_ops.disks.move import mark_ours

    as_is = cloud.describe_disks(disk_ids=[disk.disk_id])  # its real tags (the pass may have judged it unlabelled)
    mark_ours(cloud, as_is[0] if as_is else disk, disk.tag(TAG_LINEAGE) or iid)
    cloud.delete_disk(disk.disk_id)
    for snapshot_id in failed:
        cloud.delete_snapshot(snapshot_id)
    gone = f" and its failed snapshot(s) {', '.join(failed)}" if failed else ""
    return _outcome("cleaned", f"deleted {disk.disk_id}, the system disk kept for {iid}{gone}: {why}")


def _snapshot_again(
    cloud: Cloud,
    disk: models.Disk,
    iid: str,
    lineage: str,
    failed: list[models.Snapshot],
    images: Sequence[models.Image],
) -> Outcome:
    """CreateSnapshot of the kept disk under a new name and token, with the lost instance's identity."""
    found = _identity(cloud, disk, iid, lineage, failed, images)
    if found is None:
        why = (
            f"kept system disk {disk.disk_id} of lost {iid} (lineage {lineage}) has no snapshot to copy an identity "
            "from, none in its description, and its lineage has no image: it cannot be relaunched automatically; "
            "the disk is left in place (relaunch it by hand, or delete it once its data is not needed)"
        )
        log.error(why)
        return _outcome("failed", why)
    tags, description, source = found
    failed_ids = sorted(s.snapshot_id for s in failed)
    attempt = len(failed_ids) + 1
    name = naming.image_name(iid, f"retry{attempt}{SYSTEM_SUFFIX}")
    token = naming.image_token(iid, "|".join(("system-snapshot-retry", disk.disk_id, str(attempt), *failed_ids)))
    try:
        snapshot_id = cloud.create_snapshot(disk.disk_id, name, token, tags, description=description)
    except errors.InvalidRequest as exc:
        if exc.code == CREATING_SNAPSHOT:  # a concurrent pass asked a moment ago
            return _outcome("skipped", f"kept system disk {disk.disk_id} of lost {iid}: a snapshot is in progress")
        raise
    after = f" after {', '.join(failed_ids)} failed" if failed_ids else " (none was made at the notice)"
    return _outcome(
        "requested",
        f"snapshot {snapshot_id} of {disk.disk_id}, the system disk kept for lost {iid}, requested{after}, with the "
        f"identity of {source}; the image and the relaunch of lineage {lineage} follow",
    )


def _identity(
    cloud: Cloud,
    disk: models.Disk,
    iid: str,
    lineage: str,
    failed: list[models.Snapshot],
    images: Sequence[models.Image],
) -> tuple[models.Tags, str, str] | None:
    """(tags, description, where they come from) for the new snapshot: the failed snapshot's (every ``aops:``
    tag verbatim), else the disk's own, else the lineage's newest image's (as the next generation); None: none."""
    region = cloud.region_id
    for snap in sorted(failed, key=lambda s: s.snapshot_id, reverse=True):
        tags = tuple((k, v) for k, v in snap.tags if not k.startswith("acs:"))
        if identity.decode(snap.description, iid, region, tags) is not None:
            return tags, snap.description, f"its failed snapshot {snap.snapshot_id}"
    own = ((TAG_IMAGE_OF, iid), *((k, v) for k, v in disk.tags if k != TAG_SYSTEM_OF and not k.startswith("acs:")))
    if identity.decode(disk.description, iid, region, own) is not None:
        return own, disk.description, f"the disk {disk.disk_id}"
    return _from_lineage_image(cloud, iid, lineage, images)


def _from_lineage_image(
    cloud: Cloud, iid: str, lineage: str, images: Sequence[models.Image]
) -> tuple[models.Tags, str, str] | None:
    """The lineage's newest image's identity and tags, as those of ``iid`` (the generation launched from it)."""
    mine = [i for i in images if i.tag(TAG_LINEAGE) == lineage and i.tag(TAG_IMAGE_OF)]
    if not mine:
        return None
    image = max(mine, key=lambda i: (i.creation_time, i.image_id))
    details = cloud.call("ecs", "DescribeImages", {"ImageId": image.image_id, "ImageOwnerAlias": "self"})
    rows = (details.get("Images") or {}).get("Image") or [{}]
    description = str(rows[0].get("Description") or "")
    generation = _generation(image) + (1 if image.tag(models.TAG_LAUNCHED) == iid else 0)
    replaced = {TAG_IMAGE_OF: iid, TAG_GENERATION: str(generation), TAG_INCIDENT: naming.incident_id(iid)}
    dropped = (models.TAG_LAUNCHED, models.TAG_RETIRED)
    tags = tuple((k, replaced.get(k, v)) for k, v in image.tags if k not in dropped and not k.startswith("acs:"))
    if identity.decode(description, iid, cloud.region_id, tags) is None:
        return None
    return tags, description, f"the lineage's image {image.image_id}"


def _generation(image: models.Image) -> int:
    try:
        return int(image.tag(TAG_GENERATION) or 0)
    except ValueError:
        return 0
