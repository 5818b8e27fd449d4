"""The original's identity, kept in the image description so a lost lineage can be relaunched.

When an incident fails outright (or no event ever arrived) the instance is gone and with it every
attribute a replacement needs. The image survives; its Description (<= 256 characters) carries a
compact JSON of what ``build_spec`` copies. Fields are dropped from the end if it would not fit.
"""

from __future__ import annotations

import json
from typing import Any

from aliyun_ops import models

MAX_LEN = 256
_FIELDS = (
    ("t", "instance_type"),
    ("z", "zone_id"),
    ("v", "vswitch_id"),
    ("p", "vpc_id"),
    ("g", "security_group_ids"),
    ("n", "name"),
    ("h", "hostname"),
    ("k", "key_pair_name"),
    ("s", "spot_strategy"),
    ("i", "spot_interruption_behavior"),
    ("c", "internet_charge_type"),
    ("b", "internet_max_bandwidth_out"),
    ("r", "resource_group_id"),
    ("m", "image_id"),
)


def encode(instance: models.Instance) -> str:
    data: dict[str, Any] = {}
    for short, attr in _FIELDS:
        value = getattr(instance, attr)
        data[short] = list(value) if isinstance(value, tuple) else value
    text = json.dumps({"ao": 1, **data}, separators=(",", ":"))
    while len(text) > MAX_LEN and data:
        data.popitem()
        text = json.dumps({"ao": 1, **data}, separators=(",", ":"))
    return text


def decode(text: str, instance_id: str, region_id: str, tags: models.Tags = ()) -> models.Instance | None:
    """The identity as an Instance record (status "Deleted"), or None if the text is not ours."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("ao") != 1 or not data.get("t") or not data.get("g"):
        return None
    values = {attr: data[short] for short, attr in _FIELDS if data.get(short) is not None}
    values["security_group_ids"] = tuple(values.get("security_group_ids", ()))
    return models.Instance(instance_id=instance_id, region_id=region_id, status="Deleted", tags=tags, **values)
