"""The image of the doomed instance: requested first, watched closely, replaced by a fallback if it fails.

CreateImage is the first write of an incident (right after the single DescribeInstances), because
every second before it is a second less for the snapshot before the release. The ClientToken and the
name are deterministic, so a re-delivery gets the same image back; if the API answers "name taken"
or "token reused with other parameters" the image is looked up by name instead.

DescribeImages is polled with an explicit Status list (its default, Available only, hides an image
that is still Creating) at an interval estimated from the Progress rate, never above
``settings.image_poll_max_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aliyun_ops import errors, models
from aliyun_ops.cloud.errors import IMAGE_NAME_TAKEN
from aliyun_ops.models import TAG_IMAGE_OF, TAG_LINEAGE
from aliyun_ops.recovery import identity, naming

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud

MIN_POLL_S = 1.0


@dataclass(frozen=True)
class ImageChoice:
    image_id: str
    source: str  # fresh | lineage-fallback | original-image
    reason: str = ""


def request_image(cloud: Cloud, original: models.Instance, incident: str, purpose: str = "") -> str | None:
    """CreateImage (idempotent); the existing image's id on a re-delivery; None if the instance is gone."""
    name = naming.image_name(original.instance_id, purpose)
    try:
        return cloud.create_image(
            original.instance_id,
            name,
            naming.image_token(original.instance_id, purpose),
            naming.image_tags(original, incident),
            description=identity.encode(original),
        )
    except (errors.IdempotencyConflict, errors.InvalidRequest) as exc:
        if not isinstance(exc, errors.IdempotencyConflict) and exc.code != IMAGE_NAME_TAKEN:
            raise
        same = [i for i in cloud.describe_images(name=name) if i.tag(TAG_IMAGE_OF) == original.instance_id]
        if same:
            return same[0].image_id
        raise
    except errors.NotFound:
        return None


def next_poll(image: models.Image, elapsed: float, max_s: float) -> float:
    """Estimate the remaining build time from the progress rate; poll about then, within bounds."""
    if image.progress <= 0 or elapsed <= 0:
        return max_s
    remaining = elapsed * (100 - image.progress) / image.progress
    return max(MIN_POLL_S, min(max_s, remaining))


def wait_image(cloud: Cloud, image_id: str, *, until: float, max_poll_s: float) -> models.Image | None:
    """The image once Available; None when it failed or did not finish by ``until``."""
    started = cloud.clock()
    while True:
        found = cloud.describe_images([image_id])
        image = found[0] if found else None
        if image is None or image.status in ("CreateFailed", "UnAvailable", "Deprecated"):
            return None
        if image.status == "Available":
            return image
        now = cloud.clock()
        if now >= until:
            return None
        cloud.sleep(min(next_poll(image, now - started, max_poll_s), max(until - now, 0.0)))


def fallback(cloud: Cloud, original: models.Instance, failed_image: str | None) -> ImageChoice:
    """The newest earlier Available image of the lineage, else the image the original was built from."""
    lineage = naming.lineage_of(original)
    images = [
        i
        for i in cloud.describe_images(tags=((TAG_LINEAGE, lineage),), statuses="Available")
        if i.image_id != failed_image and i.tag(TAG_IMAGE_OF)
    ]
    if images:
        newest = max(images, key=lambda i: (i.creation_time, i.image_id))
        return ImageChoice(
            newest.image_id, "lineage-fallback", f"fresh image unusable; newest lineage image {newest.name}"
        )
    return ImageChoice(
        original.image_id,
        "original-image",
        "fresh image unusable and no earlier lineage image; "
        "launched from the original's image (changes since then are lost)",
    )
