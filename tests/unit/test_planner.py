"""Candidate ranking, including the original README's three type-detection cases."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aliyun_ops.families import not_equivalent
from aliyun_ops.models import Instance, InstanceType, Offering, Plan, SpotPrice, VSwitch
from aliyun_ops.planner import UnavailableOfferings, choose_system_disk, equivalent_type_filter, rank_candidates

ZH, ZI, ZJ, ZK = "cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k"


def t(type_id: str, cpu: int, mem: float, arch: str = "X86", gpus: int = 0, spec: str = "") -> InstanceType:
    return InstanceType(type_id, ".".join(type_id.split(".")[:2]), cpu, mem, arch, gpus, spec)


G7 = t("ecs.g7.large", 2, 8)
CATALOG = [
    G7,
    t("ecs.r7.large", 2, 16),
    t("ecs.c7.xlarge", 4, 8),
    t("ecs.c7.large", 2, 4),
    t("ecs.r7.medium", 1, 8),  # fewer cores, same memory: the old tool would have picked it
    t("ecs.g6.large", 2, 8),
    t("ecs.g8i.large", 2, 8),
    t("ecs.c8y.large", 2, 8, arch="ARM"),
    t("ecs.g8y.large", 2, 8, arch="ARM"),
    t("ecs.gn7i-c8g1.2xlarge", 8, 30, gpus=1, spec="NVIDIA A10"),
    t("ecs.gn6i-c4g1.xlarge", 4, 15, gpus=1, spec="NVIDIA T4"),
    t("ecs.gn7i-c16g1.4xlarge", 16, 60, gpus=1, spec="NVIDIA A10"),
]
VSWITCHES = [
    VSwitch("vsw-h", "vpc-1", ZH, available_ips=100),
    VSwitch("vsw-i", "vpc-1", ZI, available_ips=10),
    VSwitch("vsw-i2", "vpc-1", ZI, available_ips=200),
    VSwitch("vsw-other-vpc", "vpc-2", ZJ),
]
ORIGINAL = Instance(
    instance_id="i-orig",
    region_id="cn-hangzhou",
    zone_id=ZH,
    instance_type=G7.type_id,
    status="Running",
    cpu=2,
    memory_mib=8192,
    vpc_id="vpc-1",
    vswitch_id="vsw-h",
    spot_strategy="SpotAsPriceGo",
)


def offers(*pairs: tuple[str, str], status: str = "WithStock") -> list[Offering]:
    return [Offering(zone, type_id, status_category=status) for type_id, zone in pairs]


def price(type_id: str, zone: str, spot: float, origin: float = 1.0, ts: str = "2026-01-01T00:00:00Z") -> SpotPrice:
    return SpotPrice(zone, type_id, spot, origin, ts)


def plan(offerings: list[Offering], prices: list[SpotPrice] = (), original: Instance = ORIGINAL, **kw: object) -> Plan:  # type: ignore[assignment]
    itype = next((c for c in CATALOG if c.type_id == original.instance_type), None)
    return rank_candidates(original, itype, CATALOG, offerings, prices, VSWITCHES, **kw)  # type: ignore[arg-type]


def picked(p: Plan) -> list[tuple[str, str, int]]:
    return [(c.instance_type, c.zone_id, c.tier) for c in p.candidates]


# README case 1: the same type has stock.
def test_same_type_in_stock_same_zone_first_then_other_zones() -> None:
    p = plan(offers((G7.type_id, ZI), (G7.type_id, ZH), ("ecs.g6.large", ZH)), [price("ecs.g6.large", ZH, 0.01)])
    assert picked(p)[:2] == [(G7.type_id, ZH, 1), (G7.type_id, ZI, 2)]
    first, second = p.candidates[:2]
    assert (first.vswitch_id, first.reason) == ("vsw-h", "same type, same zone, spot price unknown")
    assert second.vswitch_id == "vsw-i2"  # the vSwitch of that zone with the most free addresses
    assert picked(p)[2] == ("ecs.g6.large", ZH, 3)  # cheaper, but an equivalent ranks after the same type


# README case 2: no stock; several types with equal memory and different cores.
def test_no_stock_equal_memory_different_cores_never_downgrades_cores() -> None:
    p = plan(
        offers(("ecs.r7.medium", ZH), ("ecs.c7.xlarge", ZH), (G7.type_id, ZH), ("ecs.g6.large", ZI))
        + offers((G7.type_id, ZI), status="WithoutStock"),
        [price("ecs.r7.medium", ZH, 0.05), price("ecs.c7.xlarge", ZH, 0.20), price("ecs.g6.large", ZI, 0.30)],
        unavailable=frozenset({(G7.type_id, ZH)}),
    )
    assert picked(p) == [("ecs.c7.xlarge", ZH, 3), ("ecs.g6.large", ZI, 3)]
    assert all(c.itype.cpu >= 2 and c.itype.memory_gib >= 8 for c in p.candidates)
    skipped = dict(p.skipped)
    assert skipped["ecs.r7.medium@cn-hangzhou-h"] == "1 vCPU, fewer than the original's 2"
    assert skipped[f"{G7.type_id}@{ZH}"] == "interrupted or sold out in the last minutes"
    assert "not WithStock" in skipped[f"{G7.type_id}@{ZI}"]


# README case 3: no stock; several types with equal memory and equal cores.
def test_no_stock_equal_memory_equal_cores_cheapest_first_and_deterministic() -> None:
    twins = ["ecs.g6.large", "ecs.g8i.large", "ecs.r7.large"]
    offerings = offers(*[(tid, zone) for tid in twins for zone in (ZH, ZI)])
    prices = [price("ecs.g6.large", ZH, 0.30), price("ecs.g6.large", ZI, 0.10), price("ecs.g8i.large", ZH, 0.20)]
    prices += [price("ecs.g8i.large", ZI, 0.20), price("ecs.r7.large", ZH, 0.10), price("ecs.r7.large", ZI, 0.40)]
    p = plan(offerings, prices)
    # 0.10: g6@ZI (equal size) before r7@ZH (twice the memory); 0.20: g8i in both zones, same zone first.
    assert picked(p)[:4] == [
        ("ecs.g6.large", ZI, 3),
        ("ecs.r7.large", ZH, 3),
        ("ecs.g8i.large", ZH, 3),
        ("ecs.g8i.large", ZI, 3),
    ]
    for seed in range(5):
        shuffled_offers, shuffled_prices = offerings[:], prices[:]
        random.Random(seed).shuffle(shuffled_offers)
        random.Random(seed).shuffle(shuffled_prices)
        assert plan(shuffled_offers, shuffled_prices).candidates == p.candidates


def test_family_similarity_breaks_price_and_size_ties() -> None:
    p = plan(
        offers(("ecs.g6.large", ZH), ("ecs.g8i.large", ZH)),
        [price("ecs.g6.large", ZH, 0.1), price("ecs.g8i.large", ZH, 0.1)],
    )
    assert [c.instance_type for c in p.candidates] == ["ecs.g6.large", "ecs.g8i.large"]  # both line g: name order
    c7 = Instance(**{**ORIGINAL.__dict__, "instance_type": "ecs.c7.large", "memory_mib": 4096})
    p = plan(
        offers(("ecs.g7.large", ZH), ("ecs.c7.xlarge", ZH)),
        [price("ecs.g7.large", ZH, 0.1), price("ecs.c7.xlarge", ZH, 0.1)],
        original=c7,
    )
    # g7.large (2c8g) is closer in size than c7.xlarge (4c8g) to c7.large (2c4g): size beats family.
    assert [c.instance_type for c in p.candidates] == ["ecs.g7.large", "ecs.c7.xlarge"]
    assert "other family" in p.candidates[0].reason and "same family" in p.candidates[1].reason


def test_price_orders_equivalents_and_unknown_price_goes_last() -> None:
    p = plan(
        offers(("ecs.r7.large", ZH), ("ecs.c7.xlarge", ZH), ("ecs.g6.large", ZH)),
        [
            price("ecs.r7.large", ZH, 0.3),
            price("ecs.c7.xlarge", ZH, 0.2, ts="2026-01-01T00:00:00Z"),
            price("ecs.c7.xlarge", ZH, 0.4, ts="2026-01-02T00:00:00Z"),
        ],
    )
    assert [(c.instance_type, c.spot_price) for c in p.candidates] == [
        ("ecs.r7.large", 0.3),
        ("ecs.c7.xlarge", 0.4),  # the newest price counts
        ("ecs.g6.large", None),
    ]


def test_gpu_and_arm_are_never_mixed() -> None:
    p = plan(offers(("ecs.g8y.large", ZH), ("ecs.gn6i-c4g1.xlarge", ZH), ("ecs.g6.large", ZH)))
    assert [c.instance_type for c in p.candidates] == ["ecs.g6.large"]
    skipped = dict(p.skipped)
    assert skipped["ecs.g8y.large@cn-hangzhou-h"] == "ARM CPU, the original is X86"
    assert skipped["ecs.gn6i-c4g1.xlarge@cn-hangzhou-h"] == "has a GPU, the original has none"

    gpu = Instance(**{**ORIGINAL.__dict__, "instance_type": "ecs.gn7i-c8g1.2xlarge", "cpu": 8, "memory_mib": 30720})
    p = plan(offers(("ecs.gn6i-c4g1.xlarge", ZH), ("ecs.gn7i-c16g1.4xlarge", ZH), ("ecs.c7.xlarge", ZH)), original=gpu)
    assert [c.instance_type for c in p.candidates] == ["ecs.gn7i-c16g1.4xlarge"]
    assert dict(p.skipped)["ecs.c7.xlarge@cn-hangzhou-h"] == "no GPU, the original has one"


def test_zone_without_a_vswitch_of_the_vpc_is_skipped() -> None:
    p = plan(offers((G7.type_id, ZJ), (G7.type_id, ZK)))
    assert p.candidates == ()
    assert dict(p.skipped) == {
        f"{G7.type_id}@{ZJ}": f"no vSwitch of vpc-1 in {ZJ}",
        f"{G7.type_id}@{ZK}": f"no vSwitch of vpc-1 in {ZK}",
    }
    assert any("no spot candidate" in n for n in p.notes)


def test_max_price_drops_dearer_offerings_and_sets_the_limit() -> None:
    p = plan(
        offers((G7.type_id, ZH), ("ecs.g6.large", ZH), ("ecs.g8i.large", ZH)),
        [price(G7.type_id, ZH, 0.5), price("ecs.g6.large", ZH, 0.2), price("ecs.g8i.large", ZH, 0.25)],
        max_price=0.25,
    )
    assert [c.instance_type for c in p.candidates] == ["ecs.g6.large", "ecs.g8i.large"]
    assert all(c.spot_strategy == "SpotWithPriceLimit" and c.spot_price_limit == 0.25 for c in p.candidates)
    assert "above the maximum" in dict(p.skipped)[f"{G7.type_id}@{ZH}"]
    assert all(
        c.spot_strategy == "SpotAsPriceGo" and c.spot_price_limit is None
        for c in plan(offers((G7.type_id, ZH))).candidates
    )


def test_allow_and_deny_families() -> None:
    offerings = offers((G7.type_id, ZH), ("ecs.g6.large", ZH), ("ecs.g8i.large", ZH))
    assert [c.instance_type for c in plan(offerings, deny_families=["g7", "ecs.g6"]).candidates] == ["ecs.g8i.large"]
    allowed = plan(offerings, allow_families=["ecs.g6"])
    assert [c.instance_type for c in allowed.candidates] == ["ecs.g6.large"]
    assert dict(allowed.skipped)[f"{G7.type_id}@{ZH}"] == "family ecs.g7 is not in the allowed families"


def test_payg_fallback_is_off_by_default_and_last_when_on() -> None:
    spot = offers((G7.type_id, ZH), status="WithoutStock")
    payg = offers(("ecs.g6.large", ZH), (G7.type_id, ZI))
    off = plan(spot, payg_offerings=payg)
    assert off.candidates == () and any("fallback is off" in n for n in off.notes)
    on = plan(
        spot + offers(("ecs.g8i.large", ZH)),
        [price("ecs.g8i.large", ZH, 0.005)],
        payg_offerings=payg,
        payg_fallback=True,
        max_price=0.01,
    )
    assert picked(on) == [("ecs.g8i.large", ZH, 3), (G7.type_id, ZI, 4), ("ecs.g6.large", ZH, 4)]
    assert all(c.spot_strategy == "NoSpot" and c.spot_price_limit is None for c in on.candidates if c.tier == 4)


def test_original_type_missing_from_catalog_only_same_type() -> None:
    odd = Instance(**{**ORIGINAL.__dict__, "instance_type": "ecs.x9.large"})
    p = rank_candidates(odd, None, CATALOG, offers(("ecs.x9.large", ZI), ("ecs.g6.large", ZH)), [], VSWITCHES)
    assert picked(p) == [("ecs.x9.large", ZI, 2)]
    assert p.candidates[0].itype.cpu == 2
    assert "no equivalents" in dict(p.skipped)["ecs.g6.large@cn-hangzhou-h"]


def test_equivalent_type_filter() -> None:
    # The API refuses MaximumGPUAmount=0 (GPU amounts must be positive): no GPU filter for a GPU-less type...
    assert equivalent_type_filter(G7) == {"CpuArchitecture": "X86", "MinimumCpuCoreCount": 2, "MinimumMemorySize": 8}
    gpu = equivalent_type_filter(CATALOG[9])
    assert (gpu["MinimumGPUAmount"], gpu["GPUSpec"]) == (1, "NVIDIA A10")
    # ...so every GPU type that answer can hold is left out client-side.
    gpu_types = [c for c in CATALOG if c.has_gpu]
    p = plan(offers(*[(c.type_id, ZH) for c in CATALOG]))
    assert {c.instance_type for c in p.candidates}.isdisjoint(c.type_id for c in gpu_types)
    assert all(dict(p.skipped)[f"{c.type_id}@{ZH}"] == "has a GPU, the original has none" for c in gpu_types)


@pytest.mark.parametrize(
    ("category", "size", "type_id", "expected"),
    [
        ("cloud_efficiency", 40, "ecs.g8i.large", ("cloud_essd", 40)),
        ("cloud_ssd", 100, "ecs.c8i.xlarge", ("cloud_essd", 100)),
        ("cloud_efficiency", 10, "ecs.g8y.large", ("cloud_essd", 20)),
        ("cloud_auto", 40, "ecs.g8y.large", ("cloud_auto", 40)),
        ("cloud_essd", 60, "ecs.g9i.large", ("cloud_essd", 60)),  # generation 9: ESSD class, kept
        ("cloud_ssd", 60, "ecs.g9i.large", ("cloud_essd", 60)),  # generation rule for unlisted families
        ("cloud_efficiency", 40, "ecs.g7.large", ("cloud_efficiency", 40)),
        ("cloud_essd_entry", 40, "ecs.c8a.large", ("cloud_essd", 40)),
        ("cloud_efficiency", 40, "ecs.xn4.small", ("cloud_efficiency", 40)),  # unknown family: kept
    ],
)
def test_choose_system_disk(category: str, size: int, type_id: str, expected: tuple[str, int]) -> None:
    assert choose_system_disk(category, size, t(type_id, 2, 8)) == expected


def test_unavailable_offerings_expire() -> None:
    now = [1000.0]
    cache = UnavailableOfferings(ttl_s=600, clock=lambda: now[0])
    cache.add(G7.type_id, ZH)
    now[0] += 300
    cache.add("ecs.g6.large", ZI)
    assert cache.snapshot() == {(G7.type_id, ZH), ("ecs.g6.large", ZI)}
    now[0] += 301
    assert cache.snapshot() == {("ecs.g6.large", ZI)}
    assert ("ecs.g6.large", ZI) in cache and (G7.type_id, ZH) not in cache
    now[0] += 300
    assert cache.snapshot() == frozenset()


zones = st.sampled_from([ZH, ZI, ZJ])
type_ids = st.sampled_from([c.type_id for c in CATALOG])
offering_st = st.builds(Offering, zones, type_ids, st.just("Available"), st.sampled_from(["WithStock", "WithoutStock"]))
price_st = st.builds(SpotPrice, zones, type_ids, st.floats(0.01, 2), st.just(1.0))
# with a pay-as-you-go price of its own (the price limit and the risk term read it): shared by the bill and risk tests
price_with_payg_st = st.builds(SpotPrice, zones, type_ids, st.floats(0.01, 2), st.floats(0.05, 3))


@settings(max_examples=150, deadline=None)
@given(
    original_type=st.sampled_from(CATALOG),
    offerings=st.lists(offering_st, max_size=25),
    payg=st.lists(offering_st, max_size=8),
    prices=st.lists(price_st, max_size=25),
    unavailable=st.frozensets(st.tuples(type_ids, zones), max_size=5),
    max_price=st.none() | st.floats(0.05, 1.5),
)
def test_every_candidate_is_equivalent_and_tiers_are_ordered(
    original_type: InstanceType,
    offerings: list[Offering],
    payg: list[Offering],
    prices: list[SpotPrice],
    unavailable: frozenset[tuple[str, str]],
    max_price: float | None,
) -> None:
    original = Instance(**{**ORIGINAL.__dict__, "instance_type": original_type.type_id})
    p = rank_candidates(
        original,
        original_type,
        CATALOG,
        offerings,
        prices,
        VSWITCHES,
        unavailable=unavailable,
        max_price=max_price,
        payg_offerings=payg,
        payg_fallback=True,
    )
    tiers = [c.tier for c in p.candidates]
    assert tiers == sorted(tiers)
    stocked = {(o.instance_type, o.zone_id) for o in offerings if o.in_stock}
    for c in p.candidates:
        assert not_equivalent(original_type, c.itype) == ""
        assert c.zone_id != ZJ  # no vSwitch of vpc-1 there
        assert c.reason
        if c.tier < 4:
            assert (c.instance_type, c.zone_id) in stocked and (c.instance_type, c.zone_id) not in unavailable
            assert max_price is None or c.spot_price is None or c.spot_price <= max_price
        assert (c.tier in (1, 2)) == (c.instance_type == original_type.type_id and c.tier < 4)
    spot3 = [c.spot_price if c.spot_price is not None else float("inf") for c in p.candidates if c.tier == 3]
    assert spot3 == sorted(spot3)
    considered = {(o.instance_type, o.zone_id) for o in offerings}
    listed = {tuple(what.split("@")) for what, _ in p.skipped if not what.startswith("pay-as-you-go")}
    assert considered == listed | {(c.instance_type, c.zone_id) for c in p.candidates if c.tier < 4}


def test_burstable_or_shared_types_never_replace_dedicated_vcpus() -> None:
    """A t6 (CPU credits, ~10-40% baseline) is no substitute for a g7 however cheap; t6 for t6 is fine."""
    burstable = [t("ecs.t6-c1m4.large", 2, 8), t("ecs.e-c1m4.large", 2, 8), t("ecs.s6-c1m4.large", 2, 8)]
    catalog = [*CATALOG, *burstable]
    offerings = offers(*((b.type_id, ZH) for b in burstable), ("ecs.g6.large", ZH))
    prices = [price(b.type_id, ZH, 0.01) for b in burstable] + [price("ecs.g6.large", ZH, 0.2)]
    p = rank_candidates(ORIGINAL, G7, catalog, offerings, prices, VSWITCHES)
    assert [c.instance_type for c in p.candidates] == ["ecs.g6.large"]
    why = dict(p.skipped)["ecs.t6-c1m4.large@cn-hangzhou-h"]
    assert why == "shared or burstable vCPUs, the original has dedicated ones"

    t6 = Instance(**{**ORIGINAL.__dict__, "instance_type": "ecs.t6-c1m4.large"})
    p = rank_candidates(t6, burstable[0], catalog, offerings, prices, VSWITCHES)
    assert p.candidates[0].instance_type == "ecs.t6-c1m4.large" and len(p.candidates) == 4


def test_with_a_price_cap_an_unpriced_offering_is_skipped_not_tried_blind() -> None:
    offerings = offers(("ecs.g7.large", ZH), ("ecs.g6.large", ZH))
    p = plan(offerings, [price("ecs.g6.large", ZH, 0.04)], max_price=0.05)
    assert [c.instance_type for c in p.candidates] == ["ecs.g6.large"]
    assert "spot price unknown" in dict(p.skipped)["ecs.g7.large@cn-hangzhou-h"]
