"""Resource -> response dict, in the exact key names and types of the SDK's response models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aliyun_ops.emulator.params import tags_out

if TYPE_CHECKING:
    from aliyun_ops.emulator.backend import Backend
    from aliyun_ops.emulator.models.disks import DiskRecord, SnapshotRecord
    from aliyun_ops.emulator.models.images import ImageRecord
    from aliyun_ops.emulator.models.instances import InstanceRecord


def eip_block(backend: Backend, inst: InstanceRecord) -> dict[str, Any]:
    eip = backend.network.attached_eip_of(inst.instance_id)
    if eip is None:
        return {"AllocationId": "", "IpAddress": "", "InternetChargeType": ""}
    return {
        "AllocationId": eip.allocation_id,
        "IpAddress": eip.ip_address,
        "Bandwidth": eip.bandwidth,
        "InternetChargeType": eip.internet_charge_type,
        "IsSupportUnassociate": True,
    }


def _common(backend: Backend, inst: InstanceRecord) -> dict[str, Any]:
    """Fields DescribeInstances and DescribeInstanceAttribute share."""
    ln = inst.launch
    return {
        "InstanceId": inst.instance_id,
        "InstanceName": ln.name or inst.instance_id,
        "Description": ln.description,
        "HostName": ln.hostname or f"iZ{inst.instance_id[2:]}Z",
        "RegionId": inst.region_id,
        "ZoneId": inst.zone_id,
        "InstanceType": inst.instance_type,
        "Cpu": inst.spec.cpu,
        "Memory": int(inst.spec.memory_gib * 1024),
        "ImageId": ln.image_id,
        "Status": inst.status,
        "StoppedMode": inst.stopped_mode,
        "InstanceChargeType": ln.instance_charge_type,
        "InternetChargeType": ln.internet_charge_type,
        "InternetMaxBandwidthOut": ln.internet_max_bandwidth_out,
        "InternetMaxBandwidthIn": -1,
        "InstanceNetworkType": "vpc",
        "CreationTime": inst.creation_time,
        "ExpiredTime": "2099-12-31T15:59Z",
        "SerialNumber": f"sn-{inst.instance_id}",
        "VlanId": "",
        "ClusterId": "",
        "CreditSpecification": "Standard" if inst.spec.family == "ecs.t6" else "",
        "OperationLocks": {"LockReason": [{"LockReason": r} for r in inst.lock_reasons]},
        "SecurityGroupIds": {"SecurityGroupId": list(ln.security_group_ids)},
        "PublicIpAddress": {"IpAddress": [inst.public_ip] if inst.public_ip else []},
        "InnerIpAddress": {"IpAddress": []},
        "VpcAttributes": {
            "VpcId": inst.vpc_id,
            "VSwitchId": ln.vswitch_id,
            "PrivateIpAddress": {"IpAddress": [inst.private_ip]},
            "NatIpAddress": "",
        },
        "EipAddress": eip_block(backend, inst),
    }


def instance(backend: Backend, inst: InstanceRecord) -> dict[str, Any]:
    """One ``Instances.Instance[]`` row of DescribeInstances."""
    ln, spec = inst.launch, inst.spec
    row = _common(backend, inst)
    row.update(
        {
            "InstanceTypeFamily": spec.family,
            "GPUAmount": spec.gpu_amount,
            "GPUSpec": spec.gpu_spec,
            "OSName": inst.os_name,
            "OSNameEn": inst.os_name,
            "OSType": inst.os_type,
            "KeyPairName": ln.key_pair_name,
            "ResourceGroupId": ln.resource_group_id,
            "StartTime": inst.start_time,
            "IoOptimized": True,
            "DeviceAvailable": True,
            "DeletionProtection": False,
            "Recyclable": False,
            "LocalStorageAmount": 0,
            "LocalStorageCapacity": 0,
            "SpotStrategy": ln.spot_strategy,
            "SpotPriceLimit": ln.spot_price_limit if ln.spot_price_limit is not None else 0.0,
            "SpotDuration": ln.spot_duration if ln.spot_duration is not None else (1 if inst.is_spot else 0),
            "SpotInterruptionBehavior": ln.spot_interruption_behavior,
            "Tags": tags_out(inst.tags),
            "CpuOptions": {"CoreCount": max(1, spec.cpu // 2), "ThreadsPerCore": 2 if spec.cpu > 1 else 1, "Numa": ""},
            "MetadataOptions": {"HttpEndpoint": "enabled", "HttpTokens": "optional"},
            "NetworkInterfaces": {
                "NetworkInterface": [
                    {
                        "NetworkInterfaceId": f"eni-{inst.instance_id[2:]}",
                        "Type": "Primary",
                        "PrimaryIpAddress": inst.private_ip,
                        "MacAddress": "00:16:3e:" + ":".join(inst.instance_id[-6:][i : i + 2] for i in (0, 2, 4)),
                        "PrivateIpSets": {"PrivateIpSet": [{"PrivateIpAddress": inst.private_ip, "Primary": True}]},
                    }
                ]
            },
        }
    )
    return row


def instance_attribute(backend: Backend, inst: InstanceRecord) -> dict[str, Any]:
    """DescribeInstanceAttribute's body (no tags, no key pair, IoOptimized as a string)."""
    row = _common(backend, inst)
    row["IoOptimized"] = "optimized"
    row["EipAddress"] = {k: v for k, v in row["EipAddress"].items() if k != "IsSupportUnassociate"}
    return row


def disk(d: DiskRecord) -> dict[str, Any]:
    """One ``Disks.Disk[]`` row of DescribeDisks: attached (InstanceId, Device, Attachments) or detached (empty)."""
    attached = bool(d.instance_id) and d.status in ("In_use", "Detaching", "Attaching")
    return {
        "DiskId": d.disk_id,
        "DiskName": d.name,
        "Description": d.description,
        "InstanceId": d.instance_id if attached else "",
        "RegionId": d.region_id,
        "ZoneId": d.zone_id,
        "Type": d.kind,
        "Category": d.category,
        "Size": d.size,
        "Device": d.device if attached else "",
        "DeleteWithInstance": d.delete_with_instance,
        "PerformanceLevel": d.performance_level or ("PL0" if d.category == "cloud_essd" else ""),
        "Status": d.status,
        "ImageId": d.image_id,
        "SourceSnapshotId": d.snapshot_id,
        "DiskChargeType": "PostPaid",
        "Portable": d.kind == "data",
        "Encrypted": False,
        "CreationTime": d.creation_time,
        "Tags": tags_out(d.tags),
        "Attachments": {"Attachment": [{"InstanceId": d.instance_id, "Device": d.device}] if attached else []},
    }


def _snapshot_usage(backend: Backend, s: SnapshotRecord) -> str:
    """[meta] DescribeSnapshots Usage: image, disk, image_disk or none."""
    by_image = any(m.get("SnapshotId") == s.snapshot_id for img in backend.images.items.values() for m in img.disks)
    return {(True, True): "image_disk", (True, False): "image", (False, True): "disk"}.get(
        (by_image, s.disks_created > 0), "none"
    )


def snapshot_row(backend: Backend, s: SnapshotRecord) -> dict[str, Any]:
    """One ``Snapshots.Snapshot[]`` row of DescribeSnapshots: ``Available`` once CreateDisk may use it
    (instant access for ESSD-series disks), ``InstantAccess`` for those."""
    now = backend.clock.now()
    progress = s.progress(now)
    return {
        "SnapshotId": s.snapshot_id,
        "SnapshotName": s.name,
        "Description": s.description,
        "Status": s.status,
        "Progress": f"{progress}%",
        "RemainTime": 0 if s.status == "accomplished" else max(0, int(s.started_at + s.build_seconds - now)),
        "Available": s.available(now),
        "CreationTime": s.creation_time,
        "RegionId": s.region_id,
        "SourceDiskId": s.disk_id,
        "SourceDiskSize": str(s.size),
        "SourceDiskType": s.disk_kind,
        "SourceStorageType": "disk",
        "SnapshotType": "user",
        "Category": "standard",
        "Usage": _snapshot_usage(backend, s),
        "InstantAccess": s.instant_access,
        "Encrypted": False,
        "Tags": tags_out(s.tags),
    }


def image(backend: Backend, img: ImageRecord) -> dict[str, Any]:
    progress = img.progress(backend.clock.now())
    return {
        "ImageId": img.image_id,
        "ImageName": img.name,
        "Description": img.description,
        "Status": img.status,
        "Usable": img.usable(backend.clock.now()),
        "Progress": f"{progress}%",
        "CreationTime": img.creation_time,
        "Size": img.size,
        "Architecture": img.architecture,
        "OSType": img.os_type,
        "OSName": img.os_name,
        "OSNameEn": img.os_name,
        "Platform": img.platform,
        "ImageOwnerAlias": img.owner_alias,
        "ImageOwnerId": 0 if img.owner_alias == "system" else int(backend.account_id),
        "ImageFamily": img.image_family,
        "IsPublic": img.owner_alias == "system",
        "IsSupportCloudinit": True,
        "IsSupportIoOptimized": True,
        "IsCopied": False,
        "IsSelfShared": "",
        "IsSubscribed": False,
        "Usage": "instance"
        if any(i.launch.image_id == img.image_id for i in backend.instances.items.values())
        else "none",
        "BootMode": "BIOS",
        "Tags": tags_out(img.tags),
        "DiskDeviceMappings": {
            "DiskDeviceMapping": [{**m, "Format": "", "Progress": f"{progress}%", "RemainTime": 0} for m in img.disks]
        },
    }


def snapshot(backend: Backend) -> dict[str, Any]:
    """For GET /_emulator/state: a readable dump of the whole state."""
    cat = backend.catalogue
    return {
        "accountId": backend.account_id,
        "clock": backend.clock.now(),
        "instances": [instance(backend, i) for i in backend.instances.items.values()],
        "images": [image(backend, i) for i in backend.images.items.values() if i.owner_alias == "self"],
        "disks": [{**disk(d), "markers": list(d.markers)} for d in backend.disks.items.values()],
        "snapshots": [
            {**snapshot_row(backend, s), "markers": list(s.markers)} for s in backend.disks.snapshots.values()
        ],
        "eips": [
            {
                "allocationId": e.allocation_id,
                "ipAddress": e.ip_address,
                "status": e.status,
                "instanceId": e.instance_id,
            }
            for e in backend.network.eips.values()
        ],
        "stock": [
            {"zoneId": z, "instanceType": t, "spot": s, "available": v} for (z, t, s), v in sorted(cat.stock.items())
        ],
        "prices": [
            {"zoneId": z, "instanceType": t, "spotPrice": pts[-1].spot_price, "originPrice": pts[-1].origin_price}
            for (z, t), pts in sorted(cat.history.items())
            if pts
        ],
    }
