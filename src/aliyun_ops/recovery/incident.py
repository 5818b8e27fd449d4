"""One spot reclaim, handled exactly once and within the deadline.

Order of work (each step bounded by ``deadline``; running out raises ``DeadlineExceeded``):

1. CreateImage, the first write, right after the single DescribeInstances the caller did.
2. While it builds, read everything else concurrently (``gather``): disks, user data, RAM role,
   stock, instance types, spot prices, vSwitches, the EIP, and replacements already launched.
3. Poll the image (Progress-driven interval); usable (Available, or Usable earlier) -> plan and launch
   at once. CreateFailed, refused or too late -> the newest earlier image of the lineage; without one,
   the incident fails loudly (``ImageUnavailable``): never a blank server from a public image.
4. RunInstances per ranked candidate (sold out -> next), wait for Running, move the EIP. Old images are
   pruned by reconcile, from the listings its pass makes anyway.

Exactly once, across re-deliveries and concurrent deliveries of the same notice:

- Everything is named from the notice: the image name and ClientToken from the instance id; each
  launch's ClientToken from (incident, type, zone, strategy); the EIP association's from (EIP, new
  instance). The same request twice yields the same resource, never a second one.
- A replacement carries ``aops:replaces=<old id>`` from RunInstances itself, so it is visible
  from its first moment. Every delivery looks for one before launching and adopts it (status
  ``already-replaced``) instead of launching.
- Two deliveries racing through planning normally compute the same plan from the same reads, hence
  the same ClientToken and the same instance. Should their inputs differ (stock changed between
  their reads) both may launch; after launching, each lists the replacements and keeps the agreed one
  (oldest CreationTime, then smallest id): a delivery whose own launch is not the keeper deletes it
  and adopts the keeper. The check runs again just before the EIP moves, so the pair converges on
  one instance before anything user-visible is attached to the loser.
"""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from aliyun_ops import errors, models, tagroom
from aliyun_ops.disks import move as data
from aliyun_ops.disks import plan as data_plan
from aliyun_ops.disks import slots as data_slots
from aliyun_ops.recovery import naming
from aliyun_ops.recovery.eip import FORCE_MOVE_S, associate_now, move_eip
from aliyun_ops.recovery.gather import Inputs, find_replacements, gather
from aliyun_ops.recovery.image import (
    ImageChoice,
    ImageRefused,
    fallback,
    image_from_snapshot,
    image_gone,
    request_image,
    request_system_snapshot,
    usable_again,
    wait_image,
)
from aliyun_ops.recovery.launch import DEAD_NOTE, build_spec, keeper, launch_first, plan_launch
from aliyun_ops.recovery.summary import summarize

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Settings
    from aliyun_ops.notify import Notifier
    from aliyun_ops.recovery.soldout import SoldOutMemory

log = logging.getLogger(__name__)
LAUNCH_RESERVE_S = 60.0  # time kept after the image for RunInstances and boot
IMAGE_FROM_SNAPSHOT_S = 30.0  # CreateImage from an accomplished snapshot to a usable image (an assumption:
# docs/emulator-fidelity.md, "Issue 21: baselines"): the notice's snapshot must be done this long before ``_in_time``
RUNNING_POLL_MAX_S = 20.0  # longest pause between two looks at a replacement that is booting
BOOT_POLLS = 4  # RunInstances to Running takes longer than 4 x image_poll_max_s (20 s; an assumption:
# docs/emulator-fidelity.md): the first look at a launched replacement comes then
RELEASE_LEAD_S = 3.0  # a reclaim's replacement is looked at this long before the expected release
SPOT_NOTICE_S = 300.0  # a reclaimed spot instance is released about this long after the notice


class Incident:
    def __init__(
        self,
        cloud: Cloud,
        settings: Settings,
        original: models.Instance,
        *,
        deadline: float,
        notifier: Notifier | None = None,
        event_id: str = "",
        unavailable: SoldOutMemory | None = None,
        release_original: bool = False,
        image: ImageChoice | None = None,
        planned: bool = False,
        reason: str = "",
        notice_at: float | None = None,
    ) -> None:
        from aliyun_ops.recovery.soldout import SoldOutMemory

        self.cloud, self.settings, self.original = cloud, settings, original
        self.deadline = deadline
        self.release_original = release_original  # migration of a Stopped instance: release it after
        # A move the engine chose (back to spot): the original is healthy, so it serves until the replacement is
        # ready, gives up its address first and is stopped cleanly (its guest flushes its disks) before its release.
        self.planned = planned
        # When the cloud releases the original: the notice's time (the event's, untrusted, so clamped) + its length.
        # A late delivery (FC's retry, a backlog) then watches the release closely from the start.
        started = cloud.clock()
        told = notice_at if notice_at is not None else started
        self.release_at = min(max(told, started - SPOT_NOTICE_S), started) + SPOT_NOTICE_S
        if image is not None:  # a lost lineage's relaunch: its instance is long gone, nothing is released later
            self.release_at = started
        self.given_image = image  # recovery of a lost lineage: launch from this image, no CreateImage
        self.notifier = notifier
        self._quiet = False  # a re-delivery of an incident whose outcome was already announced
        self.unavailable = unavailable or SoldOutMemory(cloud, settings, self.log)
        self.id = naming.incident_id(original.instance_id)
        if image is not None:  # a recovery is a new incident: the reclaim of ``original`` already used that id
            self.id = f"{self.id}-from-{image.image_id}"
        self.record = models.IncidentRecord(
            incident_id=self.id,
            instance_id=original.instance_id,
            region_id=original.region_id or cloud.region_id,
            event_id=event_id,
            started_at=cloud.clock(),
            reason=reason,
        )
        cloud.deadline = deadline
        self.data_mode = data_plan.mode(original)
        self.record.data_mode = self.data_mode
        self.data_disks: tuple[models.Disk, ...] = ()  # the original's, in device order (move mode)
        # What the replacement must start with: the original's data-disk slots (recorded on the system snapshot, the
        # image and the replacement, so a resume knows a slot even when its disk is gone)
        self.slots: tuple[data_slots.Slot, ...] = ()
        self.system_snapshot: str | None = None
        self.candidate_type: models.InstanceType | None = None
        self._labels: Future[None] | None = None
        self._dead: set[str] = set()  # launches the cloud accepted, then failed (SystemFailure.Delete)
        self._launch_role: str | None = None  # the RAM role the replacement is launched with (gather reads it)
        self._requested_at: float | None = None  # when this delivery's CreateImage/CreateSnapshot was accepted
        self.system_disk_id: str | None = None  # move mode: the original's system disk, kept for its snapshot
        self._image_made = False  # move mode: the image was made from the accomplished system snapshot
        self._refused = ""  # why CreateImage/CreateSnapshot was refused at the notice: the user is told
        self._image_time = ""  # when the launched image's data was taken, for the record (a baseline's time)
        self._notice_at = told

    # -- helpers ---------------------------------------------------------------------------------
    def log(self, what: str) -> None:
        self.record.log(self.cloud.clock(), what)
        log.info("%s: %s", self.id, what)

    def check_deadline(self, doing: str) -> None:
        if self.cloud.clock() >= self.deadline:
            raise errors.DeadlineExceeded(f"deadline passed while {doing}")

    def _notify(self, method: str) -> None:
        if self.notifier is None:
            return
        try:
            getattr(self.notifier, method)(self.record)
        except Exception:  # a notification never decides the outcome of a replacement
            log.warning("%s: notification %s failed", self.id, method, exc_info=True)

    # -- the incident ----------------------------------------------------------------------------
    def run(self) -> models.IncidentRecord:
        """Replace ``original``; the record says what happened. Raises on failure (record.status failed)."""
        with ThreadPoolExecutor(max_workers=12, thread_name_prefix="aliyun-ops") as pool:
            try:
                self._run(pool)
            except errors.AliyunOpsError as exc:
                self._fail(exc)
                raise
            finally:
                self.unavailable.settle()  # the sold-out tags written in the background are done
                self.record.finished_at = self.cloud.clock()
                if not self._quiet:
                    self._notify("incident_finished")
        self._mark_notified()
        return self.record

    def _mark_notified(self) -> None:
        """Tag the replacement once its final message went out, so re-deliveries stay quiet."""
        new_id = self.record.new_instance_id
        if self.notifier is None or self._quiet or not new_id:
            return
        try:
            self.cloud.tag_resources("instance", [new_id], ((models.TAG_NOTIFIED, "true"),))
        except errors.CloudError as exc:  # worst case a re-delivery repeats the message
            self.log(f"could not tag {new_id} as notified: {exc.code}")

    @property
    def moving(self) -> bool:
        """The data disks go to the replacement (not into the image)."""
        return self.data_mode == data_plan.MOVE and bool(self.data_disks)

    def _keep_data(self, disks: list[models.Disk], pool: ThreadPoolExecutor) -> Future[None] | None:
        """Move mode: the data disks outlive the original. The ModifyDiskAttribute runs beside the first image
        write (each is one call, on its own API rate limit); the tags follow in the background."""
        self.data_disks = data_plan.data_disks(disks)
        if not self.moving:
            return None
        self.slots = data_slots.of_disks(disks)

        def keep() -> None:
            data.keep_now(self.cloud, self.original, disks, system_too=True)
            self.log("data disks kept at release: " + ", ".join(f"{d.device} {d.disk_id}" for d in self.data_disks))
            self._labels = pool.submit(data.label, self.cloud, self.original, disks, system_too=True)

        return pool.submit(keep)

    def _request_image(self, disks: list[models.Disk]) -> str | None:
        """Copy mode: CreateImage of the whole instance. Move mode: a snapshot of the system disk only."""
        try:
            if not self.moving:
                image_id = request_image(self.cloud, self.original, self.id, selector=self.settings.selector)
                self._requested_at = self.cloud.clock()
                self.log(f"image {image_id} requested" if image_id else "instance already gone: no fresh image")
                return image_id
            system = next((d for d in disks if d.kind == "system"), None)
            self.system_disk_id = system.disk_id if system is not None else None
            if system is not None:
                self.system_snapshot = request_system_snapshot(
                    self.cloud, self.original, system, self.id, data_slots.encode(self.slots), self.settings.selector
                )
                self._requested_at = self.cloud.clock()
            self.log(
                f"system disk snapshot {self.system_snapshot} requested (the image holds the system disk only)"
                if self.system_snapshot
                else "system disk already gone: no fresh image"
            )
        except ImageRefused as exc:
            self.system_snapshot = self._baseline_in_progress()
            if self.system_snapshot:
                self.log(f"no fresh snapshot ({exc}); the baseline snapshot {self.system_snapshot} in progress is used")
            else:
                self.log(f"no fresh image: {exc}")
                self._refused = str(exc)
        return None

    def _baseline_in_progress(self) -> str | None:
        """The notice's snapshot was refused because a baseline snapshot of the same disk is in progress (one at a
        time per disk): that one is the newest copy of the disk there will be, so the image is made from it."""
        if self.system_disk_id is None:
            return None
        from aliyun_ops.lifecycle.baseline import is_baseline, shown

        found = [
            s
            for s in self.cloud.describe_snapshots(disk_id=self.system_disk_id)
            if is_baseline(s) and s.status in ("progressing", "accomplished")
        ]
        newest = max(found, key=lambda s: (s.tag(models.TAG_BASELINE) or "", s.snapshot_id), default=None)
        if newest is None:
            return None
        self._image_time = shown(newest.tag(models.TAG_BASELINE))
        return newest.snapshot_id

    def _run(self, pool: ThreadPoolExecutor) -> None:
        image_id = None
        disks = [] if self.given_image is not None else self.cloud.describe_disks(self.original.instance_id)
        if self.given_image is None:
            kept = self._keep_data(disks, pool)
            image_id = self._request_image(disks)
            if kept is not None:
                kept.result()  # a failure to keep the data fails the incident, before anything is launched
        else:
            self._find_kept_disks()
        inputs = gather(self.cloud, self.original, self.settings, pool, disks=disks or None, keep_zone=self.moving)
        self.log("inputs gathered" + "".join(f"; {n}" for n in inputs.notes))
        self.record.before = summarize(self.original, inputs.prices, inputs.eip)
        existing = self._adoptable(list(inputs.replacements))
        if existing is not None:
            self.record.status = "resumed"
            # An earlier delivery that finished told the user already; one that died midway did not.
            self._quiet = existing.tag(models.TAG_NOTIFIED) == "true"
            self.log(f"replacement {existing.instance_id} already launched by an earlier delivery")
            held = existing.tag(models.TAG_DISKS) == "pending"  # launched held by the delivery that died
            self._finish(existing.instance_id, inputs, None, held=held)
            return
        pool.submit(self._notify, "incident_started")  # a new incident: say so once, not per delivery
        baseline: ImageChoice | None = None
        if self.system_snapshot:
            image_id = self._image_of_snapshot(self._in_time() - IMAGE_FROM_SNAPSHOT_S)
            if image_id is None and self._in_time() < self.deadline - LAUNCH_RESERVE_S:
                baseline = self._baseline()
                if baseline is None:  # nothing to fall back on: the notice's snapshot, however late
                    image_id = self._image_of_snapshot(self.deadline - LAUNCH_RESERVE_S)
            self._image_made = image_id is not None
            self.log(f"image {image_id} requested from the system disk snapshot" if image_id else "no fresh image")
        self.record.image_id = image_id or ""  # a failure names the fresh image reconcile may finish from
        choice = self.given_image or baseline or self._image(image_id)
        try:
            new_id, candidate = self._launch_alive(inputs, choice)
        except errors.CloudError as exc:
            if not image_gone(exc):
                raise
            choice = self._after_refusal(choice, exc)
            new_id, candidate = self._launch_alive(inputs, choice)
        while True:
            try:
                self._finish(new_id, inputs, candidate)
                return
            except _LaunchDied as died:  # seen dead at the look just before the release (``_running_and_agreed``)
                self._dead.add(died.instance_id)
                self.log(f"{died.instance_id} {DEAD_NOTE}: launching again")
            except errors.ReplacementFailed:  # a held replacement not found: not listed yet, or failed by the cloud
                if candidate is None:
                    raise
                if self._accepted(new_id):
                    continue  # listed and past Pending now: hold it again
                self._dead.add(new_id)
                self.log(f"{new_id} {DEAD_NOTE}: launching again")
            new_id, candidate = self._launch_alive(inputs, choice)

    def _after_refusal(self, choice: ImageChoice, exc: errors.CloudError) -> ImageChoice:
        """RunInstances refused the image: the same image once it is Usable again when it is still on its way (Available
        before Usable), else (it failed: its source was released mid-build, or it vanished) the lineage's newest."""
        self.log(f"image {choice.image_id} refused at launch ({exc.code})")
        until, poll = self.deadline - LAUNCH_RESERVE_S, self.settings.image_poll_max_s
        image = usable_again(self.cloud, choice.image_id, until=until, max_poll_s=poll)
        if image is not None:
            self.log(f"image {choice.image_id} {image.status} and Usable now: launching from it again")
            return choice
        if choice.source != "fresh":
            raise exc
        return self._fallback(choice.image_id)

    def _image_of_snapshot(self, until: float) -> str | None:
        """The image of the notice's system snapshot once it is accomplished by ``until`` (None: not by then)."""
        assert self.system_snapshot is not None
        image_id = image_from_snapshot(
            self.cloud,
            self.original,
            self.system_snapshot,
            self.id,
            until=until,
            max_poll_s=self.settings.image_poll_max_s,
            requested_at=self._requested_at,
            record=data_slots.encode(self.slots),
            selector=self.settings.selector,
        )
        self._requested_at = self.cloud.clock()
        return image_id

    def _in_time(self) -> float:
        """The notice's image is in time when the replacement can still run before the release (its launch and
        boot take LAUNCH_RESERVE_S); past that, the lineage's newest baseline is launched instead, when it has one.
        A move the engine chose (no release coming) waits until the deadline."""
        if self.planned or self.release_original:
            return self.deadline - LAUNCH_RESERVE_S
        return min(self.release_at, self.deadline) - LAUNCH_RESERVE_S

    def _baseline(self) -> ImageChoice | None:
        """The lineage's newest baseline (``lifecycle.baseline``), as the image to launch; None without one."""
        from aliyun_ops.lifecycle import baseline

        if self.data_disks and not self.moving:  # copy mode: a baseline holds the system disk only
            self.log("copy mode: a baseline holds no data disk, so it is never launched in place of the full image")
            return None
        lineage = naming.lineage_of(self.original)
        listed = self.cloud.describe_images(tags=((models.TAG_LINEAGE, lineage),), statuses="Available")
        found = baseline.newest(listed, system_only=self.moving)
        if found is None:
            self.log("the notice's image is not ready in time, and the lineage has no baseline: waiting for it")
            return None
        taken = baseline.shown(found.tag(models.TAG_BASELINE))
        why = f"the notice's image could not be ready before the release; launched from the baseline of {taken}"
        self.log(f"using baseline image {found.image_id} ({taken}): {why}")
        self.record.reason = why
        self._image_time = taken
        return ImageChoice(found.image_id, "baseline", why, found.data_devices, data_slots.recorded(found.tags,
                                                                                                   found.image_id))

    def _image(self, image_id: str | None) -> ImageChoice:
        if image_id:
            image = self._wait_image(image_id, self._in_time())
            if image is None and self._in_time() < self.deadline - LAUNCH_RESERVE_S:
                baseline = self._baseline()
                if baseline is not None:
                    return baseline
                image = self._wait_image(image_id, self.deadline - LAUNCH_RESERVE_S)
            if image is not None:
                self.log(f"image {image_id} {image.status}" + (" and Usable" if image.usable else ""))
                return ImageChoice(image_id, "fresh", data_devices=image.data_devices)
            self.log(f"image {image_id} failed or not ready in time")
        self.check_deadline("waiting for the image")
        return self._fallback(image_id)

    def _wait_image(self, image_id: str, until: float) -> models.Image | None:
        image = wait_image(
            self.cloud,
            image_id,
            until=until,
            max_poll_s=self.settings.image_poll_max_s,
            requested_at=self._requested_at,
            # an image of the instance (copy mode) fails at its release if it is still building
            last_chance=None if self.moving or self.release_original else self.release_at,
        )
        self._requested_at = None  # a second wait goes on from now
        return image

    def _find_kept_disks(self) -> None:
        """A relaunch of a lost lineage: its kept data disks (tagged with the lineage, detached) go along."""
        if self.data_mode != data_plan.MOVE:
            return
        if self.given_image is not None and self.given_image.data_devices:
            return  # a full image (copy mode): its data disks come from the image
        lineage = naming.lineage_of(self.original)
        recorded = self.given_image.slots if self.given_image is not None else ()
        ids = sorted({s.disk_id for s in recorded if s.disk_id})
        listed = {d.disk_id: d for d in self.cloud.describe_disks(tags=((models.TAG_LINEAGE, lineage),))}
        if ids:  # a disk the record names may carry no label (never labelled, or no tag room)
            listed.update((d.disk_id, d) for d in self.cloud.describe_disks(disk_ids=ids))
        filled = (data_slots.in_slot(d, recorded) for d in listed.values())
        kept = [d for d in filled if not d.instance_id and d.status == "Available" and data_plan.device_of(d)]
        self.data_disks = data_plan.data_disks(kept)
        self.slots = data_slots.merge(recorded, data_slots.of_disks(kept))
        zones = {d.zone_id for d in self.data_disks}
        if len(zones) == 1:  # relaunch where the disks are (the image's identity names the first instance's zone)
            self.original = dataclasses.replace(self.original, zone_id=zones.pop())
        if self.data_disks:
            self.log("kept data disks found: " + ", ".join(f"{data_plan.device_of(d)} {d.disk_id}" for d in kept))
        missing = [s for s in self.slots if s.device not in {data_plan.device_of(d) for d in kept}]
        if missing:
            self.log("data disk slot(s) without a disk: " + "; ".join(s.describe() for s in missing))

    def _fallback(self, failed_image: str | None) -> ImageChoice:
        """The lineage's newest image instead of ``failed_image`` (ImageUnavailable without one), recorded; a refusal
        at the notice (a snapshot quota, a disk never used) is said with it."""
        try:
            choice = fallback(
                self.cloud,
                self.original,
                failed_image,
                system_only=self.moving,
                with_data=bool(self.data_disks) and not self.moving,
            )
        except errors.ImageUnavailable as exc:
            said = "; ".join(s for s in (self._refused, str(exc), self._copy_mode_note(failed_image)) if s)
            if said != str(exc):
                raise errors.ImageUnavailable(said) from exc
            raise
        if self._refused:
            choice = dataclasses.replace(choice, reason=f"{self._refused}; {choice.reason}")
        self.log(f"using {choice.source} image {choice.image_id}: {choice.reason}")
        self.record.reason = choice.reason
        return choice

    def _copy_mode_note(self, failed_image: str | None) -> str:
        """Copy mode's full image did not make it: why, and what the user can change. The image is made of its disks'
        snapshots, and the release deletes those still being made ([docs] CreateSnapshot), so an image still building
        at the release fails with it: the data of the disks released with the instance is then lost."""
        if self.moving or not self.data_disks or not failed_image:
            return ""
        gib = sum(d.size_gib for d in self.data_disks)
        lost = [d.disk_id for d in self.data_disks if d.delete_with_instance]
        return (
            f"copy mode (aops:data={data_plan.COPY}) images the data disks too ({gib} GiB): if {failed_image} is still "
            "building at the release it fails, as the release deletes its disks' snapshots in progress"
            + (f", and the data of {', '.join(lost)} (released with the instance) is lost" if lost else "")
            + f"; move mode (without aops:data={data_plan.COPY}) images the system disk only and moves the data disks"
        )

    def _adoptable(self, replacements: list[models.Instance]) -> models.Instance | None:
        """The replacement an earlier delivery launched, to adopt; one still Pending is watched until it leaves Pending
        or the cloud fails it (then the next is looked at, and none means: launch)."""
        while (existing := keeper(replacements, self._dead)) is not None:
            if existing.status != "Pending" or self._accepted(existing.instance_id):
                return existing
            self._dead.add(existing.instance_id)
            self.log(f"{existing.instance_id} {DEAD_NOTE}")
        return None

    def _launch_alive(self, inputs: Inputs, image: ImageChoice) -> tuple[str, models.Candidate]:
        """A launch the cloud did not fail after accepting it (or one whose next look tells: a move's hold, a
        reclaim's look just before the release; no look sooner, for the deadline and the call budget). A launch that
        dies (``SystemFailure.Delete``: it stays Pending, then is released) is remembered, and the launch goes on
        past it (``launch_first``: the next candidate, or the same one under a ClientToken derived from the dead
        launch's), until one lives, the plan is spent (``ReplacementFailed``) or the deadline passes."""
        while True:
            new_id, candidate = self._launch(inputs, image)
            if self.moving or self._looks_at_lead(inputs) or self._accepted(new_id, launched=True):
                return new_id, candidate
            self._dead.add(new_id)
            self.log(f"{new_id} {DEAD_NOTE}: launching again")

    def _looks_at_lead(self, inputs: Inputs) -> bool:
        """A reclaim whose address moves at the release, minutes away: the replacement is looked at once, just before
        it (``_running_and_agreed``), and that look also tells a launch the cloud failed (no look sooner: the call
        budget of an incident)."""
        lead = min(self.release_at, self.deadline - FORCE_MOVE_S) - RELEASE_LEAD_S
        reclaim = inputs.eip is not None and not (self.planned or self.release_original) and not self.moving
        return reclaim and lead - self.cloud.clock() > self._boot_s

    def _accepted(self, new_id: str, *, launched: bool = False) -> bool:
        """True once the instance has left Pending; False when the cloud failed it (its ``SystemFailure.Delete``
        event). Not listed yet is pending, never a failure: DescribeInstances lags a launch (terraform's instance
        resource treats that NotFound as pending too)."""
        pause = self.settings.image_poll_max_s
        if launched:  # nothing leaves Pending at once
            self.cloud.sleep(min(pause, max(self.deadline - self.cloud.clock(), 0.1)))
        while True:
            inst = self.cloud.describe_instance(new_id)
            if inst is not None and inst.status != "Pending":
                return True
            if self.cloud.creation_failed(new_id):
                return False
            self.check_deadline(f"waiting for {new_id} to leave Pending")
            self.cloud.sleep(min(pause, max(self.deadline - self.cloud.clock(), 0.1)))
            pause = min(pause * 2, RUNNING_POLL_MAX_S)

    def _launch(self, inputs: Inputs, image: ImageChoice) -> tuple[str, models.Candidate]:
        self.record.image_id, self.record.image_source = image.image_id, image.source
        if image.source == "fresh":  # the notice's own image: its data is as of the notice (or the adopted baseline)
            self.record.image_time = self._image_time or _utc(self._notice_at)
        elif image.source == "baseline":
            self.record.image_time = self._image_time
        self.check_deadline("planning")
        plan, enriched = plan_launch(
            self.original, inputs, self.settings, self.unavailable.snapshot(inputs.vswitches), keep_zone=self.moving
        )
        self._launch_role = enriched.ram_role_name
        self.log(f"plan: {len(plan.candidates)} candidates" + (f", first {plan.chosen.reason}" if plan.chosen else ""))
        if not plan.candidates:
            why = "; ".join(f"{what}: {reason}" for what, reason in plan.skipped[:8]) or "no offering in stock"
            raise errors.ReplacementFailed(f"no candidate to launch ({why})")
        new_id, candidate = launch_first(
            self.cloud,
            plan,
            lambda c: build_spec(
                enriched,
                inputs,
                c,
                image.image_id,
                self.settings,
                self.id,
                data_devices=() if self.moving else image.data_devices,
                extra_tags=self._replacement_tags(inputs, c),
            ),
            self.id,
            self.unavailable,
            self.record.tried,
            self._dead,
        )
        self.candidate_type = candidate.itype
        self.record.chosen = f"{candidate.instance_type}@{candidate.zone_id} ({candidate.spot_strategy})"
        self.record.chosen_reason = candidate.reason
        self.log(f"launched {new_id} as {candidate.instance_type} in {candidate.zone_id}")
        return new_id, candidate

    def _replacement_tags(self, inputs: Inputs, candidate: models.Candidate) -> models.Tags:
        extra: list[tuple[str, str]] = []
        if candidate.spot_strategy == "NoSpot":  # a fallback: reconcile brings it back to spot when it can
            extra.append((models.TAG_FALLBACK, "pay-as-you-go"))
        if self.moving:
            extra.append((models.TAG_DISKS, "pending"))  # held stopped until its data disks are attached
        if inputs.eip is not None:
            extra.append((models.TAG_EIP, inputs.eip.allocation_id))
        if self.moving:
            extra.extend(self._slot_record(tuple(extra)))
        self._say_tags_left(naming.replacement_fit(self.original, self.id, tuple(extra), self.settings.selector).left)
        return tuple(extra)

    def _say_tags_left(self, tags: models.Tags) -> None:
        """A resource holds 20 tags: what the replacement could not carry is told, once, never dropped silently (the
        user's tags in the record and the notification; the engine's counters in the timeline only)."""
        said = [t[1] for t in self.record.timeline]
        what = f"no room on the replacement (20 tags at most) for {len(tags)} tag(s): " + tagroom.said(tags)
        if tags and what not in said:
            self.record.tags_left = [f"{k}={v}" for k, v in tags if not tagroom.is_engine_key(k)]
            self.log(what)

    def _finish(
        self,
        new_id: str,
        inputs: Inputs,
        candidate: models.Candidate | None,
        *,
        held: bool = False,
    ) -> None:
        if self.moving or held:
            # Disks, then the address, then the boot: the guest starts with its data and its IP at once.
            new, move = self._attach_data(new_id, inputs, launched=candidate is not None)
            new = move.start(new.instance_id, stopped=True)
        else:
            new = self._running_and_agreed(new_id, inputs, launched=candidate is not None)
            self.record.new_instance_id = new.instance_id
            if self.planned:  # the original serves until the address is on its replacement
                self._move_eip(new, inputs)
            if self.release_original:
                self._release_original()
            if inputs.eip is not None and (self.planned or self.release_original):  # time passed: check again
                new = self._converge(new)
                self.record.new_instance_id = new.instance_id
            self._move_eip(new, inputs)
        self.record.after = summarize(new, inputs.prices, inputs.eip, candidate)
        self._record_launch(new.instance_id)
        if self.record.status != "resumed":
            self.record.status = "replaced"
        self.record.reason = self.record.reason or f"replaced by {new.instance_id}"

    def _slot_record(self, extra: models.Tags) -> models.Tags:
        """The slots on the replacement itself (without disk ids: the snapshot's record has them), when they fit beside
        the user's tags and ours without displacing any; else the system snapshot and the image keep the record, and
        the timeline says so."""
        record = data_slots.encode(self.slots, with_ids=False)
        selector = self.settings.selector
        before = naming.replacement_fit(self.original, self.id, extra, selector)
        after = naming.replacement_fit(self.original, self.id, (*extra, *record), selector)
        if set(after.left) <= set(before.left):
            return record
        self.log(f"no tag room on the replacement for its {len(self.slots)} data-disk slot(s): the snapshot keeps them")
        return ()

    def _move_eip(self, new: models.Instance, inputs: Inputs, *, asked: bool = False) -> None:
        if inputs.eip is None:
            return
        self.record.eip = inputs.eip.ip_address
        self.log(
            move_eip(
                self.cloud,
                inputs.eip,
                self.original.instance_id,
                new.instance_id,
                deadline=self.deadline,
                poll_s=self.settings.image_poll_max_s,
                expected_release=None if self.release_original else self.release_at,
                take_now=self.planned,
                asked=asked,
            )
        )

    def _record_launch(self, new_id: str) -> None:
        """The image it was launched from names the lineage's current instance (reconcile reads it: whether *that*
        instance was reclaimed or removed by its user decides between a relaunch and a retirement)."""
        if not self.record.image_id:
            return
        try:
            self.cloud.tag_resources("image", [self.record.image_id], ((models.TAG_LAUNCHED, new_id),))
        except errors.CloudError as exc:  # reconcile then judges by the image's source instance
            self.log(f"could not record the launch on {self.record.image_id}: {exc.code}")

    def _release_original(self) -> None:
        if self.planned:
            self._stop_original()
        self.cloud.delete_instance(self.original.instance_id, force=True)
        self.log(f"released the original {self.original.instance_id}")

    def _attach_data(self, new_id: str, inputs: Inputs, *, launched: bool) -> tuple[models.Instance, data.DataMove]:
        """Hold the replacement stopped, let the release free the data disks and the address, attach the disks in
        order while the address moves (still stopped: the caller starts it, and it boots with both)."""
        move = data.DataMove(
            self.cloud,
            self.original.instance_id,
            [data_plan.device_of(d) for d in self.data_disks],
            lineage=naming.lineage_of(self.original),
            known=[d.disk_id for d in self.data_disks],
            slots=self.slots,
            deadline=self.deadline,
            log=self.log,
            category_for=self._data_category,
            release_at=None if self.release_original else self.release_at,
            poll_s=self.settings.image_poll_max_s,
            fresh=launched,
        )
        self.record.new_instance_id = new_id
        if self._labels is not None:
            self._labels.result()  # the kept disks say where they go before anything depends on it
        held = move.hold(
            new_id, launched=launched, listing=lambda: find_replacements(self.cloud, self.original.instance_id)
        )
        new = self._converge(held, move.listed)  # hold's last look may have been the listing of the replacements
        if new.instance_id != new_id:  # a concurrent delivery's replacement is the one kept
            self.record.new_instance_id = new.instance_id
            move.hold(new.instance_id)
        if self.release_original:
            self._release_original()
        address = inputs.eip
        asked: list[bool] = []

        def released() -> None:  # the release freed the address too: start moving it while the disks attach
            if address is not None and associate_now(self.cloud, address, new.instance_id):
                asked.append(True)
                self.log(f"EIP {address.ip_address} associating with {new.instance_id}")

        done = move.attach_all(new, on_release=released)
        self._move_eip(new, inputs, asked=bool(asked))
        for disk_id in self._drop_system():
            self.log(f"deleted the kept system disk {disk_id}: its snapshot is done")
        self.record.data_disks = [
            f"{s.device}: {s.disk.disk_id} ({s.disk.size_gib} GiB {s.disk.category}) at {s.disk.device}"
            for s in done
            if s.disk is not None
        ]
        return new, move

    def _drop_system(self) -> list[str]:
        """The system disk kept past the release, deleted now that its snapshot is done. When this delivery made the
        image from that snapshot, it knows both (no read); else ``drop_system`` finds them by tag. A disk that
        cannot go yet (not detached) is left to reconcile."""
        if self.system_disk_id is None or not self._image_made:
            return data.drop_system(self.cloud, self.original.instance_id)
        try:
            self.cloud.delete_disk(self.system_disk_id)
        except errors.CloudError as exc:  # not detached yet, or its labels never landed: reconcile settles it
            self.log(f"kept system disk {self.system_disk_id} not deleted now ({exc.code}); reconcile deletes it")
            return []
        return [self.system_disk_id]

    def _stop_original(self) -> None:
        """A clean stop (not forced: the guest shuts down and flushes its disks), waited for."""
        oid = self.original.instance_id
        while True:
            now = self.cloud.describe_instance(oid)
            if now is None or now.status == "Stopped":
                self.log(f"stopped the original {oid} cleanly")
                return
            if now.status == "Running":
                self.cloud.stop_instance(oid)
            self.check_deadline(f"stopping the original {oid}")
            self.cloud.sleep(min(self.settings.image_poll_max_s, max(self.deadline - self.cloud.clock(), 0.1)))

    def _data_category(self, disk: models.Disk) -> tuple[str, str | None]:
        """A cross-zone copy's category: the original's, or the nearest the replacement's family takes."""
        from aliyun_ops import planner

        if self.candidate_type is None:
            return disk.category, disk.performance_level
        category, _ = planner.choose_system_disk(disk.category, disk.size_gib, self.candidate_type)
        return category, disk.performance_level if category == disk.category else None

    def _running_and_agreed(self, new_id: str, inputs: Inputs, *, launched: bool) -> models.Instance:
        """The replacement, Running, and the one every delivery keeps (``_converge``).

        A reclaim whose address moves at the release, minutes away, looks once, just before it: one listing of the
        replacements says both which one is kept and whether it is Running (a Stopped one is started then, and
        watched). Otherwise (no address to wait for, a planned move, a migration) it is watched from its boot."""
        # Just before the release, or before the address must be forced off the original (a short deadline).
        lead = min(self.release_at, self.deadline - FORCE_MOVE_S) - RELEASE_LEAD_S
        reclaim = inputs.eip is not None and not (self.planned or self.release_original)
        if launched and reclaim and lead - self.cloud.clock() > self._boot_s:
            self.cloud.sleep(lead - self.cloud.clock())
            listed = find_replacements(self.cloud, self.original.instance_id)
            mine = next((r for r in listed if r.instance_id == new_id), None)
            if mine is not None and mine.status == "Running":
                self.log(f"{new_id} Running")
                return self._converge(mine, listed)
            if (mine is None or mine.status == "Pending") and not self._accepted(new_id):
                raise _LaunchDied(new_id)
            launched = False  # not listed yet, or not Running: watch it from now
        return self._converge(self._wait_running(new_id, launched=launched))

    @property
    def _boot_s(self) -> float:
        return BOOT_POLLS * self.settings.image_poll_max_s

    def _wait_running(self, new_id: str, *, launched: bool = False) -> models.Instance:
        """The first look BOOT_POLLS x ``image_poll_max_s`` after a launch (nothing boots sooner), then
        ``image_poll_max_s`` later, then twice as long each time (RUNNING_POLL_MAX_S at most): the cloud's Running does
        not wait for our look, and the address moves at the release anyway."""
        if launched:
            self.cloud.sleep(min(self._boot_s, max(self.deadline - self.cloud.clock(), 0.1)))
        pause = self.settings.image_poll_max_s
        while True:
            new = self.cloud.describe_instance(new_id)
            if new is not None and new.status == "Running":
                self.log(f"{new_id} Running")
                return new
            if new is not None and new.status == "Stopped":
                self.cloud.start_instance(new_id)
            if self.cloud.clock() >= self.deadline:
                self.record.new_instance_id = new_id
                raise errors.DeadlineExceeded(f"{new_id} launched but not Running before the deadline")
            self.cloud.sleep(min(pause, max(self.deadline - self.cloud.clock(), 0.1)))
            pause = min(pause * 2, max(RUNNING_POLL_MAX_S, self.settings.image_poll_max_s))

    def _converge(self, mine: models.Instance, listed: list[models.Instance] | None = None) -> models.Instance:
        """If a concurrent delivery launched too, keep the agreed replacement and delete ours. ``listed``: a listing of
        the replacements the caller just made (else one is read here)."""
        if listed is None:
            listed = find_replacements(self.cloud, self.original.instance_id)
        agreed = keeper([*listed, mine], self._dead)
        if agreed is None or agreed.instance_id == mine.instance_id:
            return mine
        self.cloud.delete_instance(mine.instance_id, force=True)
        self.log(f"concurrent delivery launched {agreed.instance_id}; deleted our duplicate {mine.instance_id}")
        return agreed

    def _fail(self, exc: errors.AliyunOpsError) -> None:
        self.record.status = "failed"
        self.record.reason = str(exc)
        self.record.advice = self._unlisted_role() if isinstance(exc, errors.PermissionDenied) else ""
        self.record.advice = self.record.advice or _advice(exc)
        self.log(f"failed: {exc}")

    def _unlisted_role(self) -> str:
        """Advice when the refusal is likely ram:PassRole: the instance's RAM role is not in ``pass_roles``."""
        import fnmatch

        role = self._launch_role
        if not role or any(fnmatch.fnmatchcase(role, p.rsplit("/", 1)[-1]) for p in self.settings.pass_roles):
            return ""
        return (
            f"the instance's RAM role {role} is not in ALIYUN_OPS_PASS_ROLES, so the policy does not let the function "
            "launch with it: list it, deploy the rendered policy again, and reconcile relaunches the lineage"
        )


def _utc(at: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


class _LaunchDied(Exception):
    """The launch being finished was failed by the cloud after it accepted it (``SystemFailure.Delete``)."""

    def __init__(self, instance_id: str) -> None:
        super().__init__(instance_id)
        self.instance_id = instance_id


def _advice(exc: errors.AliyunOpsError) -> str:
    if isinstance(exc, errors.PermissionDenied):
        return "grant the function's RAM role the action named above (see the policy in the README)"
    if isinstance(exc, errors.ReplacementFailed):
        return "allow more instance families, raise the max price, or enable the pay-as-you-go fallback"
    if isinstance(exc, errors.ImageUnavailable):
        return "nothing was launched: no image of the instance exists yet; once the fresh image is Available, the " \
            "periodic reconcile relaunches the lineage from it"
    if isinstance(exc, errors.DeadlineExceeded):
        return "raise the function timeout; reconcile will finish or recover this lineage"
    return "see the error; the event will be retried, and reconcile recovers the lineage"

