"""API response dicts (the SDK's ``body.to_map()``, keys as the API names them) -> ``models`` records.

Working on the documented wire names keeps this module free of SDK imports, so it is cheap to import
and easy to test with captured responses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aliyun_ops import models

Json = Mapping[str, Any]


def items(body: Json | None, outer: str, inner: str) -> list[Any]:
    """``{"Instances": {"Instance": [...]}}`` -> the list (tolerates missing or empty wrappers)."""
    if not body:
        return []
    wrapper = body.get(outer) or {}
    value = wrapper.get(inner) if isinstance(wrapper, Mapping) else wrapper
    return list(value or [])


def tags(body: Json, outer: str = "Tags", inner: str = "Tag") -> models.Tags:
    out = []
    for t in items(body, outer, inner):
        key = t.get("TagKey", t.get("Key"))
        if key:
            out.append((str(key), str(t.get("TagValue", t.get("Value", "")) or "")))
    return tuple(out)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool | None:
    """A boolean field as JSON (true) or as XML-derived text ("true"); None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def instance(d: Json) -> models.Instance:
    vpc = d.get("VpcAttributes") or {}
    eip_d = d.get("EipAddress") or {}
    eip = None
    if eip_d.get("AllocationId"):
        eip = models.Eip(eip_d["AllocationId"], eip_d.get("IpAddress", ""), d.get("InstanceId"), "InUse")
    limit = _float(d.get("SpotPriceLimit"))
    return models.Instance(
        instance_id=d["InstanceId"],
        region_id=d.get("RegionId", ""),
        zone_id=d.get("ZoneId", ""),
        instance_type=d.get("InstanceType", ""),
        status=d.get("Status", ""),
        name=d.get("InstanceName", "") or "",
        hostname=d.get("HostName", "") or "",
        description=d.get("Description", "") or "",
        cpu=int(d.get("Cpu") or 0),
        memory_mib=int(d.get("Memory") or 0),
        image_id=d.get("ImageId", "") or "",
        os_type=(d.get("OSType") or "linux").lower(),
        vpc_id=vpc.get("VpcId", "") or "",
        vswitch_id=vpc.get("VSwitchId", "") or "",
        private_ips=tuple(items(vpc, "PrivateIpAddress", "IpAddress")),
        security_group_ids=tuple(items(d, "SecurityGroupIds", "SecurityGroupId")),
        key_pair_name=d.get("KeyPairName") or None,
        resource_group_id=d.get("ResourceGroupId") or None,
        instance_charge_type=d.get("InstanceChargeType", "PostPaid") or "PostPaid",
        internet_charge_type=d.get("InternetChargeType") or None,
        internet_max_bandwidth_out=int(d.get("InternetMaxBandwidthOut") or 0),
        spot_strategy=d.get("SpotStrategy") or "NoSpot",
        spot_price_limit=limit if limit else None,
        spot_duration=d.get("SpotDuration"),
        spot_interruption_behavior=d.get("SpotInterruptionBehavior") or None,
        stopped_mode=d.get("StoppedMode") or None,
        tags=tags(d),
        lock_reasons=tuple(x.get("LockReason", "") for x in items(d, "OperationLocks", "LockReason")),
        public_ips=tuple(items(d, "PublicIpAddress", "IpAddress")),
        eip=eip,
        creation_time=d.get("CreationTime", "") or "",
        start_time=d.get("StartTime", "") or "",
    )


def disk(d: Json) -> models.Disk:
    return models.Disk(
        disk_id=d.get("DiskId", ""),
        kind="system" if d.get("Type") == "system" else "data",
        category=d.get("Category", ""),
        size_gib=int(d.get("Size") or 0),
        device=d.get("Device", "") or "",
        delete_with_instance=bool(d.get("DeleteWithInstance", True)),
        performance_level=d.get("PerformanceLevel") or None,
        zone_id=d.get("ZoneId", "") or "",
        status=d.get("Status", "") or "",
        instance_id=d.get("InstanceId", "") or "",
        tags=tags(d),
        source_snapshot_id=d.get("SourceSnapshotId", "") or "",
        description=d.get("Description", "") or "",
    )


def snapshot(d: Json) -> models.Snapshot:
    progress = str(d.get("Progress") or "0").rstrip("%") or "0"
    status = d.get("Status", "") or ""
    return models.Snapshot(
        snapshot_id=d.get("SnapshotId", "") or "",
        disk_id=d.get("SourceDiskId", "") or "",
        status=status,
        progress=int(float(progress)),
        available=status == "accomplished" or bool(d.get("Available")),
        tags=tags(d),
        name=d.get("SnapshotName", "") or "",
        description=d.get("Description", "") or "",
    )


def image(d: Json) -> models.Image:
    progress = str(d.get("Progress") or "0").rstrip("%") or "0"
    return models.Image(
        image_id=d.get("ImageId", ""),
        name=d.get("ImageName", "") or "",
        status=d.get("Status", ""),
        progress=int(float(progress)),
        creation_time=d.get("CreationTime", "") or "",
        size_gib=int(d.get("Size") or 0),
        architecture=d.get("Architecture", "") or "",
        tags=tags(d),
        usable=_bool(d.get("Usable")),
        data_devices=tuple(
            str(m.get("Device"))
            for m in items(d, "DiskDeviceMappings", "DiskDeviceMapping")
            if m.get("Type") == "data" and m.get("Device")
        ),
    )


def instance_type(d: Json) -> models.InstanceType:
    return models.InstanceType(
        type_id=d["InstanceTypeId"],
        family=d.get("InstanceTypeFamily", "") or "",
        cpu=int(d.get("CpuCoreCount") or 0),
        memory_gib=float(d.get("MemorySize") or 0),
        arch=d.get("CpuArchitecture", "X86") or "X86",
        gpu_amount=int(d.get("GPUAmount") or 0),
        gpu_spec=d.get("GPUSpec", "") or "",
        generation=d.get("Generation", "") or "",
    )


def offerings(body: Json) -> list[models.Offering]:
    """Every (zone, InstanceType) of DescribeAvailableResource, with its own Status/StatusCategory."""
    out = []
    for zone in items(body, "AvailableZones", "AvailableZone"):
        zone_id = zone.get("ZoneId", "")
        for res in items(zone, "AvailableResources", "AvailableResource"):
            if res.get("Type") not in (None, "InstanceType"):
                continue
            for sup in items(res, "SupportedResources", "SupportedResource"):
                out.append(
                    models.Offering(
                        zone_id=zone_id,
                        instance_type=sup.get("Value", ""),
                        status=sup.get("Status", "Available") or "Available",
                        status_category=sup.get("StatusCategory", "WithStock") or "WithStock",
                    )
                )
    return out


def spot_prices(rows: Sequence[Json]) -> list[models.SpotPrice]:
    """Latest price per (zone, type): the history is ordered oldest first, but sort to be sure."""
    latest: dict[tuple[str, str], Json] = {}
    for row in rows:
        key = (row.get("ZoneId", ""), row.get("InstanceType", ""))
        if key not in latest or str(row.get("Timestamp", "")) >= str(latest[key].get("Timestamp", "")):
            latest[key] = row
    return [
        models.SpotPrice(
            z, t, _float(r.get("SpotPrice")) or 0.0, _float(r.get("OriginPrice")) or 0.0, str(r.get("Timestamp", ""))
        )
        for (z, t), r in latest.items()
    ]


# InterruptRateDesc's values (DescribeSpotAdvice): the bucket each InterruptionRate (percent) falls in.
RATE_BUCKETS = ((3.0, "0-3%"), (5.0, "3-5%"), (10.0, "5-10%"), (100.0, "10-100%"))


def rate_bucket(rate: float) -> str:
    """The InterruptRateDesc text of an interruption rate in percent (the upper bound of each bucket is excluded,
    except 100)."""
    return next((text for top, text in RATE_BUCKETS if rate < top), RATE_BUCKETS[-1][1])


def spot_advice(body: Json | None) -> list[models.SpotAdvice]:
    """DescribeSpotAdvice's ``AvailableSpotZones.AvailableSpotZone[].AvailableSpotResources.AvailableSpotResource[]``
    -> one record per (zone, type); a row without a type or a readable rate is dropped (no data, not "calm")."""
    out: list[models.SpotAdvice] = []
    for zone in items(body, "AvailableSpotZones", "AvailableSpotZone"):
        zone_id = str(zone.get("ZoneId") or "")
        for row in items(zone, "AvailableSpotResources", "AvailableSpotResource"):
            rate = _float(row.get("InterruptionRate"))
            type_id = str(row.get("InstanceType") or "")
            if rate is None or not type_id or not zone_id or rate != rate:  # NaN
                continue
            rate = min(max(rate, 0.0), 100.0)
            discount = _float(row.get("AverageSpotDiscount"))
            out.append(
                models.SpotAdvice(
                    zone_id=zone_id,
                    instance_type=type_id,
                    interruption_rate=rate,
                    rate_desc=str(row.get("InterruptRateDesc") or "") or rate_bucket(rate),
                    average_discount=None if discount is None else round(discount),
                )
            )
    return out


def vswitch(d: Json) -> models.VSwitch:
    return models.VSwitch(
        vswitch_id=d.get("VSwitchId", ""),
        vpc_id=d.get("VpcId", ""),
        zone_id=d.get("ZoneId", ""),
        cidr_block=d.get("CidrBlock", "") or "",
        available_ips=int(d.get("AvailableIpAddressCount") or 0),
        tags=tags(d),  # Tags.Tag[]{Key,Value}
    )


def eip(d: Json) -> models.Eip:
    bandwidth = d.get("Bandwidth")
    return models.Eip(
        allocation_id=d.get("AllocationId", ""),
        ip_address=d.get("IpAddress", ""),
        instance_id=d.get("InstanceId") or None,
        status=d.get("Status", "Available") or "Available",
        bandwidth=int(bandwidth) if bandwidth not in (None, "") else None,
        internet_charge_type=d.get("InternetChargeType") or None,
    )


_EVENT_ARN = re.compile(r"^acs:ecs:(?P<region>[^:]*):[^:]*:instance/(?P<id>i-[A-Za-z0-9_-]+)$")
_EVENT_INSTANCE = re.compile(r"^i-[A-Za-z0-9_-]{1,62}$")


def system_event(d: Json) -> models.SystemEvent | None:
    """One ``SystemEvents.SystemEvent`` item of DescribeSystemEventAttribute (cms 2019-01-01); None when it
    names no instance or no time. ``Content`` is a JSON string (an object as pushed events carry it; the
    reference's sample shows a list of whole events, so that shape is read too); ``ResourceId`` (the
    instance's ARN, or its bare id) names the instance when ``Content`` does not."""
    content = _event_content(d.get("Content"))
    resource = str(d.get("ResourceId") or "")
    arn = _EVENT_ARN.match(resource)
    instance_id = str(content.get("instanceId") or content.get("resourceId") or "")
    if not _EVENT_INSTANCE.match(instance_id):
        instance_id = arn.group("id") if arn else resource if _EVENT_INSTANCE.match(resource) else ""
    millis = _float(d.get("Time"))
    if not instance_id or millis is None:
        return None
    action = content.get("action")
    return models.SystemEvent(
        instance_id=instance_id,
        time=millis / 1000.0,
        event_id=str(d.get("Id") or ""),
        action=str(action) if isinstance(action, str) and action else None,
        region_id=str(d.get("RegionId") or (arn.group("region") if arn else "")),
        name=str(d.get("Name") or ""),
    )


def _event_content(raw: Any) -> dict[str, Any]:
    """``Content`` as an object: parsed from its JSON string; a list of whole events gives its first event's
    own ``content`` (itself an object or a JSON string); anything else is empty."""
    value = _json(raw)
    if isinstance(value, list):
        first = value[0] if value else None
        value = _json(first.get("content")) if isinstance(first, dict) else None
    return value if isinstance(value, dict) else {}


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return None
