"""Catch up on what events missed (run on a timer).

1. Spot instances a reclaim left Stopped (``SpotInterruptionBehavior=Stop``, ``StoppedMode=StopCharging``, and
   an interruption in CloudMonitor's history since their last start) are started again; when the zone has had
   no stock for ``settings.stopped_migrate_after_s`` since the stop, migrated: imaged, replaced in a zone/type
   with stock, and released. A user's stop is left alone (``lifecycle.stopped``).
2. A managed lineage whose newest instance is gone without a replacement is relaunched from its newest
   image, with the identity the image description carries (``identity``).
3. A pay-as-you-go fallback goes back to spot once spot stock of its type returns (``lifecycle.respot``).
Instances tagged ``aops:managed=false`` are left alone.

Every item stands alone. Each stopped instance, batch of kept disks, held replacement, kept system disk, address
and lost lineage is handled in its own guard (``_guard``) with its own share of the time left (``ITEM_SHARE``): a
failure is an outcome of that item ("failed", with the reason; "held" when a data disk is missing and a person must
decide; "in-progress" when its share ran out and the next pass goes on), never the end of the pass. The pass still
says it failed when any item did (``service.reconcile`` raises ``PassIncomplete`` after the last item), so
Function Compute's alerts see it.

A pass costs calls that grow with the number of pages, not with the number of instances: one listing each of
the region's instances, disks, snapshots and own images, shared by every step (``_instances()`` etc., read once
per pass and read again only after the pass itself changed something), data disks kept in batches
(``disks.move.keep_many``), and one CloudMonitor history read for all lost lineages (and one for all Stopped
Stop-mode instances, when there are any). What a pass starts (a restart, a migration, a relaunch, a retirement)
costs its own calls.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from aliyun_ops import errors, models, orchestrators
from aliyun_ops.cloud import convert
from aliyun_ops.disks.slots import recorded
from aliyun_ops.lifecycle import back_to_spot
from aliyun_ops.lifecycle.stopped import recover_stopped
from aliyun_ops.models import TAG_IMAGE_OF, TAG_LINEAGE, TAG_MANAGED, TAG_REPLACES
from aliyun_ops.recovery import claims, identity
from aliyun_ops.recovery.image import ImageChoice
from aliyun_ops.recovery.launch import keeper

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Settings
    from aliyun_ops.notify import Notifier
    from aliyun_ops.service import Outcome

log = logging.getLogger(__name__)
# How far back CloudMonitor's history is asked for a lost instance's reclaim (an assumption: docs/reliability.md).
RECLAIM_HISTORY_S = 7 * 86400.0


# Labelling kept disks (a first pass over a large region: one TagResources per disk) may take at most this share
# of the time left at its start, so that the steps after it (a lost lineage's relaunch) still run in this pass.
LABEL_SHARE = 0.5
# A relaunch waits until its replacement is Running (image, launch, boot): one is not started with less time left
# in the pass than this (an assumption: a minute or two from RunInstances to Running); the next pass starts it.
RELAUNCH_MIN_S = 120.0
# A pass's relaunches run this many at a time, each on a client of its own (its own deadline) under the process's
# shared pacing: each mostly waits for its replacement to boot, so one after another a region that lost fifty
# lineages took seven passes (figure (o)); at once they take one.
RELAUNCH_WORKERS = 8
# A held replacement (its disks attach in a minute; a cross-zone copy goes on in the next pass) may take at most this
# share of the time left in the pass, and never less than ITEM_MIN_S. An item that must wait for an image (a
# migration, a relaunch) may take all but RESERVE_S, which the items after it keep: a slow copy or a stuck object
# never takes the whole pass.
ITEM_SHARE = 0.5
ITEM_MIN_S = 150.0
RESERVE_S = 60.0


class Reconciler:
    def __init__(self, cloud: Cloud, settings: Settings, *, notifier: Notifier | None = None) -> None:
        self.cloud, self.settings, self.notifier = cloud, settings, notifier
        self._everyone: list[models.Instance] | None = None
        self._disks: list[models.Disk] | None = None
        self._images: list[models.Image] | None = None
        self._snapshots: list[models.Snapshot] | None = None
        self._pass_deadline = cloud.deadline or cloud.clock() + settings.function_timeout_s
        self._item_deadline: float | None = None
        self.pass_id = f"pass-{uuid.uuid4().hex[:12]}"  # names this pass's claims (``claims``)

    def run(self) -> list[Outcome]:
        # First the data: keeping every managed instance's disks is cheap, and nothing else may delay it.
        outcomes = self._guard("data disks to keep", lambda: self._keep_data(self._instances()), share=1.0)
        outcomes.extend(self._guard("notices", lambda: self._changed(self._unhandled_notices()), share=1.0))
        outcomes.extend(
            self._guard("reclaim-stopped instances", lambda: self._changed(self._stopped()), share=1.0)
        )
        outcomes.extend(
            self._guard("held replacements", lambda: self._changed(self._finish_held(self._instances())), share=1.0)
        )
        outcomes.extend(
            self._guard("system snapshots", lambda: self._changed(self._system_snapshots(self._instances())), share=1.0)
        )
        outcomes.extend(
            self._guard("addresses", lambda: self._changed(self._eips_follow(self._instances())), share=1.0)
        )
        outcomes.extend(self._guard("finished copies", lambda: self._changed(self._settle_copies()), share=1.0))
        outcomes.extend(self._guard("lost lineages", self._lost_lineages, share=1.0))
        outcomes.extend(self._guard("tag room", lambda: self._tag_room(self._instances()), share=1.0))
        self._prune()
        outcomes.extend(  # last: a move takes minutes, and recoveries matter more
            self._guard(
                "back to spot",
                lambda: back_to_spot(
                    self.cloud,
                    self.settings,
                    self._instances(),  # a relaunch above is young: no fallback it launched is due to move yet
                    managed=self._managed,
                    deadline=self._deadline(),
                    notifier=self.notifier,
                ),
                share=1.0,
            )
        )
        outcomes.extend(self._guard("baselines", self._baselines, share=1.0))  # quiet time: after every recovery
        return outcomes

    def _guard(self, what: str, act: Callable[[], list[Outcome]], *, share: float | None = None) -> list[Outcome]:
        """``act()`` for one item (or one step, whose items have guards of their own), within its share of the time
        left (``share``; None: all but RESERVE_S); whatever it raises becomes that item's outcome, and the pass goes
        on to the next."""
        outer, saved = self._item_deadline, self.cloud.deadline
        until = self._item_until(share)
        self._item_deadline = until
        self.cloud.deadline = until  # the SDK's retries stop at the item's end too
        try:
            return act()
        except Exception as exc:  # one item's failure is that item's: counted and said, never the pass's end
            return self._item_failed(what, exc)
        finally:
            self._item_deadline, self.cloud.deadline = outer, saved

    def _item_until(self, share: float | None) -> float:
        """The end of an item starting now: its ``share`` of the time left (None: all but RESERVE_S), at least
        ITEM_MIN_S, never past the end of the step or pass it belongs to."""
        now, end = self.cloud.clock(), self._deadline()
        left = max(end - now, 0.0)
        budget = left - RESERVE_S if share is None else share * left
        return min(end, now + max(ITEM_MIN_S, budget))

    def _item_failed(self, what: str, exc: Exception) -> list[Outcome]:
        """What an item's exception says: "in-progress" when its time ran out, "held" when a person must decide,
        else "failed" with the reason."""
        from aliyun_ops.service import Outcome

        self._forget()
        if isinstance(exc, errors.DeadlineExceeded):
            return [Outcome("in-progress", f"{what}: not finished in its share of this pass ({exc}); the next goes on")]
        if isinstance(exc, errors.DataUnavailable):
            return [Outcome("held", f"{what}: {exc}")]
        log.warning("reconcile: %s failed", what, exc_info=exc)
        return [Outcome("failed", f"{what}: {errors.describe(exc)}")]

    def _forget(self) -> None:
        """After a failed item the region may have changed midway: the next step reads it again."""
        self._everyone = self._disks = self._images = self._snapshots = None

    def _instances(self) -> list[models.Instance]:
        """Every instance of the region, every status: one paged DescribeInstances per pass, shared by every step.

        The account's images are read first (when not read yet), so that an image names no instance launched
        after this listing: a lineage whose instance the listing lacks is really without one."""
        if self._everyone is None:
            self._own_images()
            self._everyone = self.cloud.describe_instances()
        return self._everyone

    def _changed(self, outcomes: list[Outcome]) -> list[Outcome]:
        """After a step that changed the region (anything but "skipped"), the next step reads it again."""
        if any(o.status != "skipped" for o in outcomes):
            self._forget()
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

            def follow(eip: models.Eip = eip, iid: str = inst.instance_id) -> list[Outcome]:
                done = associate_if_free(self.cloud, eip, iid)
                return [Outcome("repaired", f"EIP {eip.allocation_id} back on {iid}")] if done else []

            out.extend(self._guard(f"EIP {allocation} of {inst.instance_id}", follow))
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

    def _region_snapshots(self) -> list[models.Snapshot]:
        """Every snapshot of the region, read once per pass."""
        if self._snapshots is None:
            self._snapshots = self.cloud.describe_snapshots()
        return self._snapshots

    def _system_snapshots(self, instances: list[models.Instance]) -> list[Outcome]:
        """The system disks kept past lost instances: imaged from their snapshot, snapshotted again when it failed or
        was never made, deleted once not needed (``recovery.systemdisk``)."""
        from aliyun_ops.recovery.systemdisk import reconcile_system_disks

        return reconcile_system_disks(
            self.cloud, instances, self._region_disks(), self._region_snapshots(), self._own_images()
        )

    def _keep_data(self, instances: list[models.Instance]) -> list[Outcome]:
        """A managed instance's data disks outlive it even if its notice never arrives: the pass's DescribeDisks,
        then ``keep_many`` for every instance with a disk not yet kept (batched; labels within LABEL_SHARE)."""
        from aliyun_ops.disks import move as data
        from aliyun_ops.disks import plan as data_plan
        from aliyun_ops.service import Outcome

        managed = {
            i.instance_id: i
            for i in instances
            if self._managed(i)
            and i.status not in ("Pending", "Deleted")
            and data_plan.mode(i) == data_plan.MOVE
            and i.tag(models.TAG_DISKS) != "pending"  # mid-move: its disks are the move's, labelled for its original
        }
        if not managed:
            return []
        by_instance: dict[str, list[models.Disk]] = {}
        for d in self._region_disks():
            if d.instance_id in managed:
                by_instance.setdefault(d.instance_id, []).append(d)
        todo = [
            (managed[iid], disks)
            for iid, disks in sorted(by_instance.items())
            if any(data_plan.needs_keeping(d, iid) for d in data_plan.data_disks(disks))
        ]
        if not todo:
            return []
        now = self.cloud.clock()
        until = now + LABEL_SHARE * max(self._deadline() - now, 0.0)
        no_room: list[str] = []
        try:
            kept = data.keep_many(self.cloud, todo, label_until=until, no_room=no_room)
        except Exception:  # one odd disk must not leave the others unkept: each instance on its own
            log.warning("keeping data disks in batches failed; one instance at a time", exc_info=True)
            self._disks = None
            return self._keep_each(todo, until)
        out = [Outcome("kept", f"{iid}: {n} data disk(s) now kept at release") for iid, n in kept]
        if len(kept) < len(todo):
            out.append(Outcome("skipped", f"{len(todo) - len(kept)} instance(s)' kept data disks not labelled yet"))
        if no_room:
            out.append(
                Outcome(
                    "warned",
                    f"data disk(s) {', '.join(sorted(set(no_room)))} hold too many tags (20 at most) for every label "
                    "of ours: kept all the same; their slots are recorded on the system snapshot and image at reclaims",
                )
            )
        return out

    def _tag_room(self, instances: list[models.Instance]) -> list[Outcome]:
        """Managed spot instances whose replacement could not carry all their tags beside ours (20 at most): said
        while the user can still make room, not only at the reclaim (the selector and the user's ``aops:`` keys are
        always carried; the others that do not fit are left behind)."""
        from aliyun_ops.recovery import naming
        from aliyun_ops.service import Outcome

        out = []
        for inst in instances:
            if not inst.is_spot or inst.status not in ("Running", "Starting") or not self._managed(inst):
                continue
            extra = ((models.TAG_DISKS, "pending"), (models.TAG_EIP, inst.eip.allocation_id if inst.eip else ""))
            fit = naming.replacement_fit(inst, naming.incident_id(inst.instance_id), extra, self.settings.selector)
            left = [k for k, _ in fit.left if not k.startswith(models.TAG_PREFIX)]
            if left:
                out.append(
                    Outcome(
                        "warned",
                        f"{inst.instance_id} has {len(inst.tags)} tags: its replacement would leave {', '.join(left)} "
                        "behind (20 tags at most, with the selector and ours); remove a tag to keep them all",
                    )
                )
        return out

    def _settle_copies(self) -> list[Outcome]:
        """The old disks and move snapshots of cross-zone copies a replacement started on before the snapshots were
        accomplished (``disks.move.settle_copies``), from the pass's listings."""
        from aliyun_ops.disks.move import settle_copies
        from aliyun_ops.service import Outcome

        done = settle_copies(self.cloud, self._instances(), self._region_disks(), self._region_snapshots())
        return [Outcome(status, what) for status, what in done]

    def _unhandled_notices(self) -> list[Outcome]:
        """Managed spot instances the cloud is reclaiming now (their ``Recycling`` lock) whose notice left no trace:
        no system snapshot and no image of them. Its delivery never came, or died before its first record reached the
        cloud (the keep and the snapshot are sent side by side). The incident runs here, as a late delivery would,
        while the instance still exists: with five minutes' notice and a five-minute timer, a pass nearly always
        falls inside the window. The notice's time comes from CloudMonitor's history (the release follows it)."""
        from aliyun_ops import policy
        from aliyun_ops.lifecycle.baseline import is_baseline
        from aliyun_ops.service import Outcome, run_incident

        traced = {s.tag(TAG_IMAGE_OF) for s in self._region_snapshots() if not is_baseline(s)} | {
            i.tag(TAG_IMAGE_OF) for i in self._own_images() if not is_baseline(i)
        }
        due = [
            i
            for i in self._instances()
            if policy.RECYCLING in i.lock_reasons
            and i.is_spot
            and i.spot_interruption_behavior != "Stop"
            and self._managed(i)
            and i.instance_id not in traced
        ]
        if not due:
            return []
        now = self.cloud.clock()
        try:
            told = {
                e.instance_id: e.time
                for e in self.cloud.reclaim_events(now - 3600.0, now + 3600.0, [i.instance_id for i in due])
            }
        except errors.CloudError as exc:  # the release is then assumed five minutes from now: looked at later
            log.warning("reclaim history unreadable for %d instance(s) under notice: %s", len(due), exc.code)
            told = {}
        out: list[Outcome] = []
        for inst in due:

            def handle(inst: models.Instance = inst) -> list[Outcome]:
                log.warning("%s is being reclaimed and no delivery handled its notice: handling it", inst.instance_id)
                got = run_incident(
                    self.cloud,
                    self.settings,
                    inst,
                    deadline=self._deadline(),
                    notifier=self.notifier,
                    notice_at=told.get(inst.instance_id),
                )
                return [Outcome(got.status, f"notice of {inst.instance_id} handled by reconcile: {got.message}",
                                got.record)]

            out.extend(self._guard(f"notice of {inst.instance_id}", handle))
        return out

    def _keep_each(self, todo: list[tuple[models.Instance, list[models.Disk]]], until: float) -> list[Outcome]:
        from aliyun_ops.disks import move as data
        from aliyun_ops.service import Outcome

        out: list[Outcome] = []
        for inst, disks in todo:

            def keep(inst: models.Instance = inst, disks: list[models.Disk] = disks) -> list[Outcome]:
                kept = data.keep_many(self.cloud, [(inst, disks)], label_until=until)
                return [Outcome("kept", f"{iid}: {n} data disk(s) now kept at release") for iid, n in kept]

            out.extend(self._guard(f"data disks of {inst.instance_id}", keep))
        return out

    def _finish_held(self, instances: list[models.Instance]) -> list[Outcome]:
        """Replacements left stopped for their data disks by a delivery that died, once their original is gone."""
        from aliyun_ops.recovery.resume import finish_held
        from aliyun_ops.service import Outcome

        alive = {i.instance_id for i in instances}
        out: list[Outcome] = []
        for held in instances:
            original = held.tag(TAG_REPLACES)
            if held.tag(models.TAG_DISKS) != "pending" or not original or original in alive:
                continue

            def finish(held: models.Instance = held) -> list[Outcome]:
                fresh = self.cloud.describe_instance(held.instance_id)  # as it is now, not as the pass listed it
                if fresh is None or fresh.tag(models.TAG_DISKS) != "pending":
                    return [Outcome("skipped", f"{held.instance_id} is no longer held for its data disks")]
                other = claims.take(
                    self.cloud, "instance", fresh.instance_id, fresh.tags, self.pass_id, self._deadline()
                )
                if other is not None:
                    return [Outcome("skipped", f"{held.instance_id}: another reconcile pass is finishing it")]
                try:
                    poll_s = self.settings.image_poll_max_s
                    said = finish_held(self.cloud, fresh, deadline=self._deadline(), poll_s=poll_s)
                finally:
                    claims.release(self.cloud, "instance", fresh.instance_id, self.pass_id)
                return [Outcome("resumed", f"{held.instance_id} finished with its data disks: " + "; ".join(said))]

            got = self._guard(f"held replacement {held.instance_id} of {original}", finish, share=ITEM_SHARE)
            out.extend(self._tell_held(held, o) for o in got)
        return out

    def _tell_held(self, held: models.Instance, outcome: Outcome) -> Outcome:
        """A replacement kept stopped because a data disk is missing: its user is told (once per reason: the reason's
        digest is tagged on the replacement) which disk, why, and how to start it without the disk."""
        from aliyun_ops.recovery.naming import digest
        from aliyun_ops.service import Outcome

        if outcome.status != "held":
            return outcome
        advice = (
            f"{held.instance_id} stays stopped. Bring the disk back (detach it from the other server, or restore it), "
            f"or start it without that disk: aliyun-ops start-held {held.instance_id} --without DEVICE"
        )
        mark = digest(outcome.message, length=12)
        if self.notifier is not None and held.tag(models.TAG_HELD) != mark:
            now = self.cloud.clock()
            record = models.IncidentRecord(
                incident_id=f"held-{held.instance_id}",
                instance_id=held.tag(TAG_REPLACES) or held.instance_id,
                region_id=self.cloud.region_id,
                started_at=now,
                finished_at=now,
                status="failed",
                reason=outcome.message,
                advice=advice,
                new_instance_id=held.instance_id,
            )
            try:
                self.notifier.incident_finished(record)
                self.cloud.tag_resources("instance", [held.instance_id], ((models.TAG_HELD, mark),))
            except Exception:  # said again next pass
                log.warning("could not tell the user about held %s", held.instance_id, exc_info=True)
        return Outcome("held", f"{outcome.message}; {advice}", outcome.record)

    def _managed(self, instance: models.Instance) -> bool:
        """Reconcile keeps, restarts, moves and baselines only these: never one opted out, outside the selector,
        or owned by an orchestrator (an Auto Scaling group, ACK: ``orchestrators``), which does all that itself."""
        if instance.tag(TAG_MANAGED) == "false" or orchestrators.owner(instance.tags):
            return False
        selector = self.settings.selector
        return selector is None or instance.tag(selector[0]) == selector[1]

    def _stopped(self) -> list[Outcome]:
        """Stop-mode spot instances the cloud stopped are started again or migrated; a user's stop is left alone
        (``lifecycle.stopped``: one CloudMonitor history read for them all, nothing written on them)."""
        return recover_stopped(
            self.cloud,
            self.settings,
            self._instances(),
            managed=self._managed,
            deadline=self._deadline,
            notifier=self.notifier,
            each=self._guard,
        )

    def _prune(self) -> None:
        """Housekeeping from this pass's listings: each lineage keeps its ``keep_images`` newest images (never one
        an instance was launched from) and the system snapshots of the rest go with them. Logged, not an outcome:
        it changes nothing a user runs; a failure is retried by the next pass."""
        from aliyun_ops.recovery.housekeeping import prune_listed

        in_use = {i.image_id for i in self._instances() if i.image_id}
        try:
            deleted = prune_listed(
                self.cloud, self._own_images(), self._region_snapshots, self.settings.keep_images, in_use
            )
        except Exception as exc:  # housekeeping never stops a pass; the next retries it
            log.warning("image housekeeping skipped: %s", errors.describe(exc))
            return
        if deleted:
            log.info("image housekeeping deleted %s", ", ".join(deleted))
            self._images = self._snapshots = None

    def _baselines(self) -> list[Outcome]:
        """Each lineage's baseline (``lifecycle.baseline``): its accomplished snapshot imaged, a new one taken when
        due (at most ``baseline.PER_PASS`` new ones per pass), each lineage in its own guard; then the baselines
        beyond ``baseline_keep`` pruned. Housekeeping, like ``_prune``: logged, and only a failure is an outcome."""
        from aliyun_ops.lifecycle import baseline

        if self.settings.baseline_hours <= 0:
            return []
        instances, disks = self._instances(), self._region_disks()
        snapshots, images = self._region_snapshots(), self._own_images()
        work = baseline.plan(
            instances, disks, snapshots, images,
            managed=self._managed, now=self.cloud.clock(), hours=self.settings.baseline_hours,
        )
        out: list[Outcome] = []
        for item in work:

            def act(item: baseline.Take | baseline.MakeImage = item) -> list[Outcome]:
                if isinstance(item, baseline.MakeImage):
                    made = baseline.image(self.cloud, item.snapshot)
                    log.info(
                        "lineage %s: baseline image %s made from %s",
                        item.lineage,
                        made,
                        item.snapshot.snapshot_id,
                    )
                    return []
                try:
                    snap = baseline.take(self.cloud, item.instance, item.disk, disks, self.settings.selector)
                except errors.NotFound as exc:  # released since the listing
                    log.info("lineage %s: no baseline now (%s)", item.lineage, exc.code)
                    return []
                except errors.InvalidRequest as exc:  # the disk is busy or too young now: the next pass tries
                    if not exc.code.startswith(("IncorrectDiskStatus", "IncorrectInstanceStatus")):
                        raise
                    log.info("lineage %s: no baseline now (%s)", item.lineage, exc.code)
                    return []
                log.info("lineage %s: baseline snapshot %s of %s", item.lineage, snap, item.instance.instance_id)
                return []

            out.extend(self._guard(f"baseline of lineage {item.lineage}", act, share=ITEM_SHARE))
        if any(isinstance(item, baseline.MakeImage) for item in work):
            self._images = None  # the images just made are pruned by their own listing
        out.extend(self._guard("baseline pruning", self._prune_baselines, share=ITEM_SHARE))
        return out

    def _prune_baselines(self) -> list[Outcome]:
        from aliyun_ops.lifecycle import baseline

        in_use = {i.image_id for i in self._instances() if i.image_id}
        deleted = baseline.prune(
            self.cloud, self._own_images(), self._region_snapshots(), self.settings.baseline_keep, in_use
        )
        if deleted:
            log.info("baseline pruning deleted %s", ", ".join(deleted))
            self._images = self._snapshots = None
        return []

    def _deadline(self) -> float:
        """The end of the item being handled (its share of the pass), or of the pass."""
        return self._item_deadline if self._item_deadline is not None else self._pass_deadline

    def _lost_lineages(self) -> list[Outcome]:
        from aliyun_ops.service import Outcome

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
        alive = _Alive(self._instances())
        found = ((lin, img, self._lost(lin, img, alive)) for lin, img in sorted(newest.items()))
        lost = [(lin, img, last) for lin, img, last in found if last]
        out: list[Outcome] = [self._orchestrated(lin, img, last) for lin, img, last in lost if _owner(img)]
        lost = [(lin, img, last) for lin, img, last in lost if not _owner(img)]
        if not lost:
            return out
        taken = self._reclaimed([last for _, _, last in lost])
        relaunch: list[tuple[str, models.Image, str]] = []
        retire: list[tuple[str, str]] = []
        for lineage, image, last in lost:
            if taken is None:
                why = f"lineage {lineage} lost {last}; CloudMonitor's history cannot be read now"
                out.append(Outcome("skipped", why))
            elif last in taken:
                relaunch.append((lineage, image, last))
            else:
                retire.append((lineage, last))
        out.extend(self._relaunch_all(relaunch))
        out.extend(self._retire(retire))
        return out

    def _orchestrated(self, lineage: str, image: models.Image, last: str) -> Outcome:
        """A lost lineage whose last instance an orchestrator owned (its image kept the owner's tags): never
        relaunched, its orchestrator has launched its own replacement."""
        from aliyun_ops.service import Outcome

        return Outcome("skipped", f"lineage {lineage}: " + orchestrators.left_alone(last, _owner(image)))

    def _relaunch_all(self, todo: list[tuple[str, models.Image, str]]) -> list[Outcome]:
        """The reclaimed lineages' relaunches, RELAUNCH_WORKERS at a time (``batch.each``, as the pass's batched
        writes), none started with less than RELAUNCH_MIN_S left: each waits minutes for its replacement, so one
        after another they would take a pass for every two or three. Outcomes in lineage order."""
        from aliyun_ops.cloud import batch
        from aliyun_ops.service import Outcome

        def room() -> bool:
            return self.cloud.clock() <= self._deadline() - RELAUNCH_MIN_S

        ran = batch.each(todo, self._relaunch_one, workers=RELAUNCH_WORKERS, go_on=room)
        done = {item[0]: got for item, got in ran}
        out: list[Outcome] = []
        for lineage, _, last in todo:
            skipped = Outcome("skipped", f"lineage {lineage} lost {last}; no time left in this pass to relaunch")
            out.extend(done.get(lineage, [skipped]))
        return out

    def _relaunch_one(self, item: tuple[str, models.Image, str]) -> list[Outcome]:
        """One lineage's relaunch beside the others, guarded as ``_guard`` guards an item (its share of the time
        left, its failure its own outcome), but on a client of its own: ``_guard`` sets the shared client's
        deadline, which the other relaunches running now must not see."""
        lineage, image, last = item
        until = self._item_until(None)
        try:
            return [self._recover(self.cloud.with_deadline(until), until, lineage, image, last)]
        except Exception as exc:
            return self._item_failed(f"lineage {lineage}", exc)

    def _lost(self, lineage: str, image: models.Image, alive: _Alive) -> str | None:
        """The lineage's current instance when it is gone without a replacement (None: the lineage is fine)."""
        last = image.tag(models.TAG_LAUNCHED) or image.tag(TAG_IMAGE_OF) or ""  # the lineage's current instance
        if last in alive.ids or keeper(alive.replacing.get(last, [])):
            return None
        if keeper(alive.of_lineage.get(lineage, [])):
            return None
        return last

    def _recover(self, cloud: Cloud, until: float, lineage: str, image: models.Image, last: str) -> Outcome:
        """Relaunch one lineage on ``cloud`` by ``until`` (the item's own client and end), under this pass's claim."""
        from aliyun_ops.service import Outcome

        details = cloud.call("ecs", "DescribeImages", {"ImageId": image.image_id, "ImageOwnerAlias": "self"})
        rows = (details.get("Images") or {}).get("Image") or [{}]
        now_tags = convert.tags(rows[0])  # as the image is now, not as the pass listed it
        if claims.take(cloud, "image", image.image_id, now_tags, self.pass_id, until) is not None:
            return Outcome("skipped", f"lineage {lineage}: another reconcile pass is relaunching it")
        try:
            return self._relaunch(cloud, until, lineage, image, last, rows[0])
        finally:
            claims.release(cloud, "image", image.image_id, self.pass_id)

    def _relaunch(
        self, cloud: Cloud, until: float, lineage: str, image: models.Image, last: str, row: dict[str, object]
    ) -> Outcome:
        from aliyun_ops.recovery import Incident
        from aliyun_ops.service import Outcome

        gone = identity.decode(str(row.get("Description") or ""), last, cloud.region_id, _identity_tags(image))
        if gone is None:
            return Outcome("skipped", f"lineage {lineage} lost its instance {last}, but its image has no identity")
        allocation = image.tag(models.TAG_EIP)
        if allocation and gone.eip is None:  # the lineage's address, as its image recorded it
            gone = dataclasses.replace(gone, eip=models.Eip(allocation_id=allocation, ip_address=""))
        choice = ImageChoice(
            image.image_id,
            "lineage-fallback",
            f"recovered lineage {lineage} from {image.name}",
            image.data_devices,
            recorded(image.tags, image.image_id),
        )
        incident = Incident(cloud, self.settings, gone, deadline=until, notifier=self.notifier, image=choice)
        try:
            record = incident.run()
        except errors.DeadlineExceeded as exc:  # the next pass sees the replacement, or starts again
            return Outcome("skipped", f"lineage {lineage}: relaunch not finished in this pass ({exc})")
        return Outcome("recovered", f"lineage {lineage} relaunched as {record.new_instance_id}", record)

    def _reclaimed(self, instance_ids: list[str]) -> set[str] | None:
        """Which of ``instance_ids`` the cloud reclaimed: one read of CloudMonitor's system-event history for all
        of them (paged over the window, not per instance). None: the history cannot be read now."""
        now = self.cloud.clock()
        try:
            # The window's end is an hour ahead: a clock behind the cloud's must not hide a reclaim just made.
            events = self.cloud.reclaim_events(now - RECLAIM_HISTORY_S, now + 3600.0, instance_ids)
        except errors.CloudError as exc:
            log.warning("reclaim history of %d lost instance(s) unreadable: %s", len(instance_ids), exc.code)
            return None
        return {e.instance_id for e in events}

    def _retire(self, lost: list[tuple[str, str]]) -> list[Outcome]:
        """The users removed these lineages' instances (``(lineage, instance id)``): follow them. Their images
        say so (one TagResources per 50 images, all lineages together) and they are never relaunched
        (housekeeping frees the images later)."""
        from aliyun_ops.service import Outcome

        if not lost:
            return []
        lineages = {lineage for lineage, _ in lost}
        images = [i.image_id for i in self._own_images() if i.tag(TAG_IMAGE_OF) and i.tag(TAG_LINEAGE) in lineages]
        if images:
            self.cloud.tag_resources("image", images, ((models.TAG_RETIRED, "true"),))
        out = []
        for lineage, instance_id in lost:
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
            out.append(Outcome("retired", why, record))
        return out


class _Alive:
    """The pass's instances indexed once (by id, by the instance they replace, by lineage): every lineage is looked
    up in them, so a pass costs CPU in proportion to the region, not to its lineages times its instances."""

    def __init__(self, instances: list[models.Instance]) -> None:
        self.ids = {i.instance_id for i in instances}
        self.replacing: dict[str, list[models.Instance]] = {}
        self.of_lineage: dict[str, list[models.Instance]] = {}
        for i in instances:
            replaces, lineage = i.tag(TAG_REPLACES), i.tag(TAG_LINEAGE)
            if replaces is not None:
                self.replacing.setdefault(replaces, []).append(i)
            if lineage is not None:
                self.of_lineage.setdefault(lineage, []).append(i)


def _owner(image: models.Image) -> str:
    """The orchestrator that owned the lineage's instance, as the tags its image copied say ("" for none)."""
    return orchestrators.owner(_identity_tags(image))


def _identity_tags(image: models.Image) -> models.Tags:
    """The lost instance's tags as its image kept them: the user's, lineage and generation."""
    return tuple((k, v) for k, v in image.tags if k not in (TAG_IMAGE_OF, models.TAG_INCIDENT))

