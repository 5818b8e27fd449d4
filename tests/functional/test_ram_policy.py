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
from typing import Any

import pytest

from aliyun_ops import errors
from aliyun_ops.deploy import load_ram_policy, policy_actions
from aliyun_ops.emulator import FUNCTION_ROLE_ACCESS_KEY_ID, Emulator
from tests.functional.engine_support import CREDS, World, tags_of

ACCOUNT = "1690700000000030"  # the default scenario's account


def scoped_policy() -> dict[str, Any]:
    """The policy ``deploy`` renders for this setup: one region, the account, the one role the walk uses."""
    return load_ram_policy(regions=["cn-hangzhou"], account_id=ACCOUNT, pass_roles=["web-role"])


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=scoped_policy()) as emu:
        assert emu.backend.account_id == ACCOUNT
        yield World(emu)


def _walk_every_engine_path(world: World) -> None:
    # A reclaim with EIP, RAM role and user data, three generations deep: housekeeping deletes images.
    current = world.launch(  # no instant access: the failed image below fails before it is usable
        eip=True, ram_role="web-role", user_data="IyEvYmluL3NoCmVjaG8gaGk=", system_disk="cloud_efficiency"
    )
    world.emu.control.launch_failures(1)  # the first replacement fails after acceptance: its history event is read
    for _ in range(3):
        outcome = world.handle(world.interrupt(current))
        assert outcome.status == "replaced"
        current = outcome.record.new_instance_id
        world.advance(400)
    assert world.ram_role(current) == "web-role"
    # The image fails: fall back to the lineage's newest image.
    world.emu.backend.fail_next_images(1)
    assert world.handle(world.interrupt(current)).record.image_source == "lineage-fallback"
    # A deadline shorter than the notice: the EIP is taken off the old instance before it is released (260 s: the
    # 40 GiB image is Usable after its snapshot, 160 s at 256 MiB/s, and the launch keeps 60 s).
    old = world.launch(name="api-1", eip=True)
    event = world.interrupt(old)
    moved = world.handle(event, deadline=world.emu.clock.now() + 260)
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
    # The replacement started on its copy; once the move snapshot is accomplished, reconcile deletes the kept disk
    # and the snapshot.
    world.advance(400)
    assert "cleaned" in [o.status for o in world.reconcile()]


def test_the_policy_allows_exactly_the_actions_the_engine_calls(world: World) -> None:
    _walk_every_engine_path(world)
    calls = [c for c in world.emu.control.calls() if c["accessKeyId"] == FUNCTION_ROLE_ACCESS_KEY_ID]
    refused = sorted({c["action"] for c in calls if c["code"] == "Forbidden.RAM"})
    assert refused == [], f"the shipped policy is missing {refused}"
    called = {f"{c['product']}:{c['action']}" for c in calls}
    if any(c["action"] == "RunInstances" and c["params"].get("RamRoleName") for c in calls):
        called.add("ram:PassRole")  # implied by launching with a RAM role; the emulator checks it
    granted = policy_actions(scoped_policy())
    assert called == granted, (
        f"missing from the policy: {sorted(called - granted)}; granted but never called: {sorted(granted - called)}"
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


def _as_role(world: World) -> Any:
    from alibabacloud_ecs20140526.client import Client as EcsClient
    from alibabacloud_tea_openapi.utils_models import Config

    return EcsClient(Config(access_key_id=CREDS.access_key_id, access_key_secret=CREDS.access_key_secret,
                            security_token=CREDS.security_token, region_id="cn-hangzhou",
                            endpoint=world.emu.endpoint, protocol="http"))


def _refused(call: Any) -> bool:
    from alibabacloud_tea_openapi.exceptions import ClientException

    try:
        call()
    except ClientException as err:
        assert (err.code, err.status_code) == ("Forbidden.RAM", 403), err
        return True
    return False


def _use_policy(world: World, policy: dict[str, Any]) -> None:
    creds = world.emu.backend.credentials
    creds[FUNCTION_ROLE_ACCESS_KEY_ID] = dataclasses.replace(creds[FUNCTION_ROLE_ACCESS_KEY_ID], policy=policy)


def test_the_scoped_policy_refuses_the_engines_actions_outside_its_region(world: World) -> None:
    """The same instance: released under the policy rendered for its region, refused under one for another."""
    from alibabacloud_ecs20140526 import models as ecs_models

    old = world.launch(eip=False)
    delete = ecs_models.DeleteInstanceRequest(instance_id=old, force=True)
    _use_policy(world, load_ram_policy(regions=["cn-shanghai"], account_id=ACCOUNT, pass_roles=["web-role"]))
    assert _refused(lambda: _as_role(world).delete_instance(delete))
    _use_policy(world, load_ram_policy(regions=["cn-hangzhou"], account_id="1234567890", pass_roles=["web-role"]))
    assert _refused(lambda: _as_role(world).delete_instance(delete))  # another account's ARN
    _use_policy(world, scoped_policy())
    assert not _refused(lambda: _as_role(world).delete_instance(delete))


def test_the_scoped_policy_refuses_deleting_what_the_engine_did_not_make(world: World) -> None:
    """An image without the lineage tag cannot be deleted by the role; tagged as the engine tags, it can."""
    from alibabacloud_ecs20140526 import models as ecs_models

    source = world.launch(eip=False)
    made = world.ecs.create_image(ecs_models.CreateImageRequest(region_id="cn-hangzhou", instance_id=source,
                                                                image_name="users-own-image")).body.image_id
    delete = ecs_models.DeleteImageRequest(region_id="cn-hangzhou", image_id=made, force=True)
    assert _refused(lambda: _as_role(world).delete_image(delete))
    tag = ecs_models.TagResourcesRequest(region_id="cn-hangzhou", resource_type="image", resource_id=[made],
                                         tag=[ecs_models.TagResourcesRequestTag(key="aops:lineage", value=source)])
    world.ecs.tag_resources(tag)
    world.advance(900)  # the image becomes Available
    assert not _refused(lambda: _as_role(world).delete_image(delete))


def test_an_opted_out_instance_cannot_be_stopped_or_released_by_the_role(world: World) -> None:
    from alibabacloud_ecs20140526 import models as ecs_models

    kept = world.launch(eip=False, tags={"app": "web", "aops:managed": "false"})
    role = _as_role(world)
    assert _refused(lambda: role.stop_instance(ecs_models.StopInstanceRequest(instance_id=kept)))
    assert _refused(lambda: role.delete_instance(ecs_models.DeleteInstanceRequest(instance_id=kept, force=True)))


def test_a_selector_scopes_the_instance_actions_to_its_tag(world: World) -> None:
    from alibabacloud_ecs20140526 import models as ecs_models

    _use_policy(world, load_ram_policy(regions=["cn-hangzhou"], account_id=ACCOUNT, selector=("team", "web")))
    other = world.launch(eip=False, tags={"team": "db"})
    mine = world.launch(name="web-2", eip=False, tags={"team": "web"})
    role = _as_role(world)
    assert _refused(lambda: role.delete_instance(ecs_models.DeleteInstanceRequest(instance_id=other, force=True)))
    assert not _refused(lambda: role.delete_instance(ecs_models.DeleteInstanceRequest(instance_id=mine, force=True)))


def test_pass_role_covers_only_the_configured_roles(world: World) -> None:
    """An instance whose role is outside ``pass_roles`` is not replaced (RunInstances is refused), and the role
    cannot launch anything with such a role; a listed one is replaced with its role."""
    outside = world.launch(ram_role="admin-role", eip=False)
    with pytest.raises(errors.AliyunOpsError):
        world.handle(world.interrupt(outside))
    assert not [i for i in world.instances() if tags_of(i).get("aops:replaces") == outside]
    refused = [c for c in world.emu.control.calls() if c["action"] == "RunInstances" and c["code"] == "Forbidden.RAM"]
    assert refused and all(c["params"].get("RamRoleName") == "admin-role" for c in refused)
    inside = world.launch(name="web-3", ram_role="web-role", eip=False)
    outcome = world.handle(world.interrupt(inside))
    assert outcome.status == "replaced" and world.ram_role(outcome.record.new_instance_id) == "web-role"


def test_the_shipped_policy_is_the_default_rendering_and_deploy_renders_from_the_settings() -> None:
    from aliyun_ops.config import Settings
    from aliyun_ops.deploy.policy import policy_for, render_policy

    assert load_ram_policy() == render_policy()
    settings = Settings(region_id="cn-shanghai", regions=("cn-beijing",), account_id="123456",
                        pass_roles=("web-role", "acs:ram::123456:role/db-*"))
    policy = policy_for(settings)
    text = str(policy)
    assert "acs:ecs:cn-shanghai:123456:instance/*" in text and "acs:ecs:cn-beijing:123456:instance/*" in text
    assert "cn-hangzhou" not in text and ":*:instance/*" not in text
    passing = [s for s in policy["Statement"] if s["Action"] == ["ram:PassRole"]]
    assert passing[0]["Resource"] == ["acs:ram:*:123456:role/web-role", "acs:ram::123456:role/db-*"]
    with pytest.raises(ValueError):
        Settings(pass_roles=("role with spaces",))


def test_launching_with_a_ram_role_needs_pass_role(world: World) -> None:
    """RunInstances with RamRoleName is refused for a policy without ram:PassRole."""
    policy = scoped_policy()
    policy["Statement"] = [s for s in policy["Statement"] if "ram:PassRole" not in s["Action"]]
    _use_policy(world, policy)
    old = world.launch(ram_role="web-role", eip=False)
    with pytest.raises(errors.AliyunOpsError):
        world.handle(world.interrupt(old))
    assert not [i for i in world.instances() if tags_of(i).get("aops:replaces") == old]


def test_a_role_missing_from_pass_roles_fails_with_advice_that_names_the_setting(world: World) -> None:
    """The default policy passes only aliyun-ops-* roles: an instance with another role is not replaced, and the
    failure says which setting to change (the image is made all the same, so reconcile can relaunch later)."""
    from aliyun_ops import service
    from tests.functional.engine_support import CREDS, Told, settings

    told = Told()
    old = world.launch(ram_role="db-role", eip=False)  # the rendered policy passes web-role only
    with pytest.raises(errors.PermissionDenied):
        service.handle_event(
            world.interrupt(old), settings=settings(world.emu), credentials=CREDS, notifier=told,  # type: ignore[arg-type]
            sleep=world.advance, clock=world.emu.clock.now,
        )
    (record,) = told.records
    assert record.status == "failed" and "db-role is not in ALIYUN_OPS_PASS_ROLES" in record.advice
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


# The guards cannot be switched off by the role itself (issue 19, item 9): the tags the Deny and Allow
# statements read are written by the user (aops:managed, the selector) or at creation (aops:lineage), never by
# the role's TagResources, and the role removes no tag at all.


def _tag(role: Any, kind: str, rid: str, **tags: str) -> Any:
    from alibabacloud_ecs20140526 import models as ecs_models

    pairs = [ecs_models.TagResourcesRequestTag(key=k.replace("_", ":"), value=v) for k, v in tags.items()]
    return lambda: role.tag_resources(ecs_models.TagResourcesRequest(
        region_id="cn-hangzhou", resource_type=kind, resource_id=[rid], tag=pairs))


def _untag(role: Any, kind: str, rid: str, key: str) -> Any:
    from alibabacloud_ecs20140526 import models as ecs_models

    return lambda: role.untag_resources(ecs_models.UntagResourcesRequest(
        region_id="cn-hangzhou", resource_type=kind, resource_id=[rid], tag_key=[key]))


def test_the_role_cannot_lift_an_opt_out_and_then_stop_or_release_the_instance(world: World) -> None:
    from alibabacloud_ecs20140526 import models as ecs_models

    kept = world.launch(eip=False, tags={"app": "web", "aops:managed": "false"})
    role = _as_role(world)
    assert _refused(_tag(role, "instance", kept, aops_managed="true"))
    assert _refused(_tag(role, "instance", kept, aops_managed=""))
    assert _refused(_untag(role, "instance", kept, "aops:managed"))
    assert _refused(_tag(role, "instance", kept, aops_lineage=kept))  # nor pass it off as the engine's
    assert _refused(lambda: role.stop_instance(ecs_models.StopInstanceRequest(instance_id=kept)))
    assert _refused(lambda: role.delete_instance(ecs_models.DeleteInstanceRequest(instance_id=kept, force=True)))
    found = world.instance(kept)
    assert found is not None and found["Status"] == "Running"
    assert tags_of(found)["aops:managed"] == "false"


def test_the_role_cannot_write_the_guard_tags_on_any_instance(world: World) -> None:
    """Neither the opt-out, nor the selector's key, nor the engine's lineage: a user's instance stays what the
    user made it, under the shipped policy and under one with a selector."""
    user = world.launch(eip=False, spot="NoSpot", tags={"team": "db"})
    role = _as_role(world)
    assert _refused(_tag(role, "instance", user, aops_managed="false"))
    assert _refused(_tag(role, "instance", user, aops_lineage=user))
    _use_policy(world, load_ram_policy(regions=["cn-hangzhou"], account_id=ACCOUNT, selector=("team", "web")))
    assert _refused(_tag(role, "instance", user, team="web"))
    found = world.instance(user)
    assert found is not None and tags_of(found) == {"team": "db"}


def test_an_untagged_pay_as_you_go_instance_cannot_be_stopped_nor_made_stoppable(world: World) -> None:
    """RAM has no condition key for "spot": StopInstance (and AttachDisk) need the lineage tag that only the
    engine's RunInstances writes; DeleteInstance of an untagged instance needs the selector when one is set."""
    from alibabacloud_ecs20140526 import models as ecs_models

    payg = world.launch(eip=False, spot="NoSpot")
    role = _as_role(world)
    stop = ecs_models.StopInstanceRequest(instance_id=payg)
    assert _refused(lambda: role.stop_instance(stop))
    assert _refused(_tag(role, "instance", payg, aops_lineage=payg))
    assert _refused(lambda: role.stop_instance(stop))
    _use_policy(world, load_ram_policy(regions=["cn-hangzhou"], account_id=ACCOUNT, selector=("team", "web")))
    assert _refused(lambda: role.stop_instance(stop))
    assert _refused(lambda: role.delete_instance(ecs_models.DeleteInstanceRequest(instance_id=payg, force=True)))
    found = world.instance(payg)
    assert found is not None and found["Status"] == "Running"


def test_the_role_tags_only_instances_the_engine_launched(world: World) -> None:
    """The engine tags only its replacements (notified, disks attached, held, claims): a user's untagged instance
    cannot be tagged at all, with any key, so no tag the role writes can change how the policy sees it."""
    payg = world.launch(eip=False, spot="NoSpot")
    spot = world.launch(name="web-9", eip=False)
    role = _as_role(world)
    for iid in (payg, spot):
        assert _refused(_tag(role, "instance", iid, app="anything"))
        assert _refused(_tag(role, "instance", iid, **{"aops:notified": "true"}))
    launched = world.launch(name="web-10", eip=False, tags={"aops:lineage": "web-10"})
    _tag(role, "instance", launched, **{"aops:notified": "true"})()  # the engine's own: allowed
    assert tags_of(world.instance(launched) or {})["aops:notified"] == "true"


def test_the_role_cannot_make_a_users_image_or_snapshot_deletable(world: World) -> None:
    """``aops:lineage`` on images and snapshots is written only when the engine creates them: the role cannot
    label a user's own image or snapshot and then delete it."""
    from alibabacloud_ecs20140526 import models as ecs_models

    source = world.launch(eip=False)
    image = world.ecs.create_image(ecs_models.CreateImageRequest(region_id="cn-hangzhou", instance_id=source,
                                                                 image_name="users-own-image")).body.image_id
    (disk,) = world.ecs.describe_disks(ecs_models.DescribeDisksRequest(
        region_id="cn-hangzhou", instance_id=source)).body.disks.disk
    snapshot = world.ecs.create_snapshot(ecs_models.CreateSnapshotRequest(
        disk_id=disk.disk_id, snapshot_name="users-own-snapshot")).body.snapshot_id
    world.advance(900)  # both Available
    role = _as_role(world)
    assert _refused(_tag(role, "image", image, aops_lineage=source))
    assert _refused(_tag(role, "snapshot", snapshot, aops_lineage=source))
    assert _refused(lambda: role.delete_image(ecs_models.DeleteImageRequest(
        region_id="cn-hangzhou", image_id=image, force=True)))
    assert _refused(lambda: role.delete_snapshot(ecs_models.DeleteSnapshotRequest(snapshot_id=snapshot, force=True)))
    assert image in [i["ImageId"] for i in world.images()]
    assert not _refused(_tag(role, "image", image, aops_launched="i-x"))  # the engine's own notes still go on
