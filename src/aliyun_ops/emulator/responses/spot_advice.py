"""DescribeSpotAdvice: per zone, per instance type, the last 30 days' average release rate and spot discount.

From the spot market (models/market.py) when it is on: ``InterruptionRate`` is 100 x the pool's mean hazard
(reclaims per instance-day) over the last 30 emulated days, ``AverageSpotDiscount`` the mean spot price as a
whole percent of pay-as-you-go. Without the market: a static value per pool from the catalogue (its current
spot share, and a rate that rises as the pool gets cheaper). Shape, units and buckets: the official SDK model
and its documentation (docs/emulator-fidelity.md).
"""

from __future__ import annotations

import math
from typing import Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator import params as p
from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.models.catalogue import InstanceTypeSpec
from aliyun_ops.emulator.models.market import interruption_rate_desc, static_advice
from aliyun_ops.emulator.responses.base import Params, region, register


def family_level(t: InstanceTypeSpec) -> str:
    """As DescribeInstanceTypes lists it (responses/catalogue.py)."""
    return "CreditEntryLevel" if t.family == "ecs.t6" else "EnterpriseLevel"


def _wanted(t: InstanceTypeSpec, params: Params, ids: list[str]) -> bool:
    """Every filter given holds (``InstanceTypes.N`` alone, or with the others)."""
    checks = [
        (not ids) or t.type_id in ids,
        p.get_int(params, "Cores") in (None, t.cpu),
        p.get_float(params, "Memory") in (None, t.memory_gib),
        (p.get_int(params, "MinCores") or 0) <= t.cpu,
        (p.get_float(params, "MinMemory") or 0.0) <= t.memory_gib,
        p.get_str(params, "InstanceTypeFamily") in (None, t.family),
        p.get_str(params, "InstanceFamilyLevel") in (None, family_level(t)),
        p.get_str(params, "GpuSpec") in (None, t.gpu_spec),
        p.get_int(params, "GpuAmount") in (None, t.gpu_amount),
    ]
    return all(checks)


def _check_filters(params: Params) -> None:
    """The documented ways of calling it (the DescribeSpotAdvice reference): ``Cores`` with ``Memory``, or ``MinCores``
    with ``MinMemory``; ``InstanceTypes.N``; or one of those pairs with ``InstanceTypeFamily`` or
    ``InstanceFamilyLevel``. A half pair, or a family filter without a pair, is refused (an assumption: the reference
    lists no other way; docs/emulator-fidelity.md "Issue 21: launches and calls"). Filters given together all hold."""
    given = {k for k in ("Cores", "Memory", "MinCores", "MinMemory") if params.get(k) not in (None, "")}
    for a, b in (("Cores", "Memory"), ("MinCores", "MinMemory")):
        if (a in given) != (b in given):
            raise exc.InvalidSpotAdviceFilter(f'The parameter "{a}" is only valid together with "{b}".')
    family = [k for k in ("InstanceTypeFamily", "InstanceFamilyLevel") if params.get(k) not in (None, "")]
    if family and not given:
        raise exc.InvalidSpotAdviceFilter(
            f'The parameter "{family[0]}" is only valid with Cores and Memory, or MinCores and MinMemory.'
        )


def advice_row(backend: Backend, zone_id: str, type_id: str) -> dict[str, Any]:
    """One AvailableSpotResource."""
    market = backend.market
    pool = market.pool(zone_id, type_id) if market is not None else None
    if market is not None and pool is not None:
        hazard, share = market.advice(pool, backend.clock.now())
    else:
        hazard, share = static_advice(backend.catalogue, zone_id, type_id)
    # InterruptionRate: the share (percent) of instances reclaimed over the 30-day window, for a Poisson hazard of
    # ``hazard`` reclaims per instance-day (an assumption shared with the planner: docs/emulator-fidelity.md §9).
    rate = round(100.0 * (1.0 - math.exp(-ADVICE_DAYS * hazard)), 2)
    return {
        "InstanceType": type_id,
        "InterruptionRate": rate,
        "InterruptRateDesc": interruption_rate_desc(rate),
        "AverageSpotDiscount": min(100, max(1, round(100.0 * share))),
    }


ADVICE_DAYS = 30.0  # the advice's window


@register("ecs", "DescribeSpotAdvice")
def describe_spot_advice(backend: Backend, params: Params) -> dict[str, Any]:
    """Every zone of the region (or ``ZoneId``) with the types the filters keep, each zone's rows by
    ascending ``AverageSpotDiscount`` (the docs: ordered by the historical average discount); a zone with no
    row is left out."""
    region_id = region(backend, params)
    cat = backend.catalogue
    ids = p.get_list(params, "InstanceTypes")
    if len(ids) > 10:
        raise exc.InvalidInstanceTypesCount()
    _check_filters(params)
    zone_filter = p.get_str(params, "ZoneId")
    if zone_filter is not None:
        cat.check_zone(region_id, zone_filter)
    types = [t for t in cat.types.values() if t.type_id in cat.payg and _wanted(t, params, ids)]
    zones = []
    for zone_id in cat.zone_ids(region_id):
        if zone_filter not in (None, zone_id):
            continue
        rows = sorted((advice_row(backend, zone_id, t.type_id) for t in types),
                      key=lambda r: (r["AverageSpotDiscount"], r["InstanceType"]))
        if rows:
            zones.append({"ZoneId": zone_id, "AvailableSpotResources": {"AvailableSpotResource": rows}})
    return {"RegionId": region_id, "AvailableSpotZones": {"AvailableSpotZone": zones}}
