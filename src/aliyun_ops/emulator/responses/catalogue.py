"""What is for sale: DescribeRegions, DescribeZones, DescribeInstanceTypes, DescribeAvailableResource,
DescribeSpotPriceHistory, DescribePrice."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator import params as p
from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.models.catalogue import InstanceTypeSpec
from aliyun_ops.emulator.responses.base import Params, region, register

SPOT = ("SpotAsPriceGo", "SpotWithPriceLimit")
DISK_PRICE_PER_GIB_HOUR = {"cloud_essd": 0.0014, "cloud_auto": 0.0014, "cloud_ssd": 0.0014, "cloud_efficiency": 0.0005}


@register("ecs", "DescribeRegions")
def describe_regions(backend: Backend, params: Params) -> dict[str, Any]:
    rows = [
        {
            "RegionId": r["regionId"],
            "LocalName": r.get("localName", ""),
            "RegionEndpoint": r.get("endpoint", ""),
            "Status": "available",
        }
        for r in backend.catalogue.regions
    ]
    return {"Regions": {"Region": rows}}


@register("ecs", "DescribeZones")
def describe_zones(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    cat = backend.catalogue
    rows = [
        {
            "ZoneId": z["zoneId"],
            "LocalName": z.get("localName", ""),
            "ZoneType": "AvailabilityZone",
            "AvailableInstanceTypes": {"InstanceTypes": sorted(cat.types)},
            "AvailableDiskCategories": {
                "DiskCategories": ["cloud_efficiency", "cloud_ssd", "cloud_essd", "cloud_auto"]
            },
            "AvailableResourceCreation": {"ResourceTypes": ["Instance", "Disk", "VSwitch"]},
        }
        for z in cat.zones(region_id)
    ]
    return {"Zones": {"Zone": rows}}


def _type_row(t: InstanceTypeSpec) -> dict[str, Any]:
    return {
        "InstanceTypeId": t.type_id,
        "InstanceTypeFamily": t.family,
        "InstanceFamilyLevel": "CreditEntryLevel" if t.family == "ecs.t6" else "EnterpriseLevel",
        "InstanceCategory": t.category,
        "CpuCoreCount": t.cpu,
        "MemorySize": float(t.memory_gib),
        "CpuArchitecture": t.arch,
        "GPUAmount": t.gpu_amount,
        "GPUSpec": t.gpu_spec,
        "GPUMemorySize": float(t.gpu_memory_gib),
        "LocalStorageCategory": "",
        "EniQuantity": max(2, min(8, t.cpu // 2 + 1)),
        "EniPrivateIpAddressQuantity": 6,
        "NvmeSupport": "required" if t.family in ("ecs.g8i", "ecs.c8i", "ecs.g8y", "ecs.c8y") else "unsupported",
        "SupportedBootModes": {"SupportedBootMode": ["BIOS", "UEFI"]},
    }


def _type_matches(t: InstanceTypeSpec, params: Params, ids: list[str]) -> bool:
    bounds: list[tuple[str, Callable[[float], bool]]] = [
        ("MinimumCpuCoreCount", lambda v: t.cpu >= v),
        ("MaximumCpuCoreCount", lambda v: t.cpu <= v),
        ("MinimumMemorySize", lambda v: t.memory_gib >= v),
        ("MaximumMemorySize", lambda v: t.memory_gib <= v),
        ("MinimumGPUAmount", lambda v: t.gpu_amount >= v),
        ("MaximumGPUAmount", lambda v: t.gpu_amount <= v),
    ]
    if ids and t.type_id not in ids:
        return False
    if p.get_str(params, "InstanceTypeFamily") not in (None, t.family):
        return False
    if p.get_str(params, "CpuArchitecture") not in (None, t.arch):
        return False
    return all((v := p.get_float(params, name)) is None or ok(v) for name, ok in bounds)


@register("ecs", "DescribeInstanceTypes")
def describe_instance_types(backend: Backend, params: Params) -> dict[str, Any]:
    ids = p.get_list(params, "InstanceTypes")
    if len(ids) > 10:
        raise exc.InvalidInstanceTypesCount()
    found = [t for t in backend.catalogue.types.values() if _type_matches(t, params, ids)]
    chunk, token = p.token_page(found, params, default_max=1600, limit=1600)
    return {"InstanceTypes": {"InstanceType": [_type_row(t) for t in chunk]}, "NextToken": token}


def _status(in_stock: bool) -> tuple[str, str]:
    return ("Available", "WithStock") if in_stock else ("SoldOut", "WithoutStock")


def _available_values(backend: Backend, params: Params, zone_id: str, spot: bool) -> tuple[str, list[dict[str, Any]]]:
    """(resource Type, SupportedResource rows) of one zone for the requested DestinationResource."""
    cat = backend.catalogue
    dest = p.require(params, "DestinationResource")
    wanted_type = p.get_str(params, "InstanceType")
    cores, memory = p.get_int(params, "Cores"), p.get_float(params, "Memory")
    types = [
        t
        for t in cat.types.values()
        if wanted_type in (None, t.type_id) and cores in (None, t.cpu) and memory in (None, t.memory_gib)
    ]
    if dest == "InstanceType":
        rows: list[dict[str, Any]] = []
        for t in types:
            status, category = _status(cat.listed_in_stock(zone_id, t.type_id, spot))
            rows.append({"Value": t.type_id, "Status": status, "StatusCategory": category})
        return "InstanceType", rows
    if dest == "Zone":
        ok = any(cat.listed_in_stock(zone_id, t.type_id, spot) for t in types)
        status, category = _status(ok)
        return "Zone", [{"Value": zone_id, "Status": status, "StatusCategory": category}] if types else []
    if dest == "SystemDisk":
        if wanted_type is None:
            raise exc.MissingParameter("InstanceType")
        status, category = _status(cat.listed_in_stock(zone_id, wanted_type, spot))
        return "SystemDisk", [
            {"Value": c, "Status": status, "StatusCategory": category, "Min": 20, "Max": 2048, "Unit": "GiB"}
            for c in cat.system_disk_categories(wanted_type)
        ]
    raise exc.InvalidParameter('The specified parameter "DestinationResource" is not valid.')


@register("ecs", "DescribeAvailableResource")
def describe_available_resource(backend: Backend, params: Params) -> dict[str, Any]:
    region_id = region(backend, params)
    spot = p.get_str(params, "SpotStrategy", "NoSpot") in SPOT
    charge = p.get_str(params, "InstanceChargeType", "PostPaid")
    if spot and charge != "PostPaid":
        raise exc.InvalidSpotStrategy(
            "The specified Spot type is not support PrePay Instance.", code="InvalidSpotPrepaid"
        )
    zone_filter = p.get_str(params, "ZoneId")
    zones = []
    for zone_id in backend.catalogue.zone_ids(region_id):
        if zone_filter not in (None, zone_id):
            continue
        kind, rows = _available_values(backend, params, zone_id, spot)
        if not rows:
            continue
        status, category = _status(any(r["Status"] == "Available" for r in rows))
        zones.append(
            {
                "RegionId": region_id,
                "ZoneId": zone_id,
                "Status": status,
                "StatusCategory": category,
                "AvailableResources": {
                    "AvailableResource": [{"Type": kind, "SupportedResources": {"SupportedResource": rows}}]
                },
            }
        )
    return {"AvailableZones": {"AvailableZone": zones}}


def _parse_time(value: str) -> float:
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ"):
        try:
            return float(calendar.timegm(time.strptime(value, fmt)))
        except ValueError:
            continue
    raise exc.InvalidParameter(
        'The specified parameter "StartTime/EndTime" is not valid.', code="InvalidStartTime.Malformed"
    )


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@register("ecs", "DescribeSpotPriceHistory")
def describe_spot_price_history(backend: Backend, params: Params) -> dict[str, Any]:
    """Points in [StartTime, EndTime] (default: the last 3 hours); a (zone, type) whose last change is
    older than StartTime still shows its price in effect, so a quiet market never reads as empty."""
    region_id = region(backend, params)
    network = p.require(params, "NetworkType")
    instance_type = p.require(params, "InstanceType")
    backend.catalogue.type(instance_type)
    now = backend.clock.now()
    end = _parse_time(params["EndTime"]) if params.get("EndTime") else now
    start = _parse_time(params["StartTime"]) if params.get("StartTime") else end - 3 * 3600
    zone_filter = p.get_str(params, "ZoneId")
    rows: list[dict[str, Any]] = []
    for zone_id in backend.catalogue.zone_ids(region_id):
        if zone_filter not in (None, zone_id):
            continue
        points = [pt for pt in backend.catalogue.price_history(zone_id, instance_type) if pt.timestamp <= end]
        in_range = [pt for pt in points if pt.timestamp >= start] or points[-1:]
        rows.extend(
            {
                "ZoneId": zone_id,
                "InstanceType": instance_type,
                "IoOptimized": "optimized",
                "NetworkType": network,
                "SpotPrice": pt.spot_price,
                "OriginPrice": pt.origin_price,
                "Timestamp": _iso(pt.timestamp),
            }
            for pt in in_range
        )
    offset = p.get_int(params, "Offset", 0) or 0
    chunk = rows[offset : offset + 1000]
    return {
        "Currency": "CNY",
        "NextOffset": offset + len(chunk) if offset + len(chunk) < len(rows) else 0,
        "SpotPrices": {"SpotPriceType": chunk},
    }


@register("ecs", "DescribePrice")
def describe_price(backend: Backend, params: Params) -> dict[str, Any]:
    """Hourly price of one instance: the instance type (spot or pay-as-you-go) plus its system disk."""
    region_id = region(backend, params)
    resource = p.get_str(params, "ResourceType", "instance")
    if resource != "instance":
        raise exc.InvalidParameter('The specified parameter "ResourceType" is not valid.')
    cat = backend.catalogue
    type_id = p.require(params, "InstanceType")
    cat.type(type_id)
    zone_id = p.get_str(params, "ZoneId") or cat.zone_ids(region_id)[0]
    spot = p.get_str(params, "SpotStrategy", "NoSpot") in SPOT
    origin = cat.origin_price(zone_id, type_id)
    trade = cat.spot_price(zone_id, type_id) if spot else origin
    category = p.get_str(params, "SystemDisk.Category") or cat.default_system_disk_category(type_id)
    disk = round((p.get_int(params, "SystemDisk.Size", 40) or 40) * DISK_PRICE_PER_GIB_HOUR.get(category, 0.0014), 4)
    details = [
        {
            "Resource": "instanceType",
            "OriginalPrice": origin,
            "DiscountPrice": round(origin - trade, 4),
            "TradePrice": trade,
        },
        {"Resource": "systemDisk", "OriginalPrice": disk, "DiscountPrice": 0.0, "TradePrice": disk},
    ]
    return {
        "PriceInfo": {
            "Price": {
                "OriginalPrice": round(origin + disk, 4),
                "DiscountPrice": round(origin - trade, 4),
                "TradePrice": round(trade + disk, 4),
                "Currency": "CNY",
                "DetailInfos": {"DetailInfo": details},
            },
            "Rules": {"Rule": []},
        }
    }
