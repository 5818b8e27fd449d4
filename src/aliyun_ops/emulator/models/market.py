"""A seeded spot market: for every (zone, instance type) pool, a daily spot price (a share of pay-as-you-go), a
daily interruption hazard (reclaims per instance-day) and a daily in-stock flag; the same seed gives the same
market. It drives the catalogue (stock and price history at every emulated day's start), DescribeSpotAdvice
(the last 30 days) and reclaims: each spot instance in a pool is reclaimed at a time drawn from the pool's
hazard (a Poisson process whose rate changes day by day).

Switched on by the scenario's ``market`` section (``{"enabled": true, "seed": 7, ...}``) or the control route
``POST /_emulator/market``; off by default, so the catalogue's fixed stock and prices stay as they are.

The model (every knob in ``MarketConfig``):

- each pool has a base price share ``f0`` (the catalogue's derived spot price / pay-as-you-go) and a contention
  ``c`` in [0, 1]: cheap pools are contested (``c`` falls as ``f0`` rises, plus noise), dear ones calm;
- its base hazard is ``hazardMin * (hazardMax / hazardMin) ** c`` per instance-day;
- a pool's day ``d`` has a pressure ``z_d`` (AR(1): ``z_d = 0.7 z_{d-1} + N(0, volatility)``): the hazard that
  day is ``base * exp(z_d)``, the price share ``f0 * exp(z_d / 4)`` (busy days are dearer);
- a pool is sold out on a day with probability ``soldOutMin + (soldOutMax - soldOutMin) * c``;
- the market begins 30 days before it is switched on (day -30), so its advice is meaningful at once.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, field
from typing import Any

from aliyun_ops.emulator.models.catalogue import Catalogue, PricePoint

DAY = 86400.0
HISTORY_DAYS = 30
HORIZON_DAYS = 400  # a reclaim drawn later than this after its arming is not scheduled (never in a month's run)
AR = 0.7
KNOWN_KEYS = ("enabled", "seed", "hazardMin", "hazardMax", "volatility", "soldOutMin", "soldOutMax", "noticeSeconds")


@dataclass(frozen=True)
class MarketConfig:
    """The scenario's ``market`` section; every key optional."""

    enabled: bool = False
    seed: int = 1
    hazard_min: float = 0.003  # reclaims per instance-day in the calmest pool, on an average day
    hazard_max: float = 0.25  # ... in the most contested one
    volatility: float = 0.35  # the standard deviation of the daily pressure's innovation
    sold_out_min: float = 0.01  # the share of days a calm pool is sold out
    sold_out_max: float = 0.15  # ... a contested one
    notice_seconds: float | None = None  # None: the scenario's timing.spotNoticeSeconds


def _number(section: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"market.{key} must be a number between {low:g} and {high:g}")
    return float(value)


def load_market(section: Any) -> MarketConfig:
    """The ``market`` section (None or {} = off); a malformed value or an unknown key raises ValueError."""
    if section is None:
        return MarketConfig()
    if not isinstance(section, dict):
        raise ValueError("the market section must be an object")
    unknown = sorted(set(section) - set(KNOWN_KEYS))
    if unknown:
        raise ValueError(f"unknown market key(s) {', '.join(unknown)}; known: {', '.join(KNOWN_KEYS)}")
    enabled = section.get("enabled", False)
    seed = section.get("seed", 1)
    if not isinstance(enabled, bool):
        raise ValueError("market.enabled must be true or false")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("market.seed must be an integer")
    hazard_min = _number(section, "hazardMin", 0.003, 0.0, 100.0)
    notice = section.get("noticeSeconds")
    return MarketConfig(
        enabled=enabled,
        seed=seed,
        hazard_min=hazard_min,
        hazard_max=_number(section, "hazardMax", max(0.25, hazard_min), hazard_min, 100.0),
        volatility=_number(section, "volatility", 0.35, 0.0, 3.0),
        sold_out_min=_number(section, "soldOutMin", 0.01, 0.0, 1.0),
        sold_out_max=_number(section, "soldOutMax", 0.15, 0.0, 1.0),
        notice_seconds=None if notice is None else _number(section, "noticeSeconds", 300.0, 0.0, 86400.0),
    )


@dataclass
class Pool:
    """One (zone, type): its fixed character and the days generated so far (index 0 is day -30)."""

    zone_id: str
    type_id: str
    origin: float
    base_share: float
    contention: float
    base_hazard: float
    sold_out_share: float
    rng: random.Random
    pressure: list[float] = field(default_factory=list)
    in_stock: list[bool] = field(default_factory=list)


class Market:
    """The market of one backend, anchored at ``start`` (its day 0 begins then)."""

    def __init__(self, config: MarketConfig, catalogue: Catalogue, start: float) -> None:
        self.config = config
        self.start = start
        self.pools: dict[tuple[str, str], Pool] = {}
        for region in catalogue.regions:
            for zone in region["zones"]:
                for type_id in catalogue.types:
                    if type_id in catalogue.payg:
                        self.pools[(zone["zoneId"], type_id)] = self._pool(catalogue, zone["zoneId"], type_id)

    def _pool(self, catalogue: Catalogue, zone_id: str, type_id: str) -> Pool:
        cfg = self.config
        rng = random.Random(f"{cfg.seed}/{zone_id}/{type_id}")  # str seeds hash with SHA-512: stable across runs
        origin = catalogue.origin_price(zone_id, type_id)
        share = catalogue.derived_spot(zone_id, type_id) / origin if origin else 0.2
        contention = min(1.0, max(0.0, (0.26 - share) / 0.16 + rng.gauss(0.0, 0.2)))
        ratio = cfg.hazard_max / cfg.hazard_min if cfg.hazard_min > 0 else 1.0
        base_hazard = cfg.hazard_min * ratio**contention if cfg.hazard_min > 0 else cfg.hazard_max * contention
        sold_out = cfg.sold_out_min + (cfg.sold_out_max - cfg.sold_out_min) * contention
        return Pool(zone_id, type_id, origin, share, contention, base_hazard, sold_out, rng)

    # ---- the paths
    def day_of(self, t: float) -> int:
        return math.floor((t - self.start) / DAY)

    def day_start(self, day: int) -> float:
        return self.start + day * DAY

    def _grow(self, pool: Pool, day: int) -> int:
        """The index of ``day`` in the pool's lists, generating the days up to it in order."""
        index = day + HISTORY_DAYS
        if index < 0:
            index = 0
        while len(pool.pressure) <= index:
            last = pool.pressure[-1] if pool.pressure else 0.0
            pool.pressure.append(AR * last + pool.rng.gauss(0.0, self.config.volatility))
            pool.in_stock.append(pool.rng.random() >= pool.sold_out_share)
        return index

    def pool(self, zone_id: str, type_id: str) -> Pool | None:
        return self.pools.get((zone_id, type_id))

    def hazard(self, pool: Pool, day: int) -> float:
        """Reclaims per instance-day on ``day``."""
        return pool.base_hazard * math.exp(pool.pressure[self._grow(pool, day)])

    def share(self, pool: Pool, day: int) -> float:
        """The spot price as a share of pay-as-you-go on ``day`` (between 0.05 and 1)."""
        return min(1.0, max(0.05, pool.base_share * math.exp(pool.pressure[self._grow(pool, day)] / 4)))

    def price(self, pool: Pool, day: int) -> float:
        return round(pool.origin * self.share(pool, day), 4)

    def in_stock(self, pool: Pool, day: int) -> bool:
        return pool.in_stock[self._grow(pool, day)]

    # ---- what the API reads
    def advice(self, pool: Pool, now: float) -> tuple[float, float]:
        """(mean hazard per instance-day, mean price share) over the 30 days before ``now``, time-weighted."""
        lo = now - HISTORY_DAYS * DAY
        hazard = share = 0.0
        for day in range(self.day_of(lo), self.day_of(now) + 1):
            span = min(now, self.day_start(day + 1)) - max(lo, self.day_start(day))
            if span > 0:
                hazard += self.hazard(pool, day) * span
                share += self.share(pool, day) * span
        total = HISTORY_DAYS * DAY
        return hazard / total, share / total

    def cost(self, zone_id: str, type_id: str, t0: float, t1: float) -> float:
        """What one spot instance of this pool costs from ``t0`` to ``t1`` (hourly prices, to the second)."""
        pool = self.pools.get((zone_id, type_id))
        if pool is None or t1 <= t0:
            return 0.0
        total = 0.0
        for day in range(self.day_of(t0), self.day_of(t1) + 1):
            span = min(t1, self.day_start(day + 1)) - max(t0, self.day_start(day))
            if span > 0:
                total += self.price(pool, day) * span / 3600.0
        return total

    def reclaim_at(self, pool: Pool, armed: float, draw: float) -> float | None:
        """When an instance armed at ``armed`` is reclaimed, for a unit exponential ``draw``: the time at which
        the pool's hazard integrated from ``armed`` reaches ``draw`` (None: beyond the horizon)."""
        left, t = draw, armed
        for day in range(self.day_of(armed), self.day_of(armed) + HORIZON_DAYS):
            end = self.day_start(day + 1)
            rate = self.hazard(pool, day) / DAY
            if rate > 0 and rate * (end - t) >= left:
                return t + left / rate
            left -= rate * (end - t)
            t = end
        return None

    def draw(self, instance_id: str, generation: int) -> float:
        """A unit exponential, the same for the same seed, instance and generation."""
        u = random.Random(f"{self.config.seed}/reclaim/{instance_id}/{generation}").random()
        return -math.log(1.0 - u)

    # ---- what the catalogue shows
    def history(self, pool: Pool, upto: float) -> list[PricePoint]:
        """One price point per day from day -30 to the day of ``upto``."""
        return [
            PricePoint(self.day_start(day), self.price(pool, day), pool.origin)
            for day in range(-HISTORY_DAYS, self.day_of(upto) + 1)
        ]

    def apply_day(self, catalogue: Catalogue, day: int) -> None:
        """The catalogue on ``day``: every pool's spot stock, and its price appended to the history."""
        for pool in self.pools.values():
            catalogue.set_stock(pool.zone_id, pool.type_id, True, self.in_stock(pool, day))
            catalogue.history.setdefault((pool.zone_id, pool.type_id), []).append(
                PricePoint(self.day_start(day), self.price(pool, day), pool.origin)
            )

    def install(self, catalogue: Catalogue, now: float) -> None:
        """Replace the catalogue's spot stock and price history of every pool by the market's, up to ``now``."""
        for pool in self.pools.values():
            catalogue.history[(pool.zone_id, pool.type_id)] = self.history(pool, now)
            catalogue.set_stock(pool.zone_id, pool.type_id, True, self.in_stock(pool, self.day_of(now)))


def interruption_rate_desc(rate_percent: float) -> str:
    """The documented buckets of ``InterruptRateDesc``: 0-3%, 3-5%, 5-10%, 10-100%."""
    if rate_percent < 3:
        return "0-3%"
    if rate_percent < 5:
        return "3-5%"
    if rate_percent < 10:
        return "5-10%"
    return "10-100%"


def static_advice(catalogue: Catalogue, zone_id: str, type_id: str) -> tuple[float, float]:
    """Without a market: (hazard per instance-day, price share) of a pool from the catalogue alone: its current
    spot share, and a hazard that rises as the pool gets cheaper (0.01% to 0.5% a day: 0.3% to 14% of instances
    reclaimed over the advice's 30 days), stable across runs."""
    origin = catalogue.origin_price(zone_id, type_id)
    share = catalogue.spot_price(zone_id, type_id) / origin if origin else 0.2
    jitter = 0.8 + (zlib.crc32(f"advice/{zone_id}/{type_id}".encode()) % 400) / 1000
    contention = min(1.0, max(0.0, (0.26 - share) / 0.16))
    return 0.0001 * 50**contention * jitter, share

