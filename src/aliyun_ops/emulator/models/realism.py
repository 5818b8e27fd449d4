"""The scenario's ``realism`` section: the real cloud's lags and refusals, each switched on by its own key.

Every key is optional and an absent key means OFF (the emulator is then instantly consistent for that
behaviour). A malformed value or an unknown key is refused with ``ValueError`` naming it, before any
state is replaced, so a typo cannot silently switch a behaviour off.

| key                    | value                                        | what it models                        |
|------------------------|----------------------------------------------|---------------------------------------|
| tagIndexLagSeconds     | seconds                                      | tag-filtered DescribeInstances lags   |
| imageListLagSeconds    | seconds                                      | a new image is missing from listings  |
| instantAccessSeconds   | seconds                                      | ESSD images Usable before Available   |
| eipTransitionSeconds   | seconds                                      | EIP Associating / Unassociating       |
| transientErrors        | {"rate", "seed", "codes"}                    | throttling / 503 on any RPC call      |
| createImageBusyRate    | share 0..1                                   | CreateImage on Running refused (403)  |
| imageSourceReleased    | "finish" or "fail"                           | image Creating when its source goes   |
| snapshot               | {"fullMiBps","incrementalMiBps","changedFraction"} | full vs incremental snapshot speed |
| passwordInheritCheck   | true / false                                 | PasswordInherit needs an image password |
| diskTransitionSeconds  | seconds                                      | disk Creating / Attaching / Detaching |
| usableAfterAvailable   | {"share", "seconds"}                         | an image Available before it is Usable |
| launch                 | {"failRate","seed","failAfterSeconds",       | accepted launches that fail, listing  |
|                        |  "releaseAfterSeconds","listLagSeconds",     | lag, token in processing, EIP repeat  |
|                        |  "processingSeconds","eipRepeatSeconds"}     | limit (``LaunchRealism``)             |

``passwordInheritCheck`` is how the real API always behaves; it stays a switch so that a scenario can
show what a client that asks for ``PasswordInherit`` blindly would meet. The default scenario turns
every key on (see docs/emulator-fidelity.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KNOWN_KEYS = (
    "tagIndexLagSeconds",
    "imageListLagSeconds",
    "instantAccessSeconds",
    "eipTransitionSeconds",
    "transientErrors",
    "createImageBusyRate",
    "imageSourceReleased",
    "snapshot",
    "passwordInheritCheck",
    "diskTransitionSeconds",
    "usableAfterAvailable",
    "launch",
)
SOURCE_RELEASED = ("finish", "fail")


@dataclass(frozen=True)
class SnapshotSpeed:
    """How fast a disk's snapshot is taken: the first one of a disk copies it all, later ones only the
    changed share."""

    full_mibps: float
    incremental_mibps: float
    changed_fraction: float

    def seconds(self, size_gib: int, snapshotted_before: bool, changed_gib: float | None = None) -> float:
        """``changed_gib``: the data written since the disk's last accomplished snapshot, when known (the control
        API sets it per disk); else the ``changed_fraction`` of its size."""
        mib = size_gib * 1024.0
        if snapshotted_before:
            changed = mib * self.changed_fraction if changed_gib is None else min(changed_gib * 1024.0, mib)
            return changed / self.incremental_mibps
        return mib / self.full_mibps


@dataclass(frozen=True)
class UsableLag:
    """A ``share`` of the account's new images (drawn per image from the scenario's seed) turn Available and stay
    ``Usable=false`` for ``seconds`` more: RunInstances refuses them meanwhile."""

    share: float
    seconds: float


@dataclass(frozen=True)
class LaunchRealism:
    """What the real cloud does around RunInstances and an EIP's association (docs/emulator-fidelity.md, "Issue 21:
    launches and calls"). ``fail_rate``: the share of accepted RunInstances whose instance then fails (stays Pending,
    gets a ``SystemFailure.Delete`` event ``fail_after`` seconds in, is released ``release_after`` seconds later),
    drawn per fresh launch from ``seed``. ``list_lag``: DescribeInstances does not list a new instance for this long.
    ``processing``: a repeat of a RunInstances under the same ClientToken this soon is ``IdempotentProcessing``.
    ``eip_repeat``: an AssociateEipAddress of the same EIP this soon after its last association or disassociation
    is refused ``TaskConflict``."""

    fail_rate: float = 0.0
    seed: int = 0
    fail_after: float = 20.0
    release_after: float = 120.0
    list_lag: float = 0.0
    processing: float = 0.0
    eip_repeat: float = 0.0


LAUNCH_KEYS = {
    "failRate": "fail_rate",
    "seed": "seed",
    "failAfterSeconds": "fail_after",
    "releaseAfterSeconds": "release_after",
    "listLagSeconds": "list_lag",
    "processingSeconds": "processing",
    "eipRepeatSeconds": "eip_repeat",
}


def _launch(value: Any) -> LaunchRealism:
    if value is None:
        return LaunchRealism()
    if not isinstance(value, Mapping):
        raise ValueError("realism.launch must be an object {" + ", ".join(LAUNCH_KEYS) + "}")
    unknown = sorted(set(value) - set(LAUNCH_KEYS))
    if unknown:
        raise ValueError(f"realism.launch: unknown key(s) {', '.join(unknown)}")
    seed = value.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("realism.launch.seed must be an integer")
    fields: dict[str, Any] = {"seed": seed, "fail_rate": _share(value, "failRate")}
    for key, name in LAUNCH_KEYS.items():
        if key.endswith("Seconds") and key in value:
            fields[name] = _seconds(value, key)
    return LaunchRealism(**fields)


@dataclass(frozen=True)
class Realism:
    tag_index_lag: float = 0.0
    image_list_lag: float = 0.0
    instant_access: float | None = None  # None: only an Available image is Usable
    eip_transition: float = 0.0
    transient_errors: Mapping[str, Any] | None = None  # checked and built by faults.TransientErrors
    create_image_busy_rate: float = 0.0
    image_source_released: str = "finish"
    snapshot: SnapshotSpeed | None = None
    password_inherit_check: bool = False
    disk_transition: float = 0.0
    usable_lag: UsableLag | None = None
    launch: LaunchRealism = LaunchRealism()


def _seconds(raw: Mapping[str, Any], key: str) -> float:
    value = raw.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"realism.{key} must be a number of seconds >= 0")
    return float(value)


def _share(raw: Mapping[str, Any], key: str) -> float:
    value = raw.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"realism.{key} must be a number between 0 and 1")
    return float(value)


def _flag(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"realism.{key} must be true or false")
    return value


def _snapshot(value: Any) -> SnapshotSpeed | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError("realism.snapshot must be an object {fullMiBps, incrementalMiBps, changedFraction}")
    unknown = sorted(set(value) - {"fullMiBps", "incrementalMiBps", "changedFraction"})
    if unknown:
        raise ValueError(f"realism.snapshot: unknown key(s) {', '.join(unknown)}")
    speeds = {}
    for key in ("fullMiBps", "incrementalMiBps"):
        speed = value.get(key)
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or speed <= 0:
            raise ValueError(f"realism.snapshot.{key} must be a number > 0")
        speeds[key] = float(speed)
    return SnapshotSpeed(speeds["fullMiBps"], speeds["incrementalMiBps"], _share(value, "changedFraction"))


def _usable_lag(value: Any) -> UsableLag | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"share", "seconds"}:
        raise ValueError("realism.usableAfterAvailable must be an object {share, seconds}")
    return UsableLag(_share(value, "share"), _seconds(value, "seconds"))


def load_realism(section: Any) -> Realism:
    """The scenario's ``realism`` section (None or {} = everything off)."""
    if section is None:
        return Realism()
    if not isinstance(section, Mapping):
        raise ValueError("the realism section must be an object")
    unknown = sorted(set(section) - set(KNOWN_KEYS))
    if unknown:
        raise ValueError(f"unknown realism key(s) {', '.join(unknown)}; known: {', '.join(KNOWN_KEYS)}")
    instant = section.get("instantAccessSeconds")
    released = section.get("imageSourceReleased", "finish")
    if released not in SOURCE_RELEASED:
        raise ValueError('realism.imageSourceReleased must be "finish" or "fail"')
    transient = section.get("transientErrors")
    if transient is not None and not isinstance(transient, Mapping):
        raise ValueError("realism.transientErrors must be an object {rate, seed, codes}")
    return Realism(
        tag_index_lag=_seconds(section, "tagIndexLagSeconds"),
        image_list_lag=_seconds(section, "imageListLagSeconds"),
        instant_access=None if instant is None else _seconds(section, "instantAccessSeconds"),
        eip_transition=_seconds(section, "eipTransitionSeconds"),
        transient_errors=transient,
        create_image_busy_rate=_share(section, "createImageBusyRate"),
        image_source_released=str(released),
        snapshot=_snapshot(section.get("snapshot")),
        password_inherit_check=_flag(section, "passwordInheritCheck"),
        disk_transition=_seconds(section, "diskTransitionSeconds"),
        usable_lag=_usable_lag(section.get("usableAfterAvailable")),
        launch=_launch(section.get("launch")),
    )
