"""The facade the runtimes and the CLI call: one event in, one ``Outcome`` out, or an exception.

``handle_event`` parses the event (unknown kinds are ``ignored``), reads the instance once, asks the
policy, and runs the incident. Every failure raises (``EventError``, ``ConfigError``,
``CloudError``, ``ReplacementFailed``, ``DeadlineExceeded``): a failure never comes back as a
success, so Function Compute's retries, failure destinations and alerts work.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aliyun_ops import errors, models

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Credentials, Settings
    from aliyun_ops.events import InstanceEvent
    from aliyun_ops.notify import Notifier

log = logging.getLogger(__name__)

# (endpoint, region, instance id) -> the handling in flight in this process
_IN_FLIGHT: dict[tuple[str | None, str, str], Future[Outcome]] = {}
_FLIGHT_LOCK = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    status: str  # ignored | skipped | replaced | already-replaced | started | recovered | kept | resumed | respotted …
    message: str
    record: models.IncidentRecord | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "record": self.record.to_dict() if self.record else None,
        }


def make_cloud(
    settings: Settings,
    credentials: Credentials | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> Cloud:
    if credentials is None:
        raise errors.ConfigError("no Alibaba Cloud credentials (function role or ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET)")
    from aliyun_ops.cloud import Cloud

    return Cloud(credentials, settings, sleep=sleep, clock=clock)


def effective_deadline(settings: Settings, deadline: float | None, now: float) -> float:
    """The function's end (given, or now + timeout) minus the safety margin."""
    end = deadline if deadline is not None else now + settings.function_timeout_s
    return end - settings.deadline_margin_s


def handle_event(
    raw: bytes | str | Mapping[str, Any],
    *,
    settings: Settings,
    credentials: Credentials | None,
    request_id: str = "",
    deadline: float | None = None,
    notifier: Notifier | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    account_id: str | None = None,
) -> Outcome:
    """``account_id``: the function's own account (FC passes it); an event about another one is refused."""
    from aliyun_ops import events

    event = events.parse_event(raw)
    if isinstance(event, events.Ignored):
        return Outcome("ignored", event.reason)
    settings = _acting_settings(event, settings, account_id)
    # The same instance id in another region or behind another endpoint is another instance.
    key = (settings.ecs_endpoint, settings.region_id, event.instance_id)
    return _single_flight(key, lambda: _handle(event, settings, credentials, deadline, notifier, sleep, clock))


def _acting_settings(event: InstanceEvent, settings: Settings, account_id: str | None) -> Settings:
    """The settings the event is acted on with, or an EventError (400) before any call: the event names an
    instance; it never chooses the region (only the configured one, or one of ``settings.regions``) nor the
    account."""
    from aliyun_ops.events import short_text

    own = account_id or settings.account_id
    if own and event.account_id and event.account_id != own:
        raise errors.EventError(f"event about account {short_text(event.account_id)}, not this function's ({own})")
    region = event.region_id or settings.region_id
    if region == settings.region_id:
        return settings
    if region not in settings.regions:
        allowed = ", ".join((settings.region_id, *settings.regions))
        raise errors.EventError(
            f"event for region {short_text(region)}; this function acts in {allowed} (ALIYUN_OPS_REGIONS adds others)"
        )
    return in_region(settings, region)


def _single_flight(key: tuple[str | None, str, str], run: Callable[[], Outcome]) -> Outcome:
    """Deliveries about the same instance inside one function instance share one in-flight handling: the
    first runs it (and alone announces it); the others wait for its outcome and return it, or its error."""
    with _FLIGHT_LOCK:
        flight = _IN_FLIGHT.get(key)
        leader = flight is None
        if flight is None:
            flight = _IN_FLIGHT[key] = Future()
    if not leader:
        shared: Outcome = flight.result()
        return Outcome(shared.status, f"{shared.message} (shared with a concurrent delivery)", shared.record)
    try:
        outcome = run()
    except BaseException as exc:
        flight.set_exception(exc)
        raise
    else:
        flight.set_result(outcome)
        return outcome
    finally:
        with _FLIGHT_LOCK:
            _IN_FLIGHT.pop(key, None)


def _handle(
    event: InstanceEvent,
    settings: Settings,
    credentials: Credentials | None,
    deadline: float | None,
    notifier: Notifier | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Outcome:
    from aliyun_ops import policy

    cloud = make_cloud(settings, credentials, sleep=sleep, clock=clock)
    cloud.deadline = effective_deadline(settings, deadline, clock())
    instance = cloud.describe_instance(event.instance_id)  # the one read before CreateImage, and for a forgery
    decision = policy.decide(event, instance, settings)
    if not decision.act:
        if instance is None and event.is_interruption:
            done = _already_replaced(cloud, event.instance_id, settings)
            if done is not None:
                return done
        return Outcome("skipped", decision.reason)
    assert instance is not None
    from aliyun_ops.events import notice_time

    return run_incident(
        cloud,
        settings,
        instance,
        deadline=cloud.deadline,
        notifier=notifier,
        event_id=event.event_id,
        notice_at=notice_time(event) if event.is_interruption else None,
    )


def run_incident(
    cloud: Cloud,
    settings: Settings,
    instance: models.Instance,
    *,
    deadline: float,
    notifier: Notifier | None = None,
    event_id: str = "",
    release_original: bool = False,
    notice_at: float | None = None,
) -> Outcome:
    from aliyun_ops import orchestrators
    from aliyun_ops.recovery import Incident

    owner = orchestrators.owner(instance.tags)
    if owner:  # by hand (``replace``) or from reconcile: its orchestrator replaces it, never aliyun-ops too
        return Outcome("skipped", orchestrators.left_alone(instance.instance_id, owner))
    incident = Incident(
        cloud,
        settings,
        instance,
        deadline=deadline,
        notifier=notifier,
        event_id=event_id,
        release_original=release_original,
        notice_at=notice_at,
    )
    record = incident.run()
    if record.status == "resumed":
        return Outcome(
            "already-replaced", f"{instance.instance_id} was already replaced by {record.new_instance_id}", record
        )
    return Outcome(
        "replaced",
        f"{instance.instance_id} replaced by {record.new_instance_id} "
        f"({record.after.instance_type if record.after else '?'} in "
        f"{record.after.zone_id if record.after else '?'})",
        record,
    )


def _already_replaced(cloud: Cloud, instance_id: str, settings: Settings) -> Outcome | None:
    """The instance is gone and has a replacement; one an earlier delivery left held for its data disks is
    finished now (attached, started, given the EIP)."""
    from aliyun_ops.recovery.gather import find_replacements
    from aliyun_ops.recovery.launch import keeper
    from aliyun_ops.recovery.resume import eip_follows, finish_held

    existing = keeper(find_replacements(cloud, instance_id))
    if existing is None:
        return None
    deadline = cloud.deadline if cloud.deadline is not None else effective_deadline(settings, None, cloud.clock())
    if existing.tag(models.TAG_DISKS) == "pending":
        said = finish_held(cloud, existing, deadline=deadline, poll_s=settings.image_poll_max_s)
        return Outcome(
            "already-replaced",
            f"{instance_id} is gone; its replacement {existing.instance_id} got its data disks: " + "; ".join(said),
        )
    said = eip_follows(cloud, existing, deadline=deadline, poll_s=settings.image_poll_max_s)
    return Outcome(
        "already-replaced",
        f"{instance_id} is gone and was replaced by {existing.instance_id}" + "".join(f"; {s}" for s in said),
    )


def reconcile(
    *,
    settings: Settings,
    credentials: Credentials | None,
    notifier: Notifier | None = None,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> list[Outcome]:
    """Catch up on what events missed (see ``recovery.reconcile``) in ``settings.region_id``, then in each region of
    ``settings.regions``: every configured region, since an event may come from any of them.

    Each region is its own pass, with its own cloud client and its own guard: whatever one region raises (an endpoint
    error, ``PassIncomplete``) is said and counted, and the next region still runs. Each gets a fair share of the
    time left: region k of n may use until ``now + left / (n - k)`` (``region_share``), so time one region leaves
    unused goes to those after it, and the first can never starve the others. Every region's failures are raised
    together at the end (``PassIncomplete``), so Function Compute's alerts see them."""
    regions = reconciled_regions(settings)
    end = effective_deadline(settings, deadline, clock())
    outcomes: list[Outcome] = []
    failed: list[str] = []
    for index, region in enumerate(regions):
        until = region_share(clock(), end, len(regions) - index)
        got, failure = _reconcile_region(in_region(settings, region), credentials, notifier, until, sleep, clock)
        outcomes.extend(_tagged(got, region) if len(regions) > 1 else got)
        if failure:
            failed.append(failure if len(regions) == 1 else f"{region}: {failure}")
    if failed:  # every item of every region was handled; the pass still reports the failures, so FC's alerts see them
        raise errors.PassIncomplete("reconcile: " + "; ".join(failed), list(outcomes))
    return outcomes


def reconciled_regions(settings: Settings) -> tuple[str, ...]:
    """The configured region, then the others ALIYUN_OPS_REGIONS names, each once, in that order."""
    return tuple(dict.fromkeys((settings.region_id, *settings.regions)))


def region_share(now: float, end: float, regions_left: int) -> float:
    """The end of the next region's pass: an equal share of the time left among the regions still to run."""
    return now + max(end - now, 0.0) / max(regions_left, 1)


def in_region(settings: Settings, region: str) -> Settings:
    """``settings`` acting in ``region``, validated like any setting (model_copy would skip the validators)."""
    if region == settings.region_id:
        return settings
    return type(settings).model_validate({**settings.model_dump(), "region_id": region})


def _reconcile_region(
    settings: Settings,
    credentials: Credentials | None,
    notifier: Notifier | None,
    until: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> tuple[list[Outcome], str]:
    """One region's pass until ``until``: its outcomes, and what failed in it ("" when nothing did). Raises only a
    ConfigError (wrong for every region alike), so one region's failure never stops the next region's pass."""
    from aliyun_ops.recovery.reconcile import Reconciler

    try:
        cloud = make_cloud(settings, credentials, sleep=sleep, clock=clock)
        cloud.deadline = until
        outcomes = Reconciler(cloud, settings, notifier=notifier).run()
    except errors.ConfigError:  # the same in every region (no credentials, a bad setting): the invocation fails now
        raise
    except Exception as exc:  # the pass could not run at all (an endpoint error, a broken client): said, counted
        log.warning("reconcile of %s failed: %s", settings.region_id, errors.describe(exc))
        return [Outcome("failed", f"the pass did not run: {errors.describe(exc)}")], errors.describe(exc)
    failed = [o for o in outcomes if o.status == "failed"]
    if not failed:
        return outcomes, ""
    summary = f"{len(failed)} of {len(outcomes)} item(s) failed: " + "; ".join(o.message for o in failed[:5])
    return outcomes, summary


def _tagged(outcomes: list[Outcome], region: str) -> list[Outcome]:
    """Outcomes of a pass over several regions say which region each is about."""
    return [dataclasses.replace(o, message=f"[{region}] {o.message}") for o in outcomes]
