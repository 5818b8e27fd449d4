"""Helpers for the engine's functional tests: seed instances through the official SDK, run the engine
against the emulator on the emulator's clock (``sleep`` advances it, so a 60 s image takes no time)."""

from __future__ import annotations

import json
from typing import Any

from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.utils_models import Config
from alibabacloud_vpc20160428 import models as vpc_models
from alibabacloud_vpc20160428.client import Client as VpcClient
from darabonba.runtime import RuntimeOptions

from aliyun_ops import service
from aliyun_ops.config import Credentials, Settings
from aliyun_ops.emulator import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    FUNCTION_ROLE_ACCESS_KEY_ID,
    FUNCTION_ROLE_ACCESS_KEY_SECRET,
    FUNCTION_ROLE_SECURITY_TOKEN,
    Emulator,
)
from tests.harness import patient

REGION = "cn-hangzhou"
VPC = "vpc-bp1emu0000000000main"
VSW = {
    z: f"vsw-bp1emu00000000000{z[-1]}"
    for z in ("cn-hangzhou-g", "cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k")
}
SGS = ["sg-bp1emu000000000web", "sg-bp1emu000000000ssh"]
BASE_IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"
# The engine runs as the function's RAM role: STS credentials limited by the shipped policy, so every
# engine test also proves the policy grants enough. The World's own SDK clients use the admin pair.
CREDS = Credentials(FUNCTION_ROLE_ACCESS_KEY_ID, FUNCTION_ROLE_ACCESS_KEY_SECRET, FUNCTION_ROLE_SECURITY_TOKEN)


def settings(emu: Emulator, **overrides: Any) -> Settings:
    return Settings(
        region_id=REGION, ecs_endpoint=emu.endpoint, vpc_endpoint=emu.endpoint, protocol="http", **overrides
    )


class World:
    """The emulator seen through the official SDK, plus the engine wired to the emulator's clock."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        config = Config(
            access_key_id=DEFAULT_ACCESS_KEY_ID,
            access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
            region_id=REGION,
            endpoint=emu.endpoint,
            protocol="http",
        )
        self.ecs, self.vpc = patient(EcsClient(config)), patient(VpcClient(config))
        self.rt = RuntimeOptions()

    def advance(self, seconds: float) -> None:
        self.emu.clock.advance(seconds)

    def launch(
        self,
        *,
        name: str = "web-1",
        itype: str = "ecs.c7.large",
        zone: str = "cn-hangzhou-i",
        spot: str = "SpotAsPriceGo",
        behavior: str | None = None,
        tags: dict[str, str] | None = None,
        image: str = BASE_IMAGE,
        bandwidth: int = 0,
        eip: bool = True,
        ram_role: str | None = None,
        user_data: str | None = None,
        data_disks: list[dict[str, Any]] | None = None,
        system_disk: str = "cloud_essd",
        key_pair: str | None = "ops-key",
        password: str | None = None,
    ) -> str:
        """A Running instance like a user would have: key pair, two SGs, tags, EIP (or a public IP).

        Its ESSD system disk makes its images instant-access (Usable long before Available); a test of
        an image that fails before it can be used launches with ``system_disk="cloud_efficiency"``."""
        params: dict[str, Any] = {
            "RegionId": REGION,
            "ImageId": image,
            "InstanceType": itype,
            "ZoneId": zone,
            "VSwitchId": VSW[zone],
            "SecurityGroupIds": SGS,
            "InstanceName": name,
            "HostName": name,
            "SpotStrategy": spot,
            "InstanceChargeType": "PostPaid",
            "InternetChargeType": "PayByTraffic",
            "InternetMaxBandwidthOut": bandwidth,
            "SystemDisk": {"Category": system_disk, "Size": 40},
            "Tag": [{"Key": k, "Value": v} for k, v in (tags or {"app": "web", "env": "prod"}).items()],
            "Amount": 1,
        }
        optional = {
            "SpotInterruptionBehavior": behavior,
            "RamRoleName": ram_role,
            "UserData": user_data,
            "DataDisk": data_disks,
            "KeyPairName": key_pair,
            "Password": password,
        }
        params.update({k: v for k, v in optional.items() if v})
        request = ecs_models.RunInstancesRequest().from_map(params)
        iid: str = self.ecs.run_instances_with_options(request, self.rt).body.instance_id_sets.instance_id_set[0]
        self.advance(40)
        if eip:
            req = vpc_models.AllocateEipAddressRequest(region_id=REGION, bandwidth="5")
            alloc = self.vpc.allocate_eip_address_with_options(req, self.rt).body.allocation_id
            assoc = vpc_models.AssociateEipAddressRequest(
                region_id=REGION, allocation_id=alloc, instance_id=iid, instance_type="EcsInstance"
            )
            self.vpc.associate_eip_address_with_options(assoc, self.rt)
            self.advance(5)
        return iid

    # -- what a user would look at ---------------------------------------------------------------
    def instances(self, **filters: Any) -> list[dict[str, Any]]:
        req = ecs_models.DescribeInstancesRequest(region_id=REGION, page_size=100, **filters)
        body = self.ecs.describe_instances_with_options(req, self.rt).body.to_map()
        return list(body.get("Instances", {}).get("Instance", []))

    def instance(self, iid: str) -> dict[str, Any] | None:
        found = self.instances(instance_ids=json.dumps([iid]))
        return found[0] if found else None

    def images(self) -> list[dict[str, Any]]:
        req = ecs_models.DescribeImagesRequest(
            region_id=REGION, image_owner_alias="self", page_size=100, status="Creating,Waiting,Available,CreateFailed"
        )
        body = self.ecs.describe_images_with_options(req, self.rt).body.to_map()
        return list(body.get("Images", {}).get("Image", []))

    def eips(self) -> list[dict[str, Any]]:
        req = vpc_models.DescribeEipAddressesRequest(region_id=REGION, page_size=100)
        body = self.vpc.describe_eip_addresses_with_options(req, self.rt).body.to_map()
        return list(body.get("EipAddresses", {}).get("EipAddress", []))

    def ram_role(self, iid: str) -> str | None:
        req = ecs_models.DescribeInstanceRamRoleRequest(region_id=REGION, instance_ids=json.dumps([iid]))
        sets = self.ecs.describe_instance_ram_role_with_options(req, self.rt).body.to_map()
        rows = sets.get("InstanceRamRoleSets", {}).get("InstanceRamRoleSet", [])
        return rows[0].get("RamRoleName") if rows else None

    # -- the engine ------------------------------------------------------------------------------
    def interrupt(self, iid: str, **kw: Any) -> dict[str, Any]:
        event: dict[str, Any] = self.emu.control.interrupt(iid, **kw)["event"]
        return event

    def handle(self, event: Any, *, deadline: float | None = None, **overrides: Any) -> service.Outcome:
        return service.handle_event(
            event,
            settings=settings(self.emu, **overrides),
            credentials=CREDS,
            deadline=deadline,
            sleep=self.advance,
            clock=self.emu.clock.now,
        )

    def reconcile(self, **overrides: Any) -> list[service.Outcome]:
        return service.reconcile(
            settings=settings(self.emu, **overrides), credentials=CREDS, sleep=self.advance, clock=self.emu.clock.now
        )


class Told:
    """A notifier that keeps the finished incidents' records (what the user would be told at the end)."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def incident_started(self, record: Any) -> None: ...

    def incident_finished(self, record: Any) -> None:
        self.records.append(record)


def tags_of(instance: dict[str, Any]) -> dict[str, str]:
    return {t["TagKey"]: t["TagValue"] for t in instance.get("Tags", {}).get("Tag", [])}


def live(world: World) -> list[dict[str, Any]]:
    return [i for i in world.instances() if i["Status"] not in ("Deleted",)]
