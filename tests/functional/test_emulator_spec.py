"""The emulator refuses what the official API specification refuses, with the real code and HTTP status.

Table-driven, one violation per row, sent through the official ECS / VPC SDK clients (``call_api`` with a
flat query, exactly what the SDK puts on the wire, so wrong types reach the server too). Each action has a
valid base request; a row changes one thing in it (``None`` removes a parameter). The ``valid`` rows show
the base request itself passes validation (its answer is the action's own outcome).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator

R = "cn-hangzhou"
IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"
VPC = "vpc-bp1emu0000000000main"
VSW_H = "vsw-bp1emu00000000000h"
MISSING_ID = "i-bp1missing0000000000"
MISSING_DISK = "d-bp1missing0000000000"
MISSING_SNAPSHOT = "s-bp1missing0000000000"
VERSIONS = {"ecs": "2014-05-26", "vpc": "2016-04-28", "cms": "2019-01-01"}

# A valid request per action, built from the default scenario.
BASE: dict[str, dict[str, str]] = {
    "DescribeRegions": {"AcceptLanguage": "en-US"},
    "DescribeZones": {"RegionId": R, "InstanceChargeType": "PostPaid", "SpotStrategy": "SpotAsPriceGo"},
    "DescribeInstanceTypes": {"InstanceTypes.1": "ecs.c7.large", "MaxResults": "1600", "CpuArchitecture": "X86"},
    "DescribeAvailableResource": {
        "RegionId": R,
        "DestinationResource": "InstanceType",
        "InstanceChargeType": "PostPaid",
        "SpotStrategy": "SpotAsPriceGo",
        "Cores": "2",
        "Memory": "4.0",
    },
    "DescribeSpotPriceHistory": {"RegionId": R, "NetworkType": "vpc", "InstanceType": "ecs.c7.large", "Offset": "0"},
    "DescribeSpotAdvice": {"RegionId": R, "InstanceTypes.1": "ecs.c7.large"},
    "DescribePrice": {
        "RegionId": R,
        "ResourceType": "instance",
        "InstanceType": "ecs.c7.large",
        "PriceUnit": "Hour",
        "SpotStrategy": "SpotAsPriceGo",
        "SystemDisk.Category": "cloud_essd",
        "SystemDisk.Size": "40",
    },
    "CreateImage": {
        "RegionId": R,
        "InstanceId": MISSING_ID,
        "ImageName": "web-backup",
        "Description": "nightly image",
        "ClientToken": "token-1",
        "Tag.1.Key": "team",
        "Tag.1.Value": "ops",
    },
    "DescribeImages": {"RegionId": R, "Status": "Available,Creating", "ImageOwnerAlias": "system", "PageSize": "10"},
    "DeleteImage": {"RegionId": R, "ImageId": "m-bp1missing000000000", "Force": "true"},
    "RunInstances": {
        "RegionId": R,
        "ImageId": IMAGE,
        "InstanceType": "ecs.c7.large",
        "ZoneId": "cn-hangzhou-h",
        "VSwitchId": VSW_H,
        "SecurityGroupIds.1": "sg-bp1emu000000000web",
        "InstanceName": "web-1",
        "HostName": "web-1",
        "Description": "web server",
        "InternetMaxBandwidthOut": "0",
        "SpotStrategy": "SpotAsPriceGo",
        "SpotInterruptionBehavior": "Terminate",
        "ClientToken": "token-1",
        "Amount": "1",
        "Tag.1.Key": "team",
        "Tag.1.Value": "ops",
        "DryRun": "true",
    },
    "DescribeInstances": {"RegionId": R, "Status": "Running", "MaxResults": "10", "InstanceIds": f'["{MISSING_ID}"]'},
    "DescribeInstanceAttribute": {"InstanceId": MISSING_ID},
    "DescribeInstanceStatus": {"RegionId": R, "PageSize": "10", "InstanceId.1": MISSING_ID},
    "DescribeInstanceHistoryEvents": {"RegionId": R, "InstanceEventType.1": "SystemFailure.Delete"},
    "DescribeUserData": {"RegionId": R, "InstanceId": MISSING_ID},
    "DescribeInstanceRamRole": {"RegionId": R, "InstanceIds": f'["{MISSING_ID}"]', "PageSize": "10"},
    "DescribeDisks": {"RegionId": R, "DiskType": "all", "InstanceId": MISSING_ID},
    "CreateDisk": {
        "RegionId": R,
        "ZoneId": "cn-hangzhou-h",
        "SnapshotId": MISSING_SNAPSHOT,
        "DiskCategory": "cloud_essd",
        "DiskName": "data-1",
        "Size": "100",
        "ClientToken": "disk-token-1",
    },
    "AttachDisk": {"InstanceId": MISSING_ID, "DiskId": MISSING_DISK, "DeleteWithInstance": "false"},
    "DetachDisk": {"InstanceId": MISSING_ID, "DiskId": MISSING_DISK, "DeleteWithInstance": "false"},
    "ModifyDiskAttribute": {"RegionId": R, "DiskId": MISSING_DISK, "DeleteWithInstance": "false", "DiskName": "d-1"},
    "DeleteDisk": {"DiskId": MISSING_DISK},
    "CreateSnapshot": {"DiskId": MISSING_DISK, "SnapshotName": "snap-1", "Description": "before the move"},
    "DescribeSnapshots": {"RegionId": R, "SnapshotIds": f'["{MISSING_SNAPSHOT}"]', "Status": "all", "PageSize": "10"},
    "DeleteSnapshot": {"SnapshotId": MISSING_SNAPSHOT, "Force": "false"},
    "StartInstance": {"InstanceId": MISSING_ID},
    "StopInstance": {"InstanceId": MISSING_ID, "StoppedMode": "StopCharging", "ForceStop": "false"},
    "DeleteInstance": {"InstanceId": MISSING_ID, "Force": "true"},
    "ModifyInstanceVpcAttribute": {"InstanceId": MISSING_ID, "VSwitchId": VSW_H, "PrivateIpAddress": "172.16.2.10"},
    "DescribeSecurityGroups": {"RegionId": R, "VpcId": VPC, "MaxResults": "10"},
    "TagResources": {
        "RegionId": R,
        "ResourceType": "instance",
        "ResourceId.1": MISSING_ID,
        "Tag.1.Key": "team",
        "Tag.1.Value": "ops",
    },
    "UntagResources": {"RegionId": R, "ResourceType": "instance", "ResourceId.1": MISSING_ID, "TagKey.1": "team"},
    "ListTagResources": {"RegionId": R, "ResourceType": "instance", "ResourceId.1": MISSING_ID},
    "DescribeVpcs": {"RegionId": R, "PageSize": "10", "VpcId": VPC},
    "DescribeVSwitches": {"RegionId": R, "VpcId": VPC, "PageSize": "50"},
    "AllocateEipAddress": {
        "RegionId": R,
        "InternetChargeType": "PayByTraffic",
        "Bandwidth": "5",
        "ISP": "BGP",
        "Name": "web",
        "Description": "web entry",
    },
    "DescribeEipAddresses": {"RegionId": R, "Status": "Available", "PageSize": "10"},
    "AssociateEipAddress": {
        "RegionId": R,
        "AllocationId": "eip-bp1missing00000000",
        "InstanceId": MISSING_ID,
        "InstanceType": "EcsInstance",
        "ClientToken": "token-1",
    },
    "UnassociateEipAddress": {
        "RegionId": R,
        "AllocationId": "eip-bp1missing00000000",
        "InstanceId": MISSING_ID,
        "InstanceType": "EcsInstance",
    },
    "ReleaseEipAddress": {"RegionId": R, "AllocationId": "eip-bp1missing00000000"},
    "DescribeSystemEventAttribute": {
        "Product": "ECS",
        "Name": "Instance:PreemptibleInstanceInterruption",
        "Level": "WARN",
        "StartTime": "1552199984949",
        "EndTime": "1552221584949",
        "PageNumber": "1",
        "PageSize": "100",
    },
}
# The alarm rules s.yaml's post-deploy step writes (deploy/alarms.py): CloudMonitor, not ECS.
BASE["PutResourceMetricRule"] = {
    "RuleId": "aliyun-ops-cn-hangzhou-aliyun-ops-errors",
    "RuleName": "aliyun-ops errors",
    "Namespace": "acs_fc",
    "MetricName": "FunctionFunctionErrors",
    "ContactGroups": "ops-oncall",
    "Escalations.Critical.Statistics": "Sum",
    "Escalations.Critical.ComparisonOperator": "GreaterThanOrEqualToThreshold",
    "Escalations.Critical.Threshold": "1",
    "Escalations.Critical.Times": "1",
}
BASE["DescribeMetricRuleList"] = {"Namespace": "acs_fc"}
PRODUCT = (
    {a: "vpc" for a in ("DescribeVpcs", "DescribeVSwitches")}
    | {a: "vpc" for a in BASE if a.endswith("EipAddress") or a == "DescribeEipAddresses"}
    | {a: "cms" for a in ("DescribeSystemEventAttribute", "PutResourceMetricRule", "DescribeMetricRuleList")}
)

# What the valid base request answers (its own business outcome, past validation): (status, code).
VALID: dict[str, tuple[int, str]] = {
    "CreateDisk": (404, "InvalidSnapshotId.NotFound"),
    "AttachDisk": (404, "InvalidInstanceId.NotFound"),
    "DetachDisk": (404, "InvalidInstanceId.NotFound"),
    "ModifyDiskAttribute": (404, "InvalidDiskId.NotFound"),
    "DeleteDisk": (404, "InvalidDiskId.NotFound"),
    "CreateSnapshot": (404, "InvalidDiskId.NotFound"),
    "CreateImage": (404, "InvalidInstanceId.NotFound"),
    "DeleteInstance": (404, "InvalidInstanceId.NotFound"),
    "ModifyInstanceVpcAttribute": (404, "InvalidInstanceId.NotFound"),
    "RunInstances": (400, "DryRunOperation"),
    "DescribeInstanceAttribute": (404, "InvalidInstanceId.NotFound"),
    "DescribeUserData": (404, "InvalidInstanceId.NotFound"),
    "StartInstance": (404, "InvalidInstanceId.NotFound"),
    "StopInstance": (404, "InvalidInstanceId.NotFound"),
    "TagResources": (404, "InvalidResourceId.NotFound"),
    "UntagResources": (404, "InvalidResourceId.NotFound"),
    "AssociateEipAddress": (404, "InvalidAllocationId.NotFound"),
    "UnassociateEipAddress": (404, "InvalidAllocationId.NotFound"),
    "ReleaseEipAddress": (404, "InvalidAllocationId.NotFound"),
}


@dataclass(frozen=True)
class Case:
    action: str
    change: dict[str, str | None]
    code: str
    status: int = 400
    label: str = ""
    message: str = ""  # a part of the message, where the message itself is the documented one

    @property
    def id(self) -> str:
        if self.label:
            return f"{self.action}-{self.label}"
        (key, value), *_ = self.change.items()
        shown = "<missing>" if value is None else value if len(value) <= 24 else value[:21] + "..."
        return f"{self.action}-{key}={shown}"


@dataclass(frozen=True)
class Many:
    """``n`` list items: ``Tag.N.Key`` style (``fmt`` with ``{}`` for N) or a JSON array / CSV string."""

    fmt: str
    n: int
    extra: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for i in range(1, self.n + 1):
            out[self.fmt.format(i)] = f"v{i}"
            out.update({k.format(i): v.format(i) for k, v in self.extra.items()})
        return out


def many(action: str, fmt: str, n: int, code: str, status: int = 400, message: str = "", **extra: str) -> Case:
    label = f"{fmt.split('.')[0]}.N={n}"
    return Case(action, Many(fmt, n, extra).params(), code, status, label=label, message=message)


def as_list(action: str, name: str, n: int, code: str, status: int = 400, *, csv: bool = False) -> Case:
    ids = [f"x-{i}" for i in range(n)]
    value = ",".join(ids) if csv else json.dumps(ids)
    return Case(action, {name: value}, code, status, label=f"{name}={n} items")


IP = "InvalidParameter"
MP = "MissingParameter"
TAGS_21 = {"Tag.{}.Value": "v{}"}

# Hand-written rules (OVERRIDES of the deriver, the HostName rule) and every documented error code.
HAND: list[Case] = [
    # RunInstances HostName (Linux rules; ${instance_id} allowed)
    Case("RunInstances", {"HostName": ".web"}, "InvalidHostName.Malformed"),
    Case("RunInstances", {"HostName": "web-"}, "InvalidHostName.Malformed"),
    Case("RunInstances", {"HostName": "web..1"}, "InvalidHostName.Malformed"),
    Case("RunInstances", {"HostName": "web--1"}, "InvalidHostName.Malformed"),
    Case("RunInstances", {"HostName": "web_1"}, "InvalidHostName.Malformed"),
    Case("RunInstances", {"HostName": "w"}, "InvalidHostName.Malformed"),
    Case("RunInstances", {"HostName": "h" * 65}, "InvalidHostName.Malformed", label="HostName=65 chars"),
    Case("RunInstances", {"InstanceName": "http://web"}, "InvalidInstanceName.Malformed"),
    Case("RunInstances", {"InstanceName": "HTTPS://web"}, "InvalidInstanceName.Malformed"),
    many("RunInstances", "Tag.{}.Key", 21, "InvalidTagCount", **TAGS_21),
    Case("RunInstances", {"Tag.1.Key": "k" * 129}, "InvalidTagKey.Malformed", label="Tag.1.Key=129 chars"),
    Case("RunInstances", {"Tag.1.Value": "v" * 129}, "InvalidTagValue.Malformed", label="Tag.1.Value=129 chars"),
    many("CreateImage", "Tag.{}.Key", 21, "QuotaExceed.Tags", 403, **TAGS_21),
    Case("CreateImage", {"Tag.1.Key": "k" * 129}, "InvalidTagKey.Malformed", label="Tag.1.Key=129 chars"),
    Case("TagResources", {"Tag.1.Value": "v" * 129}, "InvalidTagValue.Malformed", label="Tag.1.Value=129 chars"),
    Case("CreateImage", {"Tag.1.Value": "v" * 129}, "InvalidTagValue.Malformed", label="Tag.1.Value=129 chars"),
    Case("TagResources", {"Tag.1.Key": "k" * 129}, "InvalidTagKey.Malformed", label="Tag.1.Key=129 chars"),
    many("DescribeImages", "Tag.{}.Key", 21, "InvalidTagCount"),
    many("DescribeInstances", "Tag.{}.Key", 21, "InvalidTagCount"),
    many("DescribeDisks", "Tag.{}.Key", 21, "InvalidTagCount"),
    many("DescribeSecurityGroups", "Tag.{}.Key", 21, IP),
    many("ListTagResources", "Tag.{}.Key", 21, "NumberExceed.Tags", message="Valid : 20"),
    Case("DescribeRegions", {"InstanceChargeType": "Prepaid"}, IP),
    Case("DescribeZones", {"InstanceChargeType": "Subscription"}, "InvalidInstanceChargeType.NotFound", 404),
    Case("DescribeAvailableResource", {"DestinationResource": "Cpu"}, "Invalid.DestinationResource", 404),
    Case("DescribeAvailableResource", {"DestinationResource": None}, "Invalid.Param"),
    Case("DescribeAvailableResource", {"InstanceChargeType": "Monthly"}, "Invalid.InstanceChargeType"),
    Case("DescribeAvailableResource", {"SpotStrategy": "Spot"}, "Invalid.SpotStrategy", 404),
    Case("DescribeAvailableResource", {"IoOptimized": "true"}, "Invalid.IoOptimized", 404),
    Case("DescribeAvailableResource", {"NetworkCategory": "ipv6"}, "Invalid.NetworkCategory", 404),
    Case("DescribeAvailableResource", {"ResourceType": "vm"}, "Invalid.ResourceType", 404),
    # documented codes, RunInstances
    Case("RunInstances", {"InternetMaxBandwidthOut": "101"}, "InvalidInternetMaxBandwidthOut.Malformed"),
    Case("RunInstances", {"InternetMaxBandwidthOut": "-1"}, "InvalidInternetMaxBandwidthOut.Malformed"),
    Case("RunInstances", {"Description": "d"}, "InvalidDescription.Malformed"),
    Case("RunInstances", {"Description": "https://example.com"}, "InvalidDescription.Malformed"),
    Case("RunInstances", {"InstanceName": "w"}, "InvalidInstanceName.Malformed"),
    Case("RunInstances", {"InstanceName": "n" * 129}, "InvalidInstanceName.Malformed", label="InstanceName=129 chars"),
    Case(
        "RunInstances", {"ClientToken": "t" * 65}, "InvalidClientToken.ValueNotSupported", label="ClientToken=65 chars"
    ),
    Case("RunInstances", {"ClientToken": "jeton-été"}, "InvalidClientToken.ValueNotSupported"),
    Case("RunInstances", {"InternetChargeType": "PayByHour"}, "InvalidInternetChargeType.ValueNotSupported"),
    Case("RunInstances", {"InstanceChargeType": "Prepaid"}, "InvalidInstanceChargeType.NotFound", 404),
    Case("RunInstances", {"SpotStrategy": "SpotAsPriceGO"}, "InvalidSpotStrategy"),
    Case("RunInstances", {"SpotDuration": "2"}, "InvalidSpotDuration"),
    Case("RunInstances", {"SpotInterruptionBehavior": "Hibernate"}, "InvalidSpotInterruptionBehavior"),
    Case("RunInstances", {"SystemDisk.Category": "cloud_hdd"}, "InvalidSystemDiskCategory.ValueNotSupported"),
    Case("RunInstances", {"SystemDisk.DiskName": "s"}, "InvalidDiskName.Malformed"),
    Case("RunInstances", {"SystemDisk.Description": "http://x"}, "InvalidDiskDescription.Malformed"),
    Case("RunInstances", {"IoOptimized": "true"}, "InvalidIoOptimize.ValueNotSupported"),
    Case("RunInstances", {"Password": "Ab1!"}, "InvalidPassword.Malformed"),
    Case("RunInstances", {"Amount": "101"}, "InvalidParam.Amount", 403),
    Case("RunInstances", {"MinAmount": "0"}, "InvalidMinAmount.Malformed"),
    Case("RunInstances", {"HttpEndpoint": "on"}, "InvalidHttpEndpoint.NotSupported"),
    Case("RunInstances", {"HttpTokens": "always"}, "InvalidHttpTokens.NotSupported"),
    Case("RunInstances", {"Tenancy": "dedicated"}, "InvalidParam.Tenancy"),
    # CreateImage
    Case("CreateImage", {"ImageName": "1-backup"}, "InvalidImageName.Malformed"),
    Case("CreateImage", {"ImageName": "http://backup"}, "InvalidImageName.Malformed"),
    Case("CreateImage", {"ImageName": "b"}, "InvalidImageName.Malformed"),
    Case("CreateImage", {"ImageName": "aliyun-backup"}, "InvalidImageName.Malformed"),
    Case("CreateImage", {"ImageName": "acs:backup"}, "InvalidImageName.Malformed"),
    Case("CreateImage", {"Description": "https://x.y"}, "InvalidDescription.Malformed"),
    Case("CreateImage", {"Architecture": "amd64"}, "InvalidArchitecture.Malformed"),
    Case("CreateImage", {"Platform": "Windows 11"}, "InvalidPlatform.Malformed"),
    Case("CreateImage", {"ClientToken": "t" * 65}, IP, label="ClientToken=65 chars"),
    # DescribeImages
    Case("DescribeImages", {"ImageOwnerAlias": "mine"}, "InvalidImageOwnerAlias.ValueNotSupported"),
    Case("DescribeImages", {"Usage": "busy"}, "InvalidUsage", 404),
    Case("DescribeImages", {"OSType": "Linux"}, "InvalidOSType", 404),
    Case("DescribeImages", {"Architecture": "amd64"}, "InvalidArchitecture", 404),
    # DescribeInstances
    Case("DescribeInstances", {"Status": "Deleted"}, "InvalidStatus.NotFound", 404),
    Case("DescribeInstances", {"InstanceNetworkType": "ipv6"}, "InvalidNetworkType.NotFound", 404),
    Case("DescribeInstances", {"InstanceChargeType": "Spot"}, "InvalidInstanceChargeType.NotFound", 404),
    Case("DescribeInstances", {"InternetChargeType": "free"}, "InvalidInternetChargeType.ValueNotSupported", 404),
    Case("DescribeInstances", {"LockReason": "Recycling"}, "InvalidLockReason.NotFound", 404),
    as_list("DescribeInstances", "InstanceIds", 101, "InvalidInstanceIds.ValueNotSupported"),
    # DescribeDisks
    Case("DescribeDisks", {"RegionId": None}, "MissingParamter.RegionId"),
    Case("DescribeDisks", {"DiskType": "root"}, "InvalidDiskType.ValueNotSupported"),
    Case("DescribeDisks", {"Category": "ssd"}, "InvalidCategory.ValueNotSupported"),
    Case("DescribeDisks", {"Status": "in_use"}, "InvalidStatus.ValueNotSupported"),
    Case("DescribeDisks", {"DiskChargeType": "Free"}, "InvalidDiskChargeType.NotFound", 404),
    Case("DescribeDisks", {"LockReason": "recycling"}, "InvalidLockReason.NotFound", 404),
    as_list("DescribeDisks", "DiskIds", 101, "InvalidDiskIds.Malformed", 403),
    # DescribeSpotPriceHistory
    Case("DescribeSpotPriceHistory", {"NetworkType": "VPC"}, "InvalidParams.NetworkType"),
    Case("DescribeSpotPriceHistory", {"OSType": "macos"}, "InvalidParams.OSType"),
    Case("DescribeSpotPriceHistory", {"IoOptimized": "yes"}, "InvalidParams.IoOptimized"),
    Case("DescribeSpotPriceHistory", {"SpotDuration": "3"}, "InvalidSpotDuration"),
    Case("DescribeSpotPriceHistory", {"Offset": "next"}, "InvalidParams.Offset"),
    # DescribeZones / DescribeRegions
    Case("DescribeZones", {"SpotStrategy": "Cheap"}, "InvalidSpotStrategy"),
    Case("DescribeZones", {"AcceptLanguage": "en"}, "InvalidAcceptLanguage.NotFound", 404),
    Case("DescribeRegions", {"AcceptLanguage": "EN"}, "InvalidAcceptLanguage.NotFound", 404),
    Case("DescribeRegions", {"ResourceType": "vm"}, "InvalidResourceType.NotFound", 404),
    # DescribePrice
    Case("DescribePrice", {"InternetChargeType": "free"}, "InvalidInternetChargeType.ValueNotSupported"),
    Case("DescribePrice", {"InternetMaxBandwidthOut": "101"}, "InvalidInternetMaxBandwidthOut.ValueNotSupported"),
    Case("DescribePrice", {"SystemDisk.Category": "ssd"}, "InvalidSystemDiskCategory.ValueNotSupported"),
    Case("DescribePrice", {"DataDisk.1.Category": "ssd"}, "InvalidDataDiskCategory.ValueNotSupported"),
    Case("DescribePrice", {"IoOptimized": "yes"}, "InvalidIoOptimizedValue.ValueNotSupported"),
    # tagging
    Case("TagResources", {"RegionId": None}, "MissingParameter.RegionId", 404, message="should not be null"),
    Case("TagResources", {"ResourceType": None}, "MissingParameter.ResourceType", 404),
    Case("TagResources", {"Tag.1.Key": None, "Tag.1.Value": None}, "MissingParameter.Tags", 404, label="Tag missing"),
    Case("TagResources", {"ResourceType": "Instance"}, "InvalidResourceType.NotFound", 404),
    many("TagResources", "ResourceId.{}", 51, "NumberExceed.ResourceIds"),
    many("TagResources", "Tag.{}.Key", 21, "NumberExceed.Tags", **TAGS_21),
    Case("UntagResources", {"RegionId": None}, "MissingParameter.RegionId", 404),
    Case("UntagResources", {"ResourceType": "vm"}, "InvalidResourceType.NotFound", 404),
    Case("UntagResources", {"ResourceType": None}, "MissingParameter.ResourceType", 404),
    many("UntagResources", "TagKey.{}", 21, "NumberExceed.Tags"),
    many("UntagResources", "ResourceId.{}", 51, "NumberExceed.ResourceIds"),
    Case("ListTagResources", {"ResourceType": None}, "MissingParameter.ResourceType", 404),
    Case("ListTagResources", {"ResourceType": "vm"}, "InvalidResourceType.NotFound", 404),
    many("ListTagResources", "ResourceId.{}", 51, "NumberExceed.ResourceIds"),
    # VPC
    Case("AllocateEipAddress", {"InternetChargeType": "PayByData"}, IP, message='"InternetChargeType"'),
    Case("AssociateEipAddress", {"InstanceType": "Ecs"}, "InvalidInstanceType.ValueNotSupported"),
    Case("UnassociateEipAddress", {"InstanceType": "IpAddress"}, "InvalidInstanceType.ValueNotSupported"),
    Case("DescribeEipAddresses", {"AssociatedInstanceType": "Ecs"}, "InvalidIAssociatedInstanceType.ValueNotSupported"),
    Case("DescribeEipAddresses", {"ChargeType": "Free"}, "InvalidChargeType.ValueNotSupported"),
    Case("DescribeEipAddresses", {"LockReason": "recycling"}, "InvalidLockReason.NotFound", 404),
]

# A sample of the derived rules: per action, one row per kind it has (missing, type, range, enum, list
# length, string rule); their codes are the defaults (MissingParameter / InvalidParameter) unless documented.
DERIVED: list[Case] = [
    # disks and snapshots
    Case("AttachDisk", {"DiskId": None}, MP),
    Case("CreateDisk", {"DiskCategory": "cloud_fast"}, IP),
    Case("CreateDisk", {"Size": "big"}, IP),
    Case("CreateDisk", {"DiskName": "1-data"}, IP),
    Case("CreateSnapshot", {"SnapshotName": "http://snap"}, IP),
    Case("DescribeSnapshots", {"Status": "done"}, IP),
    as_list("DescribeSnapshots", "SnapshotIds", 101, IP),
    Case("DeleteSnapshot", {"Force": "maybe"}, IP),
    Case("DescribeZones", {"RegionId": None}, MP),
    Case("DescribeZones", {"Verbose": "yes"}, IP),
    Case("DescribeInstanceTypes", {"MaxResults": "ten"}, IP),
    Case("DescribeInstanceTypes", {"MinimumGPUAmount": "0"}, IP),
    Case("DescribeInstanceTypes", {"MaximumGPUAmount": "0"}, IP),
    Case("DescribeInstanceTypes", {"MaxResults": "0"}, IP),
    Case("DescribeInstanceTypes", {"MaxResults": "1601"}, IP),
    Case("DescribeInstanceTypes", {"MinimumCpuCoreCount": "0"}, IP),
    Case("DescribeInstanceTypes", {"CpuArchitecture": "x86_64"}, IP),
    many("DescribeInstanceTypes", "InstanceTypes.{}", 11, "InvalidParam.InstanceTypes"),
    many("DescribeInstanceTypes", "CpuArchitectures.{}", 3, IP),
    Case("DescribeAvailableResource", {"RegionId": None}, MP),
    Case("DescribeAvailableResource", {"Cores": "two"}, IP),
    Case("DescribeAvailableResource", {"Memory": "4GiB"}, IP),
    Case("DescribeSpotPriceHistory", {"NetworkType": None}, MP),
    Case("DescribeSpotPriceHistory", {"InstanceType": None}, MP),
    Case("DescribeSpotPriceHistory", {"NetworkType": "ipv6"}, "InvalidParams.NetworkType"),
    Case("DescribePrice", {"RegionId": None}, MP),
    Case("DescribePrice", {"SystemDisk.Size": "big"}, IP),
    Case("DescribePrice", {"Amount": "0"}, IP),
    Case("DescribePrice", {"PriceUnit": "Minute"}, IP),
    Case("DescribePrice", {"ResourceType": "vm"}, IP),
    Case("CreateImage", {"RegionId": None}, MP),
    Case("CreateImage", {"DryRun": "maybe"}, IP),
    Case("CreateImage", {"BootMode": "Legacy"}, IP),
    Case("DescribeImages", {"RegionId": None}, MP),
    Case("DescribeImages", {"PageNumber": "one"}, IP),
    Case("DescribeImages", {"IsPublic": "yes"}, IP),
    Case("DescribeImages", {"PageSize": "101"}, IP),
    Case("DescribeImages", {"PageSize": "0"}, IP),
    Case("DescribeImages", {"Status": "Available,Ready"}, IP),
    Case("DescribeImages", {"Status": "Deleted"}, IP),
    Case("DeleteImage", {"ImageId": None}, MP),
    Case("DeleteImage", {"RegionId": None}, MP),
    Case("DeleteImage", {"Force": "yes"}, IP),
    Case("RunInstances", {"RegionId": None}, MP, message='"RegionId"'),
    Case("RunInstances", {"InternetMaxBandwidthOut": "5M"}, IP),
    Case("RunInstances", {"DryRun": "maybe"}, IP),
    Case("RunInstances", {"SpotPriceLimit": "cheap"}, IP),
    Case("RunInstances", {"DataDisk.1.Size": "big"}, IP),
    Case("RunInstances", {"DataDisk.1.DeleteWithInstance": "maybe"}, IP),
    Case("RunInstances", {"Ipv6AddressCount": "11"}, IP),
    Case("RunInstances", {"DeploymentSetGroupNo": "8"}, IP),
    Case("RunInstances", {"PeriodUnit": "Year"}, IP),
    Case("RunInstances", {"SystemDisk.PerformanceLevel": "PL4"}, IP),
    many("RunInstances", "Ipv6Address.{}", 11, IP),
    Case("DescribeInstances", {"RegionId": None}, MP),
    Case("DescribeInstances", {"MaxResults": "many"}, IP),
    Case("DescribeInstances", {"DryRun": "no way"}, IP),
    Case("DescribeInstanceAttribute", {"InstanceId": None}, MP),
    Case("DescribeInstanceStatus", {"RegionId": None}, MP),
    Case("DescribeInstanceStatus", {"PageNumber": "first"}, IP),
    Case("DescribeInstanceStatus", {"PageSize": "51"}, IP),
    many("DescribeInstanceStatus", "InstanceId.{}", 101, IP),
    Case("DescribeUserData", {"InstanceId": None}, MP),
    Case("DescribeUserData", {"RegionId": None}, MP),
    Case("DescribeInstanceRamRole", {"RegionId": None}, MP),
    Case("DescribeInstanceRamRole", {"PageSize": "51"}, IP),
    as_list("DescribeInstanceRamRole", "InstanceIds", 51, IP),
    Case("DescribeDisks", {"Portable": "yes"}, IP),
    Case("DescribeDisks", {"MultiAttach": "On"}, IP),
    Case("StartInstance", {"InstanceId": None}, MP),
    Case("StartInstance", {"DryRun": "yes"}, IP),
    Case("StopInstance", {"InstanceId": None}, MP),
    Case("StopInstance", {"StoppedMode": "Economical"}, IP),
    Case("StopInstance", {"ForceStop": "1"}, IP),
    Case("DeleteInstance", {"InstanceId": None}, MP),
    Case("DeleteInstance", {"Force": "yes"}, IP),
    Case("DescribeSecurityGroups", {"RegionId": None}, MP),
    Case("DescribeSecurityGroups", {"MaxResults": "101"}, IP),
    Case("DescribeSecurityGroups", {"NetworkType": "VPC"}, IP),
    as_list("DescribeSecurityGroups", "SecurityGroupIds", 101, IP),
    Case("TagResources", {"ResourceId.1": None}, MP),
    Case("UntagResources", {"ResourceId.1": None}, MP),
    Case("UntagResources", {"All": "yes"}, IP),
    Case("ListTagResources", {"RegionId": None}, "MissingParameter.RegionId", 404),
    Case("DescribeVpcs", {"RegionId": None}, MP),
    Case("DescribeVpcs", {"PageSize": "51"}, IP),
    Case("DescribeVpcs", {"IsDefault": "yes"}, IP),
    as_list("DescribeVpcs", "VpcId", 21, IP, csv=True),
    Case("DescribeVSwitches", {"PageSize": "51"}, IP),
    Case("DescribeVSwitches", {"PageNumber": "one"}, IP),
    Case("AllocateEipAddress", {"RegionId": None}, MP),
    Case("AllocateEipAddress", {"AutoPay": "yes"}, IP),
    Case("AllocateEipAddress", {"Period": "one"}, IP),
    Case("AllocateEipAddress", {"InstanceChargeType": "Prepaid"}, IP),
    Case("AllocateEipAddress", {"Description": "1st entry"}, IP),
    Case("AllocateEipAddress", {"Description": "http://entry"}, IP),
    Case("AllocateEipAddress", {"Name": "n" * 129}, IP, label="Name=129 chars"),
    many("AllocateEipAddress", "SecurityProtectionTypes.{}", 11, IP),
    Case("DescribeEipAddresses", {"RegionId": None}, MP),
    Case("DescribeEipAddresses", {"PageSize": "101"}, IP),
    Case("DescribeEipAddresses", {"Status": "Bound"}, IP),
    as_list("DescribeEipAddresses", "AllocationId", 51, IP, csv=True),
    Case("AssociateEipAddress", {"AllocationId": None}, MP),
    Case("AssociateEipAddress", {"InstanceId": None}, MP),
    Case("AssociateEipAddress", {"Mode": "BRIDGE"}, IP),
    Case("AssociateEipAddress", {"ClientToken": "jeton-été"}, IP),
    Case("UnassociateEipAddress", {"AllocationId": None}, MP),
    Case("UnassociateEipAddress", {"Force": "yes"}, IP),
    Case("ReleaseEipAddress", {"AllocationId": None}, MP),
    Case("DescribeSystemEventAttribute", {"PageSize": "101"}, IP),
    Case("DescribeSystemEventAttribute", {"PageSize": "0"}, IP),
    Case("DescribeSystemEventAttribute", {"PageNumber": "one"}, IP),
    Case("DescribeSystemEventAttribute", {"Level": "ERROR"}, IP),
]

# Accepted although close to a rule: where the rule must not over-reach.
ACCEPTED: list[Case] = [
    Case("DeleteSnapshot", {"Force": "true"}, ""),  # an unknown snapshot id is ignored [docs]
    Case("RunInstances", {"HostName": "k8s-${instance_id}"}, "DryRunOperation"),
    Case("RunInstances", {"HostName": "web.prod-1.example"}, "DryRunOperation"),
    Case("RunInstances", {"HostName": "node[1,4]"}, "DryRunOperation", label="HostName=sequential pattern"),
    Case("RunInstances", {"DryRun": "TRUE", "InternetMaxBandwidthOut": "100"}, "DryRunOperation"),
    Case("RunInstances", {"InstanceName": "web:blue_1.a-b"}, "DryRunOperation"),
    Case("RunInstances", {"NotInTheSpec": "anything"}, "DryRunOperation"),
    Case("RunInstances", {"ClientToken": "t" * 64}, "DryRunOperation", label="ClientToken=64 chars"),
    many("RunInstances", "Tag.{}.Key", 20, "DryRunOperation", **TAGS_21),
    Case("DescribeInstances", {"InstanceName": "web-*"}, ""),  # a filter: no naming rule
    Case("DescribeImages", {"Status": "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated"}, ""),
    Case("AllocateEipAddress", {"ISP": "ChinaTelecom"}, ""),
    Case("DescribeEipAddresses", {"ISP": "BGP_FinanceCloud"}, ""),
    Case("DescribePrice", {"DataDisk.4.Category": "cloud_auto", "DataDisk.4.Size": "40"}, ""),
    Case("DescribeZones", {"InstanceChargeType": "Prepaid"}, ""),  # the spelling of DescribeZones' own list
    Case("DescribeRegions", {"InstanceChargeType": "SpotWithPriceLimit"}, ""),
]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(host="127.0.0.1", port=0) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def clients(emu: Emulator) -> dict[str, Any]:
    from alibabacloud_cms20190101.client import Client as CmsClient
    from alibabacloud_ecs20140526.client import Client as EcsClient
    from alibabacloud_tea_openapi.utils_models import Config
    from alibabacloud_vpc20160428.client import Client as VpcClient

    def config() -> Any:
        return Config(
            access_key_id=DEFAULT_ACCESS_KEY_ID,
            access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
            region_id=R,
            endpoint=emu.endpoint,
            protocol="http",
        )

    return {"ecs": EcsClient(config()), "vpc": VpcClient(config()), "cms": CmsClient(config())}


def send(clients: dict[str, Any], action: str, query: dict[str, str]) -> tuple[int, str, str]:
    """(HTTP status, code or "", message) of one RPC call through the official SDK client."""
    from alibabacloud_tea_openapi.utils import Utils
    from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
    from darabonba.runtime import RuntimeOptions

    product = PRODUCT.get(action, "ecs")
    params = Params(
        action=action,
        version=VERSIONS[product],
        protocol="HTTPS",  # the client's Config (http, the emulator's endpoint) wins
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    try:
        clients[product].call_api(params, OpenApiRequest(query=Utils.query(query)), RuntimeOptions())
    except AlibabaCloudException as err:
        return int(err.status_code), str(err.code), str((err.data or {}).get("Message", ""))
    return 200, "", ""


def request(case: Case) -> dict[str, str]:
    query = dict(BASE[case.action])
    for key, value in case.change.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return query


@pytest.mark.parametrize("case", HAND + DERIVED, ids=lambda c: c.id)
def test_one_violation_is_refused_with_the_real_error(clients: dict[str, Any], case: Case) -> None:
    status, code, message = send(clients, case.action, request(case))
    assert (code, status) == (case.code, case.status), message
    assert case.message in message
    if code == MP:
        (name,) = (k for k, v in case.change.items() if v is None)
        mandatory = "that is mandatory for processing this request is not supplied."
        assert message == f'The input parameter "{name.split(".")[0]}" {mandatory}'


@pytest.mark.parametrize("action", sorted(BASE), ids=lambda a: f"{a}-valid")
def test_the_valid_request_passes_validation(clients: dict[str, Any], action: str) -> None:
    status, code, message = send(clients, action, BASE[action])
    assert (status, code) == VALID.get(action, (200, "")), message


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.id)
def test_values_the_rules_allow_are_accepted(clients: dict[str, Any], case: Case) -> None:
    status, code, message = send(clients, case.action, request(case))
    assert (status, code) == VALID.get(case.action, (200, "")), message
    assert code == case.code


def test_every_served_action_has_a_base_request() -> None:
    """The table covers the whole emulator: a new action needs its row here."""
    from aliyun_ops.emulator import responses  # importing it registers every action
    from aliyun_ops.emulator.core import REGISTRY

    served = {key for key, fn in REGISTRY.items() if fn.__module__.startswith(responses.__name__)}  # not tests'
    # VPC's tag actions share ECS's names (this table is keyed by name): test_emulator_vpc_tags.py covers them.
    elsewhere = {("vpc", "TagResources"), ("vpc", "UnTagResources")}
    assert {(PRODUCT.get(a, "ecs"), a) for a in BASE} | elsewhere == served
