"""Overlapping reconcile passes never act on the same item.

Function Compute gives each timer invocation its own instance, and a pass may run for most of the function's
timeout, longer than the timer's period: two passes can overlap, in two processes that share nothing. Before a pass
acts on an item that costs minutes (a held replacement's disks, a lost lineage's relaunch), it claims it on the
cloud itself: it reads the item again, and when no other pass holds an unexpired claim it tags the item
``aops:claim=<pass id>@<expiry, epoch seconds on the cloud's clock>`` (the item's own end in that pass). A pass that
finds another's claim skips the item and says so. A pass done with an item (finished, failed or out of time) lets go
of it (the claim is rewritten as expired: the role may not remove tags), so the next pass takes it at once; a pass
that died holding a claim holds it only until its expiry.

A claim is a courtesy, not a lock: two passes that read the item in the same instant may both claim it. What they
then do converges anyway (the same ClientTokens, the same keeper), so a claim that cannot be written (no tag room,
a refused write) lets the pass go on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aliyun_ops import errors, models

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud

log = logging.getLogger(__name__)
TAG_CLAIM = "aops:claim"


@dataclass(frozen=True)
class Claim:
    holder: str
    until: float

    def text(self) -> str:
        return f"{self.holder}@{int(self.until)}"


def read(tags: models.Tags) -> Claim | None:
    value = models.tag_value(tags, TAG_CLAIM) or ""
    holder, sep, until = value.rpartition("@")
    if not sep or not holder:
        return None
    try:
        return Claim(holder, float(until))
    except ValueError:
        return None


def held_by_other(tags: models.Tags, holder: str, now: float) -> Claim | None:
    """Another pass's claim that has not expired yet, if the tags carry one."""
    claim = read(tags)
    if claim is None or claim.holder == holder or claim.until <= now:
        return None
    return claim


def take(cloud: Cloud, kind: str, resource_id: str, tags: models.Tags, holder: str, until: float) -> Claim | None:
    """Claim the item (``tags``: as just read). Returns the other pass's claim when one holds it (the caller skips the
    item), else None once the claim is written, or could not be (the caller goes on: see the module)."""
    other = held_by_other(tags, holder, cloud.clock())
    if other is not None:
        return other
    mine = Claim(holder, until)
    try:
        cloud.tag_resources(kind, [resource_id], ((TAG_CLAIM, mine.text()),))
    except errors.CloudError as exc:
        log.warning("could not claim %s %s for this pass (%s); going on", kind, resource_id, exc.code)
    return None


def release(cloud: Cloud, kind: str, resource_id: str, holder: str) -> None:
    """Let go of the item: the claim rewritten as expired now (never raises: the claim expires anyway)."""
    try:
        cloud.tag_resources(kind, [resource_id], ((TAG_CLAIM, Claim(holder, 0.0).text()),))
    except Exception as exc:  # the item may be gone (a duplicate deleted), or the write refused
        log.info("claim on %s %s not released (%s); it expires", kind, resource_id, type(exc).__name__)
