"""Issue 19, never blank: the crash matrix over instances reconcile has never seen.

A managed spot instance with data disks (1 and 5; the replacement in the same zone, or forced into another zone
because the original's zone is sold out), its disks carrying markers, gets its reclaim notice; the delivery is
killed as the answer to its Nth API call arrives, for the N of a clean incident. Then the cloud releases the
original, and either nothing is delivered again (Function Compute lost it) or the notice is delivered again after
the release; then reconcile passes until one has nothing to say (at most 3).

Counted per variant and in total (``record_counts``; the total under ``crash-matrix-total``): cases; blank starts
(a replacement that served without all of the original's data, looked at after every step, see ``data_watch``);
markers lost; orphans (disks of the lineage left detached that nothing will use or delete); passes blocked (a
reconcile pass that raised or answered ``failed``); duplicates (instances bought beyond one). Slots the cloud
deleted with the original before any call that could keep them are counted apart (``unsaveable``): no engine can
save them, but it must not start a replacement blank because of them either.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from aliyun_ops.cloud.sdk import Sdk
from tests.functional.engine_support import World
from tests.functional.test_data_disks import sell_out_zone
from tests.reliability.data_watch import (
    NOTICE_S,
    Told,
    Watch,
    boots_of,
    deliver_killed_after,
    mark_slots,
    reconcile_pass,
    region_disks,
)
from tests.reliability.support import COUNTS, COUNTS_LOCK, bought
from tests.reliability.test_crash_resume import POLL_S, Killed, Killer, _reset

HOME = "cn-hangzhou-i"
DISK = {"Category": "cloud_essd", "Size": 20}
MAX_PASSES = 3
# Sampled, to keep the matrix near two minutes: a cross-zone move polls its copy snapshots a few hundred times (about
# 170 calls for 1 disk, 400 for 5), and a kill at each of those looks finds the same state again. Same-zone variants
# take every N. Cross-zone ones take the first and the last call of each action (every kind of step, killed right
# after its first and its last occurrence: the first and the last disk of a batch) and every SAMPLE_EVERY-th N.
SAMPLE_EVERY = {1: 12, 5: 40}


@pytest.fixture(autouse=True)
def _info_logs() -> Iterator[None]:
    """The matrix replays a few hundred incidents: at DEBUG the SDK's and HTTP clients' records (the suite-wide
    secret watch of tests/conftest.py, which still sees every INFO record here) take three quarters of its time.
    The same flows are watched at DEBUG by test_crash_resume and test_secrets."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    yield
    root.setLevel(level)


@dataclass(frozen=True)
class Variant:
    disks: int
    cross_zone: bool
    redeliver: bool
    timer: bool = False  # the notice is lost, and the 5-minute timer's reconcile pass falls inside its window

    @property
    def name(self) -> str:
        zone = "cross-zone" if self.cross_zone else "same-zone"
        after = "redelivered" if self.redeliver else "timer" if self.timer else "lost"
        return f"{self.disks}-disk{'s' if self.disks > 1 else ''}-{zone}-{after}"


VARIANTS = [
    *(Variant(n, cross, again) for n in (1, 5) for cross in (False, True) for again in (False, True)),
    *(Variant(n, cross, False, timer=True) for n in (1, 5) for cross in (False, True)),
]


def _seed(world: World, variant: Variant) -> tuple[str, dict[str, Any], Watch]:
    """The managed instance, its markers, its notice; the original's zone sold out for a cross-zone variant."""
    old = world.launch(data_disks=[DISK] * variant.disks)
    system = next(d["DiskId"] for d in region_disks(world) if d.get("InstanceId") == old and d["Type"] == "system")
    watch = Watch(world, old, mark_slots(world, old), system_disk=system)
    event = world.interrupt(old)
    if variant.cross_zone:
        sell_out_zone(world, HOME)
    return old, event, watch


def _clean_calls(world: World, variant: Variant) -> list[str]:
    _reset(world)
    _, event, _ = _seed(world, variant)
    start = len(world.emu.journal.entries())
    assert world.handle(event, image_poll_max_s=POLL_S).status == "replaced"
    return [c["action"] for c in world.emu.journal.entries()[start:]]


def _sampled(calls: list[str], variant: Variant) -> list[int]:
    """The N to kill after (1-based): all of them in the same zone; see SAMPLE_EVERY for another zone."""
    if not variant.cross_zone:
        return list(range(1, len(calls) + 1))
    first = {a: calls.index(a) + 1 for a in calls}
    last = {a: len(calls) - calls[::-1].index(a) for a in calls}
    every = set(range(1, len(calls) + 1, SAMPLE_EVERY[variant.disks]))
    return sorted(set(first.values()) | set(last.values()) | every)


def _deliver_killed(world: World, event: dict[str, Any], allowed: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """The delivery, killed as the answer to its ``allowed``-th call arrives; how it ended."""
    with monkeypatch.context() as patch:
        killer = Killer(Sdk.call, allowed)
        patch.setattr(Sdk, "call", lambda sdk, *args: killer(sdk, *args))
        try:
            world.handle(event, image_poll_max_s=POLL_S)
        except Killed:
            return "killed"
        except Exception as exc:  # it failed on its own before the kill
            return type(exc).__name__
    return "finished"


def _passes(world: World, watch: Watch) -> int:
    """Reconcile until a pass has nothing to say (at most MAX_PASSES); the passes that raised or failed."""
    blocked = 0
    for _ in range(MAX_PASSES):
        try:
            outcomes = world.reconcile(image_poll_max_s=POLL_S)
        except Exception:
            outcomes = None
        watch.look()
        if outcomes is None or any(o.status == "failed" for o in outcomes):
            blocked += 1
        elif not outcomes:
            break
        world.advance(60)
    return blocked


def _case(world: World, variant: Variant, allowed: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    _reset(world)
    old, event, watch = _seed(world, variant)
    release_at = world.emu.clock.now() + NOTICE_S
    ended = _deliver_killed(world, event, allowed, monkeypatch)
    watch.look()
    timer_blocked = 0
    if variant.timer:  # half way through the notice, the timer's pass (a pass may take longer than the notice)
        world.advance(max(release_at - NOTICE_S / 2 - world.emu.clock.now(), 0.0))
        try:
            outcomes = world.reconcile(image_poll_max_s=POLL_S)
            timer_blocked = int(any(o.status == "failed" for o in outcomes))
        except Exception:
            timer_blocked = 1
        watch.look()
    world.advance(max(release_at + 30 - world.emu.clock.now(), 0.0))
    watch.after_release()
    watch.look()
    redelivery = ""
    if variant.redeliver:
        try:
            redelivery = world.handle(event, image_poll_max_s=POLL_S).status
        except Exception as exc:
            redelivery = type(exc).__name__
        watch.look()
    blocked = _passes(world, watch) + timer_blocked
    end = watch.final()
    unrecorded = {"markers": 0, "disks": 0}
    if watch.unrecorded:  # counted apart (see data_watch): the kill fell between the two first writes
        unrecorded = {"markers": end["markers_lost"], "disks": len(end["orphans"])}
        end = {**end, "markers_lost": 0, "orphans": []}
    return {
        "unrecorded": unrecorded if watch.unrecorded else None,
        "delivery": ended,
        "redelivery": redelivery,
        "blocked": 0 if watch.unsaveable else blocked,
        "duplicates": max(bought(world, old).get(old, 0) - 1, 0),
        "unsaveable": len(watch.unsaveable),
        **end,
    }


COLUMNS = ("cases", "blank_starts", "markers_lost", "orphans", "passes_blocked", "duplicates", "unsaveable",
           "held_at_end", "unrecorded", "unrecorded_markers", "unrecorded_disks")


def _tally(cases: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "cases": len(cases),
        "blank_starts": sum(1 for c in cases if c["blank"]),
        "markers_lost": sum(c["markers_lost"] for c in cases),
        "orphans": sum(len(c["orphans"]) for c in cases),
        "passes_blocked": sum(c["blocked"] for c in cases),
        "duplicates": sum(c["duplicates"] for c in cases),
        "unsaveable": sum(1 for c in cases if c["unsaveable"]),
        "held_at_end": sum(1 for c in cases if c["held"]),
        "unrecorded": sum(1 for c in cases if c["unrecorded"]),
        "unrecorded_markers": sum(c["unrecorded"]["markers"] for c in cases if c["unrecorded"]),
        "unrecorded_disks": sum(c["unrecorded"]["disks"] for c in cases if c["unrecorded"]),
    }


def _add_to_total(counts: dict[str, int]) -> None:
    with COUNTS_LOCK:
        total = COUNTS.setdefault("crash-matrix-total", dict.fromkeys(COLUMNS, 0))
        for key in COLUMNS:
            total[key] += counts[key]


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_crash_matrix_never_starts_blank_loses_no_marker_and_leaves_no_orphan(
    world: World, variant: Variant, monkeypatch: pytest.MonkeyPatch, record_counts: Any
) -> None:
    clean = _clean_calls(world, variant)
    assert "RunInstances" in clean and "AttachDisk" in clean
    cases: list[dict[str, Any]] = []
    broken: list[str] = []
    for n in _sampled(clean, variant):
        case = _case(world, variant, n, monkeypatch)
        cases.append(case)
        if case["blank"] or case["markers_lost"] or case["orphans"] or case["blocked"] or case["duplicates"] or (
            case["held"]
        ):
            broken.append(f"killed after call {n} ({clean[n - 1]}): {case}")
    counts = _tally(cases)
    record_counts(clean_calls=len(clean), **counts)
    _add_to_total(counts)
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    assert counts["blank_starts"] == 0, f"{summary}\n" + "\n".join(broken)
    assert counts["markers_lost"] == 0, f"{summary}\n" + "\n".join(broken)
    assert counts["orphans"] == 0, f"{summary}\n" + "\n".join(broken)
    assert counts["passes_blocked"] == 0, f"{summary}\n" + "\n".join(broken)
    assert counts["duplicates"] == 0, f"{summary}\n" + "\n".join(broken)
    # nothing of the user's is missing in a crash: no replacement may still wait for a disk at the end
    assert counts["held_at_end"] == 0, f"{summary}\n" + "\n".join(broken)
    # the one kill point between the keep and the record, sent side by side (data_watch), and no other; none at
    # all when the timer's pass falls inside the notice (it handles a notice that left no record)
    assert counts["unrecorded"] <= (0 if variant.timer else 1), f"{summary}\n" + "\n".join(broken)


# -- the user deletes a kept disk, or attaches it to another server, while the replacement is held ------------------
def _held_with_a_disk_taken(world: World, disks: int, user: str) -> tuple[str, str, str, dict[str, str], str]:
    """A reclaim whose delivery dies once the replacement is held (killed after its StopInstance); the release
    detaches the kept disks; then the user deletes one of them in the console, or attaches it to another of their
    servers. (held replacement, taken device, taken disk, slots, the other server or '')."""
    from alibabacloud_ecs20140526 import models as ecs_models

    other = world.launch(name="db-1", eip=False) if user == "attaches" else ""
    _, event, watch = _seed(world, Variant(disks, False, False))
    deliver_killed_after(world, event, "StopInstance", image_poll_max_s=POLL_S)
    world.advance(NOTICE_S + 30)
    (held,) = watch.lineage(world.instances())
    device = sorted(watch.slots)[disks // 2]  # /dev/xvdb of one disk, /dev/xvdd of five
    disk_id = watch.slots[device]
    if user == "deletes":
        world.ecs.delete_disk_with_options(ecs_models.DeleteDiskRequest(disk_id=disk_id), world.rt)
    else:
        req = ecs_models.AttachDiskRequest(instance_id=other, disk_id=disk_id)
        world.ecs.attach_disk_with_options(req, world.rt)
        world.advance(10)
    return held["InstanceId"], device, disk_id, watch.slots, other


@pytest.mark.parametrize("user", ["deletes", "attaches"])
@pytest.mark.parametrize("disks", [1, 5])
def test_a_kept_disk_the_user_took_keeps_the_held_replacement_stopped_and_says_which_and_why(
    world: World, disks: int, user: str
) -> None:
    held, device, disk_id, _, other = _held_with_a_disk_taken(world, disks, user)
    told = Told()
    said: list[str] = []
    for _ in range(2):
        words, raised = reconcile_pass(world, told, image_poll_max_s=POLL_S)
        assert not raised, f"the pass raised instead of reporting: {raised}"
        said.extend(words)
        world.advance(60)
    inst = world.instance(held)
    assert inst is not None and inst["Status"] == "Stopped", f"{held} was started without {device}: {said}"
    assert len(boots_of(world, held)) == 1  # only the launch's boot, before the hold: never served without its disk
    texts = said + told.texts()
    naming = [t for t in texts if disk_id in t]
    assert naming, f"nothing names {disk_id} ({device}): {texts}"
    why = (other,) if other else ("deleted", "no longer exist", "not found", "gone", "missing")
    assert any(w in t for t in naming for w in why), f"nothing says why {disk_id} is missing: {naming}"


def test_the_user_starts_the_held_replacement_without_the_deleted_disk_from_the_cli(world: World) -> None:
    from typer.testing import CliRunner

    from aliyun_ops.cli.app import app
    from tests.functional.test_cli import CREDS_ENV

    held, device, _, slots, _ = _held_with_a_disk_taken(world, 5, "deletes")
    world.emu.clock.set_time_scale(100)  # the CLI waits on the real clock
    argv = ["start-held", held, "--without", device, "--endpoint", world.emu.endpoint]
    result = CliRunner().invoke(app, argv, env=CREDS_ENV, input="y\n")  # the user answers its question
    assert result.exit_code == 0, result.output
    inst = world.instance(held)
    assert inst is not None and inst["Status"] == "Running"
    watch = Watch(world, "", slots)
    assert watch.held_data(held, region_disks(world)) == set(slots) - {device}
