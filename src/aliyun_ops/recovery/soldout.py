"""What is sold out, remembered for a few minutes by every incident of every instance of the function.

A (type, zone) that refused RunInstances with ``OperationDenied.NoStock`` is skipped by later plans until
its expiry (``Settings.sold_out_memory_s``, default 300 s: the order of Karpenter's unavailable-offerings
cache). The memory lives in two places:

- in the process: one ``UnavailableOfferings`` per (ECS endpoint, region), shared by every incident of
  this function instance, so the concurrent incidents of a reclaim wave learn from each other at once;
- on the vSwitch the refused launch used (the zone's vSwitch of the original's VPC): a tag
  ``aops:sold-out:<instance type>`` = ``<expiry, epoch seconds on the cloud's clock>``. Every incident
  already reads DescribeVSwitches of its VPC, whose rows carry their tags, so reading costs no call;
  another function instance (or the next cold start) learns the pair from there. Writing costs one VPC
  TagResources per newly sold-out pair, in a background thread (the next RunInstances never waits for
  it), plus one UnTagResources when tags of ours have expired or more than ``MAX_TAGS`` would be held.

Why the vSwitch: it is the one resource every incident reads anyway, it is zonal like stock, and it
outlives every instance. A VPC resource takes 20 tags; aliyun-ops holds at most ``MAX_TAGS`` of its own
there and removes its expired ones whenever it writes. A tag write that fails (permission denied, the
vSwitch's tag limit reached) is logged and noted in the incident record, never fatal: the process
memory still holds the pair. ``sold_out_memory_s = 0`` reads and writes no tag.

A vSwitch that refused RunInstances with ``InvalidVSwitchId.IpNotEnough`` (no free private address) is remembered
as full for the same time, in the process only: it is full for every type, so the launch moves to another vSwitch
of the zone with free addresses, else to the next zone. No tag is needed to tell other function instances: the
DescribeVSwitches they read anyway reports its ``AvailableIpAddressCount`` (the planner skips those at 0).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aliyun_ops import errors, models
from aliyun_ops.planner import UnavailableOfferings

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Settings

log = logging.getLogger(__name__)
TAG_PREFIX = "aops:sold-out:"
MAX_TAGS = 8  # of ours per vSwitch: a VPC resource takes 20 tags, the rest stay the user's
PROCESS_TTL_S = 300.0  # the in-process memory when the tags are off (sold_out_memory_s = 0)
MAX_UNTAG = 20  # UnTagResources takes at most 20 TagKey.N
SETTLE_S = 10.0  # how long an incident's end waits for its tag writes


def tag_key(instance_type: str) -> str:
    return TAG_PREFIX + instance_type


def expiry_of(value: str) -> float | None:
    """A tag value as an expiry (epoch seconds), or None when it is not one of ours (malformed)."""
    try:
        until = float(value)
    except ValueError:
        return None
    return until if math.isfinite(until) and until > 0 else None


def sold_out_tags(tags: models.Tags) -> dict[str, float]:
    """Instance type -> expiry from one vSwitch's tags, expired ones included; other tags ignored."""
    found: dict[str, float] = {}
    for key, value in tags:
        itype = key[len(TAG_PREFIX) :] if key.startswith(TAG_PREFIX) else ""
        until = expiry_of(value) if itype else None
        if until is not None:
            found[itype] = until
    return found


def parse(vswitches: Iterable[models.VSwitch], now: float) -> dict[tuple[str, str], float]:
    """(type, zone) -> expiry for every pair a vSwitch's tags still hold sold out at ``now``."""
    pairs: dict[tuple[str, str], float] = {}
    for v in vswitches:
        for itype, until in sold_out_tags(v.tags).items():
            key = (itype, v.zone_id)
            if until > now and until > pairs.get(key, 0.0):
                pairs[key] = until
    return pairs


@dataclass
class _Book:
    """One function instance's memory for one (endpoint, region): the pairs, and our tags per vSwitch."""

    offerings: UnavailableOfferings
    tags: dict[str, dict[str, float]] = field(default_factory=dict)  # vSwitch -> {type: expiry}, as known
    full: dict[str, float] = field(default_factory=dict)  # vSwitch -> expiry: out of private addresses
    lock: threading.Lock = field(default_factory=threading.Lock)


_BOOKS: dict[tuple[str | None, str], _Book] = {}
_BOOKS_LOCK = threading.Lock()


def _book(cloud: Cloud) -> _Book:
    key = (cloud.endpoint, cloud.region_id)
    with _BOOKS_LOCK:
        book = _BOOKS.get(key)
        if book is None:
            book = _BOOKS[key] = _Book(UnavailableOfferings(ttl_s=PROCESS_TTL_S, clock=cloud.clock))
        return book


def forget_all() -> None:
    """Drop this process's memory, as a new function instance starts without one (tests)."""
    with _BOOKS_LOCK:
        _BOOKS.clear()


class SoldOutMemory:
    """One incident's view of the shared memory: read before planning, told of every NoStock."""

    def __init__(self, cloud: Cloud, settings: Settings, note: Callable[[str], None] | None = None) -> None:
        self.cloud = cloud
        self.ttl = settings.sold_out_memory_s
        self._book = _book(cloud)
        self._note = note or (lambda what: log.info("%s", what))
        self._vswitches: dict[str, models.VSwitch] = {}
        self._writes: list[threading.Thread] = []

    @property
    def tags_on(self) -> bool:
        return self.ttl > 0

    def snapshot(self, vswitches: Iterable[models.VSwitch] = ()) -> frozenset[tuple[str, str]]:
        """The pairs to skip now: this process's, plus those the vSwitches' tags hold (learned here)."""
        now = self.cloud.clock()
        for v in vswitches:
            self._vswitches[v.vswitch_id] = v
            if not self.tags_on:
                continue
            with self._book.lock:
                known = self._book.tags.setdefault(v.vswitch_id, {})
                known.update(sold_out_tags(v.tags))
        if self.tags_on:
            for (itype, zone), until in parse(self._vswitches.values(), now).items():
                self._book.offerings.add(itype, zone, until=until, now=now)
        return self._book.offerings.snapshot(now)

    def sold_out(self, instance_type: str, zone_id: str, vswitch_id: str) -> None:
        """RunInstances of this pair on this vSwitch refused NoStock: remember it here and, in the background,
        on the vSwitch."""
        now = self.cloud.clock()
        until = now + (self.ttl if self.tags_on else PROCESS_TTL_S)
        new = self._book.offerings.add(instance_type, zone_id, until=until, now=now)
        if not new or not self.tags_on or not vswitch_id:
            return
        writer = threading.Thread(
            target=self._write,
            args=(vswitch_id, instance_type, math.ceil(until)),
            name="aliyun-ops-sold-out",
            daemon=True,
        )
        self._writes.append(writer)
        writer.start()

    def vswitch_full(self, vswitch_id: str) -> None:
        """RunInstances on this vSwitch refused ``InvalidVSwitchId.IpNotEnough``: no launch of this process uses it
        again, whatever the type, until the memory expires."""
        now = self.cloud.clock()
        with self._book.lock:
            self._book.full[vswitch_id] = now + (self.ttl if self.tags_on else PROCESS_TTL_S)

    def is_full(self, vswitch_id: str) -> bool:
        now = self.cloud.clock()
        with self._book.lock:
            self._book.full = {v: until for v, until in self._book.full.items() if until > now}
            return vswitch_id in self._book.full

    def vswitch_for(self, zone_id: str, vswitch_id: str) -> str | None:
        """The vSwitch a launch planned on ``vswitch_id`` should use: that one unless it is known full, else the
        zone's other vSwitch of the same VPC with the most free addresses (from the listing ``snapshot`` was given)
        that is not known full; None when there is none."""
        if not self.is_full(vswitch_id):
            return vswitch_id
        own = self._vswitches.get(vswitch_id)
        if own is None:
            return None
        others = [
            v
            for v in self._vswitches.values()
            if (v.zone_id, v.vpc_id) == (zone_id, own.vpc_id) and v.available_ips > 0 and not self.is_full(v.vswitch_id)
        ]
        best = min(others, key=lambda v: (-v.available_ips, v.vswitch_id), default=None)
        return best.vswitch_id if best is not None else None

    def settle(self, timeout_s: float = SETTLE_S) -> None:
        """Wait (at most ``timeout_s`` in all) for this incident's tag writes, so a frozen instance loses none."""
        for writer in self._writes:
            writer.join(timeout_s)

    def _write(self, vswitch_id: str, instance_type: str, until: int) -> None:
        key = tag_key(instance_type)
        try:
            stale = self._make_room(vswitch_id, instance_type)
            if stale:
                try:
                    self.cloud.untag_vswitch(vswitch_id, [tag_key(t) for t in stale][:MAX_UNTAG])
                except errors.CloudError as exc:  # the tag may still fit: the user's tags leave room
                    self._note(f"could not remove old sold-out tags from {vswitch_id}: {exc.code}")
            self.cloud.tag_vswitch(vswitch_id, ((key, str(until)),))
        except errors.CloudError as exc:
            log.warning("sold-out tag on %s refused: %s", vswitch_id, exc.code)
            self._note(f"{instance_type} sold out remembered in this instance only: tagging {vswitch_id} failed "
                       f"({exc.code})")
            return
        except Exception as exc:  # a background thread: nothing may escape unlogged
            log.warning("sold-out tag on %s failed", vswitch_id, exc_info=True)
            self._note(f"tagging {vswitch_id} as {instance_type} sold out failed: {type(exc).__name__}")
            return
        with self._book.lock:
            self._book.tags.setdefault(vswitch_id, {})[instance_type] = float(until)
        self._note(f"{instance_type} sold out in its zone noted on {vswitch_id} until {until}")

    def _make_room(self, vswitch_id: str, instance_type: str) -> list[str]:
        """Our tags to remove from the vSwitch before adding one: the expired, then the soonest to expire
        while more than ``MAX_TAGS`` would be held. Forgotten here at once (another write need not redo it)."""
        now = self.cloud.clock()
        with self._book.lock:
            known = self._book.tags.setdefault(vswitch_id, {})
            stale = [t for t, until in known.items() if until <= now and t != instance_type]
            live = sorted((until, t) for t, until in known.items() if until > now and t != instance_type)
            while len(live) >= MAX_TAGS:
                stale.append(live.pop(0)[1])
            for t in stale:
                known.pop(t, None)
            return sorted(stale)
