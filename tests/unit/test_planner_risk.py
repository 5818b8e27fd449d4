"""Risk placement (issue 13, item 2): expected cost of ownership, calm same type first, every limit kept."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aliyun_ops.families import not_equivalent
from aliyun_ops.models import Instance, InstanceType, Offering, Plan, SpotAdvice, SpotPrice
from aliyun_ops.planner import HOURS_PER_ADVICE, RiskModel, rank_candidates
from tests.unit.test_planner import (
    CATALOG,
    G7,
    ORIGINAL,
    VSWITCHES,
    ZH,
    ZI,
    ZJ,
    offering_st,
    offers,
    price,
    price_with_payg_st,
    type_ids,
    zones,
)

G6 = "ecs.g6.large"


def adv(type_id: str, zone: str, rate: float) -> SpotAdvice:
    from aliyun_ops.cloud.convert import rate_bucket

    return SpotAdvice(zone, type_id, rate, rate_bucket(rate), 20)


def risky(
    offerings: list[Offering], prices: list[SpotPrice], advice: list[SpotAdvice], **kw: object
) -> Plan:
    model = RiskModel(
        tuple(advice),
        interruption_cost_hours=kw.pop("hours", 24.0),  # type: ignore[arg-type]
        interruption_cost=kw.pop("cost", None),  # type: ignore[arg-type]
        calm_rate=kw.pop("calm", 3.0),  # type: ignore[arg-type]
    )
    return rank_candidates(
        ORIGINAL, G7, CATALOG, offerings, prices, VSWITCHES, placement="risk", risk=model, **kw  # type: ignore[arg-type]
    )


def order(p: Plan) -> list[tuple[str, str]]:
    return [(c.instance_type, c.zone_id) for c in p.candidates]



def hazard(rate: float) -> float:
    """Reclaims per hour of a pool whose advice says ``rate`` percent of instances were reclaimed in 720 h."""
    return -math.log1p(-rate / 100.0) / HOURS_PER_ADVICE

def test_a_contested_same_type_loses_to_a_calm_equivalent_whose_ownership_is_cheaper() -> None:
    offerings = offers((G7.type_id, ZH), (G6, ZH))
    prices = [price(G7.type_id, ZH, 0.10, 1.0), price(G6, ZH, 0.11, 1.0)]
    advice = [adv(G7.type_id, ZH, 50.0), adv(G6, ZH, 1.0)]

    by_price = rank_candidates(ORIGINAL, G7, CATALOG, offerings, prices, VSWITCHES, placement="price")
    assert order(by_price)[0] == (G7.type_id, ZH)  # today's ranking: the same type, whatever its risk

    p = risky(offerings, prices, advice)
    assert order(p) == [(G6, ZH), (G7.type_id, ZH)]
    g6, g7 = p.candidates
    # 24 h of a 1.0/h pay-as-you-go price per interruption, 50% and 1% of instances reclaimed per 720 h.
    assert g7.score == pytest.approx(0.10 + hazard(50.0) * 24.0)
    assert g6.score == pytest.approx(0.11 + hazard(1.0) * 24.0)
    assert (g7.interruption_rate, g7.rate_desc, g6.rate_desc) == (50.0, "10-100%", "0-3%")
    assert "risk 50%/30d (10-100%)" in g7.reason and "score %.4f/h" % (0.10 + hazard(50.0) * 24.0) in g7.reason
    assert any(n.startswith("placement: risk: score = spot price + -ln(1 - rate/100)/720 h x 24 h") for n in p.notes)


def test_a_calm_same_type_keeps_its_tier_even_when_an_equivalent_scores_lower() -> None:
    offerings = offers((G7.type_id, ZH), (G6, ZH))
    prices = [price(G7.type_id, ZH, 0.20, 1.0), price(G6, ZH, 0.05, 1.0)]
    p = risky(offerings, prices, [adv(G7.type_id, ZH, 2.9), adv(G6, ZH, 0.0)])
    assert order(p) == [(G7.type_id, ZH), (G6, ZH)]


def test_calm_is_below_the_threshold_the_top_of_the_lowest_bucket() -> None:
    offerings = offers((G7.type_id, ZH), (G6, ZH))
    prices = [price(G7.type_id, ZH, 0.20, 1.0), price(G6, ZH, 0.05, 1.0)]
    at_three = risky(offerings, prices, [adv(G7.type_id, ZH, 3.0), adv(G6, ZH, 0.0)])
    assert order(at_three)[0] == (G6, ZH)  # 3% is the "3-5%" bucket: contested, and g6 is cheaper to own
    lenient = risky(offerings, prices, [adv(G7.type_id, ZH, 3.0), adv(G6, ZH, 0.0)], calm=5.0)
    assert order(lenient)[0] == (G7.type_id, ZH)


def test_a_calm_same_type_in_another_zone_beats_the_contested_same_zone() -> None:
    offerings = offers((G7.type_id, ZH), (G7.type_id, ZI), (G6, ZH))
    prices = [price(G7.type_id, ZH, 0.10, 1.0), price(G7.type_id, ZI, 0.12, 1.0), price(G6, ZH, 0.30, 1.0)]
    p = risky(offerings, prices, [adv(G7.type_id, ZH, 40.0), adv(G7.type_id, ZI, 1.0), adv(G6, ZH, 0.0)])
    assert order(p) == [(G7.type_id, ZI), (G7.type_id, ZH), (G6, ZH)]


def test_a_fixed_interruption_cost_in_cny_replaces_the_hours() -> None:
    offerings = offers((G6, ZH), ("ecs.g8i.large", ZH))
    prices = [price(G6, ZH, 0.10, 1.0), price("ecs.g8i.large", ZH, 0.12, 1.0)]
    advice = [adv(G6, ZH, 20.0), adv("ecs.g8i.large", ZH, 1.0), adv(G7.type_id, ZH, 50.0)]
    cheap_outage = risky(offerings, prices, advice, cost=10.0)
    assert order(cheap_outage)[0] == (G6, ZH)  # 10 CNY a reclaim: 0.0028/h of risk, price wins
    assert cheap_outage.candidates[0].score == pytest.approx(0.10 + hazard(20.0) * 10.0)
    costly_outage = risky(offerings, prices, advice, cost=500.0)
    assert order(costly_outage)[0] == ("ecs.g8i.large", ZH)
    assert any("x 500 CNY per interruption" in n for n in costly_outage.notes)


def test_one_interruption_costs_the_same_whatever_type_the_workload_runs_on() -> None:
    # The original (g7, 1.0/h pay-as-you-go) is interrupted; r7 lists 2.0/h pay-as-you-go. Its interruption
    # interrupts the same workload: 24 h of the original's 1.0/h, not of r7's 2.0/h.
    offerings = offers(("ecs.r7.large", ZH), (G6, ZH))
    prices = [price(G7.type_id, ZH, 0.10, 1.0), price("ecs.r7.large", ZH, 0.20, 2.0), price(G6, ZH, 0.15, 0.9)]
    p = risky(offerings, prices, [adv("ecs.r7.large", ZH, 5.0), adv(G6, ZH, 30.0)])
    r7 = next(c for c in p.candidates if c.instance_type == "ecs.r7.large")
    g6 = next(c for c in p.candidates if c.instance_type == G6)
    assert r7.score == pytest.approx(0.20 + hazard(5.0) * 24.0 * 1.0)
    assert g6.score == pytest.approx(0.15 + hazard(30.0) * 24.0 * 1.0)
    assert any("x 24 h of the original's pay-as-you-go price" in n for n in p.notes)
    # Without the original's price, each candidate's own pay-as-you-go price stands in.
    alone = risky(offerings, prices[1:], [adv("ecs.r7.large", ZH, 5.0), adv(G6, ZH, 30.0)])
    r7 = next(c for c in alone.candidates if c.instance_type == "ecs.r7.large")
    assert r7.score == pytest.approx(0.20 + hazard(5.0) * 24.0 * 2.0)


def test_a_pool_without_advice_counts_as_the_most_contested_listed() -> None:
    offerings = offers((G6, ZH), ("ecs.g8i.large", ZH), ("ecs.r7.large", ZH))
    prices = [price(G6, ZH, 0.10, 1.0), price("ecs.g8i.large", ZH, 0.11, 1.0), price("ecs.r7.large", ZH, 0.105)]
    p = risky(offerings, prices, [adv(G6, ZH, 60.0), adv("ecs.g8i.large", ZH, 0.5)])
    unknown = next(c for c in p.candidates if c.instance_type == "ecs.r7.large")
    expected = f"risk unknown, score {0.105 + hazard(60.0) * 24.0:.4f}/h"
    assert unknown.interruption_rate is None and unknown.reason.endswith(expected)
    assert order(p)[0] == ("ecs.g8i.large", ZH)


def test_without_advice_the_ranking_is_by_price_and_says_so() -> None:
    offerings = offers((G7.type_id, ZH), (G6, ZH))
    prices = [price(G7.type_id, ZH, 0.10, 1.0), price(G6, ZH, 0.05, 1.0)]
    p = risky(offerings, prices, [])
    by_price = rank_candidates(ORIGINAL, G7, CATALOG, offerings, prices, VSWITCHES)
    assert order(p) == order(by_price) == [(G7.type_id, ZH), (G6, ZH)]
    assert "placement: risk, but no spot advice could be read: ranked by price alone" in p.notes
    assert all(c.score is None for c in p.candidates)


def test_data_disks_keep_their_zone_first_whatever_the_risk() -> None:
    offerings = offers((G6, ZH), (G6, ZI))
    prices = [price(G6, ZH, 0.10, 1.0), price(G6, ZI, 0.10, 1.0)]
    p = risky(offerings, prices, [adv(G6, ZH, 90.0), adv(G6, ZI, 0.0)], keep_zone=True)
    assert order(p) == [(G6, ZH), (G6, ZI)]


def test_pay_as_you_go_fallback_stays_last() -> None:
    p = risky(
        offers((G6, ZH)), [price(G6, ZH, 0.10, 1.0), price(G7.type_id, ZH, 0.2, 0.5)], [adv(G6, ZH, 99.0)],
        payg_offerings=offers((G7.type_id, ZH)), payg_fallback=True,
    )
    assert [c.tier for c in p.candidates] == [3, 4] and p.candidates[1].score is None


# -- invariants with risk in play ------------------------------------------------------------------------------
advice_st = st.builds(lambda z, t, r: adv(t, z, r), zones, type_ids, st.floats(0, 100))


@settings(max_examples=200, deadline=None)
@given(
    original_type=st.sampled_from(CATALOG),
    offerings=st.lists(offering_st, max_size=25),
    prices=st.lists(price_with_payg_st, max_size=25),
    advice=st.lists(advice_st, max_size=30),
    max_price=st.none() | st.floats(0.05, 1.5),
    price_ratio=st.none() | st.floats(1, 3),
    size_ratio=st.none() | st.floats(1, 4),
    hours=st.floats(0, 200),
    calm=st.floats(0, 20),
    keep_zone=st.booleans(),
)
def test_risk_never_downgrades_crosses_arch_or_gpu_breaks_a_limit_or_buries_a_calm_same_type(
    original_type: InstanceType,
    offerings: list[Offering],
    prices: list[SpotPrice],
    advice: list[SpotAdvice],
    max_price: float | None,
    price_ratio: float | None,
    size_ratio: float | None,
    hours: float,
    calm: float,
    keep_zone: bool,
) -> None:
    original = Instance(**{**ORIGINAL.__dict__, "instance_type": original_type.type_id})
    model = RiskModel(tuple(advice), interruption_cost_hours=hours, calm_rate=calm)
    p = rank_candidates(
        original, original_type, CATALOG, offerings, prices, VSWITCHES, max_price=max_price,
        max_price_ratio=price_ratio, max_size_ratio=size_ratio, keep_zone=keep_zone, placement="risk", risk=model,
    )
    plain = rank_candidates(
        original, original_type, CATALOG, offerings, prices, VSWITCHES, max_price=max_price,
        max_price_ratio=price_ratio, max_size_ratio=size_ratio, keep_zone=keep_zone, placement="price",
    )
    # Risk only reorders: the same options pass the same filters and limits.
    assert sorted(order(p)) == sorted(order(plain)) and p.skipped == plain.skipped
    lim = p.limits
    for c in p.candidates:
        assert not_equivalent(original_type, c.itype) == "" or c.instance_type == original_type.type_id
        assert c.itype.cpu >= original_type.cpu and c.itype.memory_gib >= original_type.memory_gib  # never smaller
        assert c.itype.arch == original_type.arch and c.itype.has_gpu == original_type.has_gpu
        assert c.zone_id != ZJ
        if max_price is not None:
            assert c.spot_price is not None and c.spot_price <= max_price
        if lim.max_price is not None and c.spot_price is not None:
            assert c.spot_price <= lim.max_price + 1e-9
        if lim.max_cpu is not None and c.instance_type != original_type.type_id:
            assert c.itype.cpu <= lim.max_cpu + 1e-9 and c.itype.memory_gib <= (lim.max_memory_gib or 0) + 1e-9
    if not p.candidates or not advice:
        return
    # Calm same type first: where the data disks allow (keep_zone), a calm same-type candidate leads.
    head = [c for c in p.candidates if not keep_zone or c.zone_id == original.zone_id] or list(p.candidates)
    calm_same = [c for c in head if c.instance_type == original_type.type_id and (
        c.interruption_rate is None or c.interruption_rate < calm - 1e-9)]
    if calm_same:
        first = head[0]
        assert first.instance_type == original_type.type_id
        assert first.interruption_rate is None or first.interruption_rate < calm - 1e-9
        if any(c.zone_id == original.zone_id for c in calm_same):
            assert first.zone_id == original.zone_id
    # Past the calm same type, candidates come by score (unknown scores last).
    rest = [c for c in head if c not in calm_same]
    scores = [c.score if c.score is not None else float("inf") for c in rest]
    assert scores == sorted(scores)


def test_plan_rows_and_table_show_price_risk_and_score() -> None:
    from rich.console import Console

    from aliyun_ops.cli import render

    offerings = offers((G7.type_id, ZH), (G6, ZH))
    prices = [price(G7.type_id, ZH, 0.10, 1.0), price(G6, ZH, 0.11, 1.0)]
    p = risky(offerings, prices, [adv(G7.type_id, ZH, 50.0)])
    rows = render.candidate_rows(p)
    assert [(r["instance_type"], r["spot_price"], r["interruption_rate"], r["rate_bucket"]) for r in rows] == [
        (G7.type_id, 0.10, 50.0, "10-100%"),
        (G6, 0.11, None, None),  # not listed: scored as the most contested listed pool, shown as unknown
    ]
    assert [r["score"] for r in rows] == [pytest.approx(0.10 + hazard(50.0) * 24, abs=1e-6),
                                          pytest.approx(0.11 + hazard(50.0) * 24, abs=1e-6)]
    console = Console(width=200, record=True)
    console.print(render.candidates_table(p))
    text = console.export_text()
    assert "risk" in text and "score" in text and "50% (10-100%)" in text and "unknown" in text
    shown = f"¥{0.10 + hazard(50.0) * 24:.4f}/h"
    assert shown in text and "same type, same zone" in text and "risk 50%" not in text  # why: not repeated
