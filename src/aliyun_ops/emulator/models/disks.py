"""Block storage: disks that live on their own (attached or detached), their snapshots, and their contents.

Every disk of the account is in ``Disks.items`` (keyed by disk id, each with its region and zone); an
instance's ``disks`` list holds the ones attached to it, in device order. Disk states are the DescribeDisks
ones: ``Creating`` -> ``Available``; AttachDisk ``Available`` -> ``Attaching`` -> ``In_use``; DetachDisk
``In_use`` -> ``Detaching`` -> ``Available``. Each transition lasts ``realism.diskTransitionSeconds``
(instant when the key is absent).

Contents: a disk holds **markers** (the control API writes one to a disk of a Running instance). A snapshot
captures the markers present when it **starts**; a disk created from a snapshot (CreateDisk, RunInstances
from an image's mapping or ``DataDisk.N.SnapshotId``) starts with them. A released instance's disks with
``DeleteWithInstance=false`` stay, detached and ``Available`` in their zone, with every marker.

Snapshots: ``progressing`` -> ``accomplished`` (or ``failed``, halfway through, for the next n after
``Backend.fail_next_snapshots(n)``; a failed one gives no disk and no image); the first one of a disk copies
all of it, later ones only the data changed since the disk's last accomplished one (``realism.snapshot``, the
speed model images use; the changed data is the disk's ``changed_gib`` when the control API set it, else the
scenario's ``changedFraction`` of its size; without the key ``imageSecondsPerGiB``). Releasing a disk (DeleteDisk,
or its instance's release with DeleteWithInstance) takes its snapshots still ``progressing`` with it, and a snapshot
that ends so (or by DeleteSnapshot) before it is accomplished leaves the disks made from it by instant access empty.

CreateSnapshot is refused, as the [docs] CreateSnapshot reference lists: for a disk attached to an instance never
started (``IncorrectDiskStatus.NeverUsed``), or to one neither Running nor Stopped (Pending, Starting, Stopping:
``IncorrectInstanceStatus``), and beyond ``SNAPSHOT_QUOTA_PER_DISK`` manual snapshots of the disk
(``QuotaExceed.Snapshot``; ``Disks.snapshot_quota`` may be lowered by a test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator.models.images import INSTANT_ACCESS_CATEGORIES
from aliyun_ops.emulator.models.tokens import ClientTokens

if TYPE_CHECKING:
    from aliyun_ops.emulator.backend import Backend
    from aliyun_ops.emulator.models.instances import InstanceRecord

SNAPSHOT_QUOTA_PER_DISK = 256  # [docs] CreateSnapshot: "The number of manual snapshots of the disk has reached 256"
DEVICES = tuple(f"/dev/xvd{chr(c)}" for c in range(ord("b"), ord("z") + 1))
# CreateDisk Size ranges per DiskCategory ([meta] CreateDisk.Size; ESSD: the PL1 range).
SIZE_RANGES = {
    "cloud": (5, 2000),
    "cloud_efficiency": (20, 32768),
    "cloud_ssd": (20, 32768),
    "cloud_essd": (20, 65536),
    "cloud_auto": (1, 65536),
    "cloud_essd_entry": (10, 32768),
    "cloud_regional_disk_auto": (10, 65536),
    "elastic_ephemeral_disk_standard": (64, 8192),
    "elastic_ephemeral_disk_premium": (64, 8192),
}


@dataclass
class DiskRecord:
    disk_id: str
    kind: str  # system | data
    category: str
    size: int
    device: str
    delete_with_instance: bool = True
    performance_level: str = ""
    name: str = ""
    snapshot_id: str = ""  # the snapshot it was created from, if any
    snapshotted: bool = False  # a snapshot of it finished: its next one is incremental
    # GiB written since its last accomplished snapshot (set through the control API); None: the scenario's
    # ``changedFraction`` of its size. An incremental snapshot copies only this much.
    changed_gib: float | None = None
    region_id: str = ""
    zone_id: str = ""
    status: str = "In_use"
    instance_id: str = ""  # the instance it is attached to ("" when detached)
    image_id: str = ""  # a system disk's image
    description: str = ""
    creation_time: str = ""
    markers: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    indexed_tags: dict[str, str] = field(default_factory=dict)  # what tag filters see (may lag ``tags``)
    generation: int = 0  # bumped on every state change; a transition for an older one is dropped
    ever_attached: bool = False  # it has been In_use on an instance (CreateSnapshot needs it)


@dataclass
class SnapshotRecord:
    snapshot_id: str
    region_id: str
    disk_id: str
    disk_kind: str
    size: int
    markers: list[str]
    name: str = ""
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    indexed_tags: dict[str, str] = field(default_factory=dict)  # what tag filters see (may lag ``tags``)
    status: str = "progressing"
    started_at: float = 0.0
    build_seconds: float = 0.0
    creation_time: str = ""
    disks_created: int = 0  # disks made from it (DeleteSnapshot needs Force then)
    category: str = ""  # the disk's category when it started (ESSD-series: instant access)
    available_from: float | None = None  # instant access: usable by CreateDisk from then on while progressing
    # What an image whose system disk comes from this snapshot inherits: the instance the disk was attached
    # to when the snapshot started (for a detached system disk, its image's; no password then).
    instance_id: str = ""
    architecture: str = "x86_64"
    os_type: str = "linux"
    os_name: str = ""
    platform: str = ""
    password_set: bool = False

    @property
    def instant_access(self) -> bool:
        return self.category in INSTANT_ACCESS_CATEGORIES

    def available(self, now: float) -> bool:
        """Usable by CreateDisk: accomplished, or progressing with instant access and its moment reached."""
        if self.status == "accomplished":
            return True
        return self.status == "progressing" and self.available_from is not None and now >= self.available_from

    def progress(self, now: float) -> int:
        if self.status == "accomplished":
            return 100
        if self.build_seconds <= 0:
            return 0
        return min(99, int(max(0.0, now - self.started_at) / self.build_seconds * 100))


class Disks:
    def __init__(self, backend: Backend) -> None:
        self.b = backend
        self.items: dict[str, DiskRecord] = {}
        self.snapshots: dict[str, SnapshotRecord] = {}
        self.tokens: ClientTokens[str] = ClientTokens()  # CreateDisk -> disk id
        self.snapshot_tokens: ClientTokens[str] = ClientTokens()  # CreateSnapshot -> snapshot id
        self.fail_next = 0  # the next n snapshots end ``failed`` halfway through their build
        self.snapshot_quota = SNAPSHOT_QUOTA_PER_DISK  # manual snapshots per disk

    # ---- lookups
    def get(self, disk_id: str, region_id: str | None = None) -> DiskRecord:
        disk = self.items.get(disk_id)
        if disk is None or (region_id is not None and disk.region_id != region_id):
            raise exc.InvalidDiskIdNotFound()
        return disk

    def snapshot(self, snapshot_id: str, region_id: str | None = None) -> SnapshotRecord:
        snap = self.snapshots.get(snapshot_id)
        if snap is None or (region_id is not None and snap.region_id != region_id):
            raise exc.InvalidSnapshotIdNotFound()
        return snap

    def markers_of_snapshot(self, snapshot_id: str) -> list[str]:
        """The markers a disk made from this snapshot (a user snapshot or an image's) starts with."""
        snap = self.snapshots.get(snapshot_id)
        if snap is not None:
            return list(snap.markers)
        for img in self.b.images.items.values():
            if snapshot_id in img.snapshot_markers:
                return list(img.snapshot_markers[snapshot_id])
        return []

    # ---- instance life
    def adopt(self, inst: InstanceRecord) -> None:
        """A new instance's disks exist from its launch, attached (``In_use``)."""
        for d in inst.disks:
            d.region_id, d.zone_id, d.instance_id, d.status = inst.region_id, inst.zone_id, inst.instance_id, "In_use"
            d.creation_time, d.ever_attached = inst.creation_time, True
            if d.snapshot_id:
                d.markers = self.markers_of_snapshot(d.snapshot_id)
                if d.snapshot_id in self.snapshots:
                    self.snapshots[d.snapshot_id].disks_created += 1
            self.items[d.disk_id] = d

    def instance_released(self, inst: InstanceRecord) -> None:
        """Disks with DeleteWithInstance go with it, and their snapshots still in progress with them (as DeleteDisk);
        the others stay, detached and Available, with every marker."""
        for d in inst.disks:
            d.generation += 1
            if d.delete_with_instance:
                self.items.pop(d.disk_id, None)
                self._release_snapshots(d.disk_id)
                continue
            d.instance_id, d.device, d.status = "", "", "Available"
        inst.disks = []

    def _release_snapshots(self, disk_id: str) -> None:
        """The disk is released: [docs] CreateSnapshot, "the snapshot in the Creating state is deleted when the disk
        is released", whatever released it; the disks made from such a snapshot by instant access lose their data
        (``_abandon``)."""
        for snap in [s for s in self.snapshots.values() if s.disk_id == disk_id and s.status == "progressing"]:
            self._abandon(snap)
            del self.snapshots[snap.snapshot_id]

    # ---- transitions
    def _later(self, disk: DiskRecord, status: str, then: Any = None) -> None:
        gen = disk.generation
        delay = self.b.realism.disk_transition

        def fire() -> None:
            if self.items.get(disk.disk_id) is disk and disk.generation == gen:
                disk.status = status
                if then is not None:
                    then()

        if delay <= 0:
            fire()
        else:
            self.b.schedule(delay, fire)

    # ---- actions
    def create(
        self,
        region_id: str,
        zone_id: str,
        *,
        category: str,
        size: int | None,
        snapshot_id: str | None,
        name: str,
        description: str,
        performance_level: str,
        tags: list[tuple[str, str]],
        client_token: str | None,
        fingerprint: str,
    ) -> str:
        made = self.tokens.replay(client_token, fingerprint)
        if made is not None:
            return made
        self.b.catalogue.check_zone(region_id, zone_id)
        markers: list[str] = []
        snap = None
        if snapshot_id is not None:
            snap = self.snapshot(snapshot_id, region_id)
            if not snap.available(self.b.clock.now()):
                raise exc.InvalidSnapshotIdNotReady()
            markers = list(snap.markers)
            size = max(size or 0, snap.size)
        if size is None:
            raise exc.MissingParameter("Size")
        low, high = SIZE_RANGES.get(category, (20, 32768))
        if not low <= size <= high:
            raise exc.InvalidDiskSizeValue()
        disk = DiskRecord(
            self.b.new_id("d", region_id),
            "data",
            category,
            size,
            "",
            False,
            performance_level or ("PL1" if category == "cloud_essd" else ""),
            name,
            snapshot_id or "",
            region_id=region_id,
            zone_id=zone_id,
            status="Creating",
            description=description,
            creation_time=self.b.iso_now(),
            markers=markers,
            tags=dict(tags),
        )
        if snap is not None:
            snap.disks_created += 1
        self.items[disk.disk_id] = disk
        self.reindex_tags(disk)
        self._later(disk, "Available")
        self.tokens.remember(client_token, fingerprint, disk.disk_id)
        return disk.disk_id

    def delete(self, disk_id: str, region_id: str | None) -> None:
        """A snapshot of the disk still being created goes with it ([docs] CreateSnapshot: "the snapshot in the
        Creating state is deleted when the disk is released"), and with it the unread data of every disk made
        from it by instant access (``_abandon``)."""
        disk = self.get(disk_id, region_id)
        if disk.status != "Available":
            raise exc.IncorrectDiskStatus()
        disk.generation += 1
        del self.items[disk_id]
        self._release_snapshots(disk_id)

    def _abandon(self, snap: SnapshotRecord) -> None:
        """A snapshot ends before it is accomplished (its disk deleted, or the snapshot itself): the disks made
        from it by instant access lose what they had not read yet. No source says what happens to them; the
        emulator takes the harshest reading: none of it was read, so they read as empty (docs/emulator-fidelity.md,
        "Cross-zone copies")."""
        for disk in self.items.values():
            if disk.snapshot_id == snap.snapshot_id:
                disk.markers = []

    def attach(
        self, instance_id: str, disk_id: str, delete_with_instance: bool, device: str | None, bootable: bool
    ) -> None:
        inst = self.b.instances.get(instance_id)
        disk = self.get(disk_id, inst.region_id)
        if disk.status != "Available":
            raise exc.IncorrectDiskStatus()
        if disk.zone_id != inst.zone_id:
            raise exc.ResourcesNotInSameZone()
        if inst.status not in ("Running", "Stopped") or inst.lock_reasons:
            raise exc.IncorrectInstanceStatus()
        takes = self.b.catalogue.system_disk_categories(inst.instance_type)
        if takes and disk.category not in takes:
            raise exc.DiskCategoryNotSupported()
        if bootable:  # the instance must have no system disk; every emulated instance has one
            raise exc.OperationDenied("The specified instance already has a system disk.")
        used = {d.device for d in inst.disks}
        free = [dev for dev in DEVICES if dev not in used]
        if device is not None:
            if device in used:
                raise exc.InvalidDeviceInUse()
            if device not in DEVICES:
                raise exc.InvalidDeviceMalformed()
        elif not free:
            raise exc.InstanceDiskLimitExceeded()
        disk.generation += 1
        disk.device = device or free[0]
        disk.instance_id = inst.instance_id
        disk.delete_with_instance = delete_with_instance
        disk.status = "Attaching"
        inst.disks.append(disk)

        def attached() -> None:
            disk.ever_attached = True

        self._later(disk, "In_use", then=attached)

    def detach(self, instance_id: str, disk_id: str, delete_with_instance: bool | None) -> None:
        inst = self.b.instances.get(instance_id)
        disk = self.get(disk_id, inst.region_id)
        if disk.instance_id != inst.instance_id or disk.status != "In_use":
            raise exc.IncorrectDiskStatus()
        if disk.kind == "system":
            raise exc.DiskNotPortable()
        if inst.status not in ("Running", "Stopped") or inst.lock_reasons:
            raise exc.IncorrectInstanceStatus()
        if delete_with_instance is not None:
            disk.delete_with_instance = delete_with_instance
        disk.generation += 1
        disk.status = "Detaching"

        def detached() -> None:
            if disk in inst.disks:
                inst.disks.remove(disk)
            disk.instance_id, disk.device = "", ""

        self._later(disk, "Available", then=detached)

    def modify(
        self, disk_ids: list[str], region_id: str | None, delete_with_instance: bool | None, name: str | None,
        description: str | None,
    ) -> None:
        found = [self.get(d, region_id) for d in disk_ids]  # all exist, or nothing changes
        for disk in found:
            if delete_with_instance is not None:
                disk.delete_with_instance = delete_with_instance
            if name is not None:
                disk.name = name
            if description is not None:
                disk.description = description

    def set_changed(self, disk_id: str, gib: float) -> None:
        """The guest has written ``gib`` GiB since the disk's last accomplished snapshot: its next snapshot copies
        that much (``realism.snapshot``'s incremental speed), not the scenario's ``changedFraction``."""
        if isinstance(gib, bool) or not isinstance(gib, (int, float)) or gib < 0:
            raise ValueError("changedGiB must be a number of GiB >= 0")
        self.get(disk_id).changed_gib = float(gib)

    def write_marker(self, disk_id: str, marker: str) -> None:
        """The guest writes ``marker`` to the disk: it must be In_use on a Running instance."""
        disk = self.get(disk_id)
        inst = self.b.instances.items.get(disk.instance_id)
        if inst is None or disk.status != "In_use" or inst.status != "Running":
            raise exc.IncorrectDiskStatus("Markers can only be written to an In_use disk of a Running instance.")
        disk.markers.append(marker)

    # ---- snapshots
    def snapshot_seconds(self, disk: DiskRecord) -> float:
        speed = self.b.realism.snapshot
        if speed is None:
            return self.b.timing("imageSecondsPerGiB") * disk.size
        return speed.seconds(disk.size, disk.snapshotted, disk.changed_gib)

    def create_snapshot(
        self,
        disk_id: str,
        region_id: str | None,
        name: str,
        description: str,
        tags: list[tuple[str, str]],
        client_token: str | None,
        fingerprint: str,
    ) -> str:
        made = self.snapshot_tokens.replay(client_token, fingerprint)
        if made is not None:
            return made
        disk = self.get(disk_id, region_id)
        if disk.status not in ("In_use", "Available"):
            raise exc.IncorrectDiskStatus()
        if not disk.ever_attached:
            raise exc.IncorrectDiskStatus("The specified disk has never been attached to any instance.",
                                          code="IncorrectDiskStatus.NeverAttached")
        self._check_instance_for_snapshot(disk)
        if any(s.disk_id == disk_id and s.status == "progressing" for s in self.snapshots.values()):
            raise exc.IncorrectDiskStatus("A previous snapshot creation is in process.",
                                          code="IncorrectDiskStatus.CreatingSnapshot")
        if sum(1 for s in self.snapshots.values() if s.disk_id == disk_id) >= self.snapshot_quota:
            raise exc.QuotaExceedSnapshot()
        snap = SnapshotRecord(
            snapshot_id=self.b.new_id("s", disk.region_id),
            region_id=disk.region_id,
            disk_id=disk.disk_id,
            disk_kind=disk.kind,
            size=disk.size,
            markers=list(disk.markers),
            name=name,
            description=description,
            tags=dict(tags),
            started_at=self.b.clock.now(),
            build_seconds=self.snapshot_seconds(disk),
            creation_time=self.b.iso_now(seconds=True),
            category=disk.category,
        )
        self._inherit(snap, disk)
        instant = self.b.realism.instant_access
        if snap.instant_access and instant is not None:
            snap.available_from = snap.started_at + instant
        self.snapshots[snap.snapshot_id] = snap
        self.reindex_tags(snap)

        fail = self.fail_next > 0
        self.fail_next -= 1 if fail else 0
        copied = disk.changed_gib  # what this snapshot holds of the changes (the guest may write more meanwhile)

        def done() -> None:
            if self.snapshots.get(snap.snapshot_id) is snap and snap.status == "progressing":
                snap.status = "failed" if fail else "accomplished"
                disk.snapshotted = disk.snapshotted or not fail
                if not fail and copied is not None and disk.changed_gib is not None:
                    disk.changed_gib = max(disk.changed_gib - copied, 0.0)

        if snap.build_seconds <= 0:
            done()
        else:
            self.b.schedule(snap.build_seconds / 2 if fail else snap.build_seconds, done)
        self.snapshot_tokens.remember(client_token, fingerprint, snap.snapshot_id)
        return snap.snapshot_id

    def _check_instance_for_snapshot(self, disk: DiskRecord) -> None:
        """[docs] CreateSnapshot: no snapshot of a disk whose instance "has never been started" (NeverUsed: the
        instance never reached Running) or "is not in the Stopped or Running state" (IncorrectInstanceStatus)."""
        inst = self.b.instances.items.get(disk.instance_id) if disk.instance_id else None
        if inst is None:
            return
        if not inst.start_time:
            raise exc.IncorrectDiskStatus(
                "The specified disk has never been used.", code="IncorrectDiskStatus.NeverUsed"
            )
        if inst.status not in ("Running", "Stopped"):
            raise exc.IncorrectInstanceStatus()

    def _inherit(self, snap: SnapshotRecord, disk: DiskRecord) -> None:
        """Record what an image made from a system-disk snapshot inherits, as it is now."""
        inst = self.b.instances.items.get(disk.instance_id)
        if inst is not None:
            source = self.b.images.items.get((inst.region_id, inst.launch.image_id))
            snap.instance_id = inst.instance_id
            snap.architecture, snap.os_type, snap.os_name = inst.spec.image_arch, inst.os_type, inst.os_name
            snap.platform = source.platform if source is not None else ""
            snap.password_set = inst.launch.password_set
            return
        image = self.b.images.items.get((disk.region_id, disk.image_id))
        if image is not None:
            snap.architecture, snap.os_type, snap.os_name = image.architecture, image.os_type, image.os_name
            snap.platform = image.platform

    def reindex_tags(self, resource: DiskRecord | SnapshotRecord) -> None:
        """Its tags changed: tag filters see the new set ``realism.tagIndexLagSeconds`` later."""
        seen = dict(resource.tags)
        lag = self.b.realism.tag_index_lag
        if lag <= 0:
            resource.indexed_tags = seen
            return

        def indexed() -> None:
            resource.indexed_tags = seen

        self.b.schedule(lag, indexed)

    def delete_snapshot(self, snapshot_id: str, force: bool) -> None:
        """An unknown id is ignored ([docs] DeleteSnapshot); a progressing one is cancelled."""
        snap = self.snapshots.get(snapshot_id)
        if snap is None:
            return
        if any(m.get("SnapshotId") == snapshot_id for img in self.b.images.items.values() for m in img.disks):
            raise exc.SnapshotCreatedImage()
        if snap.disks_created and not force:
            raise exc.SnapshotCreatedDisk()
        if snap.status == "progressing":
            self._abandon(snap)
        del self.snapshots[snapshot_id]
