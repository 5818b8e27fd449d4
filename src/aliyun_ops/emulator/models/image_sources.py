"""CreateImage from snapshots: which source a request names, and the disk mappings an image gets from it.

[docs] CreateImage: the sources rank ``InstanceId > DiskDeviceMapping > SnapshotId``; a request naming more
than one is served from the highest. ``SnapshotId`` alone must be a system-disk snapshot. With
``DiskDeviceMapping.N`` exactly one mapping is the system disk, on ``/dev/xvda``; data disks take unique
``/dev/xvdb``..``/dev/xvdz`` (in order when not named); a data mapping may name no snapshot (an empty disk of
its Size, 5 GiB by default); a mapping's Size is 5..2000 GiB and never below its snapshot's; a mapping's
DiskType defaults to its snapshot's disk kind. Every snapshot named must be ``accomplished``: instant access
does not reach CreateImage ([docs] CreateSnapshot: "If a snapshot is being created, you cannot use this
snapshot to create a custom image").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aliyun_ops.emulator import exceptions as exc

if TYPE_CHECKING:
    from aliyun_ops.emulator.models.disks import Disks, SnapshotRecord

SYSTEM_DEVICE = "/dev/xvda"
DATA_DEVICES = tuple(f"/dev/xvd{chr(c)}" for c in range(ord("b"), ord("z") + 1))
MAPPING_SIZE = (5, 2000)  # [docs] CreateImage DiskDeviceMapping.N.Size
EMPTY_DATA_DISK_SIZE = 5
NOT_READY = "The current status of the DiskDeviceMapping.n.SnapshotId or SnapshotId does not support this operation."


@dataclass
class SnapshotSource:
    """The mappings (DiskDeviceMapping rows of the image) and the system disk's snapshot."""

    mappings: list[dict[str, Any]]
    system: SnapshotRecord
    system_size: int


def _ready(disks: Disks, snapshot_id: str, region_id: str) -> SnapshotRecord:
    snap = disks.snapshot(snapshot_id, region_id)
    if snap.status != "accomplished":
        raise exc.InvalidSnapshotIdNotReady(NOT_READY)
    return snap


def from_snapshot_id(disks: Disks, snapshot_id: str, region_id: str) -> SnapshotSource:
    """Method 2: one system-disk snapshot."""
    snap = _ready(disks, snapshot_id, region_id)
    if snap.disk_kind != "system":
        raise exc.OperationDenied("The specified snapshot is not from system disk.")
    row = {"Device": SYSTEM_DEVICE, "Size": str(snap.size), "Type": "system", "SnapshotId": snap.snapshot_id}
    return SnapshotSource([row], snap, snap.size)


def _size(raw: str | None, snap: SnapshotRecord | None) -> int:
    floor = snap.size if snap is not None else 0
    if raw in (None, ""):
        return snap.size if snap is not None else EMPTY_DATA_DISK_SIZE
    try:
        size = int(str(raw))
    except ValueError:
        raise exc.InvalidDiskSizeValue(
            "The specified parameter DiskDeviceMapping.n.Size beyond the permitted range."
        ) from None
    if not MAPPING_SIZE[0] <= size <= MAPPING_SIZE[1] or size < floor:
        raise exc.InvalidDiskSizeValue("The specified parameter DiskDeviceMapping.n.Size beyond the permitted range.")
    return size


def from_mappings(disks: Disks, rows: list[dict[str, str]], region_id: str) -> SnapshotSource:
    """Method 3: ``DiskDeviceMapping.N.{SnapshotId,Device,Size,DiskType}``."""
    planned: list[tuple[dict[str, str], SnapshotRecord | None, str]] = []
    for row in rows:
        snap = _ready(disks, row["SnapshotId"], region_id) if row.get("SnapshotId") else None
        kind = row.get("DiskType") or (snap.disk_kind if snap is not None else "data")
        if kind not in ("system", "data"):
            raise exc.InvalidParameter('The specified parameter "DiskDeviceMapping.n.DiskType" is not valid.')
        planned.append((row, snap, kind))
    systems = [snap for _, snap, kind in planned if kind == "system"]
    system_snap = systems[0] if systems else None
    if system_snap is None:
        raise exc.OperationDenied(
            "The specified parameter DiskDeviceMapping.n.SnapshotId does not contain system disk snapshot.",
            http_status=400,
        )
    if len(systems) > 1:
        raise exc.OperationDenied(
            "The specified parameter DiskDeviceMapping.n.SnapshotId contains two or more system disk snapshots.",
            http_status=400,
        )
    used: set[str] = set()
    for row, _, kind in planned:
        device = row.get("Device")
        if device:
            if (device != SYSTEM_DEVICE) if kind == "system" else (device not in DATA_DEVICES):
                raise exc.InvalidDeviceMalformed("The specified parameter DiskDeviceMapping.n.Device is not valid.")
            if device in used:
                raise exc.InvalidDeviceInUse(
                    "The specified parameter DiskDeviceMapping.n.Device has been occupied.", http_status=400
                )
            used.add(device)
    free = iter(d for d in DATA_DEVICES if d not in used)
    out: list[dict[str, Any]] = []
    system_size = 0
    for row, snap, kind in planned:
        size = _size(row.get("Size"), snap)
        device = row.get("Device") or (SYSTEM_DEVICE if kind == "system" else next(free, ""))
        if not device:
            raise exc.InvalidDeviceMalformed("The specified parameter DiskDeviceMapping.n.Device is not valid.")
        if kind == "system":
            system_size = size
        out.append({"Device": device, "Size": str(size), "Type": kind, "SnapshotId": snap.snapshot_id if snap else ""})
    out.sort(key=lambda m: (m["Type"] != "system", m["Device"]))
    return SnapshotSource(out, system_snap, system_size)
