"""Facts and comparisons about instance type families, for the planner. Pure: no I/O.

An instance type id reads ``ecs.<family>.<size>`` (``ecs.c8i.xlarge``); a family name reads
``<line><generation><variant>`` (c8i: line "c" compute, generation 8, variant "i" Intel). Two
families of one line (c7, c7a, c8i) are closer substitutes than two of different lines (c7, r7).
"""

from __future__ import annotations

import re

from aliyun_ops.models import Instance, InstanceType

_LINE = re.compile(r"^([a-z]+)(\d*)")

# System disk categories each family accepts. Source: the per-family "supported disk categories" in
# Alibaba Cloud's ECS "Instance families" documentation (help.aliyun.com/zh/ecs/user-guide/overview-of-
# instance-families), as remembered, not re-checked here: the authority at run time is
# DescribeAvailableResource(DestinationResource=SystemDisk). From the 8th generation on (and for the
# AMD/ARM 7th-generation families below) only ESSD-class disks are offered; families not listed keep
# whatever category the original used.
_ESSD_ONLY = frozenset({"cloud_essd", "cloud_auto"})
_CLASSIC = frozenset({"cloud_essd", "cloud_auto", "cloud_ssd", "cloud_efficiency"})
SYSTEM_DISK_CATEGORIES: dict[str, frozenset[str]] = {
    **{f: _ESSD_ONLY for f in ("g8i", "c8i", "r8i", "g8a", "c8a", "r8a", "g8y", "c8y", "r8y", "g8ae", "c8ae")},
    **{f: _ESSD_ONLY for f in ("r8ae", "hfc8i", "hfg8i", "hfr8i", "g7a", "c7a", "r7a", "g6r", "c6r")},
    **{f: _CLASSIC for f in ("g7", "c7", "r7", "g6", "c6", "r6", "g6e", "c6e", "r6e", "hfc7", "hfg7", "hfr7")},
    "e": frozenset({"cloud_essd", "cloud_auto", "cloud_essd_entry"}),
}
# The closest substitutes for a category, closest first.
_NEAREST: dict[str, tuple[str, ...]] = {
    "cloud": ("cloud_efficiency", "cloud_essd", "cloud_auto", "cloud_essd_entry"),
    "cloud_efficiency": ("cloud_essd", "cloud_auto", "cloud_essd_entry", "cloud_ssd"),
    "cloud_ssd": ("cloud_essd", "cloud_auto", "cloud_efficiency"),
    "cloud_essd": ("cloud_auto", "cloud_essd_entry", "cloud_ssd"),
    "cloud_auto": ("cloud_essd", "cloud_essd_entry", "cloud_ssd"),
    "cloud_essd_entry": ("cloud_essd", "cloud_auto", "cloud_efficiency"),
}
_PREFERENCE = ("cloud_essd", "cloud_auto", "cloud_essd_entry", "cloud_ssd", "cloud_efficiency", "cloud")
MIN_SYSTEM_DISK_GIB = 20


def short_family(itype: InstanceType) -> str:
    """ "c7" for ecs.c7 / ecs.c7.large (the family field may be empty in sparse catalogs)."""
    family = itype.family or ".".join(itype.type_id.split(".")[:2])
    return family.lower().removeprefix("ecs.")


def matches_family(itype: InstanceType, name: str) -> bool:
    """Whether a user's family name ("c7" or "ecs.c7") names this type's family."""
    return short_family(itype) == name.strip().lower().removeprefix("ecs.")


def family_relation(original: InstanceType, other: InstanceType) -> tuple[int, str]:
    """(rank, words): 0 same family, 1 same family line (c7 -> c8i/c7a), 2 another line."""
    a, b = short_family(original), short_family(other)
    if a == b:
        return 0, "same family"
    if _line(a) and _line(a) == _line(b):
        return 1, f"same family line ({_line(a)})"
    return 2, "other family"


def _line(family: str) -> str:
    match = _LINE.match(family)
    return match.group(1) if match else ""


def _generation(family: str) -> int:
    match = _LINE.match(family)
    return int(match.group(2)) if match and match.group(2) else 0


# Family lines whose vCPUs are shared or burstable (t5/t6 credits, economy e, shared s6, old n4/xn4/mn4):
# their baseline is a fraction of a vCPU, so they never stand in for a type with dedicated vCPUs.
SHARED_LINES = frozenset({"t", "e", "s", "n", "xn", "mn"})


def is_shared(itype: InstanceType) -> bool:
    return _line(short_family(itype)) in SHARED_LINES


def not_equivalent(original: InstanceType, other: InstanceType) -> str:
    """Why ``other`` cannot stand in for ``original``, or "" when it can."""
    if other.arch.upper() != original.arch.upper():
        return f"{other.arch} CPU, the original is {original.arch}"
    if is_shared(other) and not is_shared(original):
        return "shared or burstable vCPUs, the original has dedicated ones"
    if original.has_gpu != other.has_gpu:
        return "has a GPU, the original has none" if other.has_gpu else "no GPU, the original has one"
    if original.has_gpu:
        if other.gpu_amount < original.gpu_amount:
            return f"{other.gpu_amount} GPUs, fewer than the original's {original.gpu_amount}"
        if original.gpu_spec and other.gpu_spec != original.gpu_spec:
            return f"GPU {other.gpu_spec or 'unknown'}, the original has {original.gpu_spec}"
    if other.cpu < original.cpu:
        return f"{other.cpu} vCPU, fewer than the original's {original.cpu}"
    if other.memory_gib + 1e-9 < original.memory_gib:
        return f"{other.memory_gib:g} GiB memory, less than the original's {original.memory_gib:g}"
    return ""


def type_of_instance(instance: Instance) -> InstanceType:
    """The original's type as far as the instance itself tells (when the catalog lacks it)."""
    family = ".".join(instance.instance_type.split(".")[:2])
    return InstanceType(instance.instance_type, family, instance.cpu, instance.memory_gib)


def supported_system_disks(itype: InstanceType) -> frozenset[str] | None:
    """The categories this type's family accepts, or None when unknown (then anything is kept)."""
    family = short_family(itype)
    if family in SYSTEM_DISK_CATEGORIES:
        return SYSTEM_DISK_CATEGORIES[family]
    if _generation(family) >= 8:
        return _ESSD_ONLY
    return None


def choose_system_disk(category: str, size_gib: int, itype: InstanceType) -> tuple[str, int]:
    """Keep the category if the type takes it, else the nearest it takes; the size never shrinks."""
    supported = supported_system_disks(itype)
    if supported is None or category in supported:
        return category, size_gib if size_gib > 0 else MIN_SYSTEM_DISK_GIB
    nearest = _NEAREST.get(category, ()) + _PREFERENCE
    chosen = next(c for c in nearest if c in supported)
    return chosen, max(size_gib, MIN_SYSTEM_DISK_GIB)
