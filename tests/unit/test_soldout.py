"""Reading the sold-out notes off vSwitch tags, and the in-process memory's expiry."""

from __future__ import annotations

from aliyun_ops.models import VSwitch
from aliyun_ops.planner import UnavailableOfferings
from aliyun_ops.recovery import soldout


def _vsw(vid: str, zone: str, **tags: str) -> VSwitch:
    return VSwitch(vid, "vpc-1", zone, tags=tuple(tags.items()))


def test_only_unexpired_well_formed_notes_of_ours_count() -> None:
    switches = [
        _vsw("vsw-g", "zone-g", **{"aops:sold-out:ecs.c7.large": "1000", "owner": "net"}),
        _vsw("vsw-h", "zone-h", **{"aops:sold-out:ecs.c7.large": "900"}),  # expired at 950
        _vsw("vsw-i", "zone-i", **{"aops:sold-out:ecs.g7.large": "soon", "aops:sold-out:": "2000"}),
        _vsw("vsw-j", "zone-j", **{"aops:sold-out:ecs.r7.large": "inf", "aops:sold-out:ecs.u1.large": "-5"}),
    ]
    assert soldout.parse(switches, now=950) == {("ecs.c7.large", "zone-g"): 1000.0}


def test_two_vswitches_of_one_zone_give_the_later_expiry() -> None:
    switches = [
        _vsw("vsw-a", "zone-g", **{"aops:sold-out:ecs.c7.large": "1000"}),
        _vsw("vsw-b", "zone-g", **{"aops:sold-out:ecs.c7.large": "1200"}),
    ]
    assert soldout.parse(switches, now=0) == {("ecs.c7.large", "zone-g"): 1200.0}


def test_the_memory_keeps_the_later_expiry_and_says_when_a_pair_is_new() -> None:
    now = [100.0]
    memory = UnavailableOfferings(ttl_s=300, clock=lambda: now[0])
    assert memory.add("ecs.c7.large", "zone-g") is True  # newly sold out: until 400
    assert memory.add("ecs.c7.large", "zone-g", until=250) is False  # known: not shortened
    assert memory.expiry("ecs.c7.large", "zone-g") == 400
    now[0] = 400.0
    assert memory.snapshot() == frozenset()  # expired
    assert memory.add("ecs.c7.large", "zone-g", until=500) is True  # sold out again: new again
    assert memory.add("ecs.c7.large", "zone-h", until=300) is False  # an expiry already past adds nothing
    assert memory.snapshot() == {("ecs.c7.large", "zone-g")}
