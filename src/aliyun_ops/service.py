"""The facade the runtimes and the CLI call: one event in, one ``Outcome`` out, or an exception.

``handle_event`` parses the event (unknown kinds are ``ignored``), reads the instance once, asks the
policy, and runs the incident. Every failure raises (``EventError``, ``ConfigError``,
``CloudError``, ``ReplacementFailed``, ``DeadlineExceeded``): a failure never comes back as a
success, so Function Compute's retries, failure destinations and alerts work.
"""

from __future__ import annotations

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
    # validated like any setting (model_copy would skip the validators)
    return type(settings).model_validate({**settings.model_dump(), "region_id": region})


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
    from aliyun_ops.recovery import Incident

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
    """Catch up on what events missed: see ``recovery.reconcile``."""
    from aliyun_ops.recovery.reconcile import Reconciler

    cloud = make_cloud(settings, credentials, sleep=sleep, clock=clock)
    cloud.deadline = effective_deadline(settings, deadline, clock())
    outcomes = Reconciler(cloud, settings, notifier=notifier).run()
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:  # every item was handled; the pass still reports the failures, so FC's alerts see them
        raise errors.PassIncomplete(
            f"reconcile: {len(failed)} of {len(outcomes)} item(s) failed: " + "; ".join(o.message for o in failed[:5]),
            list(outcomes),
        )
    return outcomes
