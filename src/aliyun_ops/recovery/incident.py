"""One spot reclaim, handled exactly once and within the deadline.

Order of work (each step bounded by ``deadline``; running out raises ``DeadlineExceeded``):

1. CreateImage, the first write, right after the single DescribeInstances the caller did.
2. While it builds, read everything else concurrently (``gather``): disks, user data, RAM role,
   stock, instance types, spot prices, vSwitches, the EIP, and replacements already launched.
3. Poll the image (Progress-driven interval); usable (Available, or Usable earlier) -> plan and launch
   at once. CreateFailed, refused or too late -> the newest earlier image of the lineage; without one,
   the incident fails loudly (``ImageUnavailable``): never a blank server from a public image.
4. RunInstances per ranked candidate (sold out -> next), wait for Running, move the EIP, prune images.

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

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from aliyun_ops import errors, models
from aliyun_ops.recovery import naming
from aliyun_ops.recovery.eip import move_eip
from aliyun_ops.recovery.gather import Inputs, find_replacements, gather
from aliyun_ops.recovery.housekeeping import prune_images
from aliyun_ops.recovery.image import ImageChoice, ImageRefused, fallback, image_gone, request_image, wait_image
from aliyun_ops.recovery.launch import build_spec, keeper, launch_first, plan_launch
from aliyun_ops.recovery.summary import summarize

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Settings
    from aliyun_ops.notify import Notifier
    from aliyun_ops.planner import UnavailableOfferings

log = logging.getLogger(__name__)
LAUNCH_RESERVE_S = 60.0  # time kept after the image for RunInstances and boot
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
        unavailable: UnavailableOfferings | None = None,
        release_original: bool = False,
        image: ImageChoice | None = None,
    ) -> None:
        from aliyun_ops.planner import UnavailableOfferings

        self.cloud, self.settings, self.original = cloud, settings, original
        self.deadline = deadline
        self.release_original = release_original  # migration of a Stopped instance: release it after
        self.given_image = image  # recovery of a lost lineage: launch from this image, no CreateImage
        self.notifier = notifier
        self._quiet = False  # a re-delivery of an incident whose outcome was already announced
        self.unavailable = unavailable or UnavailableOfferings(clock=cloud.clock)
        self.id = naming.incident_id(original.instance_id)
        if image is not None:  # a recovery is a new incident: the reclaim of ``original`` already used that id
            self.id = f"{self.id}-from-{image.image_id}"
        self.record = models.IncidentRecord(
            incident_id=self.id,
            instance_id=original.instance_id,
            region_id=original.region_id or cloud.region_id,
            event_id=event_id,
            started_at=cloud.clock(),
        )
        cloud.deadline = deadline

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

    def _run(self, pool: ThreadPoolExecutor) -> None:
        image_id = None
        if self.given_image is None:
            try:
                image_id = request_image(self.cloud, self.original, self.id)
                self.log(f"image {image_id} requested" if image_id else "instance already gone: no fresh image")
            except ImageRefused as exc:
                self.log(f"no fresh image: {exc}")
        inputs = gather(self.cloud, self.original, self.settings, pool)
        self.log("inputs gathered" + "".join(f"; {n}" for n in inputs.notes))
        self.record.before = summarize(self.original, inputs.prices, inputs.eip)
        existing = keeper(list(inputs.replacements))
        if existing is not None:
            self.record.status = "resumed"
            # An earlier delivery that finished told the user already; one that died midway did not.
            self._quiet = existing.tag(models.TAG_NOTIFIED) == "true"
            self.log(f"replacement {existing.instance_id} already launched by an earlier delivery")
            self._finish(existing.instance_id, inputs, image_id, None)
            return
        pool.submit(self._notify, "incident_started")  # a new incident: say so once, not per delivery
        self.record.image_id = image_id or ""  # a failure names the fresh image reconcile may finish from
        choice = self.given_image or self._image(image_id)
        try:
            new_id, candidate = self._launch(inputs, choice)
        except errors.CloudError as exc:
            if choice.source != "fresh" or not image_gone(exc):
                raise
            # Usable a moment ago, refused now: the image failed (its source was released mid-build).
            self.log(f"image {choice.image_id} refused at launch ({exc.code})")
            choice = self._fallback(choice.image_id)
            new_id, candidate = self._launch(inputs, choice)
        self._finish(new_id, inputs, choice.image_id, candidate)

    def _image(self, image_id: str | None) -> ImageChoice:
        if image_id:
            until = self.deadline - LAUNCH_RESERVE_S
            image = wait_image(self.cloud, image_id, until=until, max_poll_s=self.settings.image_poll_max_s)
            if image is not None:
                self.log(f"image {image_id} {image.status}" + (" and Usable" if image.usable else ""))
                return ImageChoice(image_id, "fresh", data_devices=image.data_devices)
            self.log(f"image {image_id} failed or not ready in time")
        self.check_deadline("waiting for the image")
        return self._fallback(image_id)

    def _fallback(self, failed_image: str | None) -> ImageChoice:
        """The lineage's newest image instead of ``failed_image`` (ImageUnavailable without one), recorded."""
        choice = fallback(self.cloud, self.original, failed_image)
        self.log(f"using {choice.source} image {choice.image_id}: {choice.reason}")
        self.record.reason = choice.reason
        return choice

    def _launch(self, inputs: Inputs, image: ImageChoice) -> tuple[str, models.Candidate]:
        self.record.image_id, self.record.image_source = image.image_id, image.source
        self.check_deadline("planning")
        plan, enriched = plan_launch(self.original, inputs, self.settings, self.unavailable.snapshot())
        self.log(f"plan: {len(plan.candidates)} candidates" + (f", first {plan.chosen.reason}" if plan.chosen else ""))
        if not plan.candidates:
            why = "; ".join(f"{what}: {reason}" for what, reason in plan.skipped[:8]) or "no offering in stock"
            raise errors.ReplacementFailed(f"no candidate to launch ({why})")
        new_id, candidate = launch_first(
            self.cloud,
            plan,
            lambda c: build_spec(
                enriched, inputs, c, image.image_id, self.settings, self.id, data_devices=image.data_devices
            ),
            self.id,
            self.unavailable,
            self.record.tried,
        )
        self.record.chosen = f"{candidate.instance_type}@{candidate.zone_id} ({candidate.spot_strategy})"
        self.record.chosen_reason = candidate.reason
        self.log(f"launched {new_id} as {candidate.instance_type} in {candidate.zone_id}")
        return new_id, candidate

    def _finish(self, new_id: str, inputs: Inputs, image_id: str | None, candidate: models.Candidate | None) -> None:
        new = self._wait_running(new_id)
        new = self._converge(new)
        self.record.new_instance_id = new.instance_id
        if self.release_original:
            self.cloud.delete_instance(self.original.instance_id, force=True)
            self.log(f"released the original {self.original.instance_id}")
        if inputs.eip is not None:
            self.record.eip = inputs.eip.ip_address
            new = self._converge(new)
            self.record.new_instance_id = new.instance_id
            self.log(
                move_eip(
                    self.cloud,
                    inputs.eip,
                    self.original.instance_id,
                    new.instance_id,
                    deadline=self.deadline,
                    poll_s=self.settings.image_poll_max_s,
                    expected_release=None if self.release_original else self.record.started_at + SPOT_NOTICE_S,
                )
            )
        self.record.after = summarize(new, inputs.prices, inputs.eip, candidate)
        self._housekeeping(image_id)
        if self.record.status != "resumed":
            self.record.status = "replaced"
        self.record.reason = self.record.reason or f"replaced by {new.instance_id}"

    def _wait_running(self, new_id: str) -> models.Instance:
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
            self.cloud.sleep(min(self.settings.image_poll_max_s, max(self.deadline - self.cloud.clock(), 0.1)))

    def _converge(self, mine: models.Instance) -> models.Instance:
        """If a concurrent delivery launched too, keep the agreed replacement and delete ours."""
        agreed = keeper([*find_replacements(self.cloud, self.original.instance_id), mine])
        if agreed is None or agreed.instance_id == mine.instance_id:
            return mine
        self.cloud.delete_instance(mine.instance_id, force=True)
        self.log(f"concurrent delivery launched {agreed.instance_id}; deleted our duplicate {mine.instance_id}")
        return agreed

    def _housekeeping(self, image_id: str | None) -> None:
        try:
            lineage = naming.lineage_of(self.original)
            deleted = prune_images(self.cloud, lineage, self.settings.keep_images, in_use=image_id)
        except errors.CloudError as exc:  # housekeeping is retried by the next incident or reconcile
            self.log(f"image housekeeping skipped: {exc.code}")
            return
        self.record.deleted_images.extend(deleted)
        if deleted:
            self.log(f"deleted old images {', '.join(deleted)}")

    def _fail(self, exc: errors.AliyunOpsError) -> None:
        self.record.status = "failed"
        self.record.reason = str(exc)
        self.record.advice = _advice(exc)
        self.log(f"failed: {exc}")


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
