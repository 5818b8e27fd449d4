"""Where and as what to relaunch a reclaimed spot instance: pure ranking over plain records.

Tiers, best first:
  1. the same type in the same zone (the original vSwitch);
  2. the same type in another zone of the same VPC that has a vSwitch;
  3. equivalent types: same CPU architecture, a GPU only if the original had one (then the same GPU
     spec and at least as many GPUs), vCPU and memory each at least the original's; ranked by current
     spot price, then closeness in size, then family similarity (same family > same line > other);
  4. optionally (off by default) pay-as-you-go, when no spot candidate can be launched.
Only WithStock offerings count; (type, zone) pairs recently interrupted or sold out are skipped; a
maximum price drops dearer offerings and makes every spot candidate SpotWithPriceLimit. Every option
left out is listed in ``Plan.skipped`` with the reason, so a dry run explains itself. The caller tries
the candidates in order and moves on at OperationDenied.NoStock.

Risk placement (``placement="risk"``, the default setting; ``"price"`` keeps the ranking above):
  - each spot candidate has a score, its expected cost of ownership per hour:
        score = spot price + hazard per hour x cost of one interruption
    where rate is DescribeSpotAdvice's InterruptionRate of its (type, zone), percent over the last 30 days
    (HOURS_PER_ADVICE = 720 h: the rate is read as the share of instances reclaimed in that window, so a
    Poisson hazard per hour is -ln(1 - rate/100) / 720, about rate / 100 / 720 for small rates), and one
    interruption costs ``interruption_cost`` CNY when given, else ``interruption_cost_hours`` hours of the
    original type's pay-as-you-go price (the incident, the outage, the work and data at risk: what is
    interrupted is the workload, so one interruption costs the same whatever type it runs on; the candidate's
    own pay-as-you-go price only when the original's was not read). A pool the advice does not list counts as
    the most contested pool it does list;
  - tiers where they matter: the same type keeps tiers 1-2 (same zone first) while it is *calm*, its rate
    below ``calm_rate`` percent (or not listed: no evidence against it); a contested same type competes with
    the equivalents on score, so a calm equivalent can win. ``keep_zone`` still comes before everything;
  - equivalents (and contested same types) rank by score, then by the tier-3 keys;
  - no advice at all (the read failed or was denied): the price ranking, with a note.
Risk only reorders: every filter and limit below applies to every candidate as before.

No surprise bill (``Plan.limits``):
  - size: a type other than the original's with more than ``max_size_ratio`` x its vCPU or x its memory is
    left out, spot and pay-as-you-go alike;
  - price: the reference is the original type's price in its zone, min(spot, pay-as-you-go) (another zone's,
    the cheapest, when its zone has none). A spot candidate above ``max_price_ratio`` x the reference is left
    out; one whose price was not read (``gather`` reads one price when the same type can launch) is kept but
    launched SpotWithPriceLimit at that most, so Aliyun itself refuses it when dearer
    (InvalidSpotPriceLimit.LowerThanPublicPrice: the caller moves on) and never bills more. A pay-as-you-go
    fallback (tier 4, which the user chose to pay) is compared with ratio x the original type's
    pay-as-you-go price; one whose price was not read is left out. When the original's price is unknown the
    price limit cannot apply: ``Plan.limits.notes`` says so, and the size limit still holds.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from aliyun_ops.families import (
    choose_system_disk,
    family_relation,
    matches_family,
    not_equivalent,
    supported_system_disks,
    type_of_instance,
)
from aliyun_ops.models import (
    Candidate,
    Instance,
    InstanceType,
    Limits,
    Offering,
    Plan,
    SpotAdvice,
    SpotPrice,
    VSwitch,
)

__all__ = [
    "RiskModel",
    "UnavailableOfferings",
    "choose_system_disk",
    "equivalent_type_filter",
    "price_shortlist",
    "rank_candidates",
]

_UNKNOWN_PRICE = float("inf")
HOURS_PER_ADVICE = 720.0  # DescribeSpotAdvice's window: the last 30 days
ESTIMATE_ERROR = 0.25  # how far an unread price estimated from the advice may be off (see price_shortlist)
PAYG_CPU_WEIGHT = 2 / 3  # pay-as-you-go price by size, estimated before a price read: vCPU ratio x 2/3 + memory x 1/3


@dataclasses.dataclass(frozen=True)
class RiskModel:
    """How interruption risk enters the ranking (see the module): the advice rows and the cost knobs."""

    advice: tuple[SpotAdvice, ...] = ()
    interruption_cost_hours: float = 24.0
    interruption_cost: float | None = None  # CNY per interruption; replaces the hours when set
    calm_rate: float = 3.0  # percent over 30 days

    def rates(self) -> dict[tuple[str, str], SpotAdvice]:
        return {(a.instance_type, a.zone_id): a for a in self.advice}

    def cost_of_interruption(self, workload_payg: float | None) -> float:
        """CNY one interruption costs: ``interruption_cost``, else the hours of the workload's pay-as-you-go price
        (the original type's: the same workload is interrupted whatever type it runs on)."""
        if self.interruption_cost is not None:
            return self.interruption_cost
        return self.interruption_cost_hours * (workload_payg or 0.0)

    def hourly_risk(self, rate: float, workload_payg: float | None) -> float:
        """Expected interruption cost per hour of a pool with this 30-day rate (percent)."""
        return hazard_per_hour(rate) * self.cost_of_interruption(workload_payg)


def hazard_per_hour(rate: float) -> float:
    """Reclaims per instance-hour of a pool whose advice says ``rate`` percent were reclaimed in 720 h (Poisson)."""
    share = min(max(rate, 0.0), 99.9) / 100.0  # 100% would be an infinite hazard
    return -math.log1p(-share) / HOURS_PER_ADVICE


class _Ranking:
    """What every option is judged against: the original, the catalog, prices, vSwitches, filters."""

    def __init__(
        self,
        original: Instance,
        original_type: InstanceType | None,
        catalog: Sequence[InstanceType],
        prices: Sequence[SpotPrice],
        vswitches: Sequence[VSwitch],
        allow: Sequence[str],
        deny: Sequence[str],
    ) -> None:
        self.original = original
        self.catalog = {t.type_id: t for t in catalog}
        self.original_type = original_type or self.catalog.get(original.instance_type)
        self.same_type = self.original_type or type_of_instance(original)
        self.allow, self.deny = tuple(allow), tuple(deny)
        self.prices = _latest_prices(prices)
        self.vswitches = _vswitch_by_zone(original, vswitches)
        self.full_zones = _full_zones(original, vswitches, self.vswitches)
        self.keep_zone = False
        self.data_categories: tuple[str, ...] = ()
        self.limits = Limits()
        self.calm_rate = 3.0  # percent over 30 days (risk placement)

    def reject(self, offering: Offering) -> str:
        """Why this offering cannot be a candidate at all, or ""."""
        if not offering.in_stock:
            return f"{offering.status}/{offering.status_category}: not WithStock"
        if offering.zone_id in self.full_zones:
            return f"every vSwitch of {self.original.vpc_id} in {offering.zone_id} is out of private addresses"
        if offering.zone_id not in self.vswitches:
            return f"no vSwitch of {self.original.vpc_id or 'the VPC'} in {offering.zone_id}"
        itype = self.itype(offering.instance_type)
        if itype is None:
            if self.original_type is None:
                return f"the original type {self.original.instance_type} is not in the catalog: no equivalents"
            return "not in the instance type catalog"
        if any(matches_family(itype, f) for f in self.deny):
            return f"family {itype.family} is denied"
        if self.allow and not any(matches_family(itype, f) for f in self.allow):
            return f"family {itype.family} is not in the allowed families"
        if itype.type_id != self.same_type.type_id and self.original_type is not None:
            why = not_equivalent(self.original_type, itype) or self._too_large(itype)
            if why:
                return why
        if self.keep_zone and offering.zone_id == self.original.zone_id:
            supported = supported_system_disks(itype)
            refused = sorted({c for c in self.data_categories if supported is not None and c not in supported})
            if refused:  # a disk attaches as it is: only a copy (another zone) can change its category
                family = itype.family or itype.type_id
                return f"family {family} does not take the data disk category {', '.join(refused)}"
        return ""

    def _too_large(self, itype: InstanceType) -> str:
        lim, orig = self.limits, self.same_type
        if lim.max_size_ratio is None or lim.max_cpu is None or lim.max_memory_gib is None:
            return ""
        if itype.cpu > lim.max_cpu + 1e-9 or itype.memory_gib > lim.max_memory_gib + 1e-9:
            return (
                f"{itype.cpu} vCPU/{itype.memory_gib:g} GiB: larger than {lim.max_size_ratio:g}x the original's "
                f"{orig.cpu} vCPU/{orig.memory_gib:g} GiB (size limit)"
            )
        return ""

    def over_price(self, c: Candidate) -> str:
        """Why this candidate breaks the price limit, or "" (also when the limit cannot apply)."""
        lim = self.limits
        if c.tier == 4:
            if lim.max_payg_price is None or lim.payg_reference is None or lim.max_price_ratio is None:
                return ""
            if c.origin_price is None or c.origin_price <= 0:
                return f"pay-as-you-go price unknown, cannot check it against the limit {lim.max_payg_price:.4f}/h"
            if c.origin_price > lim.max_payg_price + 1e-9:
                return (
                    f"pay-as-you-go {c.origin_price:.4f}/h above the price limit {lim.max_payg_price:.4f}/h "
                    f"({lim.max_price_ratio:g}x the original's pay-as-you-go {lim.payg_reference:.4f}/h)"
                )
            return ""
        if lim.max_price is None or lim.reference_price is None or lim.max_price_ratio is None:
            return ""
        if c.spot_price is None:
            if _launch_limit(lim.max_price) <= 0:
                return f"spot price unknown and the price limit {lim.max_price:.4f}/h is below 0.001/h"
            return ""  # launched SpotWithPriceLimit at the limit: Aliyun refuses it when dearer
        if c.spot_price > lim.max_price + 1e-9:
            return (
                f"spot {c.spot_price:.4f}/h above the price limit {lim.max_price:.4f}/h "
                f"({lim.max_price_ratio:g}x the original's {lim.reference_price:.4f}/h)"
            )
        return ""

    def itype(self, type_id: str) -> InstanceType | None:
        if type_id == self.same_type.type_id:
            return self.same_type
        return self.catalog.get(type_id) if self.original_type is not None else None

    def candidate(self, offering: Offering, *, payg: bool, max_price: float | None) -> Candidate:
        itype = self.itype(offering.instance_type)
        assert itype is not None  # reject() said so
        zone = offering.zone_id
        price = self.prices.get((itype.type_id, zone))
        same = itype.type_id == self.same_type.type_id
        tier = 4 if payg else 1 if same and zone == self.original.zone_id else 2 if same else 3
        limit = None if payg or max_price is None else max_price
        guard = self.limits.max_price if price is None and not payg and limit is None else None
        if guard is not None and self.limits.reference_price is not None:
            limit = _launch_limit(guard)  # an unread price: the API holds the limit (see the module)
        return Candidate(
            zone_id=zone,
            vswitch_id=self.vswitches[zone],
            itype=itype,
            spot_strategy="NoSpot" if payg else "SpotWithPriceLimit" if limit is not None else "SpotAsPriceGo",
            spot_price_limit=limit,
            spot_price=None if price is None or payg else price.spot_price,
            origin_price=None if price is None else price.origin_price,
            reason=self._reason(itype, zone, tier, price, payg, limit),
            tier=tier,
        )

    def _reason(
        self, itype: InstanceType, zone: str, tier: int, price: SpotPrice | None, payg: bool, limit: float | None
    ) -> str:
        if itype.type_id == self.same_type.type_id:
            what = "same type, same zone" if zone == self.original.zone_id else f"same type, other zone {zone}"
        else:
            orig = self.same_type
            what = (
                f"equivalent {itype.type_id} ({itype.cpu} vCPU/{itype.memory_gib:g} GiB vs "
                f"{orig.cpu}/{orig.memory_gib:g}, {family_relation(orig, itype)[1]})"
            )
        if self.keep_zone:
            what += ": data disks attach as they are" if zone == self.original.zone_id else ": data disks copied here"
        if payg:
            shown = f", pay-as-you-go {price.origin_price:.4f}/h" if price else ""
            return f"pay-as-you-go fallback: {what}{shown}"
        if price is None and limit is not None:
            return what + f", spot price unknown: launched SpotWithPriceLimit at most {limit:.3f}/h"
        return what + (f", spot {price.spot_price:.4f}/h" if price else ", spot price unknown")

    def risk_key(self, c: Candidate) -> tuple[Any, ...]:
        """The risk placement's order (see the module); pay-as-you-go keeps the price order (never reclaimed)."""
        if c.tier == 4:
            return self.sort_key(c)
        same = c.itype.type_id == self.same_type.type_id
        calm_same = same and self.is_calm(c)
        other_zone = c.zone_id != self.original.zone_id
        orig = self.same_type
        distance = (c.itype.cpu - orig.cpu) / max(orig.cpu, 1) + (c.itype.memory_gib - orig.memory_gib) / max(
            orig.memory_gib, 0.5
        )
        return (
            False,
            self.keep_zone and other_zone,
            not calm_same,
            c.tier if calm_same else 0,
            _UNKNOWN_PRICE if c.score is None else round(c.score, 6),
            not same,
            same and other_zone,
            round(distance, 6),
            family_relation(orig, c.itype)[0],
            other_zone,
            c.itype.type_id,
            c.zone_id,
        )

    def is_calm(self, c: Candidate) -> bool:
        return c.interruption_rate is None or c.interruption_rate < self.calm_rate - 1e-9

    def sort_key(self, c: Candidate) -> tuple[Any, ...]:
        price = c.origin_price if c.tier == 4 else c.spot_price
        same = c.itype.type_id == self.same_type.type_id
        orig = self.same_type
        distance = (c.itype.cpu - orig.cpu) / max(orig.cpu, 1) + (c.itype.memory_gib - orig.memory_gib) / max(
            orig.memory_gib, 0.5
        )
        other_zone = c.zone_id != self.original.zone_id
        return (
            c.tier == 4,
            self.keep_zone and other_zone,  # the data disks live in the original zone: moving them is free there
            c.tier,
            not same,  # the pay-as-you-go tier, too, prefers the same type, in the same zone first
            same and other_zone,
            _UNKNOWN_PRICE if price is None else round(price, 6),
            round(distance, 6),
            family_relation(orig, c.itype)[0],
            other_zone,
            c.itype.type_id,
            c.zone_id,
        )


def rank_candidates(
    original: Instance,
    original_type: InstanceType | None,
    catalog: Sequence[InstanceType],
    offerings: Sequence[Offering],
    prices: Sequence[SpotPrice],
    vswitches: Sequence[VSwitch],
    *,
    unavailable: frozenset[tuple[str, str]] = frozenset(),
    max_price: float | None = None,
    allow_families: Sequence[str] = (),
    deny_families: Sequence[str] = (),
    payg_offerings: Sequence[Offering] = (),
    payg_fallback: bool = False,
    keep_zone: bool = False,
    data_categories: Sequence[str] = (),
    max_price_ratio: float | None = None,
    max_size_ratio: float | None = None,
    placement: str = "price",
    risk: RiskModel | None = None,
) -> Plan:
    """Rank every launch option for ``original``, best first; list every option left out and why.

    ``keep_zone`` (the data disks move with the lineage, and disks are zonal): every spot candidate in the
    original zone ranks before any in another zone, where the disks would have to be copied through a snapshot.
    ``max_price_ratio`` / ``max_size_ratio`` (None or 0: off): the bill limits of the module docstring.
    ``placement`` "risk" with ``risk`` (its advice and cost knobs): the risk placement of the module docstring.
    """
    ranking = _Ranking(original, original_type, catalog, prices, vswitches, allow_families, deny_families)
    ranking.keep_zone = keep_zone
    ranking.data_categories = tuple(data_categories)
    ranking.limits = _limits(ranking, max_price_ratio or None, max_size_ratio or None, payg_fallback)
    candidates: list[Candidate] = []
    skipped: list[tuple[str, str]] = []
    for offering in _dedupe(offerings):
        what = f"{offering.instance_type}@{offering.zone_id}"
        why = ranking.reject(offering)
        if not why and (offering.instance_type, offering.zone_id) in unavailable:
            why = "interrupted or sold out in the last minutes"
        if why:
            skipped.append((what, why))
            continue
        candidate = ranking.candidate(offering, payg=False, max_price=max_price)
        if max_price is not None and candidate.spot_price is None:
            # The cap is a promise to the user: a price we could not read cannot be shown to keep it.
            skipped.append((what, f"spot price unknown, cannot check it against the maximum {max_price:.4f}/h"))
            continue
        if max_price is not None and candidate.spot_price is not None and candidate.spot_price > max_price:
            skipped.append((what, f"spot price {candidate.spot_price:.4f}/h above the maximum {max_price:.4f}/h"))
            continue
        why = ranking.over_price(candidate)
        if why:
            skipped.append((what, why))
            continue
        candidates.append(candidate)
    notes = _notes(original, ranking, offerings, candidates)
    if keep_zone:
        notes.append(f"data disks live in {original.zone_id}: candidates there first (no copy needed)")
    key = ranking.sort_key
    if placement == "risk":
        candidates, risk_note = _with_risk(ranking, candidates, risk or RiskModel())
        notes.append(risk_note)
        if risk is not None and risk.advice:
            key = ranking.risk_key
    if payg_fallback:
        candidates += _payg_candidates(ranking, payg_offerings, skipped)
    elif payg_offerings:
        notes.append("pay-as-you-go fallback is off: pay-as-you-go offerings not considered")
    return Plan(
        original=original,
        candidates=tuple(sorted(candidates, key=key)),
        skipped=tuple(skipped),
        notes=tuple(notes),
        limits=ranking.limits,
    )


def _with_risk(ranking: _Ranking, candidates: list[Candidate], risk: RiskModel) -> tuple[list[Candidate], str]:
    """Each spot candidate with its pool's rate, bucket and score; the note that says how it was ranked."""
    if not risk.advice:
        return candidates, "placement: risk, but no spot advice could be read: ranked by price alone"
    ranking.calm_rate = risk.calm_rate
    rates = risk.rates()
    known = [rates[k].interruption_rate for c in candidates if (k := (c.itype.type_id, c.zone_id)) in rates]
    worst = max(known, default=0.0)
    own = _reference(ranking.original, ranking.prices)
    workload_payg = own.origin_price if own is not None and own.origin_price > 0 else None
    out = []
    for c in candidates:
        found = rates.get((c.itype.type_id, c.zone_id))
        rate = found.interruption_rate if found is not None else None
        scored_rate = worst if rate is None else rate
        score = None
        if c.spot_price is not None:
            score = c.spot_price + risk.hourly_risk(scored_rate, workload_payg or c.origin_price)
        desc = found.rate_desc if found is not None else ""
        reason = c.reason + (f", risk {rate:g}%/30d ({desc})" if rate is not None else ", risk unknown")
        if score is not None:
            reason += f", score {score:.4f}/h"
        out.append(dataclasses.replace(c, interruption_rate=rate, rate_desc=desc, score=score, reason=reason))
    cost = (
        f"{risk.interruption_cost:g} CNY"
        if risk.interruption_cost is not None
        else f"{risk.interruption_cost_hours:g} h of the original's pay-as-you-go price"
    )
    note = (
        f"placement: risk: score = spot price + -ln(1 - rate/100)/{HOURS_PER_ADVICE:g} h x {cost} per interruption; "
        f"the same type first while calm (rate below {risk.calm_rate:g}%)"
    )
    return out, note


def price_shortlist(
    original_type: InstanceType,
    types: Sequence[InstanceType],
    advice: Sequence[SpotAdvice],
    launchable: Collection[tuple[str, str]],
    own_prices: Sequence[SpotPrice],
    risk: RiskModel,
    count: int,
    max_price_ratio: float | None = None,
) -> list[str]:
    """The ``count`` types other than the original most worth a spot price read (one call each) when the original
    type is contested: those whose best pool promises the lowest score, estimated without their prices.

    A pool is a (type, zone) in ``launchable`` (in stock where the VPC has a vSwitch) with an advice row. Its
    price is estimated as its AverageSpotDiscount x the type's pay-as-you-go price, itself estimated from the
    original's (``own_prices``) by size: PAYG_CPU_WEIGHT of the vCPU ratio plus the rest of the memory ratio
    (list prices grow with both, vCPU dearer). Its score is that price plus the risk of its rate, as the ranking
    computes it. Pools whose estimate is over the price limit (``max_price_ratio`` x the original's price) by more
    than ESTIMATE_ERROR come after every other pool: the estimate can be that far off (pay-as-you-go prices of
    one size differ between generations, a day's spot price from its 30-day average; an assumed margin), and a
    calm pool just under the limit is the one worth the read. Types without such a pool come last; ties keep
    the order of ``types`` (closest in size first). Without the original's price nothing can be estimated: the
    first ``count`` types.
    """
    others = [t for t in types if t.type_id != original_type.type_id]
    latest = _latest_prices(own_prices)
    ref = _reference_of(original_type.type_id, latest, "")
    if ref is None or ref.origin_price <= 0:
        return [t.type_id for t in others[:count]]
    payg0, reference = ref.origin_price, _cheaper(ref)
    limit = None if not max_price_ratio else max_price_ratio * reference
    rows = risk.rates()
    order = {t.type_id: i for i, t in enumerate(others)}

    def best(t: InstanceType) -> tuple[bool, float, int]:
        size = PAYG_CPU_WEIGHT * t.cpu / max(original_type.cpu, 1) + (1 - PAYG_CPU_WEIGHT) * t.memory_gib / max(
            original_type.memory_gib, 0.5
        )
        keys = [(True, _UNKNOWN_PRICE, order[t.type_id])]
        for (type_id, zone), row in rows.items():
            if type_id != t.type_id or (type_id, zone) not in launchable or row.average_discount is None:
                continue
            spot = row.average_discount / 100.0 * payg0 * size
            over = limit is not None and spot > (1 + ESTIMATE_ERROR) * limit + 1e-9
            keys.append((over, spot + risk.hourly_risk(row.interruption_rate, payg0), order[t.type_id]))
        return min(keys)

    return [t.type_id for t in sorted(others, key=best)[:count]]


def _payg_candidates(
    ranking: _Ranking, offerings: Sequence[Offering], skipped: list[tuple[str, str]]
) -> list[Candidate]:
    """Tier 4: the same filters and size limit, no spot price cap nor spot interruption memory; the price
    limit against the original's pay-as-you-go price."""
    found = []
    for offering in _dedupe(offerings):
        what = f"pay-as-you-go {offering.instance_type}@{offering.zone_id}"
        why = ranking.reject(offering)
        if why:
            skipped.append((what, why))
            continue
        candidate = ranking.candidate(offering, payg=True, max_price=None)
        why = ranking.over_price(candidate)
        if why:
            skipped.append((what, why))
        else:
            found.append(candidate)
    return found


def _launch_limit(price: float) -> float:
    """A SpotPriceLimit RunInstances takes (three decimals) that is never above ``price``."""
    return math.floor(price * 1000 + 1e-9) / 1000


def _reference(original: Instance, latest: dict[tuple[str, str], SpotPrice]) -> SpotPrice | None:
    """The original type's price in its zone; else its cheapest zone's (the stricter); None when unread."""
    return _reference_of(original.instance_type, latest, original.zone_id)


def _reference_of(type_id: str, latest: dict[tuple[str, str], SpotPrice], zone_id: str) -> SpotPrice | None:
    own = latest.get((type_id, zone_id))
    if own is not None and own.spot_price > 0:
        return own
    others = [p for (t, _), p in latest.items() if t == type_id and p.spot_price > 0]
    return min(others, key=lambda p: (_cheaper(p), p.zone_id)) if others else None


def _cheaper(p: SpotPrice) -> float:
    return min(p.spot_price, p.origin_price) if p.origin_price > 0 else p.spot_price


def _limits(ranking: _Ranking, price_ratio: float | None, size_ratio: float | None, payg: bool) -> Limits:
    """The limits in force for this original, each written down as a line for ``plan``."""
    orig, notes = ranking.same_type, []
    max_cpu = max_mem = None
    if size_ratio is None:
        notes.append("size limit: off")
    elif ranking.original_type is None:
        notes.append("size limit: not needed (only the same type is considered)")
    else:
        max_cpu, max_mem = size_ratio * orig.cpu, size_ratio * orig.memory_gib
        notes.append(
            f"size limit: at most {size_ratio:g}x the original's {orig.cpu} vCPU/{orig.memory_gib:g} GiB "
            f"({max_cpu:g} vCPU/{max_mem:g} GiB)"
        )
    ref = _reference(ranking.original, ranking.prices) if price_ratio is not None else None
    reference = max_price = payg_ref = max_payg = None
    if price_ratio is None:
        notes.append("price limit: off")
    elif ref is None:
        notes.append(
            f"price limit not applied: the price of {ranking.original.instance_type} could not be read "
            "(the size limit still holds)"
        )
    else:
        reference = _cheaper(ref)
        max_price = price_ratio * reference
        where = "" if ref.zone_id == ranking.original.zone_id else f" in {ref.zone_id} (none read in its own zone)"
        which = "spot" if reference == ref.spot_price else "pay-as-you-go"
        notes.append(
            f"price limit: spot at most {price_ratio:g}x the original's {reference:.4f}/h "
            f"({which}, the lower of spot and pay-as-you-go{where}) = {max_price:.4f}/h"
        )
        if payg and ref.origin_price > 0:
            payg_ref, max_payg = ref.origin_price, price_ratio * ref.origin_price
            notes.append(
                f"pay-as-you-go fallback: at most {price_ratio:g}x the original's pay-as-you-go "
                f"{payg_ref:.4f}/h = {max_payg:.4f}/h"
            )
        elif payg:
            notes.append("pay-as-you-go fallback: price limit not applied (the original's price unknown)")
    return Limits(
        max_price_ratio=price_ratio,
        reference_price=reference,
        max_price=max_price,
        payg_reference=payg_ref,
        max_payg_price=max_payg,
        max_size_ratio=size_ratio,
        max_cpu=max_cpu,
        max_memory_gib=max_mem,
        notes=tuple(notes),
    )


def _notes(original: Instance, ranking: _Ranking, offerings: Sequence[Offering], found: list[Candidate]) -> list[str]:
    notes = []
    if not any(o.instance_type == original.instance_type for o in offerings):
        notes.append(f"no offering of {original.instance_type} was listed in any zone")
    if ranking.original_type is None:
        notes.append(f"{original.instance_type} is not in the catalog: only the same type was considered")
    if not found:
        notes.append("no spot candidate: every offering was left out (see skipped)")
    return notes


def _dedupe(offerings: Sequence[Offering]) -> list[Offering]:
    """One offering per (type, zone), in first-seen order; an in-stock listing wins."""
    chosen: dict[tuple[str, str], Offering] = {}
    for o in offerings:
        key = (o.instance_type, o.zone_id)
        if key not in chosen or (o.in_stock and not chosen[key].in_stock):
            chosen[key] = o
    return list(chosen.values())


def _latest_prices(prices: Sequence[SpotPrice]) -> dict[tuple[str, str], SpotPrice]:
    """The newest price per (type, zone); later entries win ties (history comes oldest first)."""
    latest: dict[tuple[str, str], SpotPrice] = {}
    for p in prices:
        key = (p.instance_type, p.zone_id)
        if key not in latest or p.timestamp >= latest[key].timestamp:
            latest[key] = p
    return latest


def _vswitch_by_zone(original: Instance, vswitches: Sequence[VSwitch]) -> dict[str, str]:
    """One vSwitch of the original's VPC per zone (most free addresses); the original's own in its zone.

    A vSwitch DescribeVSwitches lists with no free address (``AvailableIpAddressCount`` 0) is never chosen, the
    original's own included: RunInstances there is refused ``InvalidVSwitchId.IpNotEnough``."""
    by_zone: dict[str, VSwitch] = {}
    full = {v.vswitch_id for v in vswitches if v.available_ips <= 0}
    for v in sorted(vswitches, key=lambda v: (-v.available_ips, v.vswitch_id)):
        if original.vpc_id and v.vpc_id == original.vpc_id and v.vswitch_id not in full:
            by_zone.setdefault(v.zone_id, v)
    chosen = {zone: v.vswitch_id for zone, v in by_zone.items()}
    if original.vswitch_id and original.vswitch_id not in full:
        chosen[original.zone_id] = original.vswitch_id
    return chosen


def _full_zones(original: Instance, vswitches: Sequence[VSwitch], chosen: dict[str, str]) -> frozenset[str]:
    """Zones where the original's VPC has vSwitches, every one of them out of private addresses."""
    return frozenset(
        v.zone_id for v in vswitches if original.vpc_id and v.vpc_id == original.vpc_id and v.zone_id not in chosen
    )


def equivalent_type_filter(original_type: InstanceType) -> dict[str, Any]:
    """DescribeInstanceTypes request parameters that pre-select equivalent types server-side.

    Only filters the API accepts: Minimum/MaximumGPUAmount must be positive, so "no GPU" cannot be asked
    for; the answer for a GPU-less original may hold GPU types, which ``rank_candidates`` leaves out
    (``families.not_equivalent``: a GPU only if the original had one).
    """
    query: dict[str, Any] = {
        "CpuArchitecture": original_type.arch,
        "MinimumCpuCoreCount": original_type.cpu,
        "MinimumMemorySize": original_type.memory_gib,
    }
    if original_type.has_gpu:
        query["MinimumGPUAmount"] = original_type.gpu_amount
        if original_type.gpu_spec:
            query["GPUSpec"] = original_type.gpu_spec
    return query


def passes_type_filter(itype: InstanceType, original_type: InstanceType) -> bool:
    """Whether ``equivalent_type_filter(original_type)`` would have listed ``itype`` (the same filter, applied to
    a wider answer on our side)."""
    if itype.arch.upper() != original_type.arch.upper():
        return False
    if itype.cpu < original_type.cpu or itype.memory_gib + 1e-9 < original_type.memory_gib:
        return False
    if original_type.has_gpu:
        if itype.gpu_amount < original_type.gpu_amount:
            return False
        if original_type.gpu_spec and itype.gpu_spec != original_type.gpu_spec:
            return False
    return True


class UnavailableOfferings:
    """A short-lived memory of (type, zone) pairs just interrupted or sold out (thread-safe).

    Each pair is remembered until its own expiry (epoch seconds on ``clock``): ``ttl_s`` from when it was
    added, or the expiry another function instance wrote down (``recovery.soldout`` reads those)."""

    def __init__(self, ttl_s: float = 600, clock: Callable[[], float] = time.time) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def add(self, instance_type: str, zone_id: str, *, until: float | None = None, now: float | None = None) -> bool:
        """Remember the pair until ``until`` (default: now + ttl), never shortening what is known.
        True when the pair was not remembered before (a newly sold-out pair). ``now``: the caller's clock (a memory
        shared by incidents reads each incident's own cloud clock, not the one it was made with)."""
        now = self._clock() if now is None else now
        expiry = now + self._ttl if until is None else until
        key = (instance_type, zone_id)
        with self._lock:
            known = self._until.get(key, 0.0)
            if expiry > known:
                self._until[key] = expiry
            return known <= now and expiry > now

    def expiry(self, instance_type: str, zone_id: str) -> float | None:
        """Until when the pair is remembered (epoch seconds), or None when it is not (or no longer)."""
        until = self._until.get((instance_type, zone_id))
        return until if until is not None and until > self._clock() else None

    def snapshot(self, now: float | None = None) -> frozenset[tuple[str, str]]:
        """The pairs still remembered now (``now``: the caller's clock, else the memory's); expired ones are
        forgotten."""
        now = self._clock() if now is None else now
        with self._lock:
            self._until = {k: t for k, t in self._until.items() if t > now}
            return frozenset(self._until)

    def __contains__(self, key: object) -> bool:
        return key in self.snapshot()
