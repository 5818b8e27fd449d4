"""Does this event, about this instance, deserve a replacement? Pure: no I/O.

Only a spot instance that the cloud is taking back is replaced. A person releasing or stopping an
instance, a pay-as-you-go instance, an instance opted out by tag, or one an orchestrator owns (an Auto Scaling
group, an ACK cluster or node pool: ``orchestrators``) are left alone. A Stop-mode spot
instance (``SpotInterruptionBehavior=Stop``) is never replaced on an event, whatever its action says: the
reclaim only stops it, and reconcile restarts or migrates it (only a stop the cloud made: ``lifecycle.stopped``),
so the lineage is always one instance. The cloud's own signal is the interruption notice with
``action == "delete"``; where the action is masked (as in the
original README's sample, "de***") or missing, the instance's ``Recycling`` operation lock, which ECS
sets on an instance under notice, confirms or refutes it. A state change (Stopped, Deleted) is acted
on only with that same lock, because a state change alone cannot tell a person from the cloud.
"""

from __future__ import annotations

from dataclasses import dataclass

from aliyun_ops import orchestrators
from aliyun_ops.config import Settings
from aliyun_ops.events import InstanceEvent
from aliyun_ops.models import TAG_MANAGED, Instance

RECYCLING = "Recycling"
RELEASE_ACTION = "delete"


@dataclass(frozen=True)
class Decision:
    act: bool
    reason: str


def decide(event: InstanceEvent, instance: Instance | None, settings: Settings) -> Decision:
    """Act only for a managed spot instance being released by the cloud; say why either way."""
    if instance is None:
        return Decision(False, f"{event.instance_id} no longer exists (reconcile recovers lost lineages)")
    owner = orchestrators.owner(instance.tags)
    if owner:  # its Auto Scaling group or ACK replaces it: a second replacement would fight it
        return Decision(False, orchestrators.left_alone(instance.instance_id, owner))
    opted_out = _opted_out(instance, settings)
    if opted_out:
        return Decision(False, opted_out)
    if not instance.is_spot:
        return Decision(False, f"{instance.instance_id} is pay-as-you-go ({instance.instance_charge_type}), not spot")
    if instance.spot_interruption_behavior == "Stop":
        # The reclaim stops it and keeps its disks: a replacement now would be a second running copy once it is
        # started again. Reconcile restarts it when stock returns, or migrates it after the configured wait.
        return Decision(
            False,
            f"{instance.instance_id} is a Stop-mode spot instance: the reclaim stops it, reconcile starts it again "
            "(or migrates it once its zone has stayed sold out) if the cloud's history shows that reclaim; "
            "a stop of its user's is left alone",
        )
    recycling = RECYCLING in instance.lock_reasons
    if event.is_interruption:
        return _decide_interruption(event, recycling)
    if recycling:
        return Decision(True, f"{event.name} {event.state} with the Recycling lock: the cloud reclaims it")
    return Decision(
        False,
        f"{event.name} {event.state} without a reclaim notice or Recycling lock: a manual stop or release",
    )


def _opted_out(instance: Instance, settings: Settings) -> str:
    """Why tags exclude the instance, or "" when they do not."""
    if (instance.tag(TAG_MANAGED) or "").strip().lower() == "false":
        return f"{instance.instance_id} opted out with tag {TAG_MANAGED}=false"
    if settings.selector is not None:
        key, value = settings.selector
        if instance.tag(key) != value:
            return f"{instance.instance_id} lacks the selector tag {key}={value}"
    return ""


def _decide_interruption(event: InstanceEvent, recycling: bool) -> Decision:
    action = event.action
    if action == RELEASE_ACTION:
        if recycling:
            return Decision(True, "spot interruption notice (action delete), Recycling lock: the cloud releases it")
        # Every real reclaim shows the lock: without it the notice is a test or a forgery, and acting on it
        # would buy a second instance and take the elastic IP off a healthy one.
        # Decided on the one read: a forged notice costs one call, not a re-read loop. A real notice whose lock
        # were late would still lose nothing of the data disks: reconcile keeps them for every managed instance.
        return Decision(
            False,
            "spot interruption notice (action delete) but the instance has no Recycling lock: "
            "it is not being reclaimed; nothing done",
        )
    if action is not None and not _could_be_release(action):
        return Decision(False, f"interruption notice with action {action!r}, not a release")
    shown = "missing" if action is None else f"masked ({action!r})"
    if recycling:
        return Decision(True, f"spot interruption notice, action {shown}, confirmed by the Recycling lock")
    return Decision(False, f"spot interruption notice, action {shown}, but no Recycling lock on the instance")


def _could_be_release(action: str) -> bool:
    """A masked action like "de***" is consistent with "delete" when its visible prefix matches."""
    if "*" not in action:
        return False
    visible = action.split("*", 1)[0].lower()
    return RELEASE_ACTION.startswith(visible)
