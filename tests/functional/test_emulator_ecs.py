"""ECS actions of the emulator driven through the official ECS client: every response must parse
into the SDK's own response models with the values a user expects."""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

from aliyun_ops.emulator import Emulator

R = "cn-hangzhou"
IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"
VSW_H = "vsw-bp1emu00000000000h"
SGS = ["sg-bp1emu000000000web", "sg-bp1emu000000000ssh"]


def launch(ecs: Any, **extra: Any) -> list[str]:
    settings = {"image_id": IMAGE, "instance_type": "ecs.c7.large", "zone_id": "cn-hangzhou-h", **extra}
    req = m.RunInstancesRequest(region_id=R, v_switch_id=VSW_H, security_group_ids=SGS, **settings)
    return list(ecs.run_instances(req).body.instance_id_sets.instance_id_set)


def describe(ecs: Any, **kw: Any) -> Any:
    return ecs.describe_instances(m.DescribeInstancesRequest(region_id=R, **kw)).body


def error_code(fn: Any) -> str:
    with pytest.raises(ClientException) as err:
        fn()
    return str(err.value.code)


def test_run_instances_stores_and_returns_every_launch_setting(emulator: Emulator, ecs_client: Any) -> None:
    [iid] = launch(
        ecs_client,
        instance_name="web-1",
        host_name="web-1",
        description="web server, blue pool",
        key_pair_name="kp",
        ram_role_name="role-a",
        user_data="ZWNobyBoaQ==",
        internet_max_bandwidth_out=5,
        instance_type="ecs.c7.xlarge",
        spot_strategy="SpotWithPriceLimit",
        spot_price_limit=0.5,
        spot_duration=0,
        spot_interruption_behavior="Stop",
        system_disk=m.RunInstancesRequestSystemDisk(category="cloud_essd", size=60),
        data_disk=[m.RunInstancesRequestDataDisk(category="cloud_essd", size=100)],
        tag=[m.RunInstancesRequestTag(key="team", value="ops")],
        private_ip_address="172.16.2.50",
    )
    emulator.clock.advance(30)
    [inst] = describe(ecs_client, instance_ids=f'["{iid}"]').instances.instance
    assert (inst.instance_name, inst.host_name, inst.key_pair_name, inst.status) == ("web-1", "web-1", "kp", "Running")
    assert (inst.spot_strategy, inst.spot_price_limit, inst.spot_interruption_behavior) == (
        "SpotWithPriceLimit",
        0.5,
        "Stop",
    )
    assert (inst.cpu, inst.memory, inst.internet_max_bandwidth_out) == (4, 8192, 5)
    assert inst.security_group_ids.security_group_id == SGS
    assert inst.vpc_attributes.private_ip_address.ip_address == ["172.16.2.50"]
    assert len(inst.public_ip_address.ip_address) == 1
    assert [(t.tag_key, t.tag_value) for t in inst.tags.tag] == [("team", "ops")]
    role = ecs_client.describe_instance_ram_role(
        m.DescribeInstanceRamRoleRequest(region_id=R, instance_ids=f'["{iid}"]')
    )
    assert role.body.instance_ram_role_sets.instance_ram_role_set[0].ram_role_name == "role-a"
    data = ecs_client.describe_user_data(m.DescribeUserDataRequest(region_id=R, instance_id=iid)).body
    assert data.user_data == "ZWNobyBoaQ=="
    disks = ecs_client.describe_disks(m.DescribeDisksRequest(region_id=R, instance_id=iid)).body.disks.disk
    assert sorted((d.type, d.category, d.size) for d in disks) == [
        ("data", "cloud_essd", 100),
        ("system", "cloud_essd", 60),
    ]
    attr = ecs_client.describe_instance_attribute(m.DescribeInstanceAttributeRequest(instance_id=iid)).body
    assert (attr.description, attr.status) == ("web server, blue pool", "Running")


def test_client_token_idempotency(emulator: Emulator, ecs_client: Any) -> None:
    first = launch(ecs_client, client_token="tok-7")
    emulator.clock.advance(5)  # past the first request's processing (IdempotentProcessing until then)
    assert launch(ecs_client, client_token="tok-7") == first
    code = error_code(lambda: launch(ecs_client, client_token="tok-7", instance_name="changed"))
    assert code == "IdempotentParameterMismatch"
    assert describe(ecs_client).total_count == 1


def test_dry_run_and_validation_errors(ecs_client: Any) -> None:
    assert error_code(lambda: launch(ecs_client, dry_run=True)) == "DryRunOperation"
    assert error_code(lambda: launch(ecs_client, image_id="m-none")) == "InvalidImageId.NotFound"
    assert error_code(lambda: launch(ecs_client, zone_id="cn-hangzhou-g")) == "InvalidVSwitchId.Mismatch"
    assert (
        error_code(lambda: launch(ecs_client, instance_type="ecs.x9.huge")) == "InvalidInstanceType.ValueNotSupported"
    )
    code = error_code(
        lambda: launch(
            ecs_client,
            instance_type="ecs.g8i.large",
            system_disk=m.RunInstancesRequestSystemDisk(category="cloud_efficiency"),
        )
    )
    assert code == "InvalidSystemDiskCategory.ValueNotSupported"
    assert describe(ecs_client).total_count == 0


def test_no_stock_is_403(emulator: Emulator, ecs_client: Any) -> None:
    emulator.backend.set_stock("cn-hangzhou-h", "ecs.g7.large", True, 1)
    launch(ecs_client, instance_type="ecs.g7.large", spot_strategy="SpotAsPriceGo")
    with pytest.raises(ClientException) as err:
        launch(ecs_client, instance_type="ecs.g7.large", spot_strategy="SpotAsPriceGo")
    assert (err.value.code, err.value.status_code) == ("OperationDenied.NoStock", 403)


def test_describe_instances_filters_and_pages(emulator: Emulator, ecs_client: Any) -> None:
    ids = [
        launch(ecs_client, instance_name=f"n{i}", tag=[m.RunInstancesRequestTag(key="k", value=str(i % 2))])[0]
        for i in range(5)
    ]
    by_tag = [m.DescribeInstancesRequestTag(key="k", value="1")]
    assert describe(ecs_client, tag=by_tag).instances.instance == []  # the tag index lags a launch
    emulator.clock.advance(5)  # a new instance is listed a few seconds after its launch (realism.launch)
    page2 = describe(ecs_client, page_number=2, page_size=2)
    assert (page2.total_count, [i.instance_id for i in page2.instances.instance]) == (5, ids[2:4])
    seen, token = [], None
    while True:
        body = describe(ecs_client, max_results=2, next_token=token)
        seen += [i.instance_id for i in body.instances.instance]
        token = body.next_token
        if not token:
            break
    assert seen == ids
    emulator.clock.advance(emulator.backend.realism.tag_index_lag + 1)
    tagged = describe(ecs_client, tag=by_tag).instances.instance
    assert [i.instance_id for i in tagged] == [ids[1], ids[3]]
    assert [i.instance_id for i in describe(ecs_client, instance_name="n4").instances.instance] == [ids[4]]


def test_instance_lifecycle_under_an_advanced_clock(emulator: Emulator, ecs_client: Any) -> None:
    [iid] = launch(ecs_client)
    def statuses() -> str:
        req = m.DescribeInstanceStatusRequest(region_id=R, instance_id=[iid])
        return str(ecs_client.describe_instance_status(req).body.instance_statuses.instance_status[0].status)

    assert statuses() == "Pending"
    emulator.clock.advance(27)
    assert statuses() == "Running"
    assert error_code(lambda: ecs_client.delete_instance(m.DeleteInstanceRequest(instance_id=iid))) == (
        "IncorrectInstanceStatus"
    )
    ecs_client.stop_instance(m.StopInstanceRequest(instance_id=iid, stopped_mode="StopCharging"))
    emulator.clock.advance(5)
    assert statuses() == "Stopped"
    ecs_client.start_instance(m.StartInstanceRequest(instance_id=iid))
    emulator.clock.advance(25)
    assert statuses() == "Running"
    ecs_client.delete_instance(m.DeleteInstanceRequest(instance_id=iid, force=True))
    assert describe(ecs_client).total_count == 0
    code = error_code(lambda: ecs_client.start_instance(m.StartInstanceRequest(instance_id=iid)))
    assert code == "InvalidInstanceId.NotFound"


def test_image_lifecycle_and_describe_images_default_filter(emulator: Emulator, ecs_client: Any) -> None:
    [iid] = launch(ecs_client)
    emulator.clock.advance(30)
    req = m.CreateImageRequest(
        region_id=R,
        instance_id=iid,
        image_name="snap-1",
        client_token="img-1",
        tag=[m.CreateImageRequestTag(key="k", value="v")],
    )
    image_id = ecs_client.create_image(req).body.image_id
    assert ecs_client.create_image(req).body.image_id == image_id
    dup = m.CreateImageRequest(region_id=R, instance_id=iid, image_name="snap-1")
    assert error_code(lambda: ecs_client.create_image(dup)) == "InvalidImageName.Duplicated"

    def images(**kw: Any) -> list[Any]:
        return list(ecs_client.describe_images(m.DescribeImagesRequest(region_id=R, **kw)).body.images.image)

    realism = emulator.backend.realism
    assert realism.snapshot is not None
    # the first image of the 40 GiB system disk copies it whole at the scenario's full snapshot speed
    build = emulator.backend.timing("imageBaseSeconds") + realism.snapshot.seconds(40, snapshotted_before=False)
    assert images(image_owner_alias="self", status="Creating,Available") == []  # not listed yet: the list lag
    emulator.clock.advance(realism.image_list_lag)
    assert images(image_owner_alias="self") == []  # Creating is hidden by the default Status filter
    emulator.clock.advance(build / 2 - realism.image_list_lag)
    [creating] = images(image_owner_alias="self", status="Creating,Available")
    assert creating.status == "Creating" and creating.progress in ("50%", "51%")  # half of the build
    emulator.clock.advance(build / 2)
    [ready] = images(image_id=image_id)
    assert (ready.status, ready.size, ready.architecture, ready.progress) == ("Available", 40, "x86_64", "100%")
    assert [(t.tag_key, t.tag_value) for t in ready.tags.tag] == [("k", "v")]
    system = images(image_owner_alias="system")
    assert {i.architecture for i in system} == {"x86_64", "arm64"} and all(i.status == "Available" for i in system)
    ecs_client.delete_image(m.DeleteImageRequest(region_id=R, image_id=image_id))
    assert images(image_id=image_id) == []


def test_catalogue_actions(ecs_client: Any) -> None:
    types = ecs_client.describe_instance_types(
        m.DescribeInstanceTypesRequest(instance_type_family="ecs.gn7i", minimum_cpu_core_count=16)
    ).body.instance_types.instance_type
    assert [(t.instance_type_id, t.gpuamount, t.gpuspec) for t in types] == [
        ("ecs.gn7i-c16g1.4xlarge", 1, "NVIDIA A10"),
        ("ecs.gn7i-c32g1.8xlarge", 1, "NVIDIA A10"),
    ]
    eleven = [f"ecs.c7.{s}" for s in ("large", "xlarge", "2xlarge", "4xlarge")] + ["ecs.g7.large"] * 7
    code = error_code(lambda: ecs_client.describe_instance_types(m.DescribeInstanceTypesRequest(instance_types=eleven)))
    assert code == "InvalidParam.InstanceTypes"
    zones = ecs_client.describe_available_resource(
        m.DescribeAvailableResourceRequest(
            region_id=R,
            destination_resource="InstanceType",
            instance_charge_type="PostPaid",
            spot_strategy="SpotAsPriceGo",
            instance_type="ecs.c7.large",
        )
    ).body.available_zones.available_zone
    status = {
        z.zone_id: z.available_resources.available_resource[0].supported_resources.supported_resource[0] for z in zones
    }
    assert (status["cn-hangzhou-h"].status, status["cn-hangzhou-h"].status_category) == ("SoldOut", "WithoutStock")
    assert status["cn-hangzhou-g"].status_category == "WithStock"
    spot = ecs_client.describe_spot_price_history(
        m.DescribeSpotPriceHistoryRequest(
            region_id=R, network_type="vpc", instance_type="ecs.c7.large", zone_id="cn-hangzhou-g"
        )
    ).body
    prices = spot.spot_prices.spot_price_type
    assert prices and all(0 < p.spot_price < p.origin_price for p in prices)
    price = ecs_client.describe_price(
        m.DescribePriceRequest(
            region_id=R,
            resource_type="instance",
            instance_type="ecs.c7.large",
            zone_id="cn-hangzhou-g",
            spot_strategy="SpotAsPriceGo",
        )
    ).body.price_info.price
    assert price.currency == "CNY" and price.trade_price < price.original_price
    regions = ecs_client.describe_regions(m.DescribeRegionsRequest()).body.regions.region
    assert {r.region_id for r in regions} == {"cn-hangzhou", "cn-shanghai", "eu-west-1"}
    zs = ecs_client.describe_zones(m.DescribeZonesRequest(region_id=R)).body.zones.zone
    assert len(zs) == 5
    sgs = ecs_client.describe_security_groups(m.DescribeSecurityGroupsRequest(region_id=R)).body
    assert sorted(g.security_group_id for g in sgs.security_groups.security_group) == sorted(SGS)


def test_tags_on_instances_and_images(emulator: Emulator, ecs_client: Any) -> None:
    lag = emulator.backend.realism.tag_index_lag
    [iid] = launch(ecs_client)
    ecs_client.tag_resources(
        m.TagResourcesRequest(
            region_id=R, resource_type="instance", resource_id=[iid], tag=[m.TagResourcesRequestTag(key="a", value="1")]
        )
    )
    listed = ecs_client.list_tag_resources(
        m.ListTagResourcesRequest(region_id=R, resource_type="instance", resource_id=[iid])
    ).body.tag_resources.tag_resource
    assert [(t.resource_id, t.tag_key, t.tag_value) for t in listed] == [(iid, "a", "1")]
    by_tag = [m.DescribeInstancesRequestTag(key="a")]
    assert describe(ecs_client, tag=by_tag).total_count == 0  # the tag filter sees the change after the lag
    emulator.clock.advance(lag + 1)
    assert describe(ecs_client, tag=by_tag).total_count == 1
    ecs_client.untag_resources(
        m.UntagResourcesRequest(region_id=R, resource_type="instance", resource_id=[iid], tag_key=["a"])
    )
    assert describe(ecs_client, tag=by_tag).total_count == 1  # the removed tag still matches for the lag
    emulator.clock.advance(lag + 1)
    assert describe(ecs_client, tag=by_tag).total_count == 0
