"""tagroom: which tags go on a resource that holds 20 at most, in the order that keeps the user's choices."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aliyun_ops import models, tagroom
from aliyun_ops.disks import move
from aliyun_ops.recovery import naming

KEYS = st.sampled_from([f"k{i}" for i in range(40)] + ["aops:managed", "aops:data", "aops:window", "team"])
TAGS = st.lists(st.tuples(KEYS, st.sampled_from(["a", "b"])), max_size=30, unique_by=lambda kv: kv[0]).map(tuple)


@given(current=TAGS, keep=TAGS, wanted=TAGS)
def test_never_more_than_20_and_the_must_keep_set_whenever_it_fits(
    current: models.Tags, keep: models.Tags, wanted: models.Tags
) -> None:
    current = current[:20]  # what a resource can hold
    room = tagroom.fit(wanted, current=current, keep=keep)
    assert len({k for k, _ in current} | {k for k, _ in room.write}) <= 20
    new_keep = {k for k, _ in keep} - {k for k, _ in current}
    if len(current) + len(new_keep) <= 20:
        assert set(keep) <= set(room.write)
    written = {k for k, _ in room.write}
    assert all(k not in written for k, _ in room.left)  # what is said to be left out is really left out
    assert {k for k, _ in (*keep, *wanted)} == written | {k for k, _ in room.left}  # nothing silently dropped


def original(tags: models.Tags) -> models.Instance:
    return models.Instance("i-old", "cn-hangzhou", "cn-hangzhou-i", "ecs.c7.large", "Stopping", tags=tags)


def test_a_replacement_keeps_the_selector_and_the_users_aops_keys_before_anything_else() -> None:
    users = tuple((f"cost-{i:02d}", "x") for i in range(17))
    tags = (*users, ("aops:window", "02:00"), ("aops:managed", "true"), ("team", "ops"), ("acs:rm:rgId", "rg-1"))
    extra = ((models.TAG_DISKS, "pending"), (models.TAG_EIP, "eip-1"))
    room = naming.replacement_fit(original(tags), "inc-i-old", extra, ("team", "ops"))
    written = dict(room.write)
    assert len(room.write) == 20
    assert written["team"] == "ops" and written["aops:window"] == "02:00" and written["aops:managed"] == "true"
    # the engine tags only the replacement can say fit before the user's other tags; the address (also on the
    # original's snapshot and image) and the counters come after them
    assert {models.TAG_REPLACES, models.TAG_DISKS, models.TAG_LINEAGE} <= set(written)
    assert "acs:rm:rgId" not in written
    assert [k for k, _ in room.left] == [f"cost-{i:02d}" for i in range(14, 17)] + [
        models.TAG_EIP,
        models.TAG_GENERATION,
        models.TAG_INCIDENT,
    ]


def test_three_engine_tags_fit_beside_seventeen_of_the_users_on_a_moving_replacement() -> None:
    users = tuple((f"cost-{i:02d}", "x") for i in range(17))
    extra = ((models.TAG_DISKS, "pending"), (models.TAG_EIP, "eip-1"))
    room = naming.replacement_fit(original(users), "inc-i-old", extra)
    assert set(users) <= set(room.write) and len(room.write) == 20
    assert [k for k, _ in room.left] == [models.TAG_EIP, models.TAG_GENERATION, models.TAG_INCIDENT]


def test_the_engine_counters_never_take_a_user_tag_s_room() -> None:
    users = tuple((f"cost-{i:02d}", "x") for i in range(17))
    room = naming.replacement_fit(original(users), "inc-i-old")
    assert set(users) <= set(room.write)  # 17 user tags + aops:replaces + aops:lineage: one slot left
    assert [k for k, _ in room.left] == [models.TAG_INCIDENT]


def test_an_original_s_engine_tags_are_recomputed_not_copied() -> None:
    tags = ((models.TAG_NOTIFIED, "true"), (models.TAG_DISKS, "attached"), ("aops:stopped-since", "1"), ("a", "b"))
    written = dict(naming.replacement_tags(original(tags), "inc-i-old"))
    assert models.TAG_NOTIFIED not in written and "aops:stopped-since" not in written
    assert models.TAG_DISKS not in written and written["a"] == "b"


def disk(n_user: int, *labels: tuple[str, str]) -> models.Disk:
    tags = tuple((f"u{i}", "x") for i in range(n_user)) + labels
    return models.Disk("d-1", "data", "cloud_essd", 100, device="/dev/xvdb", tags=tags)


def test_a_disk_gets_the_labels_that_fit_in_their_order_and_says_which_lack_room() -> None:
    inst = original(())
    short: list[str] = []
    assert move._unlabelled(inst, [disk(17)], short) == [(move.disk_labels("i-old", "/dev/xvdb", "i-old"), "d-1")]
    assert short == []
    ((tags, _),) = move._unlabelled(inst, [disk(18)], short)
    assert tags == ((models.TAG_DISK_OF, "i-old"), (models.TAG_DEVICE, "/dev/xvdb"))
    assert short == ["d-1"]
    # once what fits is written, nothing more is asked of that disk
    assert move._unlabelled(inst, [disk(19, (models.TAG_DISK_OF, "i-old"))], []) == []
    assert move._unlabelled(inst, [disk(20)], []) == []


def test_an_image_keeps_the_selector_and_the_users_aops_keys_whatever_their_place() -> None:
    """A lineage relaunched from its image gets the user's tags the image kept: the selector and the opt-outs
    must be among them, even when they come last on a full original."""
    users = tuple((f"cost-{i:02d}", "x") for i in range(18))
    tags = (*users, ("aops:data", "copy"), ("team", "ops"))
    kept = dict(naming.image_tags(original(tags), "inc-i-old", selector=("team", "ops")))
    assert len(kept) <= 20 and kept["team"] == "ops" and kept["aops:data"] == "copy"
    assert kept[models.TAG_IMAGE_OF] == "i-old"
