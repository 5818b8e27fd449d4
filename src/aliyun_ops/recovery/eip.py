"""Keep the user's public address: move the elastic IP to the replacement.

The old instance holds the EIP until the cloud releases it at the end of the notice; the replacement
is often Running before that. Nothing frees the address sooner, so the first look comes just after the
expected release (the notice's time + its length); by then the address is almost always free, so that moment
begins with AssociateEipAddress itself (a refusal -- not free yet -- is followed by one look a second until the
release has happened). If the release has not come ``FORCE_MOVE_S`` before the deadline, the address
is moved anyway (UnassociateEipAddress from the doomed instance, which is gone within seconds): the user keeps
the address either way. After AssociateEipAddress (or while the EIP is ``Associating``/``Unassociating``)
the next look comes when such a transition is normally over (``TRANSITION_S``), then every
``TRANSITION_POLL_S``; a call refused while it moves is simply repeated. AssociateEipAddress carries a
ClientToken per request (the address, the instance, the second: ``naming.eip_token``): its retries are harmless,
and a later request after a lost association is acted on, not answered from the first.

Trade-off, chosen for the API rate a reclaim wave leaves to the user's other tools: an original released
*before* its notice ends (its user deleted it) leaves the address unbound until the expected release, which
is never more than the notice's five minutes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aliyun_ops import errors, models
from aliyun_ops.recovery import naming

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud

FORCE_MOVE_S = 30.0
AFTER_RELEASE_S = 1.0  # the first look comes this long after the expected release
FAST_POLL_S = 1.0  # then one look a second until the release has happened, sparser as it is later:
LATE_POLL_MAX_S = 5.0  # half the lateness, at most this
TRANSITION_S = 6.0  # Associating / Unassociating lasts a few seconds (5 s in the emulator): look after that
TRANSITION_POLL_S = 2.0  # then every this long until it settles
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
    asked: bool = False,
) -> str:
    """Returns what happened, in words for the record; never raises for an EIP that cannot move.

    With ``expected_release`` (a reclaim: the notice's time + its length), the first look is AFTER_RELEASE_S after
    it (at once for a delivery that starts late), then one every FAST_POLL_S until the address is free; without
    it, one every ``poll_s``. While the cloud moves the address, looks are TRANSITION_S then TRANSITION_POLL_S
    apart. ``take_now`` (a planned move: the old instance is healthy and stays up until the address has moved)
    takes the address off ``old_id`` at once instead of waiting for a release. ``asked``: AssociateEipAddress for
    ``new_id`` was already accepted (``associate_now``), so this only looks.
    """
    moving = asked  # we asked the cloud to move it: the next look waits for the transition
    if expected_release is not None and not take_now and not asked:
        _sleep_until(cloud, min(expected_release + AFTER_RELEASE_S, deadline - FORCE_MOVE_S))
        if cloud.clock() >= expected_release:  # the release freed it, almost always: ask at once, look after
            moving = associate_now(cloud, eip, new_id)
            if moving:
                cloud.sleep(min(TRANSITION_S, max(deadline - cloud.clock() - 1, 0.1)))
    while True:
        current = _current(cloud, eip.allocation_id)
        if current is None:
            return f"EIP {eip.ip_address} no longer exists; nothing to move"
        if current.instance_id == new_id and current.status == "InUse":
            return f"EIP {eip.ip_address} associated with {new_id}"
        now = cloud.clock()
        asked = False
        try:
            if current.status == "Available":
                cloud.associate_eip(eip.allocation_id, new_id, naming.eip_token(eip.allocation_id, new_id, now))
                asked = True
            elif current.instance_id == old_id and current.status == "InUse":
                if take_now or now >= deadline - FORCE_MOVE_S:
                    cloud.unassociate_eip(eip.allocation_id, old_id)
                    asked = True
            elif current.instance_id not in (old_id, new_id, None, ""):
                return f"EIP {eip.ip_address} is now bound to {current.instance_id}; left alone"
        except (errors.InvalidRequest, errors.NotFound) as exc:
            if cloud.clock() >= deadline - 1:
                return f"EIP {eip.ip_address} not moved: {exc.code}"
        if cloud.clock() >= deadline - 1:
            return f"EIP {eip.ip_address} not moved before the deadline (still on {current.instance_id})"
        now = cloud.clock()
        pause = _pause(current, poll_s, expected_release, asked and not moving, now)
        moving = moving or asked or current.status in TRANSITIONS
        if now < deadline - FORCE_MOVE_S:  # look again when the forced move is due, not later
            pause = min(pause, max(deadline - FORCE_MOVE_S - now, FAST_POLL_S))
        cloud.sleep(min(pause, max(deadline - now - 1, 0.1)))


def late_pause(late_s: float) -> float:
    """The pause between looks for a release that is ``late_s`` past its expected moment: a second at first, then
    half the lateness (at most LATE_POLL_MAX_S), so a release a minute late costs about fifteen looks, not sixty,
    and is seen within LATE_POLL_MAX_S."""
    return max(FAST_POLL_S, min(LATE_POLL_MAX_S, late_s / 2))


def associate_now(cloud: Cloud, eip: models.Eip, new_id: str) -> bool:
    """AssociateEipAddress without a look first, when the address should be free (the release has happened); False
    when the cloud refuses it (not free yet, bound elsewhere, or gone): the caller looks then. Its ClientToken names
    this request (``naming.eip_token``), so its retries are harmless."""
    try:
        cloud.associate_eip(eip.allocation_id, new_id, naming.eip_token(eip.allocation_id, new_id, cloud.clock()))
    except (errors.InvalidRequest, errors.NotFound):
        return False
    return True


def _sleep_until(cloud: Cloud, when: float) -> None:
    wait = when - cloud.clock()
    if wait > 0:
        cloud.sleep(wait)


def _pause(
    current: models.Eip, poll_s: float, expected_release: float | None, just_asked: bool, now: float
) -> float:
    if just_asked or current.status in TRANSITIONS:  # the cloud is moving it: it takes a few seconds
        return TRANSITION_S if just_asked else TRANSITION_POLL_S
    if current.status == "Available":  # free, and our association was refused a moment ago: ask again soon
        return TRANSITION_POLL_S
    if expected_release is None:
        return poll_s
    return late_pause(now - expected_release)


def associate_if_free(cloud: Cloud, eip: models.Eip, new_id: str) -> bool:
    """One look, then ``associate_now`` if the address is free; never waits. Reconcile puts a lineage's lost address
    back with it: only a free address is taken, never one bound elsewhere."""
    current = _current(cloud, eip.allocation_id)
    if current is None or current.status != "Available":
        return False
    return associate_now(cloud, eip, new_id)
