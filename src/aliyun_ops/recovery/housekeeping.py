"""Images made by the tool do not pile up: keep the newest K per lineage, delete the rest.

Only images carrying ``aops:image-of`` (made by this tool) are ever considered (baselines, ``aops:baseline``, have
their own count and pruning: ``lifecycle.baseline``), and an image an instance was
launched from (in use) is always kept. DeleteImage leaves the snapshot an image was made from (a system-disk
snapshot, billed on its own): the tool's snapshot of the same instance goes with it.

Reconcile prunes every lineage from the listings its pass already made, and the ``images prune`` command from
its own; both through ``prune_listed``, which reads the snapshots only when it deleted an image. An incident does
not prune: it spends its calls on the replacement.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from aliyun_ops import errors, models
from aliyun_ops.models import TAG_BASELINE, TAG_IMAGE_OF, TAG_LINEAGE

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud


def prune_listed(
    cloud: Cloud,
    images: Sequence[models.Image],
    snapshots: Callable[[], Sequence[models.Snapshot]],
    keep: int,
    in_use: Collection[str],
) -> list[str]:
    """Delete all but the ``keep`` newest Available images of every lineage in ``images`` (never one in
    ``in_use``: image ids instances were launched from), and the system snapshots of those deleted; returns the
    deleted ids, images first. Only deletions cost calls, and ``snapshots()`` (a listing the caller may already
    have) is asked for only when an image was deleted."""
    surplus = surplus_images(images, keep, in_use)
    deleted = _delete_images(cloud, surplus)
    if not deleted:
        return []
    return deleted + _prune_snapshots(cloud, snapshots(), surplus, deleted)


def surplus_images(images: Sequence[models.Image], keep: int, in_use: Collection[str]) -> list[models.Image]:
    """The tool's Available images beyond the ``keep`` newest of each lineage, never one in ``in_use``."""

    def lineage(image: models.Image) -> str | None:
        mine = image.status == "Available" and image.tag(TAG_IMAGE_OF) and not image.tag(TAG_BASELINE)
        return image.tag(TAG_LINEAGE) if mine else None

    return beyond_keep(images, keep, in_use, lineage=lineage, newest=lambda i: (i.creation_time, i.image_id))


def beyond_keep(
    images: Sequence[models.Image],
    keep: int,
    in_use: Collection[str],
    *,
    lineage: Callable[[models.Image], str | None],
    newest: Callable[[models.Image], Any],
) -> list[models.Image]:
    """The images beyond the ``keep`` (at least 1) newest of each ``lineage`` (None: not counted), newest first by
    ``newest``; never one in ``in_use`` (image ids instances were launched from)."""
    lineages: dict[str, list[models.Image]] = {}
    for image in images:
        name = lineage(image)
        if name:
            lineages.setdefault(name, []).append(image)
    out: list[models.Image] = []
    for same in lineages.values():
        same.sort(key=newest, reverse=True)
        out.extend(i for i in same[max(keep, 1) :] if i.image_id not in in_use)
    return out


def delete_each(ids: Iterable[str], delete: Callable[[str], object]) -> list[str]:
    """``delete(id)`` for each id; the ids deleted. One the cloud refuses as still in use (InvalidRequest: a launch
    template, another image made from a snapshot) stays, quietly."""
    deleted = []
    for resource_id in ids:
        try:
            delete(resource_id)
        except errors.InvalidRequest:
            continue
        deleted.append(resource_id)
    return deleted


def _delete_images(cloud: Cloud, images: Sequence[models.Image]) -> list[str]:
    return delete_each((i.image_id for i in images), cloud.delete_image)


def _prune_snapshots(
    cloud: Cloud, snapshots: Sequence[models.Snapshot], images: Sequence[models.Image], deleted: Sequence[str]
) -> list[str]:
    """The system snapshots (tagged ``aops:image-of``, same lineage) of the instances whose images were deleted."""
    gone = {(i.tag(TAG_LINEAGE), i.tag(TAG_IMAGE_OF)) for i in images if i.image_id in deleted}
    doomed = (
        snap.snapshot_id
        for snap in snapshots
        if (snap.tag(TAG_LINEAGE), snap.tag(TAG_IMAGE_OF)) in gone
        and snap.status == "accomplished"
        and not snap.tag(TAG_BASELINE)  # a baseline's: pruned with its image (``lifecycle.baseline``)
    )
    return delete_each(doomed, cloud.delete_snapshot)
