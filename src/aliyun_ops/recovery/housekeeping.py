"""Images made by the tool do not pile up: keep the newest K per lineage, delete the rest.

Only images carrying ``aops:image-of`` (made by this tool) are ever considered, and the image
the replacement was just launched from is always kept. DeleteImage leaves the snapshot an image was made
from (a system-disk snapshot, billed on its own): the tool's snapshot of the same instance goes with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aliyun_ops import errors
from aliyun_ops.models import TAG_IMAGE_OF, TAG_LINEAGE

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud


def prune_images(cloud: Cloud, lineage: str, keep: int, in_use: str | None = None) -> list[str]:
    """Delete all but the ``keep`` newest Available images of ``lineage`` (and their system snapshots);
    returns the deleted ids, images first."""
    images = [
        i
        for i in cloud.describe_images(tags=((TAG_LINEAGE, lineage),), statuses="Available")
        if i.tag(TAG_IMAGE_OF) and i.tag(TAG_LINEAGE) == lineage
    ]
    images.sort(key=lambda i: (i.creation_time, i.image_id), reverse=True)
    deleted = []
    for image in images[max(keep, 1) :]:
        if image.image_id == in_use:
            continue
        try:
            cloud.delete_image(image.image_id)
        except errors.InvalidRequest:  # e.g. still in use by a launch template: keep it, quietly
            continue
        deleted.append(image.image_id)
    sources = {i.tag(TAG_IMAGE_OF) for i in images if i.image_id in deleted}
    return deleted + _prune_snapshots(cloud, lineage, sources)


def _prune_snapshots(cloud: Cloud, lineage: str, sources: set[str | None]) -> list[str]:
    """The system snapshots (tagged ``aops:image-of``) of the instances whose images were just deleted."""
    if not sources:
        return []
    deleted = []
    for snap in cloud.describe_snapshots(tags=((TAG_LINEAGE, lineage),)):
        if snap.tag(TAG_IMAGE_OF) not in sources or snap.status != "accomplished":
            continue
        try:
            cloud.delete_snapshot(snap.snapshot_id)
        except errors.InvalidRequest:  # still used by another image: it stays
            continue
        deleted.append(snap.snapshot_id)
    return deleted
