"""Room for tags: which tags go on a resource when Aliyun holds at most 20 on it.

ECS refuses a RunInstances with more than 20 ``Tag.N``, and a TagResources that would leave a resource with more
than 20 tags (its own tags count: nothing of the call is written). A user near the limit must therefore not lose
the tags that decide what the tool does (the selector, ``aops:managed``, ``aops:data``...), and the engine must
not fail a replacement or a reconcile pass because a resource is full. This module decides, in priority order,
what is written and what is left out, so the caller can say so. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aliyun_ops import models

MAX_TAGS = 20  # tags one ECS resource holds (and one RunInstances / TagResources sends)

# Keys the engine writes and recomputes: never copied from an original as if the user had written them.
# ``aops:managed`` and ``aops:data`` are the user's (opt-outs and modes), as is any other ``aops:`` key.
ENGINE_KEYS = frozenset(
    {
        models.TAG_REPLACES,
        models.TAG_LINEAGE,
        models.TAG_GENERATION,
        models.TAG_INCIDENT,
        models.TAG_IMAGE_OF,
        models.TAG_NOTIFIED,
        models.TAG_DISK_OF,
        models.TAG_DEVICE,
        models.TAG_DISKS,
        models.TAG_EIP,
        models.TAG_LAUNCHED,
        models.TAG_RETIRED,
        models.TAG_FALLBACK,
        models.TAG_SYSTEM_OF,
        models.TAG_HELD,
        "aops:claim",  # recovery.claims
        "aops:stopped-since",  # written by earlier versions' reconcile
    }
)
# the data-disk slot record (disks.slots: aops:slots, aops:slots.2, ...), sold-out marks on vSwitches
ENGINE_PREFIXES = ("aops:sold-out:", "aops:slots")

# A replacement's engine tags, most needed first: what a later delivery or reconcile reads to find and finish it
# (``aops:replaces``: the listing that finds it, the held move's original; ``aops:disks=pending``: it is held for
# its disks; ``aops:lineage``: its lineage's images and kept disks; ``aops:eip``: the address a resume moves;
# ``aops:fallback``: respot brings it back to spot).
REPLACEMENT_RANK = (
    models.TAG_REPLACES,
    models.TAG_DISKS,
    models.TAG_LINEAGE,
    models.TAG_FALLBACK,
)
# Engine tags a resume can read elsewhere too: the lineage's address is also on the original's system snapshot and
# image (``naming.image_tags``). They come after the user's own tags, so three engine tags fit beside 17 of the
# user's on a replacement that moves data disks.
SPARE = (models.TAG_EIP,)
# Counters nothing resumes from (the generation number, the incident id, which ``aops:replaces`` names too):
# they come after the user's own tags, so they never take a user's room.
COUNTERS = (models.TAG_GENERATION, models.TAG_INCIDENT)
# A kept data disk's labels, most needed first: whose data (the move finds it by this), which slot, which lineage
# (a lost lineage's relaunch). The slot is also recorded on the system snapshot and image.
DISK_RANK = (models.TAG_DISK_OF, models.TAG_DEVICE, models.TAG_LINEAGE)
SYSTEM_DISK_RANK = (models.TAG_SYSTEM_OF, models.TAG_LINEAGE)


@dataclass(frozen=True)
class Fit:
    """``write``: the tags to send, in priority order; ``left``: the tags that had no room."""

    write: models.Tags
    left: models.Tags

    @property
    def complete(self) -> bool:
        return not self.left


def fit(
    wanted: Iterable[tuple[str, str]],
    *,
    current: models.Tags = (),
    keep: models.Tags = (),
    limit: int = MAX_TAGS,
) -> Fit:
    """``keep`` first, then ``wanted``, each in its order, as far as the resource has room.

    ``current``: the tags already on the resource; they stay (the engine never removes a user's tag) and take
    room, but a tag whose key is already there only changes its value and takes none. A key met twice keeps its
    first (higher-priority) value; the later one is superseded, not reported as left out."""
    keys = {k for k, _ in current}
    used = len(keys)
    chosen: set[str] = set()
    write: list[tuple[str, str]] = []
    left: list[tuple[str, str]] = []
    for key, value in (*keep, *wanted):
        if key in chosen:
            continue
        if key in keys:
            write.append((key, value))
        elif used < limit:
            write.append((key, value))
            used += 1
        else:
            left.append((key, value))
            continue
        chosen.add(key)
    return Fit(tuple(write), tuple(left))


def is_engine_key(key: str) -> bool:
    return key in ENGINE_KEYS or key.startswith(ENGINE_PREFIXES)


def user_tags(tags: models.Tags, selector: tuple[str, str] | None) -> tuple[models.Tags, models.Tags]:
    """(must keep, others) of a resource's user tags: the selector tag and every ``aops:`` key the user wrote
    first; never the system's ``acs:`` tags (callers cannot write them) nor the engine's own keys."""
    must: list[tuple[str, str]] = []
    others: list[tuple[str, str]] = []
    for key, value in tags:
        if key.startswith("acs:") or is_engine_key(key):
            continue
        if (selector is not None and key == selector[0]) or key.startswith(models.TAG_PREFIX):
            must.append((key, value))
        else:
            others.append((key, value))
    return tuple(must), tuple(others)


def ranked(tags: models.Tags, rank: tuple[str, ...]) -> models.Tags:
    """``tags`` in ``rank`` order (keys not ranked keep their order, after the ranked ones)."""
    order = {k: i for i, k in enumerate(rank)}
    return tuple(sorted(tags, key=lambda kv: order.get(kv[0], len(rank))))


def replacement(original: models.Tags, ours: models.Tags, selector: tuple[str, str] | None) -> Fit:
    """A replacement's ``Tag.N``: the user's selector and ``aops:`` keys, then the engine's tags a resume reads
    (``REPLACEMENT_RANK``), then the user's other tags, then the ``COUNTERS``; at most MAX_TAGS."""
    must, others = user_tags(original, selector)
    needed = tuple(kv for kv in ours if kv[0] not in COUNTERS and kv[0] not in SPARE)
    spare = tuple(kv for kv in ours if kv[0] in SPARE)
    counters = tuple(kv for kv in ours if kv[0] in COUNTERS)
    return fit((*ranked(needed, REPLACEMENT_RANK), *others, *spare, *counters), keep=must)


def labels(current: models.Tags, wanted: models.Tags, rank: tuple[str, ...]) -> Fit:
    """The labels of a user's resource (a disk) that fit beside its current tags, in ``rank`` order."""
    return fit(ranked(wanted, rank), current=current)


def missing(current: models.Tags, tags: models.Tags) -> models.Tags:
    """The tags of ``tags`` not yet on the resource with that value (what a TagResources still has to write)."""
    have = dict(current)
    return tuple((k, v) for k, v in tags if have.get(k) != v)


def said(tags: models.Tags) -> str:
    return ", ".join(f"{k}={v}" for k, v in tags)
