"""What RunInstances needs to launch a replacement: built by the engine, sent by ``Cloud``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aliyun_ops.models import Tags


@dataclass(frozen=True)
class DataDiskSpec:
    """One data disk of a full image, as the replacement gets it (``DataDisk.N.Device`` names the image's
    disk; category and size override the image's defaults, which would otherwise be cloud_efficiency)."""

    device: str
    category: str
    size_gib: int
    delete_with_instance: bool = True
    performance_level: str | None = None

    def to_param(self) -> dict[str, Any]:
        p: dict[str, Any] = {"Device": self.device, "Category": self.category, "Size": self.size_gib}
        p["DeleteWithInstance"] = self.delete_with_instance
        if self.performance_level and self.category == "cloud_essd":
            p["PerformanceLevel"] = self.performance_level
        return p


@dataclass(frozen=True)
class LaunchSpec:
    image_id: str
    instance_type: str
    zone_id: str
    vswitch_id: str
    security_group_ids: tuple[str, ...]
    name: str = ""
    hostname: str = ""
    description: str = ""
    key_pair_name: str | None = None
    password_inherit: bool = False
    ram_role_name: str | None = None
    resource_group_id: str | None = None
    user_data: str | None = None
    tags: Tags = ()
    system_disk_category: str | None = None
    system_disk_size: int | None = None
    data_disks: tuple[DataDiskSpec, ...] = ()
    instance_charge_type: str = "PostPaid"
    internet_charge_type: str | None = None
    internet_max_bandwidth_out: int = 0
    spot_strategy: str = "SpotAsPriceGo"
    spot_price_limit: float | None = None
    spot_duration: int | None = None
    spot_interruption_behavior: str | None = None

    def to_params(self) -> dict[str, Any]:
        """RunInstances parameters by their API names; unset values are left out, never defaulted."""
        p: dict[str, Any] = {
            "ImageId": self.image_id,
            "InstanceType": self.instance_type,
            "ZoneId": self.zone_id,
            "VSwitchId": self.vswitch_id,
            "SecurityGroupIds": list(self.security_group_ids),
            "InstanceChargeType": self.instance_charge_type,
            "InternetMaxBandwidthOut": self.internet_max_bandwidth_out,
            "Amount": 1,
        }
        optional = {
            "InstanceName": self.name,
            "HostName": self.hostname,
            "Description": self.description,
            "KeyPairName": self.key_pair_name,
            "RamRoleName": self.ram_role_name,
            "ResourceGroupId": self.resource_group_id,
            "UserData": self.user_data,
            "InternetChargeType": self.internet_charge_type,
            "SpotInterruptionBehavior": self.spot_interruption_behavior,
            "SpotDuration": self.spot_duration,
        }
        p.update({k: v for k, v in optional.items() if v not in (None, "")})
        if self.password_inherit and not self.key_pair_name:
            p["PasswordInherit"] = True
        if self.instance_charge_type == "PostPaid":
            p["SpotStrategy"] = self.spot_strategy
            if self.spot_strategy == "SpotWithPriceLimit" and self.spot_price_limit:
                p["SpotPriceLimit"] = self.spot_price_limit
        disk = {"Category": self.system_disk_category, "Size": self.system_disk_size}
        if any(disk.values()):
            p["SystemDisk"] = {k: v for k, v in disk.items() if v}
        if self.data_disks:
            p["DataDisk"] = [d.to_param() for d in self.data_disks]
        if self.tags:
            p["Tag"] = [{"Key": k, "Value": v} for k, v in self.tags]
        return p
