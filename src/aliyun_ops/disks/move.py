"""Keep, hold, move: the data disks' way from the original to its replacement (the rules are in ``plan``).

- ``keep`` (at the notice, and whenever reconcile sees a managed instance): ModifyDiskAttribute
  ``DeleteWithInstance=false`` for every data disk, and tags each with its instance and device, so the release
  detaches the disks with every byte written up to the last second, and a later run can find them.
- ``DataMove.hold``: the replacement is stopped (KeepCharging: its capacity stays reserved) as soon as it is
  Running, and stays stopped until its disks are attached. Its guest therefore never serves from an empty data
  path: it runs only for the seconds between its first boot and the stop, before any address is moved to it.
- ``DataMove.attach_all``: once the release frees the disks, each is attached in the original device order.
  A disk in another zone is snapshotted (consistent: nothing writes to it any more), a disk is created from the
  snapshot in the replacement's zone, attached, and only then is the old disk deleted.
- ``DataMove.start``: StartInstance, the replacement boots with its data, and is tagged ``aops:disks=attached``.

Every step is idempotent (ClientTokens from the disk ids, states re-read each round), so a delivery that died
anywhere is finished by the next delivery or by reconcile. A disk of the original that no longer exists or is
attached elsewhere is ``DataUnavailable``: the incident fails loudly and the replacement stays stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from aliyun_ops import errors, models, tagroom
from aliyun_ops.cloud import batch
from aliyun_ops.disks import plan
from aliyun_ops.disks.slots import Slot, in_slot
from aliyun_ops.models import TAG_DEVICE, TAG_DISK_OF, TAG_DISKS, TAG_IMAGE_OF, TAG_LINEAGE, TAG_SYSTEM_OF
from aliyun_ops.recovery import identity, naming

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud

log = logging.getLogger(__name__)

POLL_S = 1.0
AFTER_RELEASE_S = 1.0  # disks still on the original are looked at this long after the expected release, then every
# POLL_S (nothing frees them sooner)
SETTLE_S = 6.0  # AttachDisk takes a few seconds (5 s in the emulator): the first look after it comes then
SETTLE_POLL_S = 2.0  # then every this long
FAR_POLL_S = 60.0  # longest pause while the replacement starts
COPY_POLL_S = 10.0  # between looks at a cross-zone copy (a snapshot takes minutes; an early look costs one call)
SNAPSHOT_ATTEMPTS = 8  # move snapshots of one disk found dead (deleted, failed) in a row before the move gives up
LABEL_WORKERS = 8  # labels (one TagResources per disk) sent at a time by ``keep_many``
BOOT_POLLS = 4  # Running comes later than 4 x poll_s (20 s) after RunInstances or StartInstance (an assumption)


def keep(
    cloud: Cloud, instance: models.Instance, disks: Sequence[models.Disk], *, system_too: bool = False
) -> tuple[models.Disk, ...]:
    """Make the instance's data disks outlive it (``keep_now``), and say on each whose data it is and where it
    goes (``label``)."""
    keep_now(cloud, instance, disks, system_too=system_too)
    label(cloud, instance, disks, system_too=system_too)
    return plan.data_disks(disks)


def keep_now(
    cloud: Cloud, instance: models.Instance, disks: Sequence[models.Disk], *, system_too: bool = False
) -> None:
    """One ModifyDiskAttribute: every data disk with ``DeleteWithInstance=false``.

    ``system_too`` (at the notice): the system disk also outlives the release, so that the snapshot the image
    is made from finishes even if the release comes first; ``drop_system`` deletes it once that is done."""
    if plan.mode(instance) == plan.COPY:
        return
    release = [d.disk_id for d in disks if d.delete_with_instance and (d.kind == "data" or system_too)]
    if release and plan.data_disks(disks):
        cloud.keep_disks(release)


def label(cloud: Cloud, instance: models.Instance, disks: Sequence[models.Disk], *, system_too: bool = False) -> None:
    """The tags a later run finds the kept disks by: whose data, which device (one TagResources per disk).

    A disk holds 20 tags: one near the limit gets the labels that fit (``tagroom.DISK_RANK``), said in the log;
    labelling never raises for want of room (the disks are kept by ``keep_now`` whatever their tags)."""
    if plan.mode(instance) == plan.COPY or not plan.data_disks(disks):
        return
    system = next((d for d in disks if d.kind == "system"), None) if system_too else None
    if system is not None and system.tag(TAG_SYSTEM_OF) != instance.instance_id:
        label_system(cloud, instance, system)
    for tags, disk_id in _unlabelled(instance, disks):
        _tag_disks(cloud, [disk_id], tags)


def label_system(cloud: Cloud, instance: models.Instance, system: models.Disk) -> None:
    """The kept system disk carries what its image would: the identity in its description, then the image's tags
    (``aops:system-of`` instead of ``aops:image-of``), as many as fit beside its own (``aops:system-of`` and
    ``aops:lineage`` first). Should its snapshot fail, be refused, or never be asked for, reconcile snapshots the
    disk again and relaunches the lineage from it (``recovery.systemdisk``)."""
    cloud.describe_disk_as(system.disk_id, identity.encode(instance))
    room = tagroom.labels(system.tags, system_labels(instance), tagroom.SYSTEM_DISK_RANK)
    _say_no_room(system.disk_id, room)
    _tag_disks(cloud, [system.disk_id], room.write)


def system_labels(instance: models.Instance) -> models.Tags:
    """A kept system disk's tags: whose (``aops:system-of``), then its image's tags but ``aops:image-of``."""
    iid = instance.instance_id
    image = naming.image_tags(instance, naming.incident_id(iid))
    return ((TAG_SYSTEM_OF, iid), *((k, v) for k, v in image if k != TAG_IMAGE_OF))


def disk_labels(instance_id: str, device: str, lineage: str) -> models.Tags:
    """A kept data disk's tags: whose data (``aops:disk-of``), which slot (``aops:device``), which lineage."""
    return ((TAG_DISK_OF, instance_id), (TAG_DEVICE, device), (TAG_LINEAGE, lineage))


def _unlabelled(
    instance: models.Instance, disks: Sequence[models.Disk], no_room: list[str] | None = None
) -> list[tuple[models.Tags, str]]:
    """(tags, disk id) of each of the instance's data disks whose labels that fit beside its own tags are not all
    on it yet. A disk without room for every label gets those that fit (``tagroom.DISK_RANK``); its id is added
    to ``no_room`` and the log says which labels it lacks."""
    iid, lineage = instance.instance_id, naming.lineage_of(instance)
    out = []
    for d in plan.data_disks(disks):
        room = tagroom.labels(d.tags, disk_labels(iid, d.device, lineage), tagroom.DISK_RANK)
        if room.left:
            _say_no_room(d.disk_id, room)
            if no_room is not None:
                no_room.append(d.disk_id)
        if room.write and tagroom.missing(d.tags, room.write):
            out.append((room.write, d.disk_id))
    return out


def _say_no_room(disk_id: str, room: tagroom.Fit) -> None:
    if room.left:
        log.warning(
            "disk %s holds 20 tags at most: labelled %s, no room for %s (its slot is also on the system image)",
            disk_id,
            tagroom.said(room.write) or "nothing",
            tagroom.said(room.left),
        )


def _tag_disks(cloud: Cloud, disk_ids: list[str], tags: models.Tags) -> bool:
    """TagResources on kept disks; a refusal (a disk's tags changed since they were read and it is full now, or it
    was deleted) is logged, never raised: a label only helps find a disk that is kept anyway."""
    if not tags:
        return True
    try:
        cloud.tag_resources("disk", disk_ids, tags)
    except (errors.InvalidRequest, errors.NotFound) as exc:
        log.warning("could not label %s with %s: %s", ", ".join(disk_ids), tagroom.said(tags), exc.code)
        return False
    return True


def keep_many(
    cloud: Cloud,
    found: Sequence[tuple[models.Instance, Sequence[models.Disk]]],
    *,
    label_until: float | None = None,
    no_room: list[str] | None = None,
) -> list[tuple[str, int]]:
    """``keep`` for many instances at once, in calls that grow with the batches, not with the instances:
    every data disk that would be deleted with its instance gets ``DeleteWithInstance=false`` first (one
    ModifyDiskAttribute per 100 disks: the data is safe once this is done), then the labels, one TagResources
    per distinct tag set (a disk's tags name its own instance and device, so disks share a call only when they
    share both; up to 50 per call), ``LABEL_WORKERS`` at a time.

    Labelling stops once ``cloud.clock()`` passes ``label_until``: the disks left unlabelled are still kept,
    and the next pass labels them. A disk near the 20-tag limit gets the labels that fit; its id goes to
    ``no_room`` (the log says how many), and a refused TagResources is logged: nothing here raises for tags.
    Returns ``(instance id, data disks)`` of each instance now fully kept (labelled as far as its disks have room)."""
    wanted = [(i, disks) for i, disks in found if plan.mode(i) != plan.COPY and plan.data_disks(disks)]
    release = [d.disk_id for _, disks in wanted for d in plan.data_disks(disks) if d.delete_with_instance]
    if release:
        cloud.keep_disks(release)
    groups: dict[models.Tags, list[str]] = {}
    owners: dict[str, set[models.Tags]] = {}
    short: list[str] = []
    for inst, disks in wanted:
        owners[inst.instance_id] = set()
        for tags, disk_id in _unlabelled(inst, disks, short):
            groups.setdefault(tags, []).append(disk_id)
            owners[inst.instance_id].add(tags)
    if short:
        log.warning("%d kept data disk(s) have no room for all their labels (20 tags at most)", len(short))
        if no_room is not None:
            no_room.extend(short)
    # One TagResources per tag set, LABEL_WORKERS at a time: the action's QPS limit bounds a large region's labels,
    # not the round trip. Labels not started by ``label_until`` are left to the next pass.
    done = batch.each(
        list(groups.items()),
        lambda group: _tag_disks(cloud, group[1], group[0]),
        workers=LABEL_WORKERS,
        go_on=lambda: label_until is None or cloud.clock() < label_until,
    )
    labelled = {group[0] for group, ok in done if ok}
    return [(i.instance_id, len(plan.data_disks(disks))) for i, disks in wanted if owners[i.instance_id] <= labelled]


def move_snapshot_name(disk_id: str) -> str:
    """The name of the snapshot a cross-zone copy of ``disk_id`` is made from (``settle_copies`` knows them by it)."""
    return f"aops-{disk_id}-move"


def disk_token(kind: str, disk_id: str, zone_id: str) -> str:
    return "ao-" + kind + "-" + naming.digest(kind, disk_id, zone_id)


class DataMove:
    """One original's data disks, onto one replacement, in device order."""

    def __init__(
        self,
        cloud: Cloud,
        original_id: str,
        devices: Sequence[str],
        *,
        lineage: str,
        known: Sequence[str] = (),
        deadline: float,
        log: Callable[[str], None],
        category_for: Callable[[models.Disk], tuple[str, str | None]] | None = None,
        release_at: float | None = None,
        poll_s: float = POLL_S,
        fresh: bool = False,
        slots: Sequence[Slot] = (),
        skip: Collection[str] = (),
    ) -> None:
        self.cloud, self.original_id, self.lineage = cloud, original_id, lineage
        # Every slot the original had, from the record as well as from the disks: a slot whose disk is gone is still a
        # slot (``plan`` then says "lost" and the replacement stays stopped), never one less disk at the boot.
        # ``skip``: slots the user said to start without (``aliyun-ops start-held --without``).
        self.skip = frozenset(skip)
        self.devices = tuple(sorted((set(devices) | {s.device for s in slots}) - self.skip))
        self.slots = tuple(slots)
        self.slot_of = {s.disk_id: s.device for s in slots if s.disk_id}  # a disk the record names, label or not
        self.known = set(known) | set(self.slot_of)  # disk ids of the slots (tag-filtered listings lag)
        self.deadline = deadline
        self.log = log
        self.category_for = category_for or (lambda d: (d.category, d.performance_level))
        self.snapshots: dict[str, str] = {}  # old disk id -> the snapshot its copy is made from
        self.release_at = release_at  # when the cloud is expected to release the original (the notice's end)
        self.poll_s = max(poll_s, POLL_S)
        # No delivery before this one launched anything: ``known`` is every slot's disk and no copy exists yet, so
        # the tag-filtered listings that find an earlier delivery's copies and snapshots are not needed.
        self.fresh = fresh and bool(self.known)
        self._attached_at: float | None = None
        self.listed: list[models.Instance] | None = None  # ``hold``'s last listing of the replacements

    # -- reading -----------------------------------------------------------------------------------
    def _disks(self, first: bool) -> list[models.Disk]:
        found: dict[str, models.Disk] = {}
        if (first and not self.fresh) or not self.known:
            for d in self.cloud.describe_disks(tags=((TAG_DISK_OF, self.original_id),)):
                found[d.disk_id] = d
        if self.known:
            for d in self.cloud.describe_disks(disk_ids=sorted(self.known)):
                found[d.disk_id] = d
        self.known.update(found)
        mine = [
            in_slot(d, self.slots)
            for d in found.values()
            if d.tag(TAG_DISK_OF) == self.original_id or d.disk_id in self.known
        ]
        mine = [d for d in mine if plan.device_of(d) not in self.skip]
        if not self.devices:  # resumed without the notice's list or a record: the slots the tags name
            self.devices = tuple(sorted({plan.device_of(d) for d in mine if plan.device_of(d)}))
        return mine

    def _lost_why(self, step: plan.Step) -> str:
        """Why a slot has no disk, naming the disk the record gives it when nothing else names one."""
        recorded = next((d for d, dev in self.slot_of.items() if dev == step.device), None)
        if step.disk is None and recorded is not None:
            return f"its disk {recorded} no longer exists (deleted, or never kept)"
        return step.why

    def _wait(self, doing: str, seconds: float = POLL_S) -> None:
        if self.cloud.clock() >= self.deadline:
            raise errors.DeadlineExceeded(f"deadline passed while {doing}; the next delivery or reconcile resumes")
        self.cloud.sleep(min(seconds, max(self.deadline - self.cloud.clock(), 0.1)))

    # -- the replacement ---------------------------------------------------------------------------
    def hold(
        self,
        instance_id: str,
        *,
        launched: bool = False,
        listing: Callable[[], list[models.Instance]] | None = None,
    ) -> models.Instance:
        """Stopped, capacity kept, until its disks are attached; the instance as last read, Stopped.

        ``launched``: RunInstances was just accepted, so the first look waits BOOT_POLLS x poll_s (nothing is
        Running sooner). ``listing``: once the stop is asked for, the looks read this listing (the replacements,
        which the caller needs anyway to keep one: ``listed`` holds the last) and the instance by id only when the
        listing does not show it yet."""
        requested = False
        self.listed = None
        if launched:
            self._wait(f"holding {instance_id} for its data disks", BOOT_POLLS * self.poll_s)
        while True:
            inst = None
            if requested and listing is not None:
                self.listed = listing()
                inst = next((i for i in self.listed if i.instance_id == instance_id), None)
                if inst is None:
                    self.listed = None
            inst = inst or self.cloud.describe_instance(instance_id)
            if inst is None:
                raise errors.ReplacementFailed(f"replacement {instance_id} vanished while held for its data disks")
            if inst.status == "Stopped":
                return inst
            if inst.status == "Running" and not requested:
                try:
                    self.cloud.stop_instance(instance_id)
                    requested = True
                    self.log(f"holding {instance_id} stopped until its data disks are attached")
                except errors.InvalidRequest as exc:  # still settling: ask again next round
                    self.log(f"stop of {instance_id} refused for now ({exc.code})")
            # Pending, Starting, Stopping: one look every poll_s (the guest runs without its data from Running to the
            # stop, before any address is moved to it: at most poll_s; nothing waits for the stop but the release).
            self._wait(f"holding {instance_id} for its data disks", self.poll_s)

    def attach_all(
        self,
        replacement: models.Instance,
        *,
        on_release: Callable[[], None] | None = None,
        until: float | None = None,
    ) -> list[plan.Step]:
        """Every slot's data on a disk attached to ``replacement``, in device order, each under its original device
        name where AttachDisk takes it; the slots as they are. A cross-zone copy (instant access) holds the slot's
        data once it is attached, and the replacement may start then; but its old disk and its snapshot are deleted
        only once the snapshot is accomplished (until then the copy may still read from the snapshot, and the
        snapshot from the disk). A slot still ``finishing`` so is left to ``settle_copies`` (reconcile).

        ``on_release`` runs once, when no disk is on the original any more (the release has happened). A fresh move
        (the disks known from the notice) takes its first look after the expected release: nothing frees them
        sooner (the same rule as ``_pause``).

        ``until`` (a time on ``cloud.clock()``, before the deadline): the caller's budget for this call. When it
        passes while a copy is still being made (its snapshot, its disk, or the wait for the snapshot before the
        old disk can go), this raises ``errors.InProgress``: nothing failed, and a later call (a new ``DataMove``
        or this one) continues the same copy (the same snapshot and disk, by ClientToken): nothing is bought twice.
        Other waits (the release, an attach) still run to the deadline (``errors.DeadlineExceeded``)."""
        first = True
        released = False
        if self.fresh and self.release_at is not None and self.cloud.clock() < self.release_at:
            self._wait("waiting for the release of the data disks", self._until_release())
        while True:
            disks = self._disks(first)
            first = False
            todo = self._plan(disks, replacement)
            lost = [s for s in todo if s.action == "lost"]
            if lost:
                raise errors.DataUnavailable(
                    "data disk " + "; ".join(f"{s.device}: {self._lost_why(s)}" for s in lost)
                    + f"; {replacement.instance_id} stays stopped rather than start without it"
                )
            for step in todo:
                if step.action == "copy" and step.disk is not None:
                    self._copy(step.disk, step.device, replacement.zone_id)
                for old in step.leftovers:
                    self._delete_leftover(old)
            if not released and not any(s.disk is not None and s.disk.instance_id == self.original_id for s in todo):
                released = True
                if on_release is not None:
                    on_release()
            pending = [s for s in todo if s.action != "done"]
            if not pending:
                self._clean_snapshots()
                return todo
            if all(s.action == "finishing" for s in pending):  # every slot's data is attached: start; clean later
                self.log("data attached; " + "; ".join(s.why for s in pending) + ": deleted later by reconcile")
                return todo
            step = next((s for s in pending if s.action != "finishing"), pending[0])  # attaches in device order:
            # later slots wait for the earlier ones; a slot only waiting for its old disk to be free holds none
            if step.action == "attach" and step.disk is not None:
                self._attach(replacement.instance_id, step.disk.disk_id, step.device)
            copying = [s for s in pending if self._copying(s)]
            if copying and until is not None and self.cloud.clock() >= until:
                raise errors.InProgress(
                    f"data disk copy still in progress ({copying[0].device}: {copying[0].why}); the next pass continues"
                )
            pause = self._pause(step)
            if until is not None and copying:
                pause = min(pause, max(until - self.cloud.clock(), POLL_S))
            self._wait(f"moving data disk {step.device} ({step.why})", pause)

    def look(self, replacement: models.Instance) -> list[plan.Step]:
        """What each slot needs now, without acting (a resume checks whether anything is left to do)."""
        return self._plan(self._disks(True), replacement)

    def _plan(self, disks: list[models.Disk], replacement: models.Instance) -> list[plan.Step]:
        """``plan.steps``; when a slot has leftovers, with the snapshots of those leftovers (read by source disk,
        which the tag index does not delay), so that none goes while a snapshot still needs it."""
        def steps(snapshots: Sequence[models.Snapshot]) -> list[plan.Step]:
            return plan.steps(
                self.devices,
                disks,
                original_id=self.original_id,
                replacement_id=replacement.instance_id,
                zone_id=replacement.zone_id,
                snapshots=snapshots,
            )

        on_it = {plan.device_of(d) for d in disks if d.instance_id == replacement.instance_id}
        leftovers = sorted(
            d.disk_id for d in disks if not d.instance_id and d.status == "Available" and plan.device_of(d) in on_it
        )
        return steps([snap for disk_id in leftovers for snap in self.cloud.describe_snapshots(disk_id=disk_id)])

    @staticmethod
    def _copying(step: plan.Step) -> bool:
        """A slot whose data is on its way to the replacement's zone (snapshot, copy disk, or the wait for the
        snapshot to be accomplished)."""
        creating = step.action == "wait" and step.disk is not None and step.disk.status == "Creating"
        return step.action in ("copy", "finishing") or creating

    def _attach(self, instance_id: str, disk_id: str, device: str) -> None:
        """AttachDisk under the slot's original device name, so an fstab that names devices still finds its disks;
        without a name (the next free one) when the API refuses that one (``InvalidDevice.*``; its Device
        parameter is marked for removal, [meta] AttachDisk)."""
        try:
            try:
                self.cloud.attach_disk(instance_id, disk_id, device=device or None)
            except errors.InvalidRequest as exc:
                if not exc.code.startswith("InvalidDevice"):
                    raise
                self.log(f"{device} refused for {disk_id} ({exc.code}): attached under the next free device")
                self.cloud.attach_disk(instance_id, disk_id)
            self._attached_at = self.cloud.clock()
            self.log(f"attached {disk_id} ({device}) to {instance_id}")
        except errors.InvalidRequest as exc:  # the instance or the disk is still settling
            self.log(f"attach of {disk_id} refused for now ({exc.code})")
        except errors.NotFound as exc:  # deleted since the last look: the next look finds the slot lost
            self.log(f"attach of {disk_id} refused: {exc.code}")

    def _pause(self, step: plan.Step) -> float:
        """Seconds until the next look: none before the expected release (nothing frees the disks sooner; a reclaim
        wave's hundreds of held replacements must not spend the account's API rate on looks that cannot see
        anything new), one a second after it; an attach is looked at once it is normally done. When the expected
        release would leave this run less than FAR_POLL_S, the release must come sooner than assumed (a shorter
        notice) or not in this run: one look a minute then, so an earlier release is still seen."""
        on_original = step.action == "wait" and step.disk is not None and step.disk.instance_id == self.original_id
        now = self.cloud.clock()
        if on_original and self.release_at is not None:
            return self._until_release()
        if step.action in ("attach", "attaching") and self._attached_at is not None:
            settled = self._attached_at + SETTLE_S - now
            return settled if settled >= POLL_S else SETTLE_POLL_S
        if self._copying(step):  # a snapshot takes minutes: a look every COPY_POLL_S
            return COPY_POLL_S
        return SETTLE_POLL_S if step.action in ("wait", "attaching") else POLL_S

    def _until_release(self) -> float:
        assert self.release_at is not None
        from aliyun_ops.recovery.eip import late_pause

        now, wake = self.cloud.clock(), self.release_at + AFTER_RELEASE_S
        if wake >= self.deadline - FAR_POLL_S:  # the notice is shorter than assumed, or the timeout: look a minute
            return max(POLL_S, min(FAR_POLL_S, wake - now))
        if now >= wake:  # the release is late: looks sparser as it is later (the same rule as the address's)
            return late_pause(now - self.release_at)
        return max(POLL_S, wake - now)

    def _copy(self, old: models.Disk, device: str, zone_id: str) -> None:
        """Snapshot of the detached disk, then a disk from it in ``zone_id`` (both idempotent by ClientToken)."""
        found = self._move_snapshot(old, device, zone_id)
        if found is None or not found[0].available:
            return
        snap, token = found
        category, pl = self.category_for(old)
        new_id = self.cloud.create_disk(
            zone_id,
            snap.snapshot_id,
            category,
            old.size_gib,
            token,
            performance_level=pl,
            name=f"aops-{old.disk_id}-copy",
            tags=disk_labels(self.original_id, device, self.lineage),
        )
        if new_id not in self.known:
            self.known.add(new_id)
            self.log(f"created {new_id} in {zone_id} from {snap.snapshot_id} (copy of {old.disk_id})")

    def _move_snapshot(self, old: models.Disk, device: str, zone_id: str) -> tuple[models.Snapshot, str] | None:
        """The live snapshot the copy of ``old`` is made from, and the CreateDisk token of that copy; None while a
        snapshot of the disk is being made that this move cannot see yet.

        CreateSnapshot under a token answers what that token first made, even once it is deleted (the ECS token
        rule; the emulator keeps tokens forever). So a dead snapshot (deleted by its user, or failed) is never
        asked for again under its token: the next request's token derives from the dead snapshot's id. The chain
        is the same for every run (no state: a later run replays it, one CreateSnapshot and one look per dead
        link), and each link names one request."""
        token = disk_token("snap", old.disk_id, zone_id)
        copy_token = disk_token("disk", old.disk_id, zone_id)  # the first attempt's, as before the chain existed
        for _ in range(SNAPSHOT_ATTEMPTS):
            snap_id = self.snapshots.get(old.disk_id)
            if snap_id is None:
                try:
                    name, tags = move_snapshot_name(old.disk_id), disk_labels(self.original_id, device, self.lineage)
                    snap_id = self.cloud.create_snapshot(old.disk_id, name, token, tags)
                except errors.InvalidRequest as exc:  # IncorrectDiskStatus.CreatingSnapshot: one in progress
                    self.log(f"snapshot of {old.disk_id} refused for now ({exc.code})")
                    return None
                self.snapshots[old.disk_id] = snap_id
                self.log(f"{old.disk_id} is in {old.zone_id}: snapshot {snap_id} to copy it into {zone_id}")
            found = self.cloud.describe_snapshots([snap_id])
            if found and found[0].status != "failed":
                return found[0], copy_token
            self.log(f"move snapshot {snap_id} of {old.disk_id} is {'failed' if found else 'gone'}: a new one")
            del self.snapshots[old.disk_id]
            token, copy_token = disk_token("snap", snap_id, zone_id), disk_token("disk", snap_id, zone_id)
        raise errors.DataUnavailable(
            f"{SNAPSHOT_ATTEMPTS} snapshots of {old.disk_id} in a row were deleted or failed; {old.disk_id} is kept"
        )

    def _delete_leftover(self, old: models.Disk) -> None:
        """The old disk of a slot whose copy is attached and accomplished (``plan``'s rule 1): nothing needs it."""
        mark_ours(self.cloud, old, self.lineage)
        self.cloud.delete_disk(old.disk_id)
        self.known.discard(old.disk_id)
        self.log(f"deleted {old.disk_id} from {old.zone_id}: its copy is attached and its snapshot done")

    def _clean_snapshots(self) -> None:
        """The move's snapshots, once every slot is done. One still being made is left (deleting it would cancel
        it, and a disk made from it by instant access may still read from it): it cannot be one this move
        copied from (those are accomplished by now), and the next move of the lineage, or its user, sees it."""
        ids = set(self.snapshots.values())
        if not (self.fresh and not ids):  # an earlier delivery may have left copy snapshots: find them by tag
            ids.update(s.snapshot_id for s in self.cloud.describe_snapshots(tags=((TAG_DISK_OF, self.original_id),)))
        states = {s.snapshot_id: s.status for s in self.cloud.describe_snapshots(sorted(ids))} if ids else {}
        for snap_id in sorted(ids):
            if states.get(snap_id) == "progressing":
                self.log(f"move snapshot {snap_id} still being made: left")
                continue
            self.cloud.delete_snapshot(snap_id)
            self.log(f"deleted the move snapshot {snap_id}")
        self.snapshots.clear()

    def start(self, instance_id: str, *, stopped: bool = False) -> models.Instance:
        """Started with every data disk attached; tagged so no later run holds or moves it again.

        ``stopped``: the caller knows it is Stopped (it held it), so StartInstance comes first and the first look
        BOOT_POLLS x poll_s after it (a refusal: it is looked at at once). Its address is already on it: a late
        look only delays the record, not the user (looks twice as far apart each time, FAR_POLL_S / 3 at most)."""
        pause = self.poll_s
        if stopped:
            try:
                self.cloud.start_instance(instance_id)
                self._wait(f"starting {instance_id} with its data disks", BOOT_POLLS * self.poll_s)
                pause = 2 * self.poll_s
            except errors.InvalidRequest as exc:
                self.log(f"start of {instance_id} refused for now ({exc.code})")
        while True:
            inst = self.cloud.describe_instance(instance_id)
            if inst is None:
                raise errors.ReplacementFailed(f"replacement {instance_id} vanished before it started")
            if inst.status == "Running":
                self._say_attached(inst)
                self.log(f"{instance_id} Running with its data disks")
                return inst
            if inst.status == "Stopped":
                try:
                    self.cloud.start_instance(instance_id)
                except errors.InvalidRequest as exc:
                    self.log(f"start of {instance_id} refused for now ({exc.code})")
            self._wait(f"starting {instance_id} with its data disks", pause)
            pause = min(pause * 2, max(FAR_POLL_S / 3, self.poll_s))

    def _say_attached(self, inst: models.Instance) -> None:
        """``aops:disks=attached`` over the launch's ``pending`` (a key already there takes no room). Without that
        tag (no room at the launch) nothing marks it held, so nothing is written; a refusal is logged: the user's
        instance is Running with its data, a tag must not fail that."""
        if inst.tag(TAG_DISKS) is None:
            return
        try:
            self.cloud.tag_resources("instance", [inst.instance_id], ((TAG_DISKS, "attached"),))
        except errors.InvalidRequest as exc:
            self.log(f"could not tag {inst.instance_id} {TAG_DISKS}=attached: {exc.code}")


def settle_copies(
    cloud: Cloud,
    instances: Sequence[models.Instance],
    disks: Sequence[models.Disk],
    snapshots: Sequence[models.Snapshot],
) -> list[tuple[str, str]]:
    """After a replacement started on its cross-zone copies while their snapshots were still being made: each move
    snapshot (``aops-<old disk>-move``) whose copy is attached to a live instance, once accomplished, goes with
    its old disk (nothing needs either any more). A snapshot that failed under a copy in use is said, never
    cleaned: the copy may be incomplete and its old disk is the data. Returns (status, what) per move snapshot
    acted on: ``cleaned`` or ``failed``; one's error never stops the others (``failed`` too)."""
    live = {i.instance_id for i in instances if i.status not in ("Deleted",)}
    in_use = {d.source_snapshot_id: d for d in disks if d.source_snapshot_id and d.instance_id in live}
    by_id = {d.disk_id: d for d in disks}
    out: list[tuple[str, str]] = []
    for snap in sorted(snapshots, key=lambda s: s.snapshot_id):
        copy = in_use.get(snap.snapshot_id)
        if copy is None or snap.name != move_snapshot_name(snap.disk_id):
            continue
        old = by_id.get(snap.disk_id)
        try:
            if snap.status == "failed":
                out.append(("failed", f"copy {copy.disk_id} on {copy.instance_id} was made from snapshot "
                            f"{snap.snapshot_id}, which failed: it may be incomplete; {snap.disk_id} is kept"))
                continue
            if snap.status != "accomplished":
                continue
            if old is not None and not old.instance_id and old.status == "Available":
                mark_ours(cloud, old, snap.tag(TAG_LINEAGE) or "")
                cloud.delete_disk(old.disk_id)
            cloud.delete_snapshot(snap.snapshot_id)
            gone = f"{snap.disk_id} and " if old is not None else ""
            out.append(("cleaned", f"deleted {gone}its move snapshot {snap.snapshot_id}: the copy {copy.disk_id} is "
                        "attached and the snapshot accomplished"))
        except errors.AliyunOpsError as exc:
            out.append(("failed", f"move snapshot {snap.snapshot_id} of {snap.disk_id}: {exc}"))
    return out


def mark_ours(cloud: Cloud, disk: models.Disk, lineage: str) -> None:
    """The lineage label on a disk the engine is about to delete: the policy lets the role delete only disks that carry
    it, and a disk known from the slot record or a system snapshot may never have got its labels (the function died
    first). A disk without room for it cannot be deleted by the role: that is said, and the disk stays."""
    if disk.tag(TAG_LINEAGE):
        return
    try:
        cloud.tag_resources("disk", [disk.disk_id], ((TAG_LINEAGE, lineage),))
    except errors.InvalidRequest as exc:
        raise errors.DataUnavailable(
            f"{disk.disk_id} is no longer needed but cannot be labelled for deletion ({exc.code}): it is left in "
            "place; delete it by hand"
        ) from exc


def drop_system(
    cloud: Cloud,
    instance_id: str,
    disks: Sequence[models.Disk] | None = None,
    snapshots: Sequence[models.Snapshot] | None = None,
) -> list[str]:
    """Delete the system disk kept past ``instance_id`` once it is detached and its snapshot is accomplished
    (the image is made from the snapshot, never from the disk). Returns the deleted disk ids.

    ``disks`` and ``snapshots``: listings the caller already has (reconcile's per-pass ones), else read here."""
    kept = [
        d
        for d in (disks if disks is not None else cloud.describe_disks(tags=((TAG_SYSTEM_OF, instance_id),)))
        if d.tag(TAG_SYSTEM_OF) == instance_id and not d.instance_id and d.status == "Available"
    ]
    if not kept:
        return []
    snaps = snapshots if snapshots is not None else cloud.describe_snapshots(tags=((TAG_IMAGE_OF, instance_id),))
    done = {s.disk_id for s in snaps if s.status == "accomplished" and s.tag(TAG_IMAGE_OF) == instance_id}
    deleted = []
    for d in kept:
        if d.disk_id in done:
            cloud.delete_disk(d.disk_id)
            deleted.append(d.disk_id)
    return deleted
