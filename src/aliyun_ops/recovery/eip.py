"""Keep the user's public address: move the elastic IP to the replacement.

The old instance holds the EIP until the cloud releases it at the end of the notice; the replacement
is often Running before that. We wait for the release to free the address and associate it at once.
If the release has not come ``FORCE_MOVE_S`` before the deadline, the address is moved anyway
(UnassociateEipAddress from the doomed instance, which is gone within seconds): the user keeps the
address either way. An EIP in ``Associating``/``Unassociating`` is polled every second until it
settles; a call refused while it moves is simply repeated. AssociateEipAddress carries a
deterministic ClientToken, so a re-delivery that repeats it is harmless.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aliyun_ops import errors, models
from aliyun_ops.recovery import naming

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud

FORCE_MOVE_S = 30.0
NEAR_RELEASE_S = 3.0  # from this long before the expected release, poll every FAST_POLL_S
FAST_POLL_S = 1.0
FAR_POLL_S = 60.0  # before that, at most this long between two looks (nothing changes before the release)
TRANSITION_POLL_S = 2.0  # Associating / Unassociating lasts a few seconds
TRANSITIONS = ("Associating", "Unassociating")  # a real EIP passes through these for a few seconds


def _current(cloud: Cloud, allocation_id: str) -> models.Eip | None:
    found = cloud.describe_eips(allocation_id=allocation_id)
    return found[0] if found else None


def move_eip(
    cloud: Cloud,
    eip: models.Eip,
    old_id: str,
    new_id: str,
    *,
    deadline: float,
    poll_s: float,
    expected_release: float | None = None,
    take_now: bool = False,
) -> str:
    """Returns what happened, in words for the record; never raises for an EIP that cannot move.

    Looks once, then, while the release is far off, again only just before ``expected_release`` (the notice's time
    + its length; at most FAR_POLL_S apart: a delivery that started late sees an earlier release), every
    FAST_POLL_S around it, so the address is down for about a second, and every TRANSITION_POLL_S while the cloud
    moves it. Without an expected release: every ``poll_s``.
    ``take_now`` (a planned move: the old instance is healthy and stays up until the address has moved) takes
    the address off ``old_id`` at once instead of waiting for a release.
    """
    token = naming.eip_token(eip.allocation_id, new_id)
    while True:
        current = _current(cloud, eip.allocation_id)
        if current is None:
            return f"EIP {eip.ip_address} no longer exists; nothing to move"
        if current.instance_id == new_id and current.status == "InUse":
            return f"EIP {eip.ip_address} associated with {new_id}"
        now = cloud.clock()
        try:
            if current.status == "Available":
                cloud.associate_eip(eip.allocation_id, new_id, token)
            elif current.instance_id == old_id and current.status == "InUse":
                if take_now or now >= deadline - FORCE_MOVE_S:
                    cloud.unassociate_eip(eip.allocation_id, old_id)
            elif current.instance_id not in (old_id, new_id, None, ""):
                return f"EIP {eip.ip_address} is now bound to {current.instance_id}; left alone"
        except (errors.InvalidRequest, errors.NotFound) as exc:
            if cloud.clock() >= deadline - 1:
                return f"EIP {eip.ip_address} not moved: {exc.code}"
        if cloud.clock() >= deadline - 1:
            return f"EIP {eip.ip_address} not moved before the deadline (still on {current.instance_id})"
        now = cloud.clock()
        pause = _pause(now, current, poll_s, expected_release)
        if now < deadline - FORCE_MOVE_S:  # look again when the forced move is due, not later
            pause = min(pause, max(deadline - FORCE_MOVE_S - now, FAST_POLL_S))
        cloud.sleep(min(pause, max(deadline - now - 1, 0.1)))


def _pause(now: float, current: models.Eip, poll_s: float, expected_release: float | None) -> float:
    if current.status in TRANSITIONS or current.status == "Available":  # the cloud is moving it, or we just asked
        return TRANSITION_POLL_S
    if expected_release is None:
        return poll_s
    far = expected_release - NEAR_RELEASE_S - now
    return FAST_POLL_S if far <= 0 else max(FAST_POLL_S, min(FAR_POLL_S, far))


def associate_if_free(cloud: Cloud, eip: models.Eip, new_id: str) -> bool:
    """One look, one AssociateEipAddress if the address is free (same token as ``move_eip``); never waits.

    Used while the replacement is held for its disks: the address's transition then overlaps the attaches."""
    current = _current(cloud, eip.allocation_id)
    if current is None or current.status != "Available":
        return False
    try:
        cloud.associate_eip(eip.allocation_id, new_id, naming.eip_token(eip.allocation_id, new_id))
    except (errors.InvalidRequest, errors.NotFound):
        return False
    return True
