"""What the region sells: regions and zones, instance types, disk categories per family, stock per
(zone, type, spot-or-not) and prices (pay-as-you-go and spot with a short history).

Loaded from the scenario's ``regions``, ``instanceTypes``, ``diskCategories``, ``stock`` and ``prices``.
Spot prices not listed explicitly are derived: pay-as-you-go x the zone's factor x a stable per-type
jitter, so they differ by zone and by type and stay the same across runs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from aliyun_ops.emulator import exceptions as exc

Stock = bool | int  # True unlimited, False sold out, int launches left


@dataclass
class InstanceTypeSpec:
    type_id: str
    family: str
    cpu: int
    memory_gib: float
    arch: str = "X86"  # X86 | ARM
    gpu_amount: int = 0
    gpu_spec: str = ""
    gpu_memory_gib: float = 0.0
    generation: str = ""
    category: str = "General-purpose"

    @property
    def image_arch(self) -> str:
        return "arm64" if self.arch == "ARM" else "x86_64"


@dataclass
class PricePoint:
    timestamp: float
    spot_price: float
    origin_price: float


@dataclass
class Catalogue:
    regions: list[dict[str, Any]]
    types: dict[str, InstanceTypeSpec]
    disk_categories: dict[str, list[str]]
    stock_default: bool = True
    stock: dict[tuple[str, str, bool], Stock] = field(default_factory=dict)
    # What DescribeAvailableResource says when it differs from the stock: the real listing is coarse, so a
    # type can be listed WithStock and still refuse RunInstances with NoStock (``listed`` True, stock False).
    listed: dict[tuple[str, str, bool], bool] = field(default_factory=dict)
    payg: dict[str, float] = field(default_factory=dict)
    origin_override: dict[tuple[str, str], float] = field(default_factory=dict)
    zone_factor: dict[str, float] = field(default_factory=dict)
    history: dict[tuple[str, str], list[PricePoint]] = field(default_factory=dict)

    # ---- regions and zones
    def region(self, region_id: str) -> dict[str, Any]:
        for r in self.regions:
            if r["regionId"] == region_id:
                return r
        raise exc.InvalidRegionId()

    def zones(self, region_id: str) -> list[dict[str, Any]]:
        return list(self.region(region_id)["zones"])

    def zone_ids(self, region_id: str) -> list[str]:
        return [z["zoneId"] for z in self.zones(region_id)]

    def check_zone(self, region_id: str, zone_id: str) -> None:
        if zone_id not in self.zone_ids(region_id):
            raise exc.InvalidZoneId()

    # ---- instance types and disks
    def type(self, type_id: str) -> InstanceTypeSpec:
        spec = self.types.get(type_id)
        if spec is None:
            raise exc.InvalidInstanceType()
        return spec

    def system_disk_categories(self, type_id: str) -> list[str]:
        family = self.type(type_id).family
        return list(self.disk_categories.get(family, self.disk_categories.get("default", [])))

    def default_system_disk_category(self, type_id: str) -> str:
        cats = self.system_disk_categories(type_id)
        return "cloud_essd" if "cloud_essd" in cats else cats[0]

    # ---- stock
    def stock_of(self, zone_id: str, type_id: str, spot: bool) -> Stock:
        return self.stock.get((zone_id, type_id, spot), self.stock_default)

    def in_stock(self, zone_id: str, type_id: str, spot: bool) -> bool:
        s = self.stock_of(zone_id, type_id, spot)
        return s if isinstance(s, bool) else s > 0

    def listed_in_stock(self, zone_id: str, type_id: str, spot: bool) -> bool:
        """What DescribeAvailableResource shows: the stock, unless ``listed`` says otherwise."""
        return self.listed.get((zone_id, type_id, spot), self.in_stock(zone_id, type_id, spot))

    def take_stock(self, zone_id: str, type_id: str, spot: bool) -> None:
        """One launch: refuses when sold out, decrements a counted stock."""
        s = self.stock_of(zone_id, type_id, spot)
        if not self.in_stock(zone_id, type_id, spot):
            raise exc.NoStock()
        if not isinstance(s, bool):
            self.stock[(zone_id, type_id, spot)] = s - 1

    def set_stock(self, zone_id: str, type_id: str, spot: bool, available: Stock, listed: bool | None = None) -> None:
        """The stock; ``listed`` (None: follow the stock) is what DescribeAvailableResource shows."""
        self.stock[(zone_id, type_id, spot)] = available
        if listed is None:
            self.listed.pop((zone_id, type_id, spot), None)
        else:
            self.listed[(zone_id, type_id, spot)] = listed

    # ---- prices
    def origin_price(self, zone_id: str, type_id: str) -> float:
        if (zone_id, type_id) in self.origin_override:
            return self.origin_override[(zone_id, type_id)]
        if type_id not in self.payg:
            raise exc.InvalidInstanceType()
        return self.payg[type_id]

    def derived_spot(self, zone_id: str, type_id: str) -> float:
        jitter = 0.8 + (zlib.crc32(f"{zone_id}/{type_id}".encode()) % 400) / 1000  # 0.8 .. 1.2
        return round(self.origin_price(zone_id, type_id) * self.zone_factor.get(zone_id, 0.2) * jitter, 4)

    def price_history(self, zone_id: str, type_id: str) -> list[PricePoint]:
        return self.history.get((zone_id, type_id), [])

    def spot_price(self, zone_id: str, type_id: str) -> float:
        points = self.price_history(zone_id, type_id)
        return points[-1].spot_price if points else self.derived_spot(zone_id, type_id)

    def seed_history(self, now: float, zone_ids: list[str]) -> None:
        """A short history (3 points over the last 2.5 h) for every (zone, type) without one."""
        for zone_id in zone_ids:
            for type_id in self.types:
                if (zone_id, type_id) in self.history or type_id not in self.payg:
                    continue
                base = self.derived_spot(zone_id, type_id)
                origin = self.origin_price(zone_id, type_id)
                self.history[(zone_id, type_id)] = [
                    PricePoint(now - 9000, round(base * 1.06, 4), origin),
                    PricePoint(now - 5400, round(base * 0.97, 4), origin),
                    PricePoint(now - 1800, base, origin),
                ]

    def add_price(self, now: float, zone_id: str, type_id: str, spot: float | None, origin: float | None) -> None:
        self.type(type_id)
        if origin is not None:
            self.origin_override[(zone_id, type_id)] = origin
        spot_now = self.spot_price(zone_id, type_id) if spot is None else spot
        point = PricePoint(now, spot_now, self.origin_price(zone_id, type_id))
        self.history.setdefault((zone_id, type_id), []).append(point)


def load_catalogue(scenario: dict[str, Any]) -> Catalogue:
    types = {
        t["id"]: InstanceTypeSpec(
            type_id=t["id"],
            family=t["family"],
            cpu=int(t["cpu"]),
            memory_gib=float(t["memoryGiB"]),
            arch=t.get("arch", "X86"),
            gpu_amount=int(t.get("gpuAmount", 0)),
            gpu_spec=t.get("gpuSpec", ""),
            gpu_memory_gib=float(t.get("gpuMemoryGiB", 0)),
            generation=t.get("generation", ""),
            category=t.get("category", "General-purpose"),
        )
        for t in scenario.get("instanceTypes", [])
    }
    stock_cfg = scenario.get("stock", {})
    prices = scenario.get("prices", {})
    cat = Catalogue(
        regions=scenario.get("regions", []),
        types=types,
        disk_categories=scenario.get("diskCategories", {}),
        stock_default=bool(stock_cfg.get("default", True)),
        payg={k: float(v) for k, v in prices.get("payAsYouGo", {}).items()},
        zone_factor={k: float(v) for k, v in prices.get("spotZoneFactor", {}).items()},
    )
    for e in stock_cfg.get("entries", []):
        cat.set_stock(e["zoneId"], e["instanceType"], bool(e["spot"]), e["available"])
    return cat
