"""Scenario 1: retries. Throttling, 5xx and timeouts are retried on every call with exponential backoff
and jitter (tenacity), never past the incident's deadline; errors that cannot succeed on retry are
tried once. Counted from the emulator's journal: what reached the cloud, not what the client says."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from aliyun_ops import errors
from aliyun_ops.cloud import Cloud
from aliyun_ops.cloud.sdk import Sdk
from aliyun_ops.emulator.faults import FaultDecision
from tests.functional.engine_support import CREDS, World, settings


def _cloud(world: World, sleeps: list[float], sdk: Any = None) -> Cloud:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        world.advance(seconds)

    return Cloud(CREDS, settings(world.emu), sleep=sleep, clock=world.emu.clock.now, sdk=sdk)


def _attempts(world: World, action: str) -> list[dict[str, Any]]:
    return [c for c in world.emu.journal.entries() if c["action"] == action]


@pytest.mark.parametrize(("code", "status"), [("Throttling.User", 400), ("ServiceUnavailable", 503),
                                              ("InternalError", 500)])
def test_transient_errors_are_retried_with_growing_jittered_waits(world: World, code: str, status: int) -> None:
    world.emu.control.faults(actions=["DescribeInstances"], error_rate=1.0, code=code, http_status=status)
    sleeps: list[float] = []
    cloud = _cloud(world, sleeps)
    cloud.deadline = world.emu.clock.now() + 10_000
    with pytest.raises(errors.CloudError) as failed:
        cloud.describe_instances()
    assert failed.value.retryable and failed.value.code == code
    calls = _attempts(world, "DescribeInstances")
    assert len(calls) == len(sleeps) + 1 >= 4  # retried, and bounded
    assert sleeps[-1] > 4 * sleeps[0]  # exponential
    assert len({round(s % 0.5, 6) for s in sleeps}) > 1  # jitter: not a fixed ladder


def test_a_transient_error_then_success_returns_the_answer(world: World) -> None:
    world.launch(eip=False)
    counter = itertools.count()
    real = world.emu.faults.decide

    def two_timeouts(action: str, region: str | None = None) -> FaultDecision:  # held past the read timeout, twice
        if action == "DescribeInstances" and next(counter) < 2:
            return FaultDecision(hold=0.5)
        return real(action, region)

    world.emu.faults.decide = two_timeouts  # type: ignore[method-assign]
    sleeps: list[float] = []
    sdk = Sdk(CREDS, settings(world.emu))
    sdk._client("ecs")._read_timeout = 200  # ms: a real read timeout, without waiting the default 15 s
    cloud = _cloud(world, sleeps, sdk)
    found = cloud.describe_instances()
    assert len(found) == 1 and len(sleeps) == 2
    deadline = time.monotonic() + 5
    while world.emu.dispatcher.in_flight and time.monotonic() < deadline:  # the held calls end after 0.5 s
        time.sleep(0.05)
    codes = [c["code"] for c in _attempts(world, "DescribeInstances")]
    assert codes.count("ConnectionDropped") == 2 and codes[-3:].count(None) == 1


@pytest.mark.parametrize("code", ["InvalidParameter", "OperationDenied.NoStock", "Forbidden.RAM",
                                  "InvalidInstanceId.NotFound", "IdempotentParameterMismatch"])
def test_errors_that_cannot_succeed_are_tried_once(world: World, code: str) -> None:
    world.emu.control.faults(actions=["DescribeInstances"], error_rate=1.0, code=code)
    sleeps: list[float] = []
    with pytest.raises(errors.CloudError) as failed:
        _cloud(world, sleeps).describe_instances()
    assert not failed.value.retryable and failed.value.code == code
    assert len(_attempts(world, "DescribeInstances")) == 1 and sleeps == []


def test_retries_stop_before_the_deadline(world: World) -> None:
    world.emu.control.faults(actions=["*"], error_rate=1.0, code="Throttling.User")
    sleeps: list[float] = []
    cloud = _cloud(world, sleeps)
    start = world.emu.clock.now()
    cloud.deadline = start + 5
    with pytest.raises(errors.Throttled):
        cloud.describe_instances()
    assert world.emu.clock.now() <= cloud.deadline
    assert len(_attempts(world, "DescribeInstances")) == len(sleeps) + 1 >= 2


def test_an_incident_survives_a_throttled_and_failing_api(world: World) -> None:
    """Every action fails its first two calls (throttled, then 503): the incident still replaces."""
    old = world.launch()
    event = world.interrupt(old)
    real, seen = world.emu.faults.decide, {}

    def first_two_fail(action: str, region: str | None = None) -> FaultDecision:
        from aliyun_ops.emulator.faults import InjectedError

        n = seen[action] = seen.get(action, 0) + 1
        if n == 1:
            return FaultDecision(error=InjectedError("throttled", code="Throttling.User", http_status=400))
        if n == 2:
            return FaultDecision(error=InjectedError("unavailable", code="ServiceUnavailable", http_status=503))
        return real(action, region)

    world.emu.faults.decide = first_two_fail  # type: ignore[method-assign]
    outcome = world.handle(event)
    assert outcome.status == "replaced"
    assert {a for a, n in seen.items() if n >= 3} >= {"CreateImage", "RunInstances", "DescribeInstances"}
