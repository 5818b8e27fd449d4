"""An instance's network beyond its primary address: ModifyInstanceVpcAttribute, and the extras that forbid it.

ModifyInstanceVpcAttribute (ECS API reference, "Operation description"; docs/emulator-fidelity.md "Issue 22
groundwork" quotes it): the instance must be Stopped; a new instance must have been started once, and after a
change it must be started again before the next change (``InvalidPrivateIp.Changing``); the new vSwitch must be
in the instance's zone (``InvalidVSwitchId.Mismatch``) and its VPC unless ``VpcId`` moves it
(``InvalidVSwitchId.NotFound``, "Specified virtual switch is not found in current VPC"); the address must be in
the vSwitch's CIDR block (``InvalidPrivateIpAddress.Mismatch``) and free (``InvalidPrivateIpAddress.Duplicated``);
an instance with a secondary ENI, an IPv6 address or several primary-ENI addresses is refused (the reference
names no code for these: ``OperationDenied``, an assumption). A success moves the primary address at once.

The extras (secondary ENIs, IPv6 addresses, secondary private IPs of the primary ENI) have no API here yet: the
control API gives them to an instance. Each secondary ENI and secondary private IP holds its address on its
vSwitch. Releasing the instance frees the secondary private IPs and the secondary ENIs released with it
(``DeleteOnRelease``, true unless set false: "all attached ENIs -- both primary and secondary -- are released by
default"); an ENI with ``DeleteOnRelease=false`` stays, detached (``Available``), and keeps its address.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aliyun_ops.emulator import exceptions as exc

if TYPE_CHECKING:
    from aliyun_ops.emulator.backend import Backend
    from aliyun_ops.emulator.models.instances import InstanceRecord
    from aliyun_ops.emulator.models.network import VSwitch


@dataclass
class SecondaryEni:
    eni_id: str
    vswitch_id: str
    private_ip: str
    delete_on_release: bool = True
    instance_id: str = ""  # "" once detached (Available)

    def row(self) -> dict[str, Any]:
        status = "InUse" if self.instance_id else "Available"
        return {
            "networkInterfaceId": self.eni_id,
            "vSwitchId": self.vswitch_id,
            "privateIpAddress": self.private_ip,
            "deleteOnRelease": self.delete_on_release,
            "instanceId": self.instance_id,
            "status": status,
        }


@dataclass(frozen=True)
class VpcMove:
    """ModifyInstanceVpcAttribute's parameters once parsed."""

    instance_id: str
    region_id: str
    vswitch_id: str
    private_ip: str | None = None
    vpc_id: str | None = None
    security_group_ids: tuple[str, ...] = ()


def modify_vpc_attribute(backend: Backend, move: VpcMove) -> None:
    """Give the instance the vSwitch (and VPC) and primary private IP asked for, or refuse with the real code."""
    inst = backend.instances.get(move.instance_id, move.region_id)
    _check_instance(inst)
    vsw = backend.network.vswitch(move.vswitch_id, move.region_id)
    groups = _check_vpc(backend, inst, vsw, move)
    if vsw.zone_id != inst.zone_id:
        raise exc.InvalidVSwitchIdMismatch()
    new_ip = _claim(vsw, move.private_ip)
    old = backend.network.vswitches.get(inst.launch.vswitch_id)
    if old is not None:
        old.used.discard(inst.private_ip)
    inst.private_ip = new_ip
    inst.vpc_id = vsw.vpc_id
    # A copy: instances launched by one RunInstances (Amount > 1) share their LaunchSpec.
    inst.launch = dataclasses.replace(
        inst.launch, vswitch_id=vsw.vswitch_id, security_group_ids=groups or list(inst.launch.security_group_ids)
    )
    inst.vpc_changed = True


# This action's error table gives IncorrectInstanceStatus 400 (Start/StopInstance answer it 403).
_NOT_STOPPED = "The current status of instance does not support this operation."


def _check_instance(inst: InstanceRecord) -> None:
    if inst.status != "Stopped" or inst.lock_reasons:
        raise exc.IncorrectInstanceStatus(_NOT_STOPPED, http_status=400)
    if not inst.start_time:  # never reached Running (the reference names no code: an assumption)
        raise exc.IncorrectInstanceStatus(
            "The instance must have been started once before its network is changed.", http_status=400
        )
    if inst.vpc_changed:
        raise exc.InvalidPrivateIpChanging()
    if inst.secondary_enis:
        _denied("The instance has a secondary network interface attached.")
    if inst.ipv6_addresses:
        _denied("The instance has an IPv6 address assigned.")
    if inst.secondary_private_ips:
        _denied("The primary network interface of the instance has several private IP addresses.")


def _denied(why: str) -> None:
    """The reference lists these refusals without a code: ``OperationDenied`` with the 400 its error table gives
    that code (an assumption)."""
    raise exc.OperationDenied(why, http_status=400)


def _check_vpc(backend: Backend, inst: InstanceRecord, vsw: VSwitch, move: VpcMove) -> list[str]:
    """The security groups the instance joins ([] = keep its own): without ``VpcId`` the vSwitch must be in the
    instance's VPC; with it, in that VPC, and the groups (then required) too."""
    net = backend.network
    if move.vpc_id is None:
        if vsw.vpc_id != inst.vpc_id:
            raise exc.InvalidVSwitchIdNotFound("Specified virtual switch is not found in current VPC.")
        return []
    vpc = net.vpcs.get(move.vpc_id)
    if vpc is None or vpc.region_id != move.region_id:
        raise exc.InvalidVpcIdNotFound()
    if vsw.vpc_id != vpc.vpc_id:
        raise exc.InvalidVSwitchIdNotFound("Specified virtual switch is not found in current VPC.")
    if not move.security_group_ids:
        raise exc.MissingParameter("SecurityGroupId")
    for gid in move.security_group_ids:
        if net.group(gid, move.region_id).vpc_id != vpc.vpc_id:
            raise exc.InconsistentNetwork()
    return list(move.security_group_ids)


def _claim(vsw: VSwitch, wanted: str | None) -> str:
    """The new primary address, taken on ``vsw``: the wanted one (its own current one included, as held) or the
    first free host."""
    if wanted is None:
        return vsw.allocate()
    try:
        addr = ipaddress.IPv4Address(wanted)
    except ValueError:
        raise exc.InvalidPrivateIpMalformed() from None
    if addr not in vsw.network():
        raise exc.InvalidPrivateIpMismatch()
    if wanted in vsw.used:
        raise exc.InvalidPrivateIpDuplicated()
    return vsw.allocate(wanted)


# ---- the extras (control API)
def add_extras(backend: Backend, instance_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Give the instance secondary ENIs (``{"privateIpAddress", "vSwitchId"?, "deleteOnRelease"?}``, each on the
    instance's vSwitch unless named, its address taken there), IPv6 addresses and secondary private IPs of its
    primary ENI (taken on its vSwitch)."""
    inst = backend.instances.get(instance_id)
    for spec in body.get("secondaryEnis", []):
        vsw = backend.network.vswitch(str(spec.get("vSwitchId") or inst.launch.vswitch_id), inst.region_id)
        if vsw.zone_id != inst.zone_id:
            raise exc.InvalidVSwitchIdMismatch()
        wanted = spec.get("privateIpAddress")
        eni = SecondaryEni(
            backend.new_id("eni"),
            vsw.vswitch_id,
            vsw.allocate(str(wanted) if wanted else None),
            bool(spec.get("deleteOnRelease", True)),
            inst.instance_id,
        )
        inst.secondary_enis.append(eni)
    inst.ipv6_addresses.extend(str(a) for a in body.get("ipv6Addresses", []))
    own = backend.network.vswitch(inst.launch.vswitch_id, inst.region_id)
    inst.secondary_private_ips.extend(own.allocate(str(a)) for a in body.get("secondaryPrivateIps", []))
    return extras(inst)


def extras(inst: InstanceRecord) -> dict[str, Any]:
    return {
        "instanceId": inst.instance_id,
        "secondaryEnis": [e.row() for e in inst.secondary_enis],
        "ipv6Addresses": list(inst.ipv6_addresses),
        "secondaryPrivateIps": list(inst.secondary_private_ips),
    }


def release_extras(backend: Backend, inst: InstanceRecord) -> None:
    """The instance is released: its primary ENI's secondary addresses go with it; each secondary ENI is released
    too unless ``DeleteOnRelease`` is false, then it is detached and kept (with its address)."""
    net = backend.network
    own = net.vswitches.get(inst.launch.vswitch_id)
    if own is not None:
        own.used.difference_update(inst.secondary_private_ips)
    for eni in inst.secondary_enis:
        eni.instance_id = ""
        if eni.delete_on_release:
            vsw = net.vswitches.get(eni.vswitch_id)
            if vsw is not None:
                vsw.used.discard(eni.private_ip)
        else:
            net.detached_enis[eni.eni_id] = eni
