"""The replacement decision, including the original README's five cases at unit level."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aliyun_ops.config import Settings
from aliyun_ops.events import InstanceEvent, parse_event
from aliyun_ops.models import TAG_MANAGED, Instance
from aliyun_ops.policy import decide
from tests.events import load_event, load_event_bytes

SPOT = Instance(
    instance_id="i-bp1ecr0000005go2go",
    region_id="cn-hangzhou",
    zone_id="cn-hangzhou-h",
    instance_type="ecs.c7.large",
    status="Running",
    spot_strategy="SpotAsPriceGo",
    instance_charge_type="PostPaid",
)
PAYG = replace(SPOT, spot_strategy="NoSpot")
RECLAIMED = replace(SPOT, lock_reasons=("Recycling",))


def event(name: str, **changes: object) -> InstanceEvent:
    result = parse_event(load_event_bytes(name))
    assert isinstance(result, InstanceEvent)
    return replace(result, **changes)  # type: ignore[arg-type]


# The original README's test list: only the automatic release of a spot instance is replaced.
@pytest.mark.parametrize(
    ("case", "event_name", "instance", "act"),
    [
        ("pay-as-you-go release", "cloudmonitor_statechange_deleted", None, False),
        ("pay-as-you-go release (still listed)", "eventbridge_statechange_deleted", PAYG, False),
        ("pay-as-you-go stop", "cloudmonitor_statechange_stopped", replace(PAYG, status="Stopped"), False),
        ("manual spot release", "cloudmonitor_statechange_deleted", replace(SPOT, status="Stopping"), False),
        ("manual spot release (gone)", "eventbridge_statechange_deleted", None, False),
        ("spot stop", "cloudmonitor_statechange_stopped", replace(SPOT, status="Stopped"), False),
        ("cloud reclaim", "cloudmonitor_interruption", RECLAIMED, True),
        ("cloud reclaim, EventBridge", "eventbridge_interruption", RECLAIMED, True),
    ],
)
def test_readme_cases(case: str, event_name: str, instance: Instance | None, act: bool) -> None:
    decision = decide(event(event_name), instance, Settings())
    assert decision.act is act, case
    assert decision.reason


def test_pay_as_you_go_interruption_is_not_acted_on() -> None:
    decision = decide(event("cloudmonitor_interruption"), PAYG, Settings())
    assert not decision.act and "pay-as-you-go" in decision.reason


def test_a_stop_mode_spot_instance_is_never_replaced_on_an_event_whatever_its_action() -> None:
    """The reclaim only stops it; reconcile starts it again: a replacement would be a second running copy."""
    stopped = replace(RECLAIMED, status="Stopped", stopped_mode="StopCharging", spot_interruption_behavior="Stop")
    decision = decide(event("eventbridge_statechange_stopped"), stopped, Settings())
    assert not decision.act and "Stop-mode" in decision.reason and "reconcile" in decision.reason
    notified = replace(RECLAIMED, spot_interruption_behavior="Stop")  # Running, Recycling lock, action delete
    assert not decide(event("cloudmonitor_interruption"), notified, Settings()).act
    assert not decide(event("cloudmonitor_readme_sample"), notified, Settings()).act


def test_a_terminate_mode_spot_instance_stopped_with_the_recycling_lock_is_acted_on() -> None:
    stopped = replace(RECLAIMED, status="Stopped", spot_interruption_behavior="Terminate")
    assert decide(event("eventbridge_statechange_stopped"), stopped, Settings()).act


def test_readme_masked_action_confirmed_by_recycling_lock() -> None:
    masked = event("cloudmonitor_readme_sample")
    confirmed = decide(masked, replace(RECLAIMED, instance_id=masked.instance_id), Settings())
    assert confirmed.act and "Recycling" in confirmed.reason


def test_readme_masked_action_refuted_without_recycling_lock() -> None:
    masked = event("cloudmonitor_readme_sample")
    refuted = decide(masked, replace(SPOT, instance_id=masked.instance_id), Settings())
    assert not refuted.act and "no Recycling lock" in refuted.reason


def test_missing_action_needs_the_lock() -> None:
    body = load_event("cloudmonitor_interruption")
    del body["content"]["action"]
    parsed = parse_event(body)
    assert isinstance(parsed, InstanceEvent)
    assert decide(parsed, RECLAIMED, Settings()).act
    assert not decide(parsed, SPOT, Settings()).act


@pytest.mark.parametrize("action", ["stop", "st***", "reboot"])
def test_other_actions_are_not_a_release_even_with_the_lock(action: str) -> None:
    decision = decide(event("cloudmonitor_interruption", action=action), RECLAIMED, Settings())
    assert not decision.act and "not a release" in decision.reason


def test_opt_out_tag() -> None:
    opted_out = replace(RECLAIMED, tags=((TAG_MANAGED, "False"),))
    decision = decide(event("cloudmonitor_interruption"), opted_out, Settings())
    assert not decision.act and TAG_MANAGED in decision.reason
    assert decide(event("cloudmonitor_interruption"), replace(opted_out, tags=((TAG_MANAGED, "true"),)), Settings()).act


def test_selector_limits_to_tagged_instances() -> None:
    settings = Settings(selector=("team", "web"))
    notice = event("cloudmonitor_interruption")
    untagged = decide(notice, RECLAIMED, settings)
    assert not untagged.act and "team=web" in untagged.reason
    assert not decide(notice, replace(RECLAIMED, tags=(("team", "db"),)), settings).act
    assert decide(notice, replace(RECLAIMED, tags=(("team", "web"),)), settings).act


def test_a_release_notice_without_the_recycling_lock_is_not_acted_on() -> None:
    """Every real reclaim shows the lock; a notice for a healthy instance (a test, a forgery) must not buy a
    second instance and take its IP. Decided on the one read: a forged notice costs one call."""
    decision = decide(event("cloudmonitor_interruption"), SPOT, Settings())
    assert not decision.act and "no Recycling lock" in decision.reason
    assert decide(event("cloudmonitor_interruption"), RECLAIMED, Settings()).act
