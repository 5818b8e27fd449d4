"""No surprise bill: the planner's price and size limits against the original (issue 12, item 5)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from aliyun_ops.families import not_equivalent
from aliyun_ops.models import Instance, InstanceType, Offering, Plan, SpotPrice
from aliyun_ops.planner import rank_candidates
from aliyun_ops.recovery.gather import _closest
from tests.unit.test_planner import (
    CATALOG,
    ORIGINAL,
    VSWITCHES,
    ZH,
    ZI,
    ZJ,
    offering_st,
    offers,
    price,
    price_with_payg_st,
    t,
)

C7 = t("ecs.c7.large", 2, 4)
BIG = [t("ecs.c7.xlarge", 4, 8), t("ecs.c7.2xlarge", 8, 16), t("ecs.c7.4xlarge", 16, 32), t("ecs.c6.large", 2, 4)]
WIDE = [C7, *BIG, t("ecs.r7.large", 2, 16)]
SMALL = Instance(**{**ORIGINAL.__dict__, "instance_type": C7.type_id, "cpu": 2, "memory_mib": 4096})


def small_plan(offerings: list[Offering], prices: list[SpotPrice], **kw: object) -> Plan:
    return rank_candidates(SMALL, C7, WIDE, offerings, prices, VSWITCHES, **kw)  # type: ignore[arg-type]


def test_a_cheap_16_vcpu_type_does_not_replace_a_2_vcpu_instance() -> None:
    offerings = offers((C7.type_id, ZH), *((b.type_id, ZH) for b in BIG), status="WithStock")
    offerings[0] = Offering(ZH, C7.type_id, "SoldOut", "WithoutStock")
    prices = [price(C7.type_id, ZH, 0.05, 0.5), price("ecs.c7.4xlarge", ZH, 0.01, 4.0)]
    prices += [price("ecs.c7.xlarge", ZH, 0.07, 1.0), price("ecs.c7.2xlarge", ZH, 0.03, 2.0)]
    prices += [price("ecs.c6.large", ZH, 0.06, 0.5)]

    unlimited = small_plan(offerings, prices)
    assert unlimited.chosen is not None and unlimited.chosen.instance_type == "ecs.c7.4xlarge"  # what it guards

    p = small_plan(offerings, prices, max_size_ratio=2.0, max_price_ratio=1.5)
    assert [c.instance_type for c in p.candidates] == ["ecs.c6.large", "ecs.c7.xlarge"]
    skipped = dict(p.skipped)
    assert skipped[f"ecs.c7.4xlarge@{ZH}"] == (
        "16 vCPU/32 GiB: larger than 2x the original's 2 vCPU/4 GiB (size limit)"
    )
    assert "(size limit)" in skipped[f"ecs.c7.2xlarge@{ZH}"]
    assert (p.limits.max_cpu, p.limits.max_memory_gib) == (4, 8)
    assert any("size limit: at most 2x the original's 2 vCPU/4 GiB" in n for n in p.limits.notes)


def test_price_limit_is_a_multiple_of_the_lower_of_spot_and_payg() -> None:
    offerings = offers((C7.type_id, ZI), ("ecs.c6.large", ZH), ("ecs.c7.xlarge", ZH))
    prices = [price(C7.type_id, ZH, 0.10, 1.0), price(C7.type_id, ZI, 0.16, 1.0)]
    prices += [price("ecs.c6.large", ZH, 0.15, 0.5), price("ecs.c7.xlarge", ZH, 0.1501, 1.0)]
    p = small_plan(offerings, prices, max_price_ratio=1.5)
    assert (p.limits.reference_price, round(p.limits.max_price or 0, 6)) == (0.10, 0.15)
    assert [c.instance_type for c in p.candidates] == ["ecs.c6.large"]  # exactly at the limit: kept
    skipped = dict(p.skipped)
    assert skipped[f"{C7.type_id}@{ZI}"] == (
        "spot 0.1600/h above the price limit 0.1500/h (1.5x the original's 0.1000/h)"
    )  # the same type in a dearer zone obeys the limit too
    assert "above the price limit" in skipped[f"ecs.c7.xlarge@{ZH}"]

    # A spot price above pay-as-you-go (possible under SpotWithPriceLimit bids): pay-as-you-go is the reference.
    dear = small_plan(offerings, [price(C7.type_id, ZH, 0.9, 0.1), *prices[1:]], max_price_ratio=1.5)
    assert dear.limits.reference_price == 0.1 and [c.instance_type for c in dear.candidates] == ["ecs.c6.large"]
    assert any("(pay-as-you-go, the lower of spot and pay-as-you-go)" in n for n in dear.limits.notes)


def test_an_unread_price_launches_with_the_limit_as_its_bid() -> None:
    """gather reads one price when the same type can launch: an equivalent is then bid at the limit, so
    Aliyun refuses it when dearer (and the engine moves on) and can never bill more."""
    offerings = offers((C7.type_id, ZH), ("ecs.c6.large", ZH))
    p = small_plan(offerings, [price(C7.type_id, ZH, 0.0537, 0.555)], max_price_ratio=1.5)
    same, other = p.candidates
    assert (same.spot_strategy, same.spot_price_limit) == ("SpotAsPriceGo", None)  # its price is known
    assert other.spot_strategy == "SpotWithPriceLimit"
    assert other.spot_price_limit == 0.080  # floor(0.08055, 3 decimals): RunInstances takes three
    assert other.spot_price_limit <= (p.limits.max_price or 0)
    assert other.reason.endswith("spot price unknown: launched SpotWithPriceLimit at most 0.080/h")
    # A user's own cap still wins (and an unread price is then left out, as before).
    capped = small_plan(offerings, [price(C7.type_id, ZH, 0.0537, 0.555)], max_price_ratio=1.5, max_price=0.07)
    assert [c.instance_type for c in capped.candidates] == [C7.type_id]


def test_an_unknown_reference_cannot_apply_the_limit_and_says_so() -> None:
    offerings = offers((C7.type_id, ZH), ("ecs.c6.large", ZH), ("ecs.c7.4xlarge", ZH))
    p = small_plan(offerings, [price("ecs.c6.large", ZH, 5.0, 9.0)], max_price_ratio=1.5, max_size_ratio=2)
    assert [c.instance_type for c in p.candidates] == [C7.type_id, "ecs.c6.large"]
    assert all(c.spot_strategy == "SpotAsPriceGo" for c in p.candidates)
    assert p.limits.reference_price is None and p.limits.max_price is None
    assert any(n.startswith("price limit not applied") for n in p.limits.notes)
    assert "(size limit)" in dict(p.skipped)[f"ecs.c7.4xlarge@{ZH}"]  # the size limit still holds


def test_the_reference_falls_back_to_the_cheapest_zone_of_the_same_type() -> None:
    offerings = offers((C7.type_id, ZI), ("ecs.c6.large", ZI))
    prices = [price(C7.type_id, ZI, 0.2, 1.0), price(C7.type_id, ZJ, 0.1, 1.0), price("ecs.c6.large", ZI, 0.18)]
    p = small_plan(offerings, prices, max_price_ratio=1.5)
    assert p.limits.reference_price == 0.1  # none in its own zone (ZH): the stricter, cheapest zone
    assert any(f"in {ZJ} (none read in its own zone)" in n for n in p.limits.notes)
    assert [c.instance_type for c in p.candidates] == []


def test_payg_fallback_is_limited_against_the_originals_payg_price() -> None:
    spot = [Offering(ZH, C7.type_id, "SoldOut", "WithoutStock")]
    payg = offers((C7.type_id, ZH), ("ecs.c6.large", ZH), ("ecs.c7.xlarge", ZH), ("ecs.c7.4xlarge", ZH))
    prices = [price(C7.type_id, ZH, 0.05, 0.5), price("ecs.c6.large", ZH, 0.04, 0.74)]
    prices += [price("ecs.c7.xlarge", ZH, 0.04, 1.0)]
    kw: dict[str, object] = {"payg_offerings": payg, "payg_fallback": True}
    p = small_plan(spot, prices, max_price_ratio=1.5, max_size_ratio=2, **kw)
    assert [(c.instance_type, c.tier) for c in p.candidates] == [(C7.type_id, 4), ("ecs.c6.large", 4)]
    assert (p.limits.payg_reference, round(p.limits.max_payg_price or 0, 6)) == (0.5, 0.75)
    skipped = dict(p.skipped)
    assert skipped[f"pay-as-you-go ecs.c7.xlarge@{ZH}"] == (
        "pay-as-you-go 1.0000/h above the price limit 0.7500/h (1.5x the original's pay-as-you-go 0.5000/h)"
    )
    assert "(size limit)" in skipped[f"pay-as-you-go ecs.c7.4xlarge@{ZH}"]
    unpriced = small_plan(spot, prices[:1], max_price_ratio=1.5, **kw)
    assert [c.instance_type for c in unpriced.candidates] == [C7.type_id]
    assert "price unknown" in dict(unpriced.skipped)[f"pay-as-you-go ecs.c6.large@{ZH}"]


def test_limits_off() -> None:
    offerings = offers((C7.type_id, ZH), ("ecs.c7.4xlarge", ZH))
    p = small_plan(offerings, [price(C7.type_id, ZH, 0.05, 0.5), price("ecs.c7.4xlarge", ZH, 3.0)])
    assert len(p.candidates) == 2 and p.limits.notes == ("size limit: off", "price limit: off")
    zero = small_plan(offerings, [], max_price_ratio=0, max_size_ratio=0)
    assert len(zero.candidates) == 2 and zero.limits.max_price_ratio is None


def test_only_types_within_the_size_limit_are_priced() -> None:
    types = [C7, *BIG]
    in_stock = {x.type_id for x in types}
    assert _closest(SMALL, types, in_stock, 2.0) == [C7.type_id, "ecs.c6.large", "ecs.c7.xlarge"]
    assert "ecs.c7.4xlarge" in _closest(SMALL, types, in_stock, 0)
    many = [t(f"ecs.c6.l{i}", 2, 4) for i in range(20)]  # the original is priced even past the twelve
    assert _closest(SMALL, many, {m.type_id for m in many} | {C7.type_id})[0] == C7.type_id




@settings(max_examples=200, deadline=None)
@given(
    original_type=st.sampled_from(CATALOG),
    offerings=st.lists(offering_st, max_size=25),
    payg=st.lists(offering_st, max_size=8),
    prices=st.lists(price_with_payg_st, max_size=25),
    max_price=st.none() | st.floats(0.05, 1.5),
    price_ratio=st.sampled_from([0, 1.0, 1.5, 3.0]),
    size_ratio=st.sampled_from([0, 1.0, 2.0, 4.0]),
)
def test_every_candidate_keeps_the_invariants_and_the_limits(
    original_type: InstanceType,
    offerings: list[Offering],
    payg: list[Offering],
    prices: list[SpotPrice],
    max_price: float | None,
    price_ratio: float,
    size_ratio: float,
) -> None:
    original = Instance(**{**ORIGINAL.__dict__, "instance_type": original_type.type_id})
    p = rank_candidates(
        original,
        original_type,
        CATALOG,
        offerings,
        prices,
        VSWITCHES,
        max_price=max_price,
        payg_offerings=payg,
        payg_fallback=True,
        max_price_ratio=price_ratio,
        max_size_ratio=size_ratio,
    )
    lim = p.limits
    assert (lim.max_price_ratio is None) == (price_ratio == 0) and (lim.max_size_ratio is None) == (size_ratio == 0)
    tiers = [c.tier for c in p.candidates]
    assert tiers == sorted(tiers)
    for c in p.candidates:
        assert not_equivalent(original_type, c.itype) == ""  # never a downgrade, arch and GPU kept
        if size_ratio:
            assert c.itype.cpu <= size_ratio * original_type.cpu
            assert c.itype.memory_gib <= size_ratio * original_type.memory_gib
        if c.tier < 4:
            assert max_price is None or (c.spot_price is not None and c.spot_price <= max_price)
            if lim.max_price is not None:
                bid = c.spot_price if c.spot_price is not None else c.spot_price_limit
                assert bid is not None and bid <= lim.max_price + 1e-9  # known, or the API holds the limit
        elif lim.max_payg_price is not None:
            assert c.origin_price is not None and c.origin_price <= lim.max_payg_price + 1e-9
    if lim.reference_price is not None:
        own = [x for x in prices if x.instance_type == original_type.type_id]
        assert any(math.isclose(lim.reference_price, min(x.spot_price, x.origin_price)) for x in own)
    considered = {(o.instance_type, o.zone_id) for o in offerings}
    listed = {tuple(what.split("@")) for what, _ in p.skipped if not what.startswith("pay-as-you-go")}
    assert considered == listed | {(c.instance_type, c.zone_id) for c in p.candidates if c.tier < 4}
