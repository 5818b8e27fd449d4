"""The emulator's spot market: reproducible for a seed, off by default, DescribeSpotAdvice in the official shape
with rates that follow the hazard, and reclaims issued from the hazard at the modelled rate."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from aliyun_ops.emulator import Emulator
from aliyun_ops.emulator.backend import Backend, load_default_scenario
from aliyun_ops.emulator.control_client import ControlError
from aliyun_ops.emulator.core import Clock
from aliyun_ops.emulator.models.market import DAY, Market
from tests.functional.conftest import _sdk_config
from tests.functional.test_emulator_protocol import Receiver

START = 1_760_000_000.0
IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"


def market_scenario(seed: int = 7, **knobs: Any) -> dict[str, Any]:
    scenario = load_default_scenario()
    scenario["market"] = {"enabled": True, "seed": seed, **knobs}
    scenario["realism"] = {}  # no transient refusals: the counts below are the market's alone
    return scenario


def paths(market: Market, days: range) -> dict[tuple[str, str], list[tuple[float, float, bool]]]:
    return {key: [(market.hazard(pool, d), market.price(pool, d), market.in_stock(pool, d)) for d in days]
            for key, pool in market.pools.items()}


@pytest.fixture
def market_emu() -> Iterator[Emulator]:
    with Emulator(scenario=market_scenario(), time_scale=0.0) as emu:
        yield emu


def advance(emu: Emulator, seconds: float) -> None:
    """Move emulated time holding the backend lock, so that every timer on the way settles in order (the
    ticker, which takes the lock first, would otherwise make the clock's callbacks skip their settle)."""
    with emu.backend.lock:
        emu.clock.advance(seconds)


def ecs(emu: Emulator) -> Any:
    from alibabacloud_ecs20140526.client import Client

    return Client(_sdk_config(emu))


def advice(emu: Emulator, **filters: Any) -> Any:
    from alibabacloud_ecs20140526 import models as m

    return ecs(emu).describe_spot_advice(m.DescribeSpotAdviceRequest(region_id="cn-hangzhou", **filters)).body


def rows(body: Any) -> dict[tuple[str, str], Any]:
    return {(z.zone_id, r.instance_type): r
            for z in body.available_spot_zones.available_spot_zone
            for r in z.available_spot_resources.available_spot_resource}


def test_the_market_is_reproducible_for_a_seed() -> None:
    one = Backend(Clock(0.0, start=START), market_scenario(seed=7)).market
    two = Backend(Clock(0.0, start=START + 12345), market_scenario(seed=7)).market
    other = Backend(Clock(0.0, start=START), market_scenario(seed=8)).market
    assert one is not None and two is not None and other is not None
    days = range(-30, 31)
    assert paths(one, days) == paths(two, days)
    assert paths(one, days) != paths(other, days)
    # it varies over days, and has both kinds of pool: contested (>= 0.1 a day) and calm (<= 0.01 a day)
    hazards = [h for series in paths(one, days).values() for h, _, _ in series]
    assert min(hazards) <= 0.01 and max(hazards) >= 0.1
    stock = [s for series in paths(one, days).values() for _, _, s in series]
    assert 0.01 < stock.count(False) / len(stock) < 0.3
    c7 = [price for price, in [(p,) for _, p, _ in paths(one, days)[("cn-hangzhou-g", "ecs.c7.large")]]]
    assert len(set(c7)) > 20


def test_off_by_default_stock_and_prices_as_the_scenario_says() -> None:
    backend = Backend(Clock(0.0, start=START))
    assert backend.market is None
    assert not backend.catalogue.in_stock("cn-hangzhou-h", "ecs.c7.large", True)  # the default scenario's entry
    assert len(backend.catalogue.price_history("cn-hangzhou-g", "ecs.c7.large")) == 3
    with Emulator(time_scale=0.0) as emu:
        from alibabacloud_ecs20140526 import models as m

        client = ecs(emu)
        made = client.run_instances(m.RunInstancesRequest(
            region_id="cn-hangzhou", zone_id="cn-hangzhou-i", image_id=IMAGE, instance_type="ecs.c7.large",
            v_switch_id="vsw-bp1emu00000000000i", security_group_id="sg-bp1emu000000000web",
            spot_strategy="SpotAsPriceGo", amount=20)).body.instance_id_sets.instance_id_set
        advance(emu, 30 * DAY)
        assert emu.backend.market_reclaims == []
        assert all(emu.backend.instances.items[i].status == "Running" for i in made)
        body = advice(emu, instance_types=["ecs.c7.large"])  # answered without the market, same shape
        found = rows(body)
        assert set(found) == {(z, "ecs.c7.large") for z in emu.backend.catalogue.zone_ids("cn-hangzhou")}
        cheap, dear = found[("cn-hangzhou-i", "ecs.c7.large")], found[("cn-hangzhou-j", "ecs.c7.large")]
        assert cheap.average_spot_discount < dear.average_spot_discount
        assert cheap.interruption_rate > dear.interruption_rate


def test_spot_advice_has_the_official_shape_and_follows_the_hazard(market_emu: Emulator) -> None:
    body = advice(market_emu)
    assert body.region_id == "cn-hangzhou" and body.request_id
    found = rows(body)
    market = market_emu.backend.market
    assert market is not None
    assert set(found) == {k for k in market.pools if k[0].startswith("cn-hangzhou")}
    buckets = {"0-3%": (0, 3), "3-5%": (3, 5), "5-10%": (5, 10), "10-100%": (10, 100)}
    for (zone, type_id), row in found.items():
        low, high = buckets[row.interrupt_rate_desc]
        assert low <= row.interruption_rate < high or row.interruption_rate == high == 100
        assert isinstance(row.average_spot_discount, int) and 1 <= row.average_spot_discount <= 100
        history = market_emu.backend.catalogue.price_history(zone, type_id)[-31:]
        mean_share = sum(pt.spot_price / pt.origin_price for pt in history) / len(history)
        assert abs(row.average_spot_discount - 100 * mean_share) <= 1.5
    pools = sorted(market.pools.values(), key=lambda pool: pool.contention)
    calm = next(pool for pool in pools if pool.zone_id.startswith("cn-hangzhou"))
    contested = next(pool for pool in reversed(pools) if pool.zone_id.startswith("cn-hangzhou"))
    assert found[(contested.zone_id, contested.type_id)].interruption_rate > \
        3 * found[(calm.zone_id, calm.type_id)].interruption_rate
    # each zone's rows by ascending discount
    for zone in body.available_spot_zones.available_spot_zone:
        discounts = [r.average_spot_discount for r in zone.available_spot_resources.available_spot_resource]
        assert discounts == sorted(discounts)


def test_spot_advice_filters(market_emu: Emulator) -> None:
    from Tea.exceptions import TeaException

    assert set(rows(advice(market_emu, instance_types=["ecs.c7.large", "ecs.g7.large"], zone_id="cn-hangzhou-k"))) \
        == {("cn-hangzhou-k", "ecs.c7.large"), ("cn-hangzhou-k", "ecs.g7.large")}
    types = {t for _, t in rows(advice(market_emu, cores=2, memory=4.0))}
    assert types and all(market_emu.backend.catalogue.type(t).cpu == 2 for t in types)
    assert all(market_emu.backend.catalogue.type(t).memory_gib == 4.0 for t in types)
    big = {t for _, t in rows(advice(market_emu, min_cores=8, min_memory=32.0))}
    assert big and all(market_emu.backend.catalogue.type(t).cpu >= 8 for t in big)
    # a family filter goes with Cores+Memory or MinCores+MinMemory (the reference's ways of calling it)
    assert {t for _, t in rows(advice(market_emu, min_cores=1, min_memory=0.5, instance_type_family="ecs.g8y"))} == \
        {"ecs.g8y.large", "ecs.g8y.xlarge", "ecs.g8y.2xlarge"}
    with pytest.raises(TeaException) as alone:
        advice(market_emu, instance_type_family="ecs.g8y")
    assert alone.value.code == "InvalidParameter"
    with pytest.raises(TeaException) as too_many:
        advice(market_emu, instance_types=[t for t in market_emu.backend.catalogue.types][:11])
    assert too_many.value.statusCode == 400  # the specification caps InstanceTypes.N at 10
    with pytest.raises(TeaException) as zone:
        advice(market_emu, zone_id="cn-hangzhou-z")
    assert zone.value.code == "InvalidZoneId.NotFound"


def test_reclaims_come_from_the_hazard_at_the_modelled_rate() -> None:
    """200 spot instances in a contested pool and 200 in a calm one, a month: each pool's count of reclaims
    is within 4 standard deviations of the count the hazard predicts, and the contested pool loses more."""
    from alibabacloud_ecs20140526 import models as m

    with Emulator(scenario=market_scenario(seed=11), time_scale=0.0) as emu:
        market = emu.backend.market
        assert market is not None
        now = emu.clock.now()
        c7 = [market.pools[(z, "ecs.c7.large")] for z in ("cn-hangzhou-g", "cn-hangzhou-i", "cn-hangzhou-j",
                                                           "cn-hangzhou-k")]
        in_stock = [pool for pool in c7 if market.in_stock(pool, 0)]
        contested, calm = max(in_stock, key=lambda p: p.base_hazard), min(in_stock, key=lambda p: p.base_hazard)
        client = ecs(emu)
        launched: dict[str, list[str]] = {}
        for pool in (contested, calm):
            zone = pool.zone_id[-1]
            launched[pool.zone_id] = [i for _ in range(2) for i in client.run_instances(m.RunInstancesRequest(
                region_id="cn-hangzhou", zone_id=pool.zone_id, image_id=IMAGE, instance_type="ecs.c7.large",
                v_switch_id=f"vsw-bp1emu00000000000{zone}", security_group_id="sg-bp1emu000000000web",
                spot_strategy="SpotAsPriceGo", amount=100)).body.instance_id_sets.instance_id_set]
        advance(emu, 60)  # Running: each one's reclaim time is drawn now
        armed = emu.clock.now()
        advance(emu, 30 * DAY)
        reclaimed = {r["instanceId"] for r in emu.backend.market_reclaims}
        counts = {}
        for pool in (contested, calm):
            exposure = sum(market.hazard(pool, d) * (min(armed + 30 * DAY, market.day_start(d + 1))
                                                      - max(armed, market.day_start(d))) / DAY
                           for d in range(market.day_of(armed), market.day_of(armed + 30 * DAY) + 1))
            p_lost = 1 - math.exp(-exposure)
            n = len(launched[pool.zone_id])
            expected, sd = n * p_lost, math.sqrt(n * p_lost * (1 - p_lost))
            counts[pool.zone_id] = got = len(reclaimed & set(launched[pool.zone_id]))
            assert abs(got - expected) <= 4 * sd + 1, (pool.zone_id, got, expected)
        assert counts[contested.zone_id] > counts[calm.zone_id]
        assert now < armed
        # a reclaimed instance went through the notice: released after spotNoticeSeconds, in CloudMonitor's history
        assert all(i not in emu.backend.instances.items for i in reclaimed)
        assert len(emu.backend.system_events.entries) >= len(reclaimed)


def test_a_market_reclaim_is_noticed_and_delivered(market_emu: Emulator) -> None:
    """The existing interrupt machinery: the Recycling lock, the notice to the subscribed URL, the release after
    the notice."""
    from alibabacloud_ecs20140526 import models as m

    receiver = Receiver()
    try:
        market_emu.control.subscribe(receiver.url, "cloudmonitor")
        market = market_emu.backend.market
        assert market is not None
        pool = max((p for p in market.pools.values() if p.zone_id == "cn-hangzhou-g" and market.in_stock(p, 0)
                    and p.type_id.endswith(".large") and p.type_id in ("ecs.c7.large", "ecs.g7.large", "ecs.c6.large",
                                                                    "ecs.g6.large", "ecs.c8i.large", "ecs.g8i.large")),
                   key=lambda p: p.base_hazard)
        (iid,) = ecs(market_emu).run_instances(m.RunInstancesRequest(
            region_id="cn-hangzhou", zone_id="cn-hangzhou-g", image_id=IMAGE, instance_type=pool.type_id,
            v_switch_id="vsw-bp1emu00000000000g", security_group_id="sg-bp1emu000000000web",
            spot_strategy="SpotAsPriceGo")).body.instance_id_sets.instance_id_set
        for _ in range(24 * 400):  # hour by hour until the market reclaims it
            advance(market_emu, 3600)
            if market_emu.backend.market_reclaims:
                break
        (reclaim,) = market_emu.backend.market_reclaims
        assert reclaim["instanceId"] == iid
        inst = market_emu.backend.instances.items.get(iid)
        late = market_emu.clock.now() - reclaim["time"]
        assert (inst is None) == (late >= 300)
        assert inst is None or "Recycling" in inst.lock_reasons
        while True:
            event = receiver.received.get(timeout=10).body
            if event["name"] == "Instance:PreemptibleInstanceInterruption":
                break
        assert event["content"]["instanceId"] == iid and event["content"]["action"] == "delete"
        advance(market_emu, 301)
        assert iid not in market_emu.backend.instances.items
    finally:
        receiver.close()


def test_the_control_route_switches_the_market(emulator: Emulator) -> None:
    assert emulator.control.market()["enabled"] is False
    on = emulator.control.market({"enabled": True, "seed": 3})
    assert on["enabled"] is True and on["seed"] == 3
    assert emulator.backend.market is not None
    assert emulator.control.market({"enabled": False})["enabled"] is False
    assert emulator.backend.market is None
    with pytest.raises(ControlError):
        emulator.control.market({"enabled": True, "hazardMax": "high"})
