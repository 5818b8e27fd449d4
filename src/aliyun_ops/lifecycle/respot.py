"""Back to spot: a pay-as-you-go fallback is replaced by a spot instance once spot stock returns.

A fallback is a replacement the engine launched pay-as-you-go because no spot candidate had stock; it is
tagged ``aops:fallback`` at RunInstances (remove the tag to keep it pay-as-you-go). Reconcile moves it back:

- only after it has served ``settings.back_to_spot_after_s`` (a pool that just emptied is not hammered), and only
  when the spot offerings list its own type (an equal type) in stock in a zone of its VPC: one
  DescribeAvailableResource per pass and one DescribeVSwitches per VPC decide it before anything is written;
- as a replacement, by the incident's own machinery: the same identity, the EIP, the data disks (moved, never
  copied into a blank server), spot candidates only, the user's price cap;
- without a gap the engine can avoid: the fallback serves until its replacement is Running. Without data disks
  the address then moves (a few seconds) and the fallback is stopped cleanly and released. With data disks the
  replacement is held stopped, the fallback is stopped cleanly (its guest flushes the disks), released, the disks
  attach and the replacement boots with them: the outage is that swap, as in a reclaim.

A replacement that could not be launched (no stock after all) leaves the fallback serving: the pass says
"skipped" and the next one tries again. A move that was interrupted (crash, deadline) is finished by the next
pass: the fallback's replacement is found by its ``aops:replaces`` tag and resumed whatever the stock.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aliyun_ops import errors, models, orchestrators

if TYPE_CHECKING:
    from collections.abc import Callable

    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Settings
    from aliyun_ops.notify import Notifier
    from aliyun_ops.service import Outcome

log = logging.getLogger(__name__)
# Time a move needs (image of the system disk, launch, boot, swap): a pass with less left leaves it to the next.
MOVE_BUDGET_S = 300.0


def is_fallback(instance: models.Instance) -> bool:
    return bool(instance.tag(models.TAG_FALLBACK)) and not instance.is_spot and instance.status != "Deleted"


def back_to_spot(
    cloud: Cloud,
    settings: Settings,
    instances: list[models.Instance],
    *,
    managed: Callable[[models.Instance], bool],
    deadline: float,
    notifier: Notifier | None = None,
) -> list[Outcome]:
    """One pass over ``instances`` (the region's, as the pass listed them): each fallback due is moved back."""
    # An orchestrator's instance (``orchestrators``) is moved by its orchestrator, never here.
    fallbacks = [i for i in instances if is_fallback(i) and managed(i) and not orchestrators.owner(i.tags)]
    if not fallbacks:
        return []
    market = _SpotMarket(cloud)
    out = []
    for fallback in sorted(fallbacks, key=lambda i: i.instance_id):
        moving = any(
            i.tag(models.TAG_REPLACES) == fallback.instance_id and i.status != "Deleted" for i in instances
        )  # a move an earlier pass began: finished whatever the stock says now
        if not moving and fallback.status != "Running":
            continue  # stopped by its user (a move the engine began stops it only after buying its replacement)
        if not moving:
            why = _not_yet(cloud, settings, fallback, market)
            if why:
                out.append(_outcome("skipped", f"{fallback.instance_id} stays pay-as-you-go for now: {why}"))
                continue
        if deadline - cloud.clock() < MOVE_BUDGET_S:
            out.append(_outcome("skipped", f"{fallback.instance_id}: too little time left in this pass to move it"))
            continue
        out.append(_move(cloud, settings, fallback, deadline=deadline, notifier=notifier))
    return out


class _SpotMarket:
    """The region's spot stock and each VPC's zones, read once per pass and only when a fallback is due."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self._stock: list[models.Offering] | None = None
        self._zones: dict[str, set[str]] = {}

    def zones_in_stock(self, instance_type: str, vpc_id: str) -> list[str]:
        if self._stock is None:
            self._stock = self.cloud.describe_available_resource(spot=True)
        if vpc_id not in self._zones:
            self._zones[vpc_id] = {v.zone_id for v in self.cloud.describe_vswitches(vpc_id)}
        zones = self._zones[vpc_id]
        return sorted(
            o.zone_id for o in self._stock if o.in_stock and o.instance_type == instance_type and o.zone_id in zones
        )


def _not_yet(cloud: Cloud, settings: Settings, fallback: models.Instance, market: _SpotMarket) -> str:
    """Why the fallback is not moved in this pass ("" when it is due)."""
    created = models.parse_time(fallback.creation_time)
    served = cloud.clock() - created if created is not None else None
    if served is not None and served < settings.back_to_spot_after_s:
        return f"pay-as-you-go for {served:.0f} s of the {settings.back_to_spot_after_s:.0f} s it serves at least"
    if not market.zones_in_stock(fallback.instance_type, fallback.vpc_id):
        return f"no spot stock of {fallback.instance_type} in a zone of its VPC"
    return ""


def _move(
    cloud: Cloud, settings: Settings, fallback: models.Instance, *, deadline: float, notifier: Notifier | None
) -> Outcome:
    from aliyun_ops.recovery import Incident
    from aliyun_ops.service import Outcome

    spot_only = settings.model_copy(update={"payg_fallback": False})
    incident = Incident(
        cloud,
        spot_only,
        fallback,
        deadline=deadline,
        notifier=notifier,
        release_original=True,
        planned=True,
        reason=f"back to spot: spot stock of {fallback.instance_type} returned; pay-as-you-go {fallback.instance_id} "
        "is replaced and released",
    )
    try:
        record = incident.run()
    except errors.ReplacementFailed as exc:  # nothing launched: the fallback keeps serving, the next pass retries
        log.info("back to spot of %s postponed: %s", fallback.instance_id, exc)
        return Outcome("skipped", f"{fallback.instance_id} stays pay-as-you-go for now: {exc}", incident.record)
    return Outcome(
        "respotted",
        f"{fallback.instance_id} (pay-as-you-go) replaced by spot {record.new_instance_id}"
        + (f" ({record.after.instance_type} in {record.after.zone_id})" if record.after else ""),
        record,
    )


def _outcome(status: str, message: str) -> Outcome:
    from aliyun_ops.service import Outcome

    return Outcome(status, message)
