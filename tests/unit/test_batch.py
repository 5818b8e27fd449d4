"""Reads by id shared between concurrent incidents: fewer calls, never an older answer, no inherited failure."""

from __future__ import annotations

import threading

import pytest

from aliyun_ops.cloud.batch import MAX_IDS, Coalescer


class Store:
    """A fake API: each call records the ids it asked for and answers the current version of each record."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.version: dict[str, int] = {}
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def fetch(self, ids: list[str]) -> list[tuple[str, int]]:
        self.calls.append(list(ids))
        self.gate.wait(5)
        if self.fail:
            raise RuntimeError("throttled for good")
        return [(i, self.version.get(i, 0)) for i in ids if not i.startswith("gone")]


def key(record: tuple[str, int]) -> str:
    return record[0]


def test_a_lone_caller_calls_at_once_and_a_missing_record_is_left_out() -> None:
    store, batch = Store(), Coalescer(key)
    assert batch.get(["i-1", "gone-2"], store.fetch) == [("i-1", 0)]
    assert store.calls == [["i-1", "gone-2"]]


def test_callers_that_ask_while_a_call_is_in_flight_share_the_next_call() -> None:
    store, batch = Store(), Coalescer(key)
    store.gate.clear()  # the first call hangs until released
    results: dict[str, list[tuple[str, int]]] = {}
    first = threading.Thread(target=lambda: results.update(a=batch.get(["i-a"], store.fetch)))
    first.start()
    while not store.calls:
        pass
    waiters = [
        threading.Thread(target=lambda n=n: results.update({n: batch.get([n], store.fetch)})) for n in ("i-b", "i-c")
    ]
    for t in waiters:
        t.start()
    while len(batch._pending) < 2:  # both asked while the first call is in flight
        pass
    store.gate.set()
    for t in [first, *waiters]:
        t.join(5)
    assert store.calls[0] == ["i-a"]
    assert len(store.calls) == 2 and sorted(store.calls[1]) == ["i-b", "i-c"]  # one call for both
    assert results["i-b"] == [("i-b", 0)] and results["i-c"] == [("i-c", 0)]


def test_an_answer_always_comes_from_a_call_that_started_after_the_question() -> None:
    store, batch = Store(), Coalescer(key)
    store.gate.clear()
    seen: list[list[tuple[str, int]]] = []
    first = threading.Thread(target=lambda: batch.get(["i-1"], store.fetch))
    first.start()
    while not store.calls:
        pass
    store.version["i-1"] = 1  # changes while the first call is in flight
    late = threading.Thread(target=lambda: seen.append(batch.get(["i-1"], store.fetch)))
    late.start()
    while "i-1" not in batch._pending:
        pass
    store.gate.set()
    first.join(5)
    late.join(5)
    assert seen == [[("i-1", 1)]]  # not the in-flight call's answer, which may predate the change
    assert len(store.calls) == 2


def test_a_failed_shared_call_is_not_inherited_each_waiter_calls_for_itself() -> None:
    store, batch = Store(), Coalescer(key)
    store.gate.clear()
    store.fail = True
    errors: list[BaseException] = []
    got: list[list[tuple[str, int]]] = []

    def leader() -> None:
        try:
            batch.get(["i-a"], store.fetch)
        except RuntimeError as exc:
            errors.append(exc)

    first = threading.Thread(target=leader)
    first.start()
    while not store.calls:
        pass
    own_calls: list[list[str]] = []

    def own(ids: list[str]) -> list[tuple[str, int]]:
        own_calls.append(ids)
        return [(i, 7) for i in ids]

    waiter = threading.Thread(target=lambda: got.append(batch.get(["i-b"], own)))
    waiter.start()
    while "i-b" not in batch._pending:
        pass
    store.gate.set()
    first.join(5)
    waiter.join(5)
    assert len(errors) == 1  # the leader's own call failed: it sees its own error
    assert got == [[("i-b", 7)]]  # the waiter led the next call with its own fetch, or called alone


def test_more_ids_than_one_call_takes_go_straight_through() -> None:
    store, batch = Store(), Coalescer(key)
    ids = [f"i-{n}" for n in range(MAX_IDS + 1)]
    assert len(batch.get(ids, store.fetch)) == MAX_IDS + 1
    assert store.calls == [ids]


@pytest.mark.parametrize("n", [20])
def test_many_concurrent_pollers_make_fewer_calls_than_pollers(n: int) -> None:
    store, batch = Store(), Coalescer(key)
    store.gate.clear()
    threads = [threading.Thread(target=lambda i=i: batch.get([f"i-{i}"], store.fetch)) for i in range(n)]
    threads[0].start()
    while not store.calls:
        pass
    for t in threads[1:]:
        t.start()
    while len(batch._pending) < n - 1:
        pass
    store.gate.set()
    for t in threads:
        t.join(5)
    assert len(store.calls) == 2  # the first, then one for the other n - 1


def test_concurrent_image_polls_become_one_listing_of_the_own_images() -> None:
    """Several ids in DescribeImages' ImageId are not documented: shared polls list the own images instead."""
    from typing import Any

    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Credentials, Settings

    class Sdk:
        def __init__(self) -> None:
            self.params: list[dict[str, Any]] = []

        def call(self, product: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
            self.params.append(params)
            rows = [{"ImageId": i, "ImageName": i, "Status": "Creating"} for i in ("m-1", "m-2", "m-3")]
            if "ImageId" in params:
                rows = [r for r in rows if r["ImageId"] == params["ImageId"]]
            return {"Images": {"Image": rows}, "TotalCount": len(rows)}

    sdk = Sdk()
    cloud = Cloud(Credentials("ak", "sk"), Settings(region_id="cn-hangzhou"), sdk=sdk)
    assert [i.image_id for i in cloud._images_by_id(["m-1", "m-3"], "Creating")] == ["m-1", "m-3"]
    assert "ImageId" not in sdk.params[-1] and sdk.params[-1]["ImageOwnerAlias"] == "self"
    assert [i.image_id for i in cloud.describe_images(["m-2"])] == ["m-2"]  # alone: by its id
    assert sdk.params[-1]["ImageId"] == "m-2"
