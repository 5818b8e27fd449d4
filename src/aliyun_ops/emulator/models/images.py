"""Images: public system images from the scenario and the account's own, made by CreateImage.

CreateImage rules: ClientToken idempotency, unique and well-formed ImageName, source instance
Running or Stopped (and, with ``realism.createImageBusyRate``, that share of calls on a Running one
refused ``IncorrectInstanceStatus`` as the real API does now and then). Every disk of the instance goes
into DiskDeviceMappings with a snapshot id; the image records whether its source had a password
(``PasswordInherit`` needs one). Progress rises linearly; ``fail_next`` makes the next n builds end
CreateFailed halfway.

Build time: ``imageBaseSeconds`` plus, per disk, either ``imageSecondsPerGiB x GiB`` (no
``realism.snapshot``) or the disk's snapshot time: a disk never snapshotted before (no earlier image of
it finished) is copied whole at ``fullMiBps``, a later one only its ``changedFraction`` at
``incrementalMiBps``.

CreateImage from snapshots (``SnapshotId`` or ``DiskDeviceMapping.N``, rules in ``image_sources.py``): the
mappings name the user's snapshots, which stay when the image is deleted (and cannot be deleted while it
exists); the build is ``imageBaseSeconds`` alone, never instantly Usable; a system disk from a system-disk
snapshot inherits architecture, OS, platform and "had a password" from the instance it was attached to when
the snapshot started.

Realism (each off when its key is absent): ``imageListLagSeconds`` hides a new image from DescribeImages
for that long; ``instantAccessSeconds`` makes an image whose disks are all ESSD-series Usable that long
after CreateImage, but never before the snapshots of its disks are done (CreateImage cannot use a snapshot in
progress, instant access or not), while it stays Creating (other images are Usable once Available);
``usableAfterAvailable`` keeps a seeded share of the other images ``Usable=false`` for some seconds after they
turn Available (RunInstances refuses them with ``IncorrectImageStatus`` meanwhile);
``imageSourceReleased: "fail"`` ends an image still Creating CreateFailed when its source is released.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator.models import image_sources
from aliyun_ops.emulator.models.tokens import ClientTokens

if TYPE_CHECKING:
    from aliyun_ops.emulator.backend import Backend

NAME_RE = re.compile(r"^[A-Za-z\u4e00-\u9fa5][A-Za-z0-9\u4e00-\u9fa5.:_\-]{1,127}$")
# Disks whose snapshots have instant access (the CreateSnapshot API reference: "ESSD-series disks include
# ESSDs, ESSD AutoPL disks, ESSD Entry disks, and Regional ESSDs").
INSTANT_ACCESS_CATEGORIES = frozenset({"cloud_essd", "cloud_auto", "cloud_essd_entry", "cloud_regional_disk_auto"})


@dataclass
class ImageRecord:
    image_id: str
    name: str
    region_id: str
    owner_alias: str  # system | self
    architecture: str  # x86_64 | arm64
    os_type: str
    os_name: str
    platform: str
    size: int  # GiB, the system disk's
    status: str = "Available"
    creation_time: str = ""
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    disks: list[dict[str, Any]] = field(default_factory=list)  # DiskDeviceMapping rows
    source_instance_id: str = ""
    started_at: float = 0.0
    build_seconds: float = 0.0
    image_family: str = ""
    password_set: bool = False  # the source instance had a password: PasswordInherit may use it
    usable_from: float | None = None  # instant access: Usable from then on while still Creating
    available_at: float | None = None  # when it turned Available (None: loaded Available, Usable at once)
    usable_lag: float = 0.0  # realism.usableAfterAvailable: Usable only this long after it turned Available
    listed_from: float = 0.0  # DescribeImages shows it from then on
    source_disks: list[Any] = field(default_factory=list)  # the instance's DiskRecords it was made from
    snapshot_markers: dict[str, list[str]] = field(default_factory=dict)  # snapshot id -> markers at its start

    def usable(self, now: float) -> bool:
        """Can launch instances: Available (and its Usable lag past), or Creating with instant access and its
        moment reached."""
        if self.status == "Available":
            return self.available_at is None or now >= self.available_at + self.usable_lag
        return self.status == "Creating" and self.usable_from is not None and now >= self.usable_from

    def progress(self, now: float) -> int:
        if self.status in ("Available", "CreateFailed") or self.build_seconds <= 0:
            return 100 if self.status == "Available" else min(99, self._elapsed_pct(now))
        return min(99, self._elapsed_pct(now))

    def _elapsed_pct(self, now: float) -> int:
        return int(max(0.0, now - self.started_at) / self.build_seconds * 100) if self.build_seconds else 0


class Images:
    def __init__(self, backend: Backend, scenario: dict[str, Any]) -> None:
        self.b = backend
        self.items: dict[tuple[str, str], ImageRecord] = {}  # (region, image id): public ids repeat per region
        self.tokens: ClientTokens[str] = ClientTokens()  # CreateImage -> image id
        self.fail_next = 0
        self.fail_instances: set[str] = set()
        self._busy_rng = random.Random(f"createImageBusy:{scenario.get('seed', 0)}")
        self._seed = scenario.get("seed", 0)
        for raw in scenario.get("images", []):
            self._load(raw)

    def _load(self, raw: dict[str, Any]) -> None:
        img = ImageRecord(
            image_id=raw["imageId"],
            name=raw.get("imageName", raw["imageId"]),
            region_id=raw.get("regionId", "cn-hangzhou"),
            owner_alias=raw.get("ownerAlias", "system"),
            architecture=raw.get("architecture", "x86_64"),
            os_type=raw.get("osType", "linux"),
            os_name=raw.get("osName", ""),
            platform=raw.get("platform", ""),
            size=int(raw.get("size", 20)),
            status=raw.get("status", "Available"),
            creation_time=raw.get("creationTime", "2024-08-19T09:00:00Z"),
            description=raw.get("description", ""),
            image_family=raw.get("imageFamily", ""),
            password_set=bool(raw.get("passwordSet", False)),
        )
        img.disks = [{"Device": "/dev/xvda", "Size": str(img.size), "Type": "system", "SnapshotId": ""}]
        self.items[(img.region_id, img.image_id)] = img

    def get(self, image_id: str, region_id: str) -> ImageRecord:
        img = self.items.get((region_id, image_id))
        if img is None:
            raise exc.InvalidImageIdNotFound()
        return img

    def usable(self, image_id: str, region_id: str) -> ImageRecord:
        """The image RunInstances may launch from (``IncorrectImageStatus`` when it is not Usable)."""
        img = self.get(image_id, region_id)
        if not img.usable(self.b.clock.now()):
            raise exc.IncorrectImageStatus()
        return img

    def listed(self, img: ImageRecord) -> bool:
        """DescribeImages sees it (a new image only after ``imageListLagSeconds``)."""
        return self.b.clock.now() >= img.listed_from

    def create(
        self,
        instance_id: str | None,
        region_id: str,
        name: str | None,
        description: str,
        tags: list[tuple[str, str]],
        client_token: str | None,
        fingerprint: str,
        *,
        snapshot_id: str | None = None,
        mappings: list[dict[str, str]] | None = None,
        architecture: str | None = None,
        platform: str | None = None,
    ) -> str:
        """From the instance, else the DiskDeviceMapping rows, else the system snapshot ([docs] priority)."""
        made = self.tokens.replay(client_token, fingerprint)
        if made is not None:
            return made
        if not instance_id and not mappings and not snapshot_id:
            raise exc.MissingParameter("SnapshotId or InstanceId or DiskDeviceMapping")
        if name is not None:
            if not NAME_RE.match(name) or name.lower().startswith(("http://", "https://")):
                raise exc.InvalidImageNameMalformed()
            if any(i.name == name and i.region_id == region_id for i in self.items.values() if i.owner_alias == "self"):
                raise exc.InvalidImageNameDuplicated()
        if instance_id:
            inst = self.b.instances.get(instance_id, region_id)
            if inst.status not in ("Running", "Stopped"):
                raise exc.IncorrectInstanceStatus()
            busy = self.b.realism.create_image_busy_rate
            if inst.status == "Running" and busy > 0 and self._busy_rng.random() < busy:
                raise exc.IncorrectInstanceStatus()
            img = self._from_instance(inst, name, description, tags)
        else:
            source = (
                image_sources.from_mappings(self.b.disks, mappings, region_id)
                if mappings
                else image_sources.from_snapshot_id(self.b.disks, str(snapshot_id), region_id)
            )
            img = self._from_snapshots(source, region_id, name, description, tags, architecture, platform)
        self.tokens.remember(client_token, fingerprint, img.image_id)
        return img.image_id

    def _from_snapshots(
        self,
        source: image_sources.SnapshotSource,
        region_id: str,
        name: str | None,
        description: str,
        tags: list[tuple[str, str]],
        architecture: str | None,
        platform: str | None,
    ) -> ImageRecord:
        """The snapshots exist: the build is ``imageBaseSeconds`` alone. A system disk from a system-disk
        snapshot inherits what its instance ran; from a data-disk snapshot, Architecture and Platform say."""
        b, snap = self.b, source.system
        image_id = b.new_id("m")
        now = b.clock.now()
        inherited = snap.disk_kind == "system"
        chosen_platform = platform or "Others Linux"
        img = ImageRecord(
            image_id=image_id,
            name=name or image_id,
            region_id=region_id,
            owner_alias="self",
            architecture=snap.architecture if inherited else (architecture or "x86_64"),
            os_type=snap.os_type if inherited else ("windows" if chosen_platform.startswith("Windows") else "linux"),
            os_name=snap.os_name if inherited else chosen_platform,
            platform=snap.platform if inherited else chosen_platform,
            size=source.system_size,
            status="Creating",
            creation_time=b.iso_now(seconds=True),
            description=description,
            tags=dict(tags),
            started_at=now,
            build_seconds=b.timing("imageBaseSeconds"),
            password_set=snap.password_set if inherited else False,
            listed_from=now + b.realism.image_list_lag,
            disks=source.mappings,
        )
        img.usable_lag = self._usable_lag(img)
        self.items[(region_id, image_id)] = img
        fail = self.fail_next > 0 or (bool(snap.instance_id) and snap.instance_id in self.fail_instances)
        if self.fail_next > 0:
            self.fail_next -= 1
        self._finish_later(img, fail)
        return img

    def _from_instance(self, inst: Any, name: str | None, description: str, tags: list[tuple[str, str]]) -> ImageRecord:
        b = self.b
        image_id = b.new_id("m")
        system = next(d for d in inst.disks if d.kind == "system")
        now = b.clock.now()
        instant = b.realism.instant_access
        img = ImageRecord(
            image_id=image_id,
            name=name or image_id,
            region_id=inst.region_id,
            owner_alias="self",
            architecture=inst.spec.image_arch,
            os_type=inst.os_type,
            os_name=inst.os_name,
            platform=getattr(self.items.get((inst.region_id, inst.launch.image_id)), "platform", ""),
            size=system.size,
            status="Creating",
            creation_time=b.iso_now(seconds=True),
            description=description,
            tags=dict(tags),
            source_instance_id=inst.instance_id,
            started_at=now,
            build_seconds=self._build_seconds(inst.disks),
            password_set=inst.launch.password_set,
            listed_from=now + b.realism.image_list_lag,
            source_disks=list(inst.disks),
        )
        if instant is not None and all(d.category in INSTANT_ACCESS_CATEGORIES for d in inst.disks):
            # An image is made of its disks' snapshots, and CreateImage cannot use a snapshot in progress ([docs]
            # CreateSnapshot): not Usable before they are done, at the speed CreateSnapshot has.
            img.usable_from = now + max(instant, self._snapshots_seconds(inst.disks))
        img.disks = [
            {"Device": d.device, "Size": str(d.size), "Type": d.kind, "SnapshotId": b.new_id("s")} for d in inst.disks
        ]
        # Each disk's snapshot starts now: it holds the markers written so far, and nothing written later.
        img.snapshot_markers = {m["SnapshotId"]: list(d.markers) for m, d in zip(img.disks, inst.disks, strict=True)}
        img.usable_lag = self._usable_lag(img)
        self.items[(img.region_id, image_id)] = img
        fail = self.fail_next > 0 or inst.instance_id in self.fail_instances
        if self.fail_next > 0:
            self.fail_next -= 1
        self._finish_later(img, fail)
        return img

    def _usable_lag(self, img: ImageRecord) -> float:
        """``realism.usableAfterAvailable``: drawn per image from the scenario's seed and the image's id (the same
        world gives the same images the same lag, whatever else ran), for images not Usable before Available."""
        lag = self.b.realism.usable_lag
        if lag is None or img.usable_from is not None:
            return 0.0
        draw = random.Random(f"usableAfterAvailable:{self._seed}:{img.image_id}").random()
        return lag.seconds if draw < lag.share else 0.0

    def _build_seconds(self, disks: list[Any]) -> float:
        """``imageBaseSeconds`` plus a snapshot of each disk, timed like CreateSnapshot's."""
        return self.b.timing("imageBaseSeconds") + self._snapshots_seconds(disks)

    def _snapshots_seconds(self, disks: list[Any]) -> float:
        """The snapshots of ``disks``, one after the other, each timed by ``Disks.snapshot_seconds`` (the one speed
        model CreateSnapshot and CreateImage share)."""
        return sum(self.b.disks.snapshot_seconds(d) for d in disks)

    def _finish_later(self, img: ImageRecord, fail: bool) -> None:
        delay = img.build_seconds / 2 if fail else img.build_seconds

        def done() -> None:
            if self.items.get((img.region_id, img.image_id)) is img and img.status == "Creating":
                img.status = "CreateFailed" if fail else "Available"
                img.available_at = self.b.clock.now()
                if not fail:
                    for disk in img.source_disks:  # their next snapshot is incremental
                        disk.snapshotted = True

        self.b.schedule(delay, done)

    def source_released(self, instance_id: str) -> None:
        """The instance is gone: with ``imageSourceReleased: "fail"`` its images still Creating fail now."""
        if self.b.realism.image_source_released != "fail":
            return
        for img in self.items.values():
            if img.source_instance_id == instance_id and img.status == "Creating":
                img.status = "CreateFailed"

    def delete(self, image_id: str, region_id: str) -> None:
        """[meta] DeleteImage: "If the specified custom image does not exist, the request is ignored."."""
        img = self.items.get((region_id, image_id))
        if img is None:
            return
        if img.owner_alias != "self":
            raise exc.InvalidImageIdNotFound()
        if img.status == "Creating":
            raise exc.IncorrectImageStatus("The current status of the image does not support this operation.")
        del self.items[(region_id, image_id)]
