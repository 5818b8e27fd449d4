"""Deterministic names, ClientTokens and tags: the backbone of "exactly once".

Everything an incident creates is named from what every delivery of the same notice knows: the
instance id (and, for a launch, the candidate). Two deliveries therefore send byte-identical
CreateImage / RunInstances / AssociateEipAddress requests with the same ClientToken, which the API
answers with the same resource instead of a second one.
"""

from __future__ import annotations

import hashlib

from aliyun_ops import models, tagroom
from aliyun_ops.models import (
    TAG_GENERATION,
    TAG_IMAGE_OF,
    TAG_INCIDENT,
    TAG_LINEAGE,
    TAG_REPLACES,
)


def digest(*parts: str, length: int = 32) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:length]


def incident_id(instance_id: str) -> str:
    """Stable across re-deliveries: an instance is reclaimed once, so its id names the incident."""
    return f"inc-{instance_id}"


def image_name(instance_id: str, purpose: str = "") -> str:
    """Unique per region and valid: starts with a letter; letters, digits, '-', '.', '_'; <= 128; and not
    with ``aliyun`` or ``acs:``, which CreateImage reserves (InvalidImageName.Malformed)."""
    suffix = f"-{purpose}" if purpose else ""
    return f"aops-{instance_id}{suffix}"[:128]


def image_token(instance_id: str, purpose: str = "") -> str:
    return "ao-img-" + digest("image", instance_id, purpose)


def launch_token(incident: str, candidate: models.Candidate) -> str:
    """Same incident + same candidate = the same instance, however many deliveries ask."""
    return "ao-run-" + digest(incident, candidate.instance_type, candidate.zone_id, candidate.spot_strategy)


def eip_token(allocation_id: str, instance_id: str, at: float) -> str:
    """One AssociateEipAddress *request*: the address, the instance, and the second it was decided (on the cloud's
    clock). Its retries (a dropped answer) repeat it harmlessly; a later request -- the address was found free
    again after an association was lost -- is a new one, which the API acts on instead of answering the first's
    result again (ClientToken idempotency). Two deliveries deciding in the same second share it; otherwise the
    second request is refused as the address is taken, which is harmless."""
    return "ao-eip-" + digest(allocation_id, instance_id, str(int(at)))


def lineage_of(instance: models.Instance) -> str:
    return instance.tag(TAG_LINEAGE) or instance.instance_id


def generation_of(instance: models.Instance) -> int:
    try:
        return int(instance.tag(TAG_GENERATION) or 0)
    except ValueError:
        return 0


def image_tags(
    original: models.Instance, incident: str, record: models.Tags = (), selector: tuple[str, str] | None = None
) -> models.Tags:
    """Ours, then the user's: an image carries the tags so a lost lineage can be relaunched with them, and
    with its elastic IP (``aops:eip``: the allocation id, the lineage's own record of its address). ``record``: the
    data-disk slots (``disks.slots``), which a snapshot or image of ours always has room for (the user's tags on it
    are only a copy, and give way: the selector and the user's ``aops:`` keys last, so a relaunch keeps them)."""
    ours: models.Tags = (
        (TAG_IMAGE_OF, original.instance_id),
        (TAG_LINEAGE, lineage_of(original)),
        (TAG_GENERATION, str(generation_of(original))),
        (TAG_INCIDENT, incident),
        *record,
    )
    allocation = original.eip.allocation_id if original.eip else original.tag(models.TAG_EIP)
    if allocation:
        ours += ((models.TAG_EIP, allocation),)
    must, others = tagroom.user_tags(original.tags, selector)
    return tagroom.fit((*must, *others), keep=ours).write


def replacement_fit(
    original: models.Instance, incident: str, extra: models.Tags = (), selector: tuple[str, str] | None = None
) -> tagroom.Fit:
    """The replacement's tags within the 20 a resource holds (``tagroom.replacement``): the user's selector and
    ``aops:`` keys first, then the lineage tags and ``extra`` a resume reads, then the user's other tags; ``left``
    says what did not fit."""
    ours = (
        (TAG_REPLACES, original.instance_id),
        (TAG_LINEAGE, lineage_of(original)),
        (TAG_GENERATION, str(generation_of(original) + 1)),
        (TAG_INCIDENT, incident),
        *extra,
    )
    return tagroom.replacement(original.tags, ours, selector)


def replacement_tags(
    original: models.Instance, incident: str, extra: models.Tags = (), selector: tuple[str, str] | None = None
) -> models.Tags:
    """What ``replacement_fit`` writes."""
    return replacement_fit(original, incident, extra, selector).write
