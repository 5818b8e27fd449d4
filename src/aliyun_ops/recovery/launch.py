"""From a plan to a Running replacement with the original's identity.

``build_spec`` copies what makes the instance *the same server* (name, hostname, description,
security groups, key pair or inherited password, RAM role, resource group, user data, tags, system
disk, internet billing and bandwidth, spot settings) and swaps only what the candidate changes
(type, zone, and that zone's vSwitch of the same VPC). Nothing is hard-coded: a value the original
did not have is left for the API to default.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from aliyun_ops import errors, models
from aliyun_ops.cloud import DataDiskSpec, LaunchSpec
from aliyun_ops.cloud.errors import is_password_inherit_refused, is_vswitch_full
from aliyun_ops.recovery import naming

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Settings
    from aliyun_ops.recovery.gather import Inputs
    from aliyun_ops.recovery.soldout import SoldOutMemory


def plan_launch(
    original: models.Instance,
    inputs: Inputs,
    settings: Settings,
    unavailable: frozenset[tuple[str, str]] = frozenset(),
    *,
    keep_zone: bool | None = None,
) -> tuple[models.Plan, models.Instance]:
    """The ranked plan from what ``gather`` read, and the original enriched with those reads.

    The one ranking call: the incident launches from it and ``aliyun-ops plan`` shows it, so the dry
    run cannot drift from what a real run does.
    """
    from aliyun_ops import planner
    from aliyun_ops.disks import plan as data_plan

    if keep_zone is None:  # the data disks move (and are zonal) unless the user keeps them in a full image
        keep_zone = data_plan.mode(original) == data_plan.MOVE and bool(data_plan.data_disks(inputs.disks))
    enriched = dataclasses.replace(
        original, disks=inputs.disks, user_data=inputs.user_data, ram_role_name=inputs.ram_role_name
    )
    plan = planner.rank_candidates(
        enriched,
        inputs.original_type,
        inputs.catalog,
        inputs.offerings,
        inputs.prices,
        inputs.vswitches,
        unavailable=unavailable,
        max_price=settings.max_spot_price,
        allow_families=settings.allow_families,
        deny_families=settings.deny_families,
        payg_offerings=inputs.payg_offerings,
        payg_fallback=settings.payg_fallback,
        keep_zone=keep_zone,
        data_categories=[d.category for d in data_plan.data_disks(inputs.disks)],
        max_price_ratio=settings.max_price_ratio,
        max_size_ratio=settings.max_size_ratio,
        placement=settings.placement,
        risk=planner.RiskModel(
            inputs.advice, settings.interruption_cost_hours, settings.interruption_cost, settings.calm_rate
        ),
    )
    return plan, enriched


def _data_disks(
    disks: tuple[models.Disk, ...], candidate: models.Candidate, image_devices: tuple[str, ...]
) -> tuple[DataDiskSpec, ...]:
    """The image's data disks with the original's category (or the nearest the candidate's family takes),
    size and release setting. Without this, RunInstances would recreate them as its default category
    (cloud_efficiency), a silent downgrade of ESSD disks, and release them with the instance."""
    from aliyun_ops import planner

    out = []
    for d in disks:
        if d.kind != "data" or not d.device or d.device not in image_devices:
            continue
        category, _ = planner.choose_system_disk(d.category, d.size_gib, candidate.itype)
        pl = d.performance_level if category == d.category else None
        out.append(DataDiskSpec(d.device, category, d.size_gib, d.delete_with_instance, pl))
    return tuple(out)


def _spot(original: models.Instance, candidate: models.Candidate, settings: Settings) -> tuple[str, float | None]:
    """The user's max price wins; else the original's own limit (same type only); else the candidate's."""
    if candidate.spot_strategy == "NoSpot":
        return "NoSpot", None
    if settings.max_spot_price:
        return "SpotWithPriceLimit", settings.max_spot_price
    same_type = candidate.instance_type == original.instance_type
    if original.spot_strategy == "SpotWithPriceLimit" and original.spot_price_limit and same_type:
        return "SpotWithPriceLimit", original.spot_price_limit
    return candidate.spot_strategy, candidate.spot_price_limit


def build_spec(
    original: models.Instance,
    inputs: Inputs,
    candidate: models.Candidate,
    image_id: str,
    settings: Settings,
    incident: str,
    *,
    data_devices: tuple[str, ...] = (),
    extra_tags: models.Tags = (),
) -> LaunchSpec:
    from aliyun_ops import planner

    system = next((d for d in inputs.disks if d.kind == "system"), None)
    category, size = (
        (None, None)
        if system is None
        else planner.choose_system_disk(system.category, system.size_gib, candidate.itype)
    )
    strategy, limit = _spot(original, candidate, settings)
    return LaunchSpec(
        image_id=image_id,
        instance_type=candidate.instance_type,
        zone_id=candidate.zone_id,
        vswitch_id=candidate.vswitch_id,
        security_group_ids=original.security_group_ids,
        name=original.name,
        hostname=original.hostname,
        description=original.description,
        key_pair_name=original.key_pair_name,
        password_inherit=not original.key_pair_name,
        ram_role_name=inputs.ram_role_name or original.ram_role_name,
        resource_group_id=original.resource_group_id,
        user_data=inputs.user_data or original.user_data,
        tags=naming.replacement_tags(original, incident, extra_tags, settings.selector),
        system_disk_category=category,
        system_disk_size=size,
        data_disks=_data_disks(inputs.disks, candidate, data_devices),
        internet_charge_type=original.internet_charge_type,
        internet_max_bandwidth_out=original.internet_max_bandwidth_out,
        spot_strategy=strategy,
        spot_price_limit=limit,
        spot_duration=original.spot_duration if strategy != "NoSpot" else None,
        spot_interruption_behavior=original.spot_interruption_behavior if strategy != "NoSpot" else None,
    )


def launch_first(
    cloud: Cloud,
    plan: models.Plan,
    make_spec: Callable[[models.Candidate], LaunchSpec],
    incident: str,
    unavailable: SoldOutMemory,
    tried: list[str],
    dead: Collection[str] = (),
) -> tuple[str, models.Candidate]:
    """RunInstances per candidate in order; a sold-out one is remembered (see ``soldout``) and skipped. A vSwitch out
    of private addresses (``InvalidVSwitchId.IpNotEnough``) is remembered as full: the candidate is tried again on
    another vSwitch of its zone with free addresses, else the next candidate is. Returns the candidate as launched
    (its vSwitch the one used).

    ``dead``: launches the cloud accepted, then failed (``SystemFailure.Delete``). A repeat under the same ClientToken
    answers the dead id, so a candidate whose launch died goes on under a token derived from that token and the dead
    id (``retry_token``): every delivery walks the same chain and lands on the same instance, and a delivery killed
    after a relaunch never launches a third. The first pass moves on to the next candidate (a creation failure is the
    cloud short of resources there); later passes (``DEAD_ROUNDS`` in all) relaunch each candidate once more."""
    for rounds in range(DEAD_ROUNDS):
        for candidate in plan.candidates:
            found = _launch_candidate(cloud, candidate, make_spec, incident, unavailable, tried, dead, rounds)
            if found is not None:
                return found
        if not any(_dead_note(t) for t in tried):
            break  # no launch died: another pass would only repeat the same answers
    raise errors.ReplacementFailed("no candidate could be launched: " + ("; ".join(tried) or "the plan was empty"))


DEAD_ROUNDS = 3  # passes over the plan when accepted launches die (each relaunches a dead candidate once more)
DEAD_NOTE = "failed after it was accepted (SystemFailure.Delete)"


def _dead_note(line: str) -> bool:
    return line.endswith(DEAD_NOTE)


def _launch_candidate(
    cloud: Cloud,
    candidate: models.Candidate,
    make_spec: Callable[[models.Candidate], LaunchSpec],
    incident: str,
    unavailable: SoldOutMemory,
    tried: list[str],
    dead: Collection[str],
    rounds: int,
) -> tuple[str, models.Candidate] | None:
    """One candidate: its launch (on a vSwitch with room), or None to go on with the next."""
    label = f"{candidate.instance_type}@{candidate.zone_id}"
    placed = _placed(candidate, unavailable)
    while placed is not None:
        try:
            new_id = _run_past_dead(cloud, make_spec(placed), _launch_token(incident, candidate, placed), dead, rounds)
        except errors.NoStock as exc:
            if not is_vswitch_full(exc.code):
                unavailable.sold_out(candidate.instance_type, candidate.zone_id, placed.vswitch_id)
                tried.append(f"{label}: {exc.code}")
                return None
            unavailable.vswitch_full(placed.vswitch_id)
            tried.append(f"{label}: {exc.code} on {placed.vswitch_id}")
            placed = _placed(candidate, unavailable)
            continue
        if new_id in dead:
            tried.append(f"{label}: launched {new_id}, which {DEAD_NOTE}")
            return None
        tried.append(f"{label}: launched {new_id}")
        return new_id, placed
    tried.append(f"{label}: no vSwitch of {candidate.zone_id} has free addresses")
    return None


def _run_past_dead(cloud: Cloud, spec: LaunchSpec, token: str, dead: Collection[str], rounds: int) -> str:
    """RunInstances under ``token``; while the answer is a dead launch, and at most ``rounds`` times, again under the
    token derived from it. Returns the last answer (a dead id when ``rounds`` ran out)."""
    new_id = _run(cloud, spec, token)
    for _ in range(rounds):
        if new_id not in dead:
            break
        token = retry_token(token, new_id)
        new_id = _run(cloud, spec, token)
    return new_id


def retry_token(token: str, dead_id: str) -> str:
    """The ClientToken of the launch after ``dead_id`` (launched under ``token``) failed: derived from both, so every
    delivery computes it alike and the cloud's own answers (the dead id) are the record of how far the chain got."""
    return "ao-run-" + naming.digest(token, dead_id)


def _placed(candidate: models.Candidate, unavailable: SoldOutMemory) -> models.Candidate | None:
    """The candidate on a vSwitch not known to be full (its own, else another of its zone), or None."""
    vswitch_id = unavailable.vswitch_for(candidate.zone_id, candidate.vswitch_id)
    if vswitch_id is None:
        return None
    return candidate if vswitch_id == candidate.vswitch_id else dataclasses.replace(candidate, vswitch_id=vswitch_id)


def _launch_token(incident: str, planned: models.Candidate, placed: models.Candidate) -> str:
    """The plan's token; on another vSwitch than planned, one of its own (the same request on other parameters under
    one ClientToken is refused), which every delivery moving there derives alike."""
    token = naming.launch_token(incident, planned)
    if placed.vswitch_id == planned.vswitch_id:
        return token
    return "ao-run-" + naming.digest(token, placed.vswitch_id)


def _run(cloud: Cloud, spec: LaunchSpec, token: str) -> str:
    return run_with_fallbacks(cloud.run_instances, spec, token)


def run_with_fallbacks(run: Callable[[LaunchSpec, str], str], spec: LaunchSpec, token: str) -> str:
    """``run`` (RunInstances, or its DryRun for ``aliyun-ops plan``); an image without a preset password refuses
    PasswordInherit: then run without it (the original had no password either), under a token of its own so both
    deliveries agree. One code path, so the plan's DryRun cannot refuse what the launch would retry."""
    try:
        return run(spec, token)
    except errors.InvalidRequest as exc:
        if not spec.password_inherit or not is_password_inherit_refused(exc.code, exc.message):
            raise
    return run(dataclasses.replace(spec, password_inherit=False), token + "-nopw")


def keeper(replacements: list[models.Instance], dead: Collection[str] = ()) -> models.Instance | None:
    """The one replacement every delivery agrees to keep: the oldest, ties broken by id; never a launch known to have
    failed after acceptance (``dead``: it stays Pending until the cloud releases it)."""
    live = [
        r
        for r in replacements
        if r.instance_id not in dead
        and (
            r.status not in ("Stopping", "Stopped", "Deleted")
            or (r.status != "Deleted" and r.tag(models.TAG_DISKS) == "pending")  # held stopped for its data disks
        )
    ]
    return min(live, key=lambda r: (r.creation_time, r.instance_id)) if live else None
