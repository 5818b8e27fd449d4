"""The shipped RAM policy is exactly what the engine needs: nothing missing, nothing extra.

The emulator gives the function's RAM role (STS credentials) the shipped policy and refuses anything
else with ``Forbidden.RAM``, as Aliyun does; every engine test in this suite runs as that role. Here
the engine walks every path that calls the cloud (a reclaim with an EIP, a RAM role and user data,
housekeeping, an image failure, an EIP that must be taken off a not-yet-released instance, a
reclaim-stopped instance started again, one migrated after its zone stayed sold out, a lineage
recovered after a failed incident, CloudMonitor's record of that reclaim, data disks moved in the same
zone and copied into another, sold-out pairs noted on vSwitches and their expired notes removed) and
the set of actions the role called, read from the emulator's
journal, must equal the set the policy allows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from aliyun_ops import errors
from aliyun_ops.deploy import load_ram_policy, policy_actions
from aliyun_ops.emulator import FUNCTION_ROLE_ACCESS_KEY_ID, Emulator
from tests.functional.engine_support import CREDS, World, tags_of


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def _walk_every_engine_path(world: World) -> None:
    # A reclaim with EIP, RAM role and user data, three generations deep: housekeeping deletes images.
    current = world.launch(  # no instant access: the failed image below fails before it is usable
        eip=True, ram_role="web-role", user_data="IyEvYmluL3NoCmVjaG8gaGk=", system_disk="cloud_efficiency"
    )
    for _ in range(3):
        outcome = world.handle(world.interrupt(current))
        assert outcome.status == "replaced"
        current = outcome.record.new_instance_id
        world.advance(400)
    assert world.ram_role(current) == "web-role"
    # The image fails: fall back to the lineage's newest image.
    world.emu.backend.fail_next_images(1)
    assert world.handle(world.interrupt(current)).record.image_source == "lineage-fallback"
    # A deadline shorter than the notice: the EIP is taken off the old instance before it is released.
    old = world.launch(name="api-1", eip=True)
    event = world.interrupt(old)
    moved = world.handle(event, deadline=world.emu.clock.now() + 200)
    assert moved.status == "replaced"
    # Stop mode: started again, then (zone sold out for longer than allowed) migrated elsewhere.
    stopped = world.launch(name="batch-1", behavior="Stop", eip=False)
    world.interrupt(stopped, mark_sold_out=True)
    world.advance(320)
    assert [o.status for o in world.reconcile(stopped_migrate_after_s=60)] == ["skipped"]
    world.advance(120)
    migrated = world.reconcile(stopped_migrate_after_s=60)
    assert [o.status for o in migrated] == ["replaced"]
    # A failed incident leaves a lineage without an instance: reconcile relaunches it from its image.
    lost = world.launch(name="cache-1", zone="cn-hangzhou-k", eip=False)
    event = world.interrupt(lost)
    world.emu.control.faults(actions=["RunInstances"], error_rate=1.0, code="OperationDenied.NoStock", http_status=403)
    with pytest.raises(errors.ReplacementFailed):
        world.handle(event)
    world.emu.control.clear_faults()
    world.advance(400)
    # Reconcile relaunched it only because CloudMonitor's own record (read as the role) shows the reclaim.
    assert "recovered" in [o.status for o in world.reconcile()]
    # Data disks move: kept at the notice, a system-disk-only image, the replacement held, the disks attached;
    # in another zone, copied through a snapshot and the kept disk deleted after.
    data = [{"Category": "cloud_essd", "Size": 40}]
    near = world.launch(name="db-1", zone="cn-hangzhou-j", eip=False, data_disks=data)
    assert world.handle(world.interrupt(near)).status == "replaced"
    far = world.launch(name="db-2", zone="cn-hangzhou-k", eip=False, data_disks=data)
    event = world.interrupt(far)
    for itype in world.emu.backend.catalogue.types:
        world.emu.control.stock("cn-hangzhou-k", itype, True, False)
    assert world.handle(event).status == "replaced"


def test_the_policy_allows_exactly_the_actions_the_engine_calls(world: World) -> None:
    _walk_every_engine_path(world)
    calls = [c for c in world.emu.control.calls() if c["accessKeyId"] == FUNCTION_ROLE_ACCESS_KEY_ID]
    refused = sorted({c["action"] for c in calls if c["code"] == "Forbidden.RAM"})
    assert refused == [], f"the shipped policy is missing {refused}"
    called = {f"{c['product']}:{c['action']}" for c in calls}
    if any(c["action"] == "RunInstances" and c["params"].get("RamRoleName") for c in calls):
        called.add("ram:PassRole")  # implied by launching with a RAM role; the emulator checks it
    assert called == policy_actions(), (
        f"missing from the policy: {sorted(called - policy_actions())}; "
        f"granted but never called: {sorted(policy_actions() - called)}"
    )


def test_an_action_outside_the_policy_is_refused_for_the_role_only(world: World) -> None:
    """The emulator enforces the role's policy like RAM does; the admin identity is not limited."""
    from alibabacloud_ecs20140526 import models as ecs_models
    from alibabacloud_ecs20140526.client import Client as EcsClient
    from alibabacloud_tea_openapi.exceptions import ClientException
    from alibabacloud_tea_openapi.utils_models import Config

    role = EcsClient(
        Config(
            access_key_id=CREDS.access_key_id,
            access_key_secret=CREDS.access_key_secret,
            security_token=CREDS.security_token,
            region_id="cn-hangzhou",
            endpoint=world.emu.endpoint,
            protocol="http",
        )
    )
    request = ecs_models.DescribeSecurityGroupsRequest(region_id="cn-hangzhou")
    with pytest.raises(ClientException) as refused:
        role.describe_security_groups(request)
    assert refused.value.code == "Forbidden.RAM" and refused.value.status_code == 403
    assert world.ecs.describe_security_groups(request).body.security_groups.security_group


def test_launching_with_a_ram_role_needs_pass_role(world: World) -> None:
    """RunInstances with RamRoleName is refused for a policy without ram:PassRole."""
    policy = load_ram_policy()
    policy["Statement"] = [s for s in policy["Statement"] if "ram:PassRole" not in s["Action"]]
    creds = world.emu.backend.credentials
    creds[FUNCTION_ROLE_ACCESS_KEY_ID] = dataclasses.replace(creds[FUNCTION_ROLE_ACCESS_KEY_ID], policy=policy)
    old = world.launch(ram_role="web-role", eip=False)
    with pytest.raises(errors.AliyunOpsError):
        world.handle(world.interrupt(old))
    assert not [i for i in world.instances() if tags_of(i).get("aops:replaces") == old]


def test_the_function_role_carries_exactly_the_policy_its_starter_gives() -> None:
    """The emulator knows no product policy: the role exists only with the one it is given (so a caller
    that forgets it fails with InvalidAccessKeyId instead of running unrestricted), keeps it across
    resets, and a scenario credential naming "aliyun-ops" gets that same policy."""
    from aliyun_ops.emulator.backend import FUNCTION_ROLE_POLICY, Backend, load_default_scenario
    from aliyun_ops.emulator.core import Clock

    policy = load_ram_policy()
    assert FUNCTION_ROLE_ACCESS_KEY_ID not in Backend(Clock(time_scale=0.0)).credentials
    other = {"accessKeyId": "STS.other", "accessKeySecret": "other-secret", "policy": FUNCTION_ROLE_POLICY}
    scenario = {**load_default_scenario(), "credentials": [other]}
    backend = Backend(Clock(time_scale=0.0), scenario, function_role_policy=policy)
    assert backend.credentials[FUNCTION_ROLE_ACCESS_KEY_ID].policy == policy
    assert backend.credentials["STS.other"].policy == policy
    backend.reset()
    assert backend.credentials[FUNCTION_ROLE_ACCESS_KEY_ID].policy == policy
    with pytest.raises(ValueError, match="no function-role policy"):
        Backend(Clock(time_scale=0.0), scenario)
