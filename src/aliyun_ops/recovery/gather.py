"""Everything the planner and the launch need, read concurrently while the image builds.

The image takes a minute or more; these reads take a second or two each. Running them in a thread
pool behind the image means the launch can start the moment the image is Available. Optional
details (user data, RAM role, EIP) degrade to "unknown" on a permission error rather than failing
the incident; the capacity reads (stock, types, vSwitches) are required.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from aliyun_ops import errors, models, planner
from aliyun_ops.models import TAG_REPLACES

if TYPE_CHECKING:
    from collections.abc import Callable

    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_PRICED_TYPES = 12  # spot price history is one call per type: price the closest ones only
PRICE_BUDGET_S = 20.0  # retries a price read may take before the incident goes on without it
CONTESTED_PRICED = 4  # price reads when the original type is contested: its own and the 3 the advice promises most
ADVICE_TYPES = 10  # spot advice for the closest types: one DescribeSpotAdvice (InstanceTypes.N: up to 10)


@dataclass(frozen=True)
class Inputs:
    disks: tuple[models.Disk, ...] = ()
    user_data: str | None = None
    ram_role_name: str | None = None
    original_type: models.InstanceType | None = None
    catalog: tuple[models.InstanceType, ...] = ()
    offerings: tuple[models.Offering, ...] = ()
    payg_offerings: tuple[models.Offering, ...] = ()
    prices: tuple[models.SpotPrice, ...] = ()
    vswitches: tuple[models.VSwitch, ...] = ()
    eip: models.Eip | None = None
    replacements: tuple[models.Instance, ...] = ()
    notes: tuple[str, ...] = field(default=())
    advice: tuple[models.SpotAdvice, ...] = ()  # DescribeSpotAdvice of the types worth a price (placement "risk")


def _optional(
    fn: Callable[[], T], default: T, what: str, notes: list[str], also: tuple[type[errors.CloudError], ...] = ()
) -> T:
    """A detail we can launch without: a denied or missing read (or ``also``) is noted, not fatal."""
    tolerated: tuple[type[errors.CloudError], ...] = (
        errors.PermissionDenied,
        errors.NotFound,
        errors.InvalidRequest,
        *also,
    )
    try:
        return fn()
    except tolerated as exc:
        notes.append(f"{what} unknown ({exc.code})")
        return default


def find_replacements(cloud: Cloud, instance_id: str) -> list[models.Instance]:
    """Instances launched for this one (tagged at RunInstances, so visible from their first moment)."""
    return cloud.describe_instances(tags=((TAG_REPLACES, instance_id),))


def _catalog(cloud: Cloud, original: models.Instance) -> tuple[models.InstanceType | None, list[models.InstanceType]]:
    """The original's type and the catalogue's equivalents, in one DescribeInstanceTypes when the listing told the
    original's vCPU and memory (every equivalent has at least as much, and so has the original's own type: one
    query by those minimums answers both); else two (the type by id, then the equivalents by its own figures)."""
    from aliyun_ops import planner

    if original.cpu > 0 and original.memory_mib > 0:
        wide = cloud.describe_instance_types_cached(
            MinimumCpuCoreCount=original.cpu, MinimumMemorySize=original.memory_gib
        )
        own_type = next((t for t in wide if t.type_id == original.instance_type), None)
        if own_type is not None:
            return own_type, [t for t in wide if planner.passes_type_filter(t, own_type)]
    own = cloud.describe_instance_types_cached([original.instance_type])
    original_type = own[0] if own else None
    if original_type is None:
        return None, []
    equivalents = cloud.describe_instance_types_cached(**planner.equivalent_type_filter(original_type))
    by_id = {t.type_id: t for t in [*own, *equivalents]}
    return original_type, list(by_id.values())


def _closest(
    original: models.Instance, types: list[models.InstanceType], in_stock: set[str], size_ratio: float = 0
) -> list[str]:
    """The types worth a price read, closest in size first: the original's always, then the in-stock types the
    size limit (``size_ratio``, 0: off) keeps; the planner leaves the larger ones out without a price."""
    own = next((t for t in types if t.type_id == original.instance_type), None)
    cpu, mem = (own.cpu, own.memory_gib) if own is not None else (original.cpu, original.memory_gib)

    def fits(t: models.InstanceType) -> bool:
        return not size_ratio or (t.cpu <= size_ratio * cpu + 1e-9 and t.memory_gib <= size_ratio * mem + 1e-9)

    ranked = sorted(
        (t for t in types if t.type_id in in_stock and (t.type_id == original.instance_type or fits(t))),
        key=lambda t: (
            t.type_id != original.instance_type,
            abs(t.cpu - original.cpu),
            abs(t.memory_gib - original.memory_gib),
            t.type_id,
        ),
    )
    chosen = [t.type_id for t in ranked[:MAX_PRICED_TYPES]]
    return chosen if original.instance_type in chosen else [original.instance_type, *chosen[: MAX_PRICED_TYPES - 1]]


def _eip(cloud: Cloud, original: models.Instance) -> models.Eip | None:
    """The EIP on the original; for a lost instance, the lineage's recorded one (by its allocation id).

    The instance listing the incident started from already names the EIP bound to it: no second read then. A
    listing without one is not trusted to mean "none": an address still ``Associating`` is not in it yet (the demo
    met exactly that), so DescribeEipAddresses by the instance looks."""
    listed = original.eip
    bound = listed is not None and listed.status == "InUse" and listed.instance_id == original.instance_id
    if listed is not None and bound and listed.ip_address:
        return listed
    found = cloud.describe_eips(instance_id=original.instance_id)
    if not found and original.eip is not None and not original.eip.ip_address:
        found = cloud.describe_eips(allocation_id=original.eip.allocation_id)
    return found[0] if found else original.eip


def gather(
    cloud: Cloud,
    original: models.Instance,
    settings: Settings,
    pool: ThreadPoolExecutor,
    *,
    price_all: bool = False,
    disks: list[models.Disk] | None = None,
    keep_zone: bool = False,
) -> Inputs:
    """Run every read at once; prices follow stock and catalog (they depend on both).

    When the original type can launch in some zone of the VPC, only its price is read (the planner
    ranks it first whatever equivalents cost): one call, not a dozen, which matters when a reclaim wave
    hits the API's rate limits. ``price_all`` (the ``plan`` command) prices the closest equivalents too.
    The original type's price is always read: it is the reference of the price limit (``planner``); its
    ``OriginPrice`` (DescribeSpotPriceHistory) is the pay-as-you-go price, so no other action is needed.
    A price that stays throttled past ``PRICE_BUDGET_S`` is left unknown rather than failing the incident.
    The catalogue, prices and stock come from the warm function instance's caches when an earlier incident read
    them recently (``cloud.client``: minutes for the first two, seconds for stock, which a NoStock refreshes).
    Risk placement: the spot advice of the closest types is read from the process's hour-long cache (a failed
    read: no advice, a note). When the same type is contested (its rate at or above ``calm_rate``) or cannot
    launch, equivalents may win: the original's price is read first (the limit's reference), then the
    ``CONTESTED_PRICED - 1`` types whose pools the advice promises most (``planner.price_shortlist``: calm,
    cheap on average, in stock where the VPC has a vSwitch, within the price limit), not the dozen closest: 4
    reads, not 12. Unread types stay candidates at the bottom of the ranking (their score is unknown), launched
    SpotWithPriceLimit under the price limit. ``price_all``, a user's price cap, or no advice: the closest
    ``MAX_PRICED_TYPES``, as before.
    """
    notes: list[str] = []
    oid = original.instance_id
    jobs: dict[str, Future[Any]] = {
        "disks": pool.submit(lambda: disks if disks is not None else cloud.describe_disks(oid)),
        "user_data": pool.submit(_optional, lambda: cloud.describe_user_data(oid), None, "user data", notes),
        "ram_role": pool.submit(_optional, lambda: cloud.describe_ram_role(oid), None, "RAM role", notes),
        "catalog": pool.submit(_catalog, cloud, original),
        "offerings": pool.submit(cloud.describe_available_resource, spot=True, cached=True),
        "vswitches": pool.submit(cloud.describe_vswitches, original.vpc_id),
        "eip": pool.submit(_optional, lambda: _eip(cloud, original), original.eip, "EIP", notes),
        "replacements": pool.submit(find_replacements, cloud, oid),
    }
    if settings.payg_fallback:
        jobs["payg"] = pool.submit(cloud.describe_available_resource, spot=False, cached=True)
    original_type, catalog = jobs["catalog"].result()
    offerings: list[models.Offering] = jobs["offerings"].result()
    in_stock = {o.instance_type for o in offerings if o.in_stock}
    zones = {v.zone_id for v in jobs["vswitches"].result()}
    if keep_zone:  # the data disks live in the original zone: the same type elsewhere does not rank first
        zones &= {original.zone_id}
    closest = _closest(original, catalog, in_stock | {original.instance_type}, settings.max_size_ratio)
    advice: tuple[models.SpotAdvice, ...] = ()
    if settings.placement == "risk":  # cached an hour per region and type: no call in a warm function instance
        read = cloud.spot_advice(closest[:ADVICE_TYPES])
        advice = read.rows
        notes.extend([read.note] if read.note else [])
    contested = {(a.instance_type, a.zone_id) for a in advice if a.interruption_rate >= settings.calm_rate - 1e-9}
    same_type_launchable = any(
        o.in_stock and o.instance_type == original.instance_type and o.zone_id in zones
        and (o.instance_type, o.zone_id) not in contested  # contested: equivalents may win, so price them too
        for o in offerings
    )

    def read_prices(types: list[str]) -> list[models.SpotPrice]:
        futures: list[Future[list[models.SpotPrice]]] = [
            pool.submit(cloud.describe_spot_prices_cached, t, budget_s=PRICE_BUDGET_S) for t in types
        ]
        found: list[models.SpotPrice] = []
        for job in futures:
            found.extend(_optional(job.result, [], "spot price", notes, also=(errors.Throttled, errors.ServiceError)))
        return found

    if same_type_launchable and not price_all and settings.max_spot_price is None:  # a cap needs every price
        prices = read_prices([original.instance_type])  # tiers 1-2 win whatever equivalents cost: one price read
    elif price_all or settings.max_spot_price is not None or not advice or original_type is None:
        prices = read_prices(closest)
    else:  # contested: the original's price first (the limit's reference), then the pools the advice promises
        prices = read_prices([original.instance_type])
        launchable = {(o.instance_type, o.zone_id) for o in offerings if o.in_stock and o.zone_id in zones}
        by_id = {t.type_id: t for t in catalog}
        knobs = (settings.interruption_cost_hours, settings.interruption_cost, settings.calm_rate)
        risk = planner.RiskModel(advice, *knobs)
        shortlist = planner.price_shortlist(
            original_type, [by_id[t] for t in closest[:ADVICE_TYPES] if t in by_id], advice, launchable, prices,
            risk, CONTESTED_PRICED - 1, settings.max_price_ratio,
        )
        prices += read_prices(shortlist)
    return Inputs(
        disks=tuple(jobs["disks"].result()),
        user_data=jobs["user_data"].result(),
        ram_role_name=jobs["ram_role"].result(),
        original_type=original_type,
        catalog=tuple(catalog),
        offerings=tuple(offerings),
        payg_offerings=tuple(jobs["payg"].result()) if "payg" in jobs else (),
        prices=tuple(prices),
        vswitches=tuple(jobs["vswitches"].result()),
        eip=jobs["eip"].result(),
        replacements=tuple(jobs["replacements"].result()),
        notes=tuple(notes),
        advice=advice,
    )
