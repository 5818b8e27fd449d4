"""The image of the doomed instance: requested first, watched closely, replaced by a fallback if it fails.

Guarantee: a replacement is launched from an image *of this instance* (the fresh one, or the newest
earlier image of its lineage), or not at all. A public base image would be a blank server with the
right name and IP; when no image of the instance can be had, ``fallback`` raises ``ImageUnavailable``
and the incident fails loudly (reconcile relaunches the lineage once an image of it is Available).

CreateImage is the first write of an incident (right after the single DescribeInstances), because
every second before it is a second less for the snapshot before the release. The ClientToken and the
name are deterministic, so a re-delivery gets the same image back; if the API answers "name taken"
or "token reused with other parameters" the image is looked up by name instead (a just-created image
may not be listed for a moment: the look-up is retried). ``IncorrectInstanceStatus`` (the instance is
busy) is retried with backoff for ``BUSY_RETRY_S``, as real clients do; past that the incident goes
on without a fresh image.

DescribeImages is polled with an explicit Status list (its default, Available only, hides an image
that is still Creating) at an interval estimated from the Progress rate (``next_poll_progress``), or
``settings.image_poll_max_s``. The image is ready when RunInstances can use it: Available, or Usable
earlier (instant-access snapshots); an image Available but not yet ``Usable`` (the real cloud has that; terraform
waits for Usable) is pending too, and one ``IncorrectImageStatus`` at RunInstances on an image that is still
Available is not "the image failed": it is waited for once more (``usable_again``). An image not listed yet is
pending, not failed, for
``LISTING_GRACE_S``. A build costs a handful of looks whatever its length: the first comes
``FIRST_LOOK_POLLS`` x ``settings.image_poll_max_s`` (10 s) after the request (nothing is built sooner),
and once the progress rate puts the end within ``TAIL_S`` the next look comes just after it, not before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aliyun_ops import errors, models
from aliyun_ops.cloud.errors import IMAGE_NAME_TAKEN, INSTANCE_BUSY
from aliyun_ops.disks.slots import Slot, recorded
from aliyun_ops.models import TAG_IMAGE_OF, TAG_LINEAGE
from aliyun_ops.recovery import identity, naming

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud

MIN_POLL_S = 1.0
PROGRESS_SHARE = 0.9  # of the remaining time the progress rate predicts: the next look comes just before the end
# Longest pause the progress estimate may set. An image is Usable no sooner than its disks' snapshots are done (it is
# made of them), so a long build is not watched every 20 s for an early Usable: a handful of looks whatever its length
# (the call budget). Such a pause can step over the whole window between Usable and the release, though, when an image
# of the instance dies with it (a late delivery): one look comes RELEASE_LOOK_S before the release (``last_chance``).
PROGRESS_POLLS_S = 60.0
TAIL_S = 20.0  # an end predicted this close is looked at just after it (TAIL_MARGIN_S), in one look
RELEASE_LOOK_S = 10.0  # the last look before the release that ends an image still building comes this long before it
FIRST_LOOK_POLLS = 2  # no image or snapshot is done within 2 x ``max_poll_s`` (10 s) of its request: no look sooner
TAIL_MARGIN_S = 0.5
BUSY_RETRY_S = 60.0  # CreateImage refused as IncorrectInstanceStatus: retried this long (backoff 1 s .. 8 s)
LISTING_GRACE_S = 30.0  # a just-created image missing from DescribeImages is pending this long
FAILED_STATUSES = ("CreateFailed", "UnAvailable", "Deprecated")
BUSY_CODES = (INSTANCE_BUSY, "IncorrectDiskStatus")  # the instance or disk is busy for a moment: retried
IMAGE_REFUSED_AT_LAUNCH = frozenset({"IncorrectImageStatus", "InvalidImageId.NotFound", "InvalidImageId.NotExist"})
QUOTA_PREFIX = "QuotaExceed"  # CreateSnapshot/CreateImage beyond a quota: waiting does not help, another route does
SNAPSHOT_QUOTA_PER_DISK = 256  # [docs] CreateSnapshot: no snapshot once the disk has 256 manual snapshots


@dataclass(frozen=True)
class ImageChoice:
    image_id: str
    source: str  # fresh | lineage-fallback
    reason: str = ""
    data_devices: tuple[str, ...] = ()  # the image's data disks: RunInstances recreates them at these devices
    slots: tuple[Slot, ...] = ()  # the data-disk slots its instance had (move mode), as the image records them


class ImageRefused(errors.AliyunOpsError):
    """CreateImage kept refusing (the instance stayed busy): go on without a fresh image."""


def request_image(
    cloud: Cloud,
    original: models.Instance,
    incident: str,
    purpose: str = "",
    selector: tuple[str, str] | None = None,
) -> str | None:
    """CreateImage (idempotent); the existing image's id on a re-delivery; None if the instance is gone.

    Raises ``ImageRefused`` when the instance stayed busy for ``BUSY_RETRY_S``."""
    iid = original.instance_id
    name = naming.image_name(iid, purpose)

    def create() -> str:
        tags = naming.image_tags(original, incident, selector=selector)
        token = naming.image_token(iid, purpose)
        return cloud.create_image(name, token, tags, identity.encode(original), instance_id=iid)

    return _while_busy(cloud, "CreateImage", lambda: _made_once(cloud, name, iid, create))


def request_system_snapshot(
    cloud: Cloud,
    original: models.Instance,
    system: models.Disk,
    incident: str,
    record: models.Tags = (),
    selector: tuple[str, str] | None = None,
) -> str | None:
    """CreateSnapshot of the system disk only (idempotent): the image is made from it once it is accomplished,
    so the image's build time does not depend on the data disks. None if the disk is already gone.

    ``record``: the data-disk slots (``disks.slots``), written with the snapshot itself: the incident's first write
    already says what its replacement must start with.

    Raises ``ImageRefused`` when the disk stayed busy for ``BUSY_RETRY_S``."""
    iid = original.instance_id

    def create() -> str:
        return cloud.create_snapshot(
            system.disk_id,
            naming.image_name(iid, "system"),
            naming.image_token(iid, "system-snapshot"),
            naming.image_tags(original, incident, record, selector),
            description=identity.encode(original),  # reconcile makes the image from it if we cannot
        )

    quota = (
        f"the system disk {system.disk_id} of {iid} has {SNAPSHOT_QUOTA_PER_DISK} manual snapshots, the quota per "
        "disk: delete old snapshots of it"
    )
    return _while_busy(cloud, "CreateSnapshot", create, quota=quota)


def _while_busy(cloud: Cloud, action: str, create: Callable[[], str], *, quota: str = "") -> str | None:
    """``create()``, repeated with backoff (1 s .. 8 s) while the instance or disk is busy (Pending, Stopping, never
    used yet), for ``BUSY_RETRY_S`` at most; None when the resource is gone; ``ImageRefused`` when it stayed busy,
    or at once beyond a quota (``quota`` says which one to the user)."""
    give_up = cloud.clock() + BUSY_RETRY_S
    delay = 1.0
    while True:
        try:
            return create()
        except errors.NotFound:
            return None
        except errors.InvalidRequest as exc:
            if exc.code.startswith(QUOTA_PREFIX):
                raise ImageRefused(f"{action} refused ({exc.code}): {quota or exc}") from exc
            if not exc.code.startswith(BUSY_CODES):
                raise
            if cloud.clock() + delay >= min(give_up, cloud.deadline or give_up):
                raise ImageRefused(f"{action} refused for {BUSY_RETRY_S:.0f} s: {exc.code}") from exc
            cloud.sleep(delay)
            delay = min(delay * 2, 8.0)


def image_from_snapshot(
    cloud: Cloud,
    original: models.Instance,
    snapshot_id: str,
    incident: str,
    *,
    until: float,
    max_poll_s: float,
    requested_at: float | None = None,
    record: models.Tags = (),
    selector: tuple[str, str] | None = None,
) -> str | None:
    """Wait for the system snapshot to be accomplished (CreateImage refuses one in progress), then CreateImage
    from it (idempotent; a re-delivery finds the same image). None when the snapshot failed or was too slow.
    ``record``: the data-disk slots, carried over to the image.

    ``requested_at``: when CreateSnapshot was accepted; the first look waits FIRST_LOOK_POLLS x ``max_poll_s``
    after it."""
    started = requested_at if requested_at is not None else cloud.clock()
    _first_look(cloud, requested_at, until, max_poll_s)
    while True:
        found = cloud.describe_snapshots([snapshot_id])
        snap = found[0] if found else None
        now = cloud.clock()
        if snap is not None and snap.status == "accomplished":
            break
        if (snap is not None and snap.status == "failed") or (snap is None and now - started >= LISTING_GRACE_S):
            return None
        if now >= until:
            return None
        wait = MIN_POLL_S * 2 if snap is None else next_poll_progress(snap.progress, now - started, max_poll_s)
        cloud.sleep(min(wait, max(until - now, 0.0)))
    return image_of_system_snapshot(
        cloud,
        original.instance_id,
        snapshot_id,
        naming.image_tags(original, incident, record, selector),
        identity.encode(original),
    )


def image_of_system_snapshot(cloud: Cloud, iid: str, snapshot_id: str, tags: models.Tags, description: str) -> str:
    """CreateImage from the accomplished system snapshot of ``iid`` (idempotent: same name and token)."""
    name = naming.image_name(iid)
    token = naming.image_token(iid, "from-system-snapshot")

    def create() -> str:
        return cloud.create_image(name, token, tags, description, snapshot_id=snapshot_id)

    return _made_once(cloud, name, iid, create)


def _made_once(cloud: Cloud, name: str, iid: str, create: Callable[[], str]) -> str:
    """``create()``; the image an earlier request made when the name or the token is already taken."""
    try:
        return create()
    except errors.IdempotencyConflict:
        return _existing(cloud, name, iid)
    except errors.InvalidRequest as exc:
        if exc.code == IMAGE_NAME_TAKEN:
            return _existing(cloud, name, iid)
        raise


def _existing(cloud: Cloud, name: str, instance_id: str) -> str:
    """The image an earlier request made under this name (retried while listings catch up)."""
    give_up = cloud.clock() + LISTING_GRACE_S
    while True:
        # ImageName is a fuzzy filter: keep the exact name (another purpose's image shares the prefix)
        same = [i for i in cloud.describe_images(name=name) if i.name == name and i.tag(TAG_IMAGE_OF) == instance_id]
        if same:
            return same[0].image_id
        if cloud.clock() + 2.0 >= give_up:
            raise ImageRefused(f"image {name} exists but is not listed after {LISTING_GRACE_S:.0f} s")
        cloud.sleep(2.0)


def next_poll(image: models.Image, elapsed: float, max_s: float) -> float:
    """Estimate the remaining build time from the progress rate; poll about then, within bounds."""
    return next_poll_progress(image.progress, elapsed, max_s)


def next_poll_progress(progress: int, elapsed: float, max_s: float) -> float:
    """``max_s`` until the progress tells; then most of the estimated remaining time (PROGRESS_SHARE of it), at
    most PROGRESS_POLLS_S apart; once the end is predicted within TAIL_S, TAIL_MARGIN_S after it, so the last
    look sees it done. A 60 s build is watched in three or four looks instead of a dozen, and a build that
    speeds up (or an image Usable before Available) is seen at most PROGRESS_POLLS_S late."""
    if progress <= 0 or elapsed <= 0:
        return max_s
    remaining = elapsed * (100 - progress) / progress
    if remaining <= TAIL_S:
        return max(MIN_POLL_S, remaining + TAIL_MARGIN_S)
    return max(MIN_POLL_S, min(max(max_s, PROGRESS_POLLS_S), remaining * PROGRESS_SHARE))


def _first_look(cloud: Cloud, requested_at: float | None, until: float, max_poll_s: float) -> None:
    """Nothing is built within FIRST_LOOK_POLLS x ``max_poll_s`` of its request: the first look waits for that (no
    wait for a build requested earlier, e.g. by a delivery before this one, when ``requested_at`` is None)."""
    if requested_at is None:
        return
    wait = min(requested_at + FIRST_LOOK_POLLS * max_poll_s, until) - cloud.clock()
    if wait > 0:
        cloud.sleep(wait)


def wait_image(
    cloud: Cloud,
    image_id: str,
    *,
    until: float,
    max_poll_s: float,
    requested_at: float | None = None,
    last_chance: float | None = None,
) -> models.Image | None:
    """The image once RunInstances can use it; None when it failed, vanished, or was not ready by ``until``.

    ``requested_at``: when this delivery's CreateImage was accepted; the first look waits FIRST_LOOK_POLLS x
    ``max_poll_s`` after it, and the progress rate is measured from it. ``last_chance``: the moment the image fails
    if it is still building (the release of the instance it is made of: the release deletes its disks' snapshots in
    progress); a pause that would step over it ends RELEASE_LOOK_S before it, so an image Usable before Available is
    launched from in time."""
    started = requested_at if requested_at is not None else cloud.clock()
    _first_look(cloud, requested_at, until, max_poll_s)
    seen = False
    while True:
        found = cloud.describe_images([image_id])
        image = found[0] if found else None
        now = cloud.clock()
        if image is None:
            if seen or now - started >= LISTING_GRACE_S:  # deleted, or never listed at all
                return None
            wait = max(MIN_POLL_S * 2, max_poll_s)  # the listing lags by seconds
        elif image.status in FAILED_STATUSES:
            return None
        elif image.launchable:
            return image
        else:
            seen = True
            # Available but not Usable yet: no progress left to estimate from, look again a poll later
            wait = max_poll_s if image.status == "Available" else next_poll(image, now - started, max_poll_s)
        if now >= until:
            return None
        cloud.sleep(min(_before_last_chance(wait, now, last_chance), max(until - now, 0.0)))


def _before_last_chance(wait: float, now: float, last_chance: float | None) -> float:
    """``wait``, cut short so that a look comes RELEASE_LOOK_S before ``last_chance`` when it would step over it."""
    if last_chance is None:
        return wait
    look = last_chance - RELEASE_LOOK_S
    return look - now if now < look < now + wait else wait


def image_gone(exc: errors.CloudError) -> bool:
    """RunInstances refused the image itself: it failed, vanished, or is not Usable (yet)."""
    return exc.code in IMAGE_REFUSED_AT_LAUNCH


def usable_again(cloud: Cloud, image_id: str, *, until: float, max_poll_s: float) -> models.Image | None:
    """RunInstances refused ``image_id`` (``IncorrectImageStatus``): the image once it is launchable again if it is
    still on its way (Available but not Usable yet, or Creating), None when it failed or vanished (or ``until``
    passed). A refusal is not "the image failed" by itself: only the image's own status says that."""
    return wait_image(cloud, image_id, until=until, max_poll_s=max_poll_s)


def fallback(
    cloud: Cloud,
    original: models.Instance,
    failed_image: str | None,
    *,
    system_only: bool = False,
    with_data: bool = False,
) -> ImageChoice:
    """The newest earlier Available image of the lineage; ``ImageUnavailable`` when there is none.

    Never the public image the original was built from: that would be a blank server. With ``system_only``
    (the data disks move to the replacement) an image that carries data disks is not used: its stale copies
    would take the devices the moved disks go back to. With ``with_data`` (copy mode: the data disks come only
    from the image) an image without data disks is not used either: a baseline, or an image of the lineage from
    before it was switched to copy mode, would boot the server without its data."""
    lineage = naming.lineage_of(original)
    images = [
        i
        for i in cloud.describe_images(tags=((TAG_LINEAGE, lineage),), statuses="Available")
        if i.image_id != failed_image
        and i.tag(TAG_IMAGE_OF)
        and not (system_only and i.data_devices)
        and not (with_data and not i.data_devices)
    ]
    if images:
        newest = max(images, key=lambda i: (i.creation_time, i.image_id))
        return ImageChoice(
            newest.image_id,
            "lineage-fallback",
            f"fresh image unusable; newest lineage image {newest.name}",
            newest.data_devices,
            recorded(newest.tags, newest.image_id),
        )
    fresh = f" (the fresh image {failed_image} may still finish: reconcile relaunches from it then)"
    raise errors.ImageUnavailable(
        f"no image of {original.instance_id} could be had in time and its lineage has no earlier image; "
        f"nothing was launched rather than a blank server from a public image{fresh if failed_image else ''}"
    )
