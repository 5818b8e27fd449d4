"""Stop-mode spot instances: which stopped ones the cloud stopped, and what reconcile does with them.

A spot instance launched with ``SpotInterruptionBehavior=Stop`` is left Stopped in economical mode
(``StoppedMode=StopCharging``) by a reclaim. A user who stops it in economical mode leaves it with the very same
attributes, so they cannot tell the two apart. The cloud's own record does: CloudMonitor's system-event history
keeps every spot interruption (``Instance:PreemptibleInstanceInterruption``), and a user's StopInstance adds none.
So a Stopped Stop-mode instance is the cloud's only when the history has an interruption of it *after its last
start* (DescribeInstances' ``StartTime``): then it is started again, or migrated (imaged, replaced where there is
stock, released) once its zone has stayed sold out for ``settings.stopped_migrate_after_s`` since the stop. Any
other is its user's and is left alone: never started, never migrated. A user who starts a reclaim-stopped
instance and stops it later is respected too (that start is after the interruption).

A pass reads the history once for every candidate (none without candidates). When it cannot be read nothing is
started: a stop the history does not show may be the user's; the next pass looks again. Nothing is written on the
user's instance: the time of the stop is the interruption's time plus the notice.
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
# The documented notice: the interruption event comes 5 minutes before the reclaim (here, the stop).
NOTICE_S = 300.0
# How far back the history is read (the same assumption as reconcile's lost lineages: docs/reliability.md).
HISTORY_S = 7 * 86400.0
# StartTime is given to the minute: read as the minute's start, an interruption in that minute is still after it
# (a later start is never in the minute of the interruption: the stop comes a notice after it).
START_PRECISION_S = 60.0


def recover_stopped(
    cloud: Cloud,
    settings: Settings,
    instances: list[models.Instance],
    *,
    managed: Callable[[models.Instance], bool],
    deadline: Callable[[], float],
    each: Callable[[str, Callable[[], list[Outcome]]], list[Outcome]],
    notifier: Notifier | None = None,
) -> list[Outcome]:
    """One pass over ``instances`` (the region's, as the pass listed them): the managed Stop-mode spot instances
    the cloud stopped are started again, or migrated once their zone stayed sold out; the users' are left alone.

    ``each(what, act)``: runs one instance's handling (reconcile's guard: its own time budget, its failure its own);
    ``deadline()``: the end of the item being handled."""
    # An orchestrator's instance (``orchestrators``) is restarted or replaced by its orchestrator, never here.
    candidates = [i for i in instances if stopped_in_stop_mode(i) and managed(i) and not orchestrators.owner(i.tags)]
    if not candidates:
        return []
    stops = cloud_stops(cloud, candidates)
    if stops is None:
        ids = ", ".join(i.instance_id for i in candidates)
        why = f"{ids} left stopped: CloudMonitor's history cannot be read now, and a stop it does not show is a user's"
        return [_outcome("skipped", why)]
    out = []
    for instance in candidates:
        stopped_at = stops.get(instance.instance_id)
        if stopped_at is None:
            log.info("%s was stopped by its user (no reclaim since its last start): left stopped", instance.instance_id)
            continue

        def restart(instance: models.Instance = instance, stopped_at: float = stopped_at) -> list[Outcome]:
            return [_restart(cloud, settings, instance, stopped_at, deadline=deadline(), notifier=notifier)]

        out.extend(each(f"stopped {instance.instance_id}", restart))
    return out


def stopped_in_stop_mode(instance: models.Instance) -> bool:
    """Stopped the way a reclaim leaves a Stop-mode spot instance (a user's economical stop looks the same)."""
    return (
        instance.status == "Stopped"
        and instance.is_spot
        and instance.spot_interruption_behavior == "Stop"
        and instance.stopped_mode == "StopCharging"
    )


def cloud_stops(cloud: Cloud, candidates: list[models.Instance]) -> dict[str, float] | None:
    """Which of ``candidates`` the cloud stopped, with the time of that stop (epoch seconds): one read of
    CloudMonitor's interruption history for all of them. None: the history cannot be read now."""
    starts = {i.instance_id: last_start(i) for i in candidates}
    known = [s for s in starts.values() if s is not None]
    if not known:
        return {}
    now = cloud.clock()
    since = max(now - HISTORY_S, min(known))
    try:
        # The window's end is an hour ahead: a clock behind the cloud's must not hide a reclaim just made.
        events = cloud.reclaim_events(since, now + 3600.0, sorted(starts))
    except errors.CloudError as exc:
        log.warning("reclaim history of %d stopped instance(s) unreadable: %s", len(candidates), exc.code)
        return None
    stops: dict[str, float] = {}
    for event in events:  # oldest first: the first interruption after the last start stopped it
        start = starts.get(event.instance_id)
        if start is not None and event.time >= start and event.instance_id not in stops:
            stops[event.instance_id] = event.time + NOTICE_S
    return stops


def last_start(instance: models.Instance) -> float | None:
    """When the instance last started (``StartTime``; its creation when the answer lacks it), to the minute's
    start; None when neither is known (then no interruption can be placed after it: it is left alone)."""
    at = models.parse_time(instance.start_time) or models.parse_time(instance.creation_time)
    return None if at is None else at - at % START_PRECISION_S


def _restart(
    cloud: Cloud,
    settings: Settings,
    instance: models.Instance,
    stopped_at: float,
    *,
    deadline: float,
    notifier: Notifier | None,
) -> Outcome:
    """Start it again; without stock, wait ``stopped_migrate_after_s`` from the stop, then migrate it."""
    from aliyun_ops.service import run_incident

    iid = instance.instance_id
    try:
        cloud.start_instance(iid)
        return _outcome("started", f"{iid} started again after a reclaim stop")
    except errors.NoStock as exc:
        waited = cloud.clock() - stopped_at
        if waited < settings.stopped_migrate_after_s:
            return _outcome("skipped", f"{iid} cannot start yet ({exc.code}); will retry")
    except errors.CloudError as exc:  # one instance never ends the pass; the next one tries again
        return _outcome("skipped", f"{iid} could not be started now ({exc.code}); will retry")
    return run_incident(cloud, settings, instance, deadline=deadline, notifier=notifier, release_original=True)


def _outcome(status: str, message: str) -> Outcome:
    from aliyun_ops.service import Outcome

    return Outcome(status, message)
