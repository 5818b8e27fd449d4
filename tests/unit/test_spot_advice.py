"""DescribeSpotAdvice on the product side: the answer's shape, the hour-long per-region memory, degradation.

The captured answer follows the documented example and the official SDK model
(alibabacloud_ecs20140526 DescribeSpotAdviceResponseBody); the SDK round trip below proves the shape.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from aliyun_ops import errors, models
from aliyun_ops.cloud import convert
from aliyun_ops.cloud.advice import AdviceCache

CAPTURED: dict[str, Any] = {
    "RegionId": "cn-hangzhou",
    "RequestId": "473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E",
    "AvailableSpotZones": {
        "AvailableSpotZone": [
            {
                "ZoneId": "cn-hangzhou-i",
                "AvailableSpotResources": {
                    "AvailableSpotResource": [
                        {
                            "InstanceType": "ecs.c5.large",
                            "InterruptionRate": 0,
                            "InterruptRateDesc": "0-3%",
                            "AverageSpotDiscount": 20,
                        },
                        {
                            "InstanceType": "ecs.c6.large",
                            "InterruptionRate": 12.5,
                            "InterruptRateDesc": "10-100%",
                            "AverageSpotDiscount": 15,
                        },
                    ]
                },
            },
            {
                "ZoneId": "cn-hangzhou-h",
                "AvailableSpotResources": {
                    "AvailableSpotResource": [{"InstanceType": "ecs.c5.large", "InterruptionRate": 4.2}]
                },
            },
        ]
    },
}


def test_the_captured_answer_has_the_official_sdk_shape() -> None:
    from alibabacloud_ecs20140526 import models as sdk

    body = sdk.DescribeSpotAdviceResponseBody().from_map(CAPTURED)
    assert body.to_map() == CAPTURED


def test_every_pool_converts_to_its_rate_bucket_and_discount() -> None:
    rows = convert.spot_advice(CAPTURED)
    assert [(r.zone_id, r.instance_type, r.interruption_rate, r.rate_desc, r.average_discount) for r in rows] == [
        ("cn-hangzhou-i", "ecs.c5.large", 0.0, "0-3%", 20),
        ("cn-hangzhou-i", "ecs.c6.large", 12.5, "10-100%", 15),
        ("cn-hangzhou-h", "ecs.c5.large", 4.2, "3-5%", None),  # no text given: the bucket of its rate
    ]


def test_rows_without_a_type_or_a_rate_are_no_data_not_calm() -> None:
    body = {
        "AvailableSpotZones": {
            "AvailableSpotZone": [
                {
                    "ZoneId": "z",
                    "AvailableSpotResources": {
                        "AvailableSpotResource": [
                            {"InstanceType": "ecs.a", "InterruptionRate": None},
                            {"InterruptionRate": 1},
                            {"InstanceType": "ecs.b", "InterruptionRate": "n/a"},
                            {"InstanceType": "ecs.c", "InterruptionRate": 250},
                        ]
                    },
                }
            ]
        }
    }
    rows = convert.spot_advice(body)
    assert [(r.instance_type, r.interruption_rate, r.rate_desc) for r in rows] == [("ecs.c", 100.0, "10-100%")]
    assert convert.spot_advice({}) == [] and convert.spot_advice(None) == []


@pytest.mark.parametrize(
    ("rate", "bucket"), [(0, "0-3%"), (2.99, "0-3%"), (3, "3-5%"), (5, "5-10%"), (9.9, "5-10%"), (10, "10-100%")]
)
def test_rate_buckets_are_the_documented_ones(rate: float, bucket: str) -> None:
    assert convert.rate_bucket(rate) == bucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def advice(t: str, zone: str = "z1", rate: float = 1.0) -> models.SpotAdvice:
    return models.SpotAdvice(zone, t, rate, convert.rate_bucket(rate))


def test_advice_is_read_once_per_type_for_an_hour_then_again() -> None:
    cache, clock, calls = AdviceCache(), FakeClock(), []

    def fetch(types: list[str]) -> list[models.SpotAdvice]:
        calls.append(list(types))
        return [advice(t, z) for t in types for z in ("z1", "z2")]

    first = cache.get("acct/region", ["ecs.a", "ecs.b"], fetch, clock)
    assert len(first.rows) == 4 and first.note == ""
    again = cache.get("acct/region", ["ecs.b", "ecs.a", "ecs.c"], fetch, clock)
    assert calls == [["ecs.a", "ecs.b"], ["ecs.c"]]  # only the type not known yet is read
    assert {r.instance_type for r in again.rows} == {"ecs.a", "ecs.b", "ecs.c"}
    assert cache.get("other-region", ["ecs.a"], fetch, clock).rows  # another region is another memory
    assert calls[-1] == ["ecs.a"]
    clock.now += 3599
    cache.get("acct/region", ["ecs.a"], fetch, clock)
    assert len(calls) == 3
    clock.now += 2
    cache.get("acct/region", ["ecs.a"], fetch, clock)
    assert calls[-1] == ["ecs.a"] and len(calls) == 4  # past its hour: read again


def test_more_than_ten_types_are_asked_ten_at_a_time() -> None:
    cache, calls = AdviceCache(), []

    def fetch(types: list[str]) -> list[models.SpotAdvice]:
        calls.append(len(types))
        return []

    read = cache.get("r", [f"ecs.t{i}" for i in range(23)], fetch, FakeClock())
    assert calls == [10, 10, 3]
    assert read.rows == () and read.note == ""  # read, and none listed: no rows, not a failure


def test_a_denied_read_degrades_to_no_data_with_a_note_and_is_not_repeated_at_once() -> None:
    cache, clock, calls = AdviceCache(), FakeClock(), []

    def denied(types: list[str]) -> list[models.SpotAdvice]:
        calls.append(types)
        raise errors.PermissionDenied("Forbidden.RAM", "not allowed", action="DescribeSpotAdvice")

    read = cache.get("r", ["ecs.a"], denied, clock)
    assert read.rows == () and read.note == "spot advice of ecs.a unknown (Forbidden.RAM)"
    assert cache.get("r", ["ecs.a"], denied, clock).note == read.note
    assert len(calls) == 1  # remembered for a minute: a wave does not call it per incident
    clock.now += 61
    cache.get("r", ["ecs.a"], denied, clock)
    assert len(calls) == 2


def test_concurrent_incidents_share_one_read() -> None:
    cache, calls, gate = AdviceCache(), [], threading.Event()

    def slow(types: list[str]) -> list[models.SpotAdvice]:
        calls.append(types)
        gate.wait(5)
        return [advice(t) for t in types]

    results: list[int] = []

    def incident() -> None:
        results.append(len(cache.get("r", ["ecs.a", "ecs.b"], slow, time.time).rows))

    threads = [threading.Thread(target=incident) for _ in range(20)]
    for th in threads:
        th.start()
    time.sleep(0.2)
    gate.set()
    for th in threads:
        th.join(10)
    assert len(calls) == 1 and results == [2] * 20
