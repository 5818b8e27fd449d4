"""Who owns an instance, from its tags (``orchestrators.owner``), and that ``policy.decide`` leaves it alone."""

from __future__ import annotations

import pytest

from aliyun_ops import orchestrators, policy
from aliyun_ops.config import Settings
from aliyun_ops.events import INTERRUPTION, InstanceEvent
from aliyun_ops.models import Instance


@pytest.mark.parametrize(
    ("tags", "owner"),
    [
        ((("acs:autoscaling:scalingGroupId", "asg-1"), ("app", "web")), "Auto Scaling group asg-1"),
        ((("ack.aliyun.com", "c1"),), "ACK cluster c1"),
        ((("ack.alibabacloud.com/nodepool-id", "np1"),), "ACK node pool np1"),
        (  # an ACK node pool's node: its pool (which the user resizes) and cluster, not ACK's own scaling group
            (("acs:autoscaling:scalingGroupId", "asg-9"), ("ack.aliyun.com", "c1"),
             ("ack.alibabacloud.com/nodepool-id", "np1")),
            "ACK node pool np1 of ACK cluster c1",
        ),
        ((("app", "web"), ("aops:managed", "true"), ("autoscaling", "x")), ""),
    ],
)
def test_owner_names_the_orchestrator_from_the_tags(tags: tuple[tuple[str, str], ...], owner: str) -> None:
    assert orchestrators.owner(tags) == owner


def test_a_reclaimed_ess_member_is_not_replaced_and_the_reason_names_its_group() -> None:
    inst = Instance(instance_id="i-1", region_id="cn-hangzhou", zone_id="cn-hangzhou-i", instance_type="ecs.c7.large",
                    status="Running", spot_strategy="SpotAsPriceGo",
                    lock_reasons=("Recycling",), tags=(("acs:autoscaling:scalingGroupId", "asg-1"),))
    event = InstanceEvent(event_id="e1", format="cloudmonitor", name=INTERRUPTION, instance_id="i-1",
                          region_id="cn-hangzhou", action="delete")
    decision = policy.decide(event, inst, Settings(region_id="cn-hangzhou"))
    assert not decision.act and "Auto Scaling group asg-1" in decision.reason
