"""Catch up on what events missed (run on a timer).

1. Spot instances a reclaim left Stopped (``SpotInterruptionBehavior=Stop``, ``StoppedMode=StopCharging``)
   are started again; the first time one is seen it is tagged ``aops:stopped-since``. When its
   zone has had no stock for ``settings.stopped_migrate_after_s`` it is migrated: imaged, replaced in
   a zone/type with stock, and released.
2. A managed lineage whose newest instance is gone without a replacement is relaunched from its newest
   image, with the identity the image description carries (``identity``).
3. A pay-as-you-go fallback goes back to spot once spot stock of its type returns (``lifecycle.respot``).
Instances tagged ``aops:managed=false`` are left alone.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from aliyun_ops import errors, models
from aliyun_ops.lifecycle import back_to_spot
from aliyun_ops.models import TAG_IMAGE_OF, TAG_LINEAGE, TAG_MANAGED, TAG_REPLACES
from aliyun_ops.recovery import identity
from aliyun_ops.recovery.image import ImageChoice
from aliyun_ops.recovery.launch import keeper

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Settings
    from aliyun_ops.notify import Notifier
    from aliyun_ops.service import Outcome

log = logging.getLogger(__name__)
TAG_STOPPED_SINCE = "aops:stopped-since"
# How far back CloudMonitor's history is asked for a lost instance's reclaim (an assumption: docs/reliability.md).
RECLAIM_HISTORY_S = 7 * 86400.0


class Reconciler:
    def __init__(self, cloud: Cloud, settings: Settings, *, notifier: Notifier | None = None) -> None:
        self.cloud, self.settings, self.notifier = cloud, settings, notifier
        self._disks: list[models.Disk] | None = None
        self._images: list[models.Image] | None = None

    def run(self) -> list[Outcome]:
        outcomes = [self._stopped(i) for i in self._reclaimed_stopped()]
        everyone = self.cloud.describe_instances()
        outcomes.extend(self._keep_data(everyone))
        outcomes.extend(self._finish_held(everyone))
        outcomes.extend(self._system_snapshots(everyone))
        outcomes.extend(self._eips_follow(everyone))
        outcomes.extend(self._lost_lineages())
        outcomes.extend(  # last: a move takes minutes, and recoveries matter more
            back_to_spot(
                self.cloud, self.settings, everyone, managed=self._managed, deadline=self._deadline(),
                notifier=self.notifier,
            )
        )
        return outcomes

    def _eips_follow(self, instances: list[models.Instance]) -> list[Outcome]:
        """A lineage's elastic IP left unassociated (a delivery died between the release and the move) goes back
        to the lineage's instance. Only a free address is taken: one still on the original is left to the
        release, and one the user bound elsewhere is left alone."""
        from aliyun_ops.recovery.eip import associate_if_free
        from aliyun_ops.service import Outcome

        out = []
        for inst in instances:
            allocation = inst.tag(models.TAG_EIP)
            if not allocation or inst.status != "Running" or inst.eip is not None or not self._managed(inst):
                continue
            if inst.tag(models.TAG_DISKS) == "pending":
                continue  # held for its disks: its move takes the address before it starts
            eip = models.Eip(allocation_id=allocation, ip_address=allocation)
            if associate_if_free(self.cloud, eip, inst.instance_id):
                out.append(Outcome("repaired", f"EIP {allocation} back on {inst.instance_id}"))
        return out

    def _region_disks(self) -> list[models.Disk]:
        """Every disk of the region, read once per pass."""
        if self._disks is None:
            self._disks = self.cloud.describe_disks()
        return self._disks

    def _own_images(self) -> list[models.Image]:
        """The account's own images of the region, every status, read once per pass."""
        if self._images is None:
            self._images = self.cloud.describe_images()
        return self._images

    def _system_snapshots(self, instances: list[models.Instance]) -> list[Outcome]:
        """After an incident that could not wait for its system snapshot: the image is made from it here (the
        next pass relaunches the lineage from it), and the system disk kept for it is deleted once it is done."""
        from aliyun_ops.disks import move as data
        from aliyun_ops.recovery.image import image_of_system_snapshot
        from aliyun_ops.service import Outcome

        alive = {i.instance_id for i in instances}
        snaps = [
            s
            for s in self.cloud.describe_snapshots()
            if s.tag(TAG_IMAGE_OF) and s.name.endswith("-system") and s.tag(TAG_IMAGE_OF) not in alive
        ]
        imaged = {i.tag(TAG_IMAGE_OF) for i in self._own_images() if i.tag(TAG_IMAGE_OF)}
        out = []
        for snap in snaps:
            iid = snap.tag(TAG_IMAGE_OF) or ""
            if snap.status == "accomplished" and iid not in imaged:
                image_id = image_of_system_snapshot(self.cloud, iid, snap.snapshot_id, snap.tags, snap.description)
                imaged.add(iid)
                out.append(Outcome("imaged", f"image {image_id} of lost {iid} made from its system snapshot"))
        kept = [d for d in self._region_disks() if d.tag(models.TAG_SYSTEM_OF) not in (None, "", *alive)]
        for iid in sorted({d.tag(models.TAG_SYSTEM_OF) or "" for d in kept}):
            for disk_id in data.drop_system(self.cloud, iid, [d for d in kept if d.tag(models.TAG_SYSTEM_OF) == iid]):
                out.append(Outcome("cleaned", f"deleted {disk_id}, the system disk kept for {iid}'s snapshot"))
        return out

    def _keep_data(self, instances: list[models.Instance]) -> list[Outcome]:
        """A managed instance's data disks outlive it even if its notice never arrives (one DescribeDisks)."""
        from aliyun_ops.disks import move as data
        from aliyun_ops.disks import plan as data_plan
        from aliyun_ops.service import Outcome

        managed = {
            i.instance_id: i
            for i in instances
            if self._managed(i) and i.status not in ("Pending", "Deleted") and data_plan.mode(i) == data_plan.MOVE
        }
        if not managed:
            return []
        by_instance: dict[str, list[models.Disk]] = {}
        for d in self._region_disks():
            if d.instance_id in managed:
                by_instance.setdefault(d.instance_id, []).append(d)
        out = []
        for iid, disks in sorted(by_instance.items()):
            if any(data_plan.needs_keeping(d, iid) for d in data_plan.data_disks(disks)):
                kept = data.keep(self.cloud, managed[iid], disks)
                out.append(Outcome("kept", f"{iid}: {len(kept)} data disk(s) now kept at release"))
        return out

    def _finish_held(self, instances: list[models.Instance]) -> list[Outcome]:
        """Replacements left stopped for their data disks by a delivery that died, once their original is gone."""
        from aliyun_ops.recovery.resume import finish_held
        from aliyun_ops.service import Outcome

        alive = {i.instance_id for i in instances}
        out = []
        for held in instances:
            original = held.tag(TAG_REPLACES)
            if held.tag(models.TAG_DISKS) != "pending" or not original or original in alive:
                continue
            said = finish_held(self.cloud, held, deadline=self._deadline(), poll_s=self.settings.image_poll_max_s)
            out.append(Outcome("resumed", f"{held.instance_id} finished with its data disks: " + "; ".join(said)))
        return out

    def _managed(self, instance: models.Instance) -> bool:
        if instance.tag(TAG_MANAGED) == "false":
            return False
        selector = self.settings.selector
        return selector is None or instance.tag(selector[0]) == selector[1]

    def _reclaimed_stopped(self) -> list[models.Instance]:
        return [
            i
            for i in self.cloud.describe_instances(status="Stopped")
            if i.is_spot
            and i.spot_interruption_behavior == "Stop"
            and i.stopped_mode == "StopCharging"
            and self._managed(i)
        ]

    def _stopped(self, instance: models.Instance) -> Outcome:
        from aliyun_ops.service import Outcome, run_incident

        now = self.cloud.clock()
        since = _float(instance.tag(TAG_STOPPED_SINCE))
        if since is None:
            self.cloud.tag_resources("instance", [instance.instance_id], ((TAG_STOPPED_SINCE, str(int(now))),))
            since = now
        try:
            self.cloud.start_instance(instance.instance_id)
            return Outcome("started", f"{instance.instance_id} started again after a reclaim stop")
        except errors.NoStock as exc:
            if now - since < self.settings.stopped_migrate_after_s:
                return Outcome("skipped", f"{instance.instance_id} cannot start yet ({exc.code}); will retry")
        return run_incident(
            self.cloud,
            self.settings,
            instance,
            deadline=self._deadline(),
            notifier=self.notifier,
            release_original=True,
        )

    def _deadline(self) -> float:
        return self.cloud.deadline or self.cloud.clock() + self.settings.function_timeout_s

    def _lost_lineages(self) -> list[Outcome]:
        newest: dict[str, models.Image] = {}
        for image in self._own_images():
            lineage = image.tag(TAG_LINEAGE)
            if image.status != "Available":
                continue
            if not lineage or not image.tag(TAG_IMAGE_OF):
                continue
            if lineage not in newest or (image.creation_time, image.image_id) > (
                newest[lineage].creation_time,
                newest[lineage].image_id,
            ):
                newest[lineage] = image
        newest = {lin: img for lin, img in newest.items() if img.tag(models.TAG_RETIRED) != "true"}
        if not newest:
            return []
        # One listing without tag filters: a tag-filtered list misses an instance launched or tagged in
        # the last few seconds (the cloud's tag index lags), and a lineage must never be relaunched twice.
        alive = self.cloud.describe_instances()
        return [o for o in (self._recover(lin, img, alive) for lin, img in sorted(newest.items())) if o is not None]

    def _recover(self, lineage: str, image: models.Image, alive: list[models.Instance]) -> Outcome | None:
        from aliyun_ops.recovery import Incident
        from aliyun_ops.service import Outcome

        last = image.tag(models.TAG_LAUNCHED) or image.tag(TAG_IMAGE_OF) or ""  # the lineage's current instance
        if any(i.instance_id == last for i in alive) or keeper([i for i in alive if i.tag(TAG_REPLACES) == last]):
            return None
        if keeper([i for i in alive if i.tag(TAG_LINEAGE) == lineage]):
            return None
        taken = self._reclaimed(last)
        if taken is None:
            return Outcome("skipped", f"lineage {lineage} lost {last}; CloudMonitor's history cannot be read now")
        if not taken:
            return self._retire(lineage, last)
        details = self.cloud.call("ecs", "DescribeImages", {"ImageId": image.image_id, "ImageOwnerAlias": "self"})
        rows = (details.get("Images") or {}).get("Image") or [{}]
        gone = identity.decode(str(rows[0].get("Description") or ""), last, self.cloud.region_id, _identity_tags(image))
        if gone is None:
            return Outcome("skipped", f"lineage {lineage} lost its instance {last}, but its image has no identity")
        allocation = image.tag(models.TAG_EIP)
        if allocation and gone.eip is None:  # the lineage's address, as its image recorded it
            gone = dataclasses.replace(gone, eip=models.Eip(allocation_id=allocation, ip_address=""))
        choice = ImageChoice(
            image.image_id, "lineage-fallback", f"recovered lineage {lineage} from {image.name}", image.data_devices
        )
        incident = Incident(
            self.cloud, self.settings, gone, deadline=self._deadline(), notifier=self.notifier, image=choice
        )
        record = incident.run()
        return Outcome("recovered", f"lineage {lineage} relaunched as {record.new_instance_id}", record)

    def _reclaimed(self, instance_id: str) -> bool | None:
        """Did the cloud reclaim ``instance_id``? CloudMonitor's system-event history says (None: unreadable)."""
        now = self.cloud.clock()
        try:
            # The window's end is an hour ahead: a clock behind the cloud's must not hide a reclaim just made.
            return bool(self.cloud.reclaim_events(now - RECLAIM_HISTORY_S, now + 3600.0, [instance_id]))
        except errors.CloudError as exc:
            log.warning("reclaim history of %s unreadable: %s", instance_id, exc.code)
            return None

    def _retire(self, lineage: str, instance_id: str) -> Outcome:
        """The user removed the lineage's instance: follow them. Its images say so and it is never relaunched
        (housekeeping frees the images later)."""
        from aliyun_ops.service import Outcome

        images = [i.image_id for i in self.cloud.describe_images(tags=((TAG_LINEAGE, lineage),)) if i.tag(TAG_IMAGE_OF)]
        if images:
            self.cloud.tag_resources("image", images, ((models.TAG_RETIRED, "true"),))
        why = (
            f"lineage {lineage}: {instance_id} is gone without a reclaim in CloudMonitor's history, so its user "
            "removed it; the lineage is retired and will not be relaunched"
        )
        now = self.cloud.clock()
        record = models.IncidentRecord(
            incident_id=f"retire-{lineage}",
            instance_id=instance_id,
            region_id=self.cloud.region_id,
            started_at=now,
            finished_at=now,
            status="retired",
            reason=why,
        )
        if self.notifier is not None:  # said once: a retired lineage is not looked at again
            try:
                self.notifier.incident_finished(record)
            except Exception:  # a notification never decides what reconcile does
                log.warning("notification of the retired lineage %s failed", lineage, exc_info=True)
        return Outcome("retired", why, record)


def _identity_tags(image: models.Image) -> models.Tags:
    """The lost instance's tags as its image kept them: the user's, lineage and generation."""
    return tuple((k, v) for k, v in image.tags if k not in (TAG_IMAGE_OF, models.TAG_INCIDENT))


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
