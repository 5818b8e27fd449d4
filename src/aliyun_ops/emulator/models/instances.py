"""ECS instances: RunInstances' rules, the lifecycle on the clock, stop/start/delete and spot
interruption.

Lifecycle (scenario ``timing``): Pending -(pendingSeconds)-> Starting -(instanceBootSeconds)-> Running;
Running -(stopSeconds)-> Stopped via Stopping; Stopped -> Starting -> Running on StartInstance.
Each change is emitted as ``("state_change", {...})``. A transition scheduled for an older state is
dropped (every instance carries a ``generation`` bumped on each request).

Disks: the system disk, then one data disk per data mapping of the image (from its snapshot, its size
and device; ``DataDisk.N.Device`` naming that device overrides its size, category and release
setting), then each other ``DataDisk.N``. A data disk without a category gets the API's default
(``cloud_efficiency``); a category the type's family does not offer (scenario ``diskCategories``) is
refused ``InvalidDataDiskCategory.ValueNotSupported``.

Passwords: ``PasswordInherit`` takes no ``Password`` beside it and (``realism.passwordInheritCheck``)
needs an image with a password set: an image made from an instance that had one.

Boot log: each time an instance reaches Running, the disks In_use at that moment (id, device, kind, how
many markers) are recorded; the control API reads it, also after the instance is released.

Creation failures (``realism.launch``, docs/emulator-fidelity.md "Issue 21: launches and calls"): a share
``failRate`` of accepted launches, drawn per fresh launch from the scenario's ``launch.seed``, never leave Pending:
``failAfterSeconds`` in, a ``SystemFailure.Delete`` event is published (DescribeInstanceHistoryEvents, Executing),
and ``releaseAfterSeconds`` later the instance is released (the event Executed). A repeat of the RunInstances under
its ClientToken answers the dead instance's id, as the first answer was. A new instance is not listed by
DescribeInstances for ``listLagSeconds``; a repeat under a ClientToken whose request was accepted less than
``processingSeconds`` ago is ``IdempotentProcessing``.

Tag index (``realism.tagIndexLagSeconds``): tag-filtered DescribeInstances reads ``indexed_tags``, which
follows the instance's tags that many seconds late (at once when the key is absent).
"""

from __future__ import annotations

import base64
import binascii
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator.models.catalogue import InstanceTypeSpec
from aliyun_ops.emulator.models.disks import DiskRecord
from aliyun_ops.emulator.models.instance_network import SecondaryEni, release_extras
from aliyun_ops.emulator.models.tokens import ClientTokens

if TYPE_CHECKING:
    from aliyun_ops.emulator.backend import Backend

SPOT_STRATEGIES = ("NoSpot", "SpotAsPriceGo", "SpotWithPriceLimit")
# RunInstances DataDisk.N.Category: "For I/O optimized instances, the default value is cloud_efficiency"
# (the official API reference; the China site adds cloud_auto for some types from 2026-01-30).
DEFAULT_DATA_DISK_CATEGORY = "cloud_efficiency"


@dataclass
class LaunchSpec:
    """RunInstances' parameters once parsed (the response layer fills it)."""

    region_id: str
    image_id: str
    instance_type: str
    vswitch_id: str
    zone_id: str | None = None
    security_group_ids: list[str] = field(default_factory=list)
    name: str = ""
    hostname: str = ""
    description: str = ""
    key_pair_name: str = ""
    password_set: bool = False  # the instance has a password: given, or inherited from the image
    password_inherit: bool = False
    ram_role_name: str = ""
    resource_group_id: str = ""
    user_data: str = ""
    tags: list[tuple[str, str]] = field(default_factory=list)
    system_disk_category: str | None = None
    system_disk_size: int | None = None
    system_disk_pl: str = ""
    data_disks: list[dict[str, str]] = field(default_factory=list)
    instance_charge_type: str = "PostPaid"
    internet_charge_type: str = "PayByTraffic"
    internet_max_bandwidth_out: int = 0
    private_ip: str | None = None
    spot_strategy: str = "NoSpot"
    spot_price_limit: float | None = None
    spot_duration: int | None = None
    spot_interruption_behavior: str = "Terminate"
    amount: int = 1


@dataclass
class InstanceRecord:
    instance_id: str
    region_id: str
    zone_id: str
    spec: InstanceTypeSpec
    launch: LaunchSpec
    vpc_id: str
    private_ip: str
    status: str = "Pending"
    public_ip: str = ""
    disks: list[DiskRecord] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    indexed_tags: dict[str, str] = field(default_factory=dict)  # what tag filters see (may lag ``tags``)
    lock_reasons: list[str] = field(default_factory=list)
    stopped_mode: str = "Not-applicable"
    creation_time: str = ""
    start_time: str = ""
    generation: int = 0
    os_name: str = ""
    os_type: str = "linux"
    listed_at: float = 0.0  # DescribeInstances lists it from this time on (realism.launch.listLagSeconds)
    failing: bool = False  # an accepted launch that fails (SystemFailure.Delete)
    # ModifyInstanceVpcAttribute (models/instance_network.py): changed since it last reached Running, and the
    # extras that forbid it (given by the control API).
    vpc_changed: bool = False
    secondary_enis: list[SecondaryEni] = field(default_factory=list)
    ipv6_addresses: list[str] = field(default_factory=list)
    secondary_private_ips: list[str] = field(default_factory=list)

    @property
    def is_spot(self) -> bool:
        return self.launch.spot_strategy != "NoSpot"

    @property
    def instance_type(self) -> str:
        return self.spec.type_id


class Instances:
    def __init__(self, backend: Backend) -> None:
        self.b = backend
        self.items: dict[str, InstanceRecord] = {}
        self.tokens: ClientTokens[list[str]] = ClientTokens()  # RunInstances -> instance ids
        # Boot log (control API): instance id -> one entry each time it reached Running; kept after release.
        self.boots: dict[str, list[dict[str, Any]]] = {}
        self.forced_failures = 0  # the next this many fresh launches fail (the control API)
        self.launched = 0  # fresh launches so far: the failure draw of each is keyed on its ordinal
        self.accepted_at: dict[str, float] = {}  # ClientToken -> when its RunInstances was accepted
        self.history: list[dict[str, Any]] = []  # DescribeInstanceHistoryEvents: SystemFailure.Delete events

    def get(self, instance_id: str, region_id: str | None = None) -> InstanceRecord:
        inst = self.items.get(instance_id)
        if inst is None or (region_id is not None and inst.region_id != region_id):
            raise exc.InvalidInstanceIdNotFound()
        return inst

    # ---- RunInstances
    def run(self, spec: LaunchSpec, client_token: str | None, fingerprint: str, dry_run: bool) -> list[str]:
        if client_token is not None and not dry_run:
            if len(client_token) > 64 or not client_token.isascii():
                raise exc.InvalidClientToken()
            made = self.tokens.replay(client_token, fingerprint)
            if made is not None:
                self._still_processing(client_token)
                return list(made)
        itype, vsw, image, disks = self._validate(spec)
        if dry_run:
            raise exc.DryRunOperation()
        self.b.catalogue.take_stock(vsw.zone_id, spec.instance_type, spec.spot_strategy != "NoSpot")
        ids = [self._create(spec, itype, vsw, image, disks) for _ in range(spec.amount)]
        self.tokens.remember(client_token, fingerprint, ids)
        if client_token is not None:
            self.accepted_at[client_token] = self.b.clock.now()
        for iid in ids:
            self._maybe_fail(self.items[iid])
        return ids

    def _still_processing(self, client_token: str) -> None:
        """The first request under this token is still being processed: ``IdempotentProcessing`` (403)."""
        window = self.b.realism.launch.processing
        accepted = self.accepted_at.get(client_token)
        if window > 0 and accepted is not None and self.b.clock.now() < accepted + window:
            raise exc.IdempotentProcessing()

    def _maybe_fail(self, inst: InstanceRecord) -> None:
        """The seeded draw of this fresh launch: a failing one stays Pending, gets its SystemFailure.Delete event
        ``failAfterSeconds`` in and is released ``releaseAfterSeconds`` after that."""
        cfg = self.b.realism.launch
        ordinal = self.launched
        self.launched += 1
        if self.forced_failures > 0:
            self.forced_failures -= 1
            self.doom(inst)
            return
        if cfg.fail_rate <= 0 or random.Random(f"{cfg.seed}/launch/{ordinal}").random() >= cfg.fail_rate:
            return
        self.doom(inst)

    def doom(self, inst: InstanceRecord) -> None:
        """This accepted launch fails (the draw, or the control API): it never leaves Pending."""
        cfg = self.b.realism.launch
        inst.failing = True
        inst.generation += 1  # its scheduled Pending -> Starting is dropped
        gen = inst.generation

        def failed() -> None:
            if self.items.get(inst.instance_id) is not inst or inst.generation != gen:
                return
            event = self._failure_event(inst)

            def released() -> None:
                event["EventCycleStatus"] = {"Name": "Executed"}
                event["EventFinishTime"] = self.b.iso_now(seconds=True)
                if self.items.get(inst.instance_id) is inst:
                    self.release(inst)

            self.b.schedule(cfg.release_after, released)

        self.b.schedule(cfg.fail_after, failed)

    def _failure_event(self, inst: InstanceRecord) -> dict[str, Any]:
        now = self.b.iso_now(seconds=True)
        event: dict[str, Any] = {
            "EventId": f"e-{inst.instance_id[2:]}",
            "EventType": {"Name": "SystemFailure.Delete"},
            "EventCycleStatus": {"Name": "Executing"},
            "EventPublishTime": now,
            "NotBefore": now,
            "InstanceId": inst.instance_id,
            "ResourceType": "instance",
            "Reason": "The instance failed to be created and is released.",
        }
        self.history.append(event)
        return event

    def _validate(self, spec: LaunchSpec) -> tuple[InstanceTypeSpec, Any, Any, list[DiskRecord]]:
        cat, net = self.b.catalogue, self.b.network
        itype = cat.type(spec.instance_type)
        vsw = net.vswitch(spec.vswitch_id, spec.region_id)
        if spec.zone_id is not None:
            cat.check_zone(spec.region_id, spec.zone_id)
            if spec.zone_id != vsw.zone_id:
                raise exc.InvalidVSwitchIdMismatch()
        if not spec.security_group_ids:
            raise exc.MissingParameter("SecurityGroupId")
        for gid in spec.security_group_ids:
            if net.group(gid, spec.region_id).vpc_id != vsw.vpc_id:
                raise exc.InconsistentNetwork()
        image = self.b.images.usable(spec.image_id, spec.region_id)
        if image.architecture != itype.image_arch:
            raise exc.ImageNotSupportInstanceType()
        if spec.password_inherit and not image.password_set and self.b.realism.password_inherit_check:
            raise exc.PasswordInheritNoImagePassword()
        disks = self._disks(spec, itype, image)
        self._validate_spot(spec, vsw.zone_id)
        self._validate_misc(spec)
        vsw.check_room(spec.amount)
        return itype, vsw, image, disks

    def _disks(self, spec: LaunchSpec, itype: InstanceTypeSpec, image: Any) -> list[DiskRecord]:
        cats = self.b.catalogue.system_disk_categories(itype.type_id)
        category = spec.system_disk_category or self.b.catalogue.default_system_disk_category(itype.type_id)
        if category not in cats:
            raise exc.InvalidSystemDiskCategory(
                f'The specified parameter "SystemDisk.Category" is not valid: {itype.type_id} supports '
                f"{', '.join(cats)}."
            )
        size = spec.system_disk_size if spec.system_disk_size is not None else max(40, image.size)
        if size < image.size:
            raise exc.SystemDiskLessThanImage()
        if not 20 <= size <= 2048:
            raise exc.SystemDiskSizeInvalid()
        system_snapshot = next((m.get("SnapshotId", "") for m in image.disks if m.get("Type") == "system"), "")
        system = DiskRecord("", "system", category, size, "/dev/xvda", True, spec.system_disk_pl)
        system.snapshot_id = system_snapshot
        disks = [system]
        mapped = {m["Device"]: m for m in image.disks if m.get("Type") == "data"}
        overrides: dict[str, dict[str, str]] = {}
        extra: list[dict[str, str]] = []
        for d in spec.data_disks:
            device = d.get("Device")
            if device is None:
                extra.append(d)
            elif device in mapped and device not in overrides:
                overrides[device] = d
            else:
                raise exc.InvalidDataDevice()
        for device, mapping in mapped.items():
            disks.append(self._data_disk(overrides.get(device, {}), cats, itype, device, mapping))
        used = {d.device for d in disks}
        free = (f"/dev/xvd{chr(c)}" for c in range(ord("b"), ord("z") + 1) if f"/dev/xvd{chr(c)}" not in used)
        for d in extra:
            disks.append(self._data_disk(d, cats, itype, next(free), self._snapshot(d.get("SnapshotId"))))
        return disks

    def _snapshot(self, snapshot_id: str | None) -> dict[str, Any] | None:
        """A data-disk snapshot the account knows (an accomplished snapshot, or one of its images' mappings)."""
        if snapshot_id is None:
            return None
        snap = self.b.disks.snapshots.get(snapshot_id)
        if snap is not None and snap.status == "accomplished":
            return {"SnapshotId": snap.snapshot_id, "Size": str(snap.size), "Type": "data"}
        for img in self.b.images.items.values():
            for mapping in img.disks:
                if mapping.get("SnapshotId") == snapshot_id and mapping.get("Type") == "data":
                    return dict(mapping)
        raise exc.InvalidDataDiskSnapshotIdNotFound()

    def _data_disk(
        self, d: dict[str, str], cats: list[str], itype: InstanceTypeSpec, device: str, snapshot: dict[str, Any] | None
    ) -> DiskRecord:
        category = d.get("Category") or DEFAULT_DATA_DISK_CATEGORY
        if category not in cats:
            raise exc.InvalidDataDiskCategory(
                f'The specified parameter "DataDisk.n.Category" is not valid: {itype.type_id} does not support '
                f"{category} (supported: {', '.join(cats)})."
            )
        if snapshot is None:
            size = int(d.get("Size", "20"))
        else:
            size = int(d["Size"]) if "Size" in d and "SnapshotId" not in d else int(snapshot["Size"])
            if size < int(snapshot["Size"]):
                raise exc.InvalidDiskSizeTooSmall()
        delete = d.get("DeleteWithInstance", "true").lower() != "false"
        return DiskRecord(
            "",
            "data",
            category,
            size,
            device,
            delete,
            d.get("PerformanceLevel", ""),
            d.get("DiskName", ""),
            snapshot_id=str(snapshot["SnapshotId"]) if snapshot is not None else "",
        )

    def _validate_spot(self, spec: LaunchSpec, zone_id: str) -> None:
        if spec.spot_strategy not in SPOT_STRATEGIES:
            raise exc.InvalidSpotStrategy()
        if spec.spot_strategy != "NoSpot" and spec.instance_charge_type != "PostPaid":
            raise exc.InvalidSpotStrategy(
                "The specified Spot type is not support PrePay Instance.", code="InvalidSpotPrepaid"
            )
        if spec.spot_duration not in (None, 0, 1):
            raise exc.InvalidSpotDuration()
        if spec.spot_interruption_behavior not in ("Terminate", "Stop"):
            raise exc.InvalidSpotInterruptionBehavior()
        if spec.spot_strategy == "SpotWithPriceLimit":
            if spec.spot_price_limit is None or spec.spot_price_limit <= 0:
                raise exc.InvalidSpotPriceLimit()
            if spec.spot_price_limit < self.b.catalogue.spot_price(zone_id, spec.instance_type):
                raise exc.SpotPriceLimitTooLow()

    def _validate_misc(self, spec: LaunchSpec) -> None:
        if spec.user_data:
            try:
                raw = base64.b64decode(spec.user_data, validate=True)
            except (binascii.Error, ValueError):
                raise exc.InvalidUserData() from None
            if len(raw) > 32 * 1024:
                raise exc.InvalidUserData(
                    'The specified parameter "UserData" exceeds the size.', code="InvalidUserData.SizeExceeded"
                )
        if not 1 <= spec.amount <= 100:
            raise exc.InvalidParameter('The specified parameter "Amount" is not valid.', code="InvalidAmount.Malformed")
        if spec.amount > 1 and spec.private_ip:
            raise exc.InvalidParameterConflict("PrivateIpAddress can only be set when Amount is 1.")

    def _create(self, spec: LaunchSpec, itype: InstanceTypeSpec, vsw: Any, image: Any, disks: list[DiskRecord]) -> str:
        b = self.b
        iid = b.new_id("i")
        inst = InstanceRecord(
            instance_id=iid,
            region_id=spec.region_id,
            zone_id=vsw.zone_id,
            spec=itype,
            launch=spec,
            vpc_id=vsw.vpc_id,
            private_ip=vsw.allocate(spec.private_ip),
            tags=dict(spec.tags),
            creation_time=b.iso_now(),
            os_name=image.os_name,
            os_type=image.os_type,
            listed_at=b.clock.now() + b.realism.launch.list_lag,
        )
        for d in disks:
            inst.disks.append(
                DiskRecord(
                    b.new_id("d"),
                    d.kind,
                    d.category,
                    d.size,
                    d.device,
                    d.delete_with_instance,
                    d.performance_level,
                    d.name,
                    d.snapshot_id,
                    image_id=spec.image_id if d.kind == "system" else "",
                )
            )
        if spec.internet_max_bandwidth_out > 0:
            inst.public_ip = b.new_public_ip()
        self.items[iid] = inst
        b.disks.adopt(inst)
        self.reindex_tags(inst)
        b.emit_state(inst)
        self._after(inst, b.timing("pendingSeconds"), "Starting", then=self._boot)
        return iid

    def reindex_tags(self, inst: InstanceRecord) -> None:
        """The instance's tags changed: tag filters see the new set ``tagIndexLagSeconds`` later."""
        seen = dict(inst.tags)
        lag = self.b.realism.tag_index_lag
        if lag <= 0:
            inst.indexed_tags = seen
            return

        def indexed() -> None:
            inst.indexed_tags = seen

        self.b.schedule(lag, indexed)

    # ---- lifecycle
    def _after(self, inst: InstanceRecord, delay: float, status: str, then: Any = None) -> None:
        gen = inst.generation

        def fire() -> None:
            if self.items.get(inst.instance_id) is inst and inst.generation == gen:
                self._set(inst, status)
                if then is not None:
                    then(inst)

        self.b.schedule(delay, fire)

    def _boot(self, inst: InstanceRecord) -> None:
        self._after(inst, self.b.timing("instanceBootSeconds"), "Running")

    def _set(self, inst: InstanceRecord, status: str) -> None:
        inst.status = status
        if status == "Running":
            inst.start_time = self.b.iso_now()
            inst.stopped_mode = "Not-applicable"
            inst.vpc_changed = False
            self._log_boot(inst)
        self.b.emit_state(inst)

    def _log_boot(self, inst: InstanceRecord) -> None:
        """It reached Running: record the disks attached (``In_use``) at this moment, in device order."""
        disks = [
            {"diskId": d.disk_id, "device": d.device, "kind": d.kind, "markers": len(d.markers)}
            for d in sorted(inst.disks, key=lambda d: d.device)
            if d.status == "In_use"
        ]
        self.boots.setdefault(inst.instance_id, []).append({"at": self.b.clock.now(), "disks": disks})

    def boot_log(self, instance_id: str) -> list[dict[str, Any]]:
        """Every boot of the instance, oldest first (a released one's too); an unknown id is refused."""
        if instance_id not in self.boots and instance_id not in self.items:
            raise exc.InvalidInstanceIdNotFound()
        return [dict(entry, disks=[dict(d) for d in entry["disks"]]) for entry in self.boots.get(instance_id, [])]

    def start(self, instance_id: str, region_id: str) -> None:
        inst = self.get(instance_id, region_id)
        if inst.status != "Stopped" or inst.lock_reasons:
            raise exc.IncorrectInstanceStatus()
        if inst.stopped_mode == "StopCharging":
            # Economical mode gave the vCPUs and memory back: starting needs stock again (NoStock if none).
            self.b.catalogue.take_stock(inst.zone_id, inst.instance_type, inst.is_spot)
        inst.generation += 1
        self._set(inst, "Starting")
        self._boot(inst)

    def stop(self, instance_id: str, region_id: str, stopped_mode: str | None) -> None:
        inst = self.get(instance_id, region_id)
        if inst.status != "Running":
            raise exc.IncorrectInstanceStatus()
        if stopped_mode not in (None, "KeepCharging", "StopCharging"):
            raise exc.InvalidParameter('The specified parameter "StoppedMode" is not valid.')
        inst.generation += 1
        self._set(inst, "Stopping")
        mode = stopped_mode or "KeepCharging"

        def stopped(i: InstanceRecord) -> None:
            i.stopped_mode = mode

        self._after(inst, self.b.timing("stopSeconds"), "Stopped", then=stopped)

    def delete(self, instance_id: str, region_id: str, force: bool) -> None:
        inst = self.get(instance_id, region_id)
        if inst.status != "Stopped" and not force:
            raise exc.IncorrectInstanceStatus()
        self.release(inst)

    def release(self, inst: InstanceRecord) -> None:
        """Gone for good: frees its private IP and its EIP, emits Deleted."""
        inst.generation += 1
        self.items.pop(inst.instance_id, None)
        vsw = self.b.network.vswitches.get(inst.launch.vswitch_id)
        if vsw is not None:
            vsw.used.discard(inst.private_ip)
        release_extras(self.b, inst)
        self.b.network.instance_gone(inst.instance_id)
        self.b.images.source_released(inst.instance_id)
        self.b.disks.instance_released(inst)
        inst.status = "Deleted"
        self.b.emit_state(inst)

    # ---- spot interruption
    def interrupt(self, instance_id: str, notice_seconds: float, mark_sold_out: bool) -> InstanceRecord:
        inst = self.get(instance_id)
        if not inst.is_spot:
            raise exc.OperationDenied("Only spot instances can be interrupted.")
        if "Recycling" not in inst.lock_reasons:
            inst.lock_reasons.append("Recycling")
        if mark_sold_out:
            self.b.catalogue.set_stock(inst.zone_id, inst.instance_type, True, False)
        gen = inst.generation

        def reclaim() -> None:
            if self.items.get(inst.instance_id) is not inst:
                return
            if inst.launch.spot_interruption_behavior == "Stop" and inst.generation == gen:
                inst.lock_reasons.remove("Recycling")
                inst.generation += 1
                inst.stopped_mode = "StopCharging"
                self._set(inst, "Stopped")
            elif inst.launch.spot_interruption_behavior != "Stop":
                self.release(inst)

        self.b.schedule(notice_seconds, reclaim)
        return inst
