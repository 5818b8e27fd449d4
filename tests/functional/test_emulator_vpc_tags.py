"""The emulator's vSwitch tags through the official VPC client (TagResources, UnTagResources, DescribeVSwitches),
and its stock that is listed WithStock while RunInstances refuses it."""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_vpc20160428 import models as m

from aliyun_ops.emulator import Emulator

R = "cn-hangzhou"
VSW = "vsw-bp1emu00000000000i"


def error(fn: Any) -> tuple[str, int]:
    with pytest.raises(ClientException) as err:
        fn()
    return str(err.value.code), int(err.value.status_code or 0)


def tag(vpc: Any, tags: dict[str, str], vswitch: str = VSW, kind: str = "VSWITCH") -> Any:
    req = m.TagResourcesRequest(
        region_id=R,
        resource_type=kind,
        resource_id=[vswitch],
        tag=[m.TagResourcesRequestTag(key=k, value=v) for k, v in tags.items()],
    )
    return vpc.tag_resources(req)


def tags_of(vpc: Any, vswitch: str = VSW) -> dict[str, str]:
    body = vpc.describe_vswitches(m.DescribeVSwitchesRequest(region_id=R, v_switch_id=vswitch)).body
    row = body.v_switches.v_switch[0]
    return {t.key: t.value for t in (row.tags.tag if row.tags else [])}


def test_tags_on_a_vswitch_show_in_describe_vswitches_and_can_be_removed(vpc_client: Any) -> None:
    tag(vpc_client, {"aops:sold-out:ecs.c7.large": "1800000000", "owner": "net"})
    tag(vpc_client, {"owner": "ops"}, kind="vswitch")  # the type is case-insensitive; a key takes the new value
    assert tags_of(vpc_client) == {"aops:sold-out:ecs.c7.large": "1800000000", "owner": "ops"}
    filtered = vpc_client.describe_vswitches(
        m.DescribeVSwitchesRequest(region_id=R, tag=[m.DescribeVSwitchesRequestTag(key="owner", value="ops")])
    ).body.v_switches.v_switch
    assert [v.v_switch_id for v in filtered] == [VSW]
    req = m.UnTagResourcesRequest(
        region_id=R, resource_type="VSWITCH", resource_id=[VSW], tag_key=["aops:sold-out:ecs.c7.large"]
    )
    vpc_client.un_tag_resources(req)
    assert tags_of(vpc_client) == {"owner": "ops"}


def test_a_vswitch_takes_twenty_tags_and_refuses_the_twenty_first_whole(vpc_client: Any) -> None:
    tag(vpc_client, {f"k{n}": "v" for n in range(19)})
    assert error(lambda: tag(vpc_client, {"k19": "v", "k20": "v"})) == ("SizeLimitExceeded.TagNum", 400)
    assert len(tags_of(vpc_client)) == 19  # nothing of the refused call was written
    tag(vpc_client, {"k19": "v", "k0": "new"})  # 20, one of them overwritten
    assert len(tags_of(vpc_client)) == 20


def test_malformed_tags_and_unknown_resources_are_refused(vpc_client: Any) -> None:
    assert error(lambda: tag(vpc_client, {"acs:x": "v"}))[0] == "InvalidTagKey"
    assert error(lambda: tag(vpc_client, {"k" * 129: "v"}))[0] == "InvalidTagKey"
    assert error(lambda: tag(vpc_client, {"k": "https://x"}))[0] == "InvalidTagValue"
    assert error(lambda: tag(vpc_client, {"k": "v"}, vswitch="vsw-nope")) == ("InvalidInstanceIds.NotFound", 404)
    assert error(lambda: tag(vpc_client, {"k": "v"}, kind="DISK"))[0] == "InvalidInstanceType.NotFound"
    assert tags_of(vpc_client) == {}


def test_stock_can_be_listed_while_run_instances_refuses_it(emulator: Emulator, ecs_client: Any) -> None:
    emulator.control.stock("cn-hangzhou-i", "ecs.g7.large", True, False, listed=True)
    req = ecs_models.DescribeAvailableResourceRequest(
        region_id=R,
        destination_resource="InstanceType",
        zone_id="cn-hangzhou-i",
        instance_type="ecs.g7.large",
        instance_charge_type="PostPaid",
        spot_strategy="SpotAsPriceGo",
    )
    body = ecs_client.describe_available_resource(req).body.to_map()
    zone = body["AvailableZones"]["AvailableZone"][0]
    rows = zone["AvailableResources"]["AvailableResource"][0]["SupportedResources"]["SupportedResource"]
    assert rows[0]["StatusCategory"] == "WithStock"
    run = ecs_models.RunInstancesRequest(
        region_id=R,
        image_id="aliyun_3_x64_20G_alibase_20240819.vhd",
        instance_type="ecs.g7.large",
        v_switch_id=VSW,
        security_group_id="sg-bp1emu000000000web",
        spot_strategy="SpotAsPriceGo",
    )
    assert error(lambda: ecs_client.run_instances(run))[0] == "OperationDenied.NoStock"
