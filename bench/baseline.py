"""The old tool's sequence, replayed with the official SDK so that the bench can race it against ours.

Written from the step table in the project's notes on the original (a ~300-line Go function), in our
own code: it reproduces what that tool does, including its weaknesses, because those are what the
figures measure. In order:

1. DescribeInstances for the instance (an empty answer is a crash).
2. DescribeInstanceStatus, only logged.
3. DescribeAvailableResource for the same type, SpotAsPriceGo, every zone; keep ``Status == Available``;
   take the original zone, else the LAST zone listed.
3b. Else DescribeAvailableResource by memory (integer GiB), then ONE DescribeInstanceTypes with every
   candidate (the API refuses more than 10), fewest cores with the same memory.
4. DescribeDisks for the system disk.
5. CreateImage, name = instance name + a random 0..99, no ClientToken.
6. DescribeImages with the default filter (Available only) every 20 s, up to 30 times.
7. RunInstances with the ORIGINAL vSwitch (whatever the zone), SpotAsPriceGo,
   InternetMaxBandwidthOut=100, system disk cloud_efficiency, PasswordInherit. No tags, key, role.
No EIP handling. Every error ends the run and is reported to the platform as a success (its recover()
returns an empty result): ``BaselineResult.returned`` is always "success"; ``error`` is for the bench.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

INTERRUPTION = "Instance:PreemptibleInstanceInterruption"
POLL_SECONDS = 20.0
POLL_TIMES = 30
MAX_TYPES_PER_CALL = 10  # DescribeInstanceTypes' own limit (enforced by the API, not by the old tool)


class FunctionTimeout(Exception):
    """The platform killed the function: its deadline passed."""


@dataclass
class BaselineResult:
    returned: str = "success"
    error: str | None = None
    image_id: str | None = None
    new_instance_id: str | None = None
    steps: list[str] = field(default_factory=list)


def make_client(endpoint: str, region_id: str, access_key_id: str, secret: str) -> Any:
    """An official ECS SDK client for the emulator (imported here: the SDK costs a second to import)."""
    from alibabacloud_ecs20140526.client import Client
    from alibabacloud_tea_openapi.models import Config

    return Client(Config(access_key_id=access_key_id, access_key_secret=secret, region_id=region_id,
                         endpoint=endpoint, protocol="http", read_timeout=60_000, connect_timeout=10_000))


class OldTool:
    """One invocation of the old function for one event."""

    def __init__(self, client: Any, region_id: str, *, sleep: Callable[[float], None],
                 clock: Callable[[], float], deadline: float, rng: random.Random | None = None) -> None:
        from alibabacloud_ecs20140526 import models

        self.m = models
        self.client = client
        self.region_id = region_id
        self.sleep = sleep
        self.clock = clock
        self.deadline = deadline
        self.rng = rng or random.Random()
        self.result = BaselineResult()

    def handle(self, event: Mapping[str, Any]) -> BaselineResult:
        """The whole function: any exception is swallowed into a 'success', as the original does."""
        try:
            if event.get("name") != INTERRUPTION:
                self.result.steps.append("not an interruption")
                return self.result
            self._replace(str(event["content"]["instanceId"]))
        except Exception as err:  # the original's recover(): the failure becomes an empty success
            self.result.error = f"{type(err).__name__}: {getattr(err, 'code', '') or err}"
        return self.result

    def _call(self, name: str, request: Any) -> dict[str, Any]:
        if self.clock() > self.deadline:
            raise FunctionTimeout("function timeout")
        self.result.steps.append(name)
        method = getattr(self.client, name)
        body: dict[str, Any] = method(request).body.to_map()
        return body

    def _replace(self, instance_id: str) -> None:
        m = self.m
        found = self._call("describe_instances", m.DescribeInstancesRequest(
            region_id=self.region_id, instance_ids=json.dumps([instance_id])))
        inst = found["Instances"]["Instance"][0]  # IndexError when gone: the original panics too
        self._call("describe_instance_status", m.DescribeInstanceStatusRequest(
            region_id=self.region_id, instance_id=[instance_id]))
        itype, zone = self._same_type(inst) or self._by_memory(inst)
        disks = self._call("describe_disks", m.DescribeDisksRequest(
            region_id=self.region_id, instance_id=instance_id, disk_type="system"))
        system_size = disks["Disks"]["Disk"][0]["Size"]
        name = f"{inst.get('InstanceName', '')}{self.rng.randint(0, 99)}"
        made = self._call("create_image", m.CreateImageRequest(
            region_id=self.region_id, instance_id=instance_id, image_name=name))
        self.result.image_id = made["ImageId"]
        self._wait_available(made["ImageId"])
        self._launch(inst, itype, zone, made["ImageId"], system_size)

    def _offerings(self, **filters: Any) -> list[tuple[str, str]]:
        """(zone, type) pairs with Status == Available, in the order the API lists them."""
        body = self._call("describe_available_resource", self.m.DescribeAvailableResourceRequest(
            region_id=self.region_id, destination_resource="InstanceType", instance_charge_type="PostPaid",
            spot_strategy="SpotAsPriceGo", **filters))
        pairs = []
        for zone in (body.get("AvailableZones") or {}).get("AvailableZone", []):
            for res in (zone.get("AvailableResources") or {}).get("AvailableResource", []):
                for sup in (res.get("SupportedResources") or {}).get("SupportedResource", []):
                    if sup.get("Status") == "Available":
                        pairs.append((zone["ZoneId"], sup["Value"]))
        return pairs

    def _same_type(self, inst: Mapping[str, Any]) -> tuple[str, str] | None:
        zones = [z for z, t in self._offerings(instance_type=inst["InstanceType"]) if t == inst["InstanceType"]]
        if not zones:
            return None
        # The original loops over the zones and keeps the loop variable: the last one unless it broke out.
        return inst["InstanceType"], (inst["ZoneId"] if inst["ZoneId"] in zones else zones[-1])

    def _by_memory(self, inst: Mapping[str, Any]) -> tuple[str, str]:
        memory_gib = int(inst["Memory"]) // 1024
        pairs = self._offerings(memory=float(memory_gib))
        if not pairs:
            raise LookupError("no suitable resource")
        names = sorted({t for _, t in pairs})
        body = self._call("describe_instance_types", self.m.DescribeInstanceTypesRequest(instance_types=names))
        types = [t for t in body["InstanceTypes"]["InstanceType"] if float(t["MemorySize"]) == memory_gib]
        if not types:
            raise LookupError("no suitable resource")
        best = min(types, key=lambda t: int(t["CpuCoreCount"]))["InstanceTypeId"]
        zones = [z for z, t in pairs if t == best]
        return best, (inst["ZoneId"] if inst["ZoneId"] in zones else zones[-1])

    def _wait_available(self, image_id: str) -> None:
        for _ in range(POLL_TIMES):
            body = self._call("describe_images", self.m.DescribeImagesRequest(
                region_id=self.region_id, image_id=image_id))  # no Status: the API answers Available only
            if (body.get("Images") or {}).get("Image"):
                return
            self.sleep(POLL_SECONDS)
        raise TimeoutError("image not available after 30 polls")

    def _launch(self, inst: Mapping[str, Any], itype: str, zone: str, image_id: str, system_size: Any) -> None:
        m = self.m
        groups = (inst.get("SecurityGroupIds") or {}).get("SecurityGroupId", [])
        vswitch = (inst.get("VpcAttributes") or {}).get("VSwitchId")
        made = self._call("run_instances", m.RunInstancesRequest(
            region_id=self.region_id, image_id=image_id, instance_type=itype, zone_id=zone,
            v_switch_id=vswitch, security_group_ids=groups, instance_name=inst.get("InstanceName"),
            host_name=inst.get("HostName"), instance_charge_type="PostPaid", spot_strategy="SpotAsPriceGo",
            internet_max_bandwidth_out=100, password_inherit=True,
            system_disk=m.RunInstancesRequestSystemDisk(category="cloud_efficiency", size=str(system_size))))
        self.result.new_instance_id = made["InstanceIdSets"]["InstanceIdSet"][0]


def replay(event: Mapping[str, Any], *, endpoint: str, region_id: str, access_key_id: str, secret: str,
           sleep: Callable[[float], None], clock: Callable[[], float], timeout_s: float) -> BaselineResult:
    """One invocation of the old tool, killed by the platform after ``timeout_s``."""
    client = make_client(endpoint, region_id, access_key_id, secret)
    return OldTool(client, region_id, sleep=sleep, clock=clock, deadline=clock() + timeout_s).handle(event)
