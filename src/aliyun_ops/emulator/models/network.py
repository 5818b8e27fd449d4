"""VPCs, vSwitches, security groups and elastic IPs, with the EIP association rules.

Rules: an EIP is associated only when Available, only with an existing instance (Running or
Stopped) that has no EIP and no fixed public IP yet; it is released only when not associated;
releasing an instance frees its EIP at once.

Transitions (``realism.eipTransitionSeconds``; absent or 0 = immediate): AssociateEipAddress puts the
EIP in ``Associating`` and it becomes ``InUse`` that many seconds later; UnassociateEipAddress goes
``Unassociating`` then ``Available``. The instance shows the EIP (DescribeInstances ``EipAddress``) from
the end of the association to the end of the unassociation. Any other change during a transition is
refused with ``IncorrectEipStatus`` (the VPC API reference: "In this state, you can only query the EIP
and cannot perform other operations").
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator.models.tokens import ClientTokens

if TYPE_CHECKING:
    from aliyun_ops.emulator.backend import Backend
    from aliyun_ops.emulator.models.instance_network import SecondaryEni


@dataclass
class VSwitch:
    vswitch_id: str
    vpc_id: str
    zone_id: str
    region_id: str
    cidr_block: str
    name: str = ""
    used: set[str] = field(default_factory=set)
    tags: dict[str, str] = field(default_factory=dict)  # VPC TagResources (ResourceType VSWITCH)
    others: set[str] = field(default_factory=set)  # addresses held by other services' interfaces (control)

    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.cidr_block)

    def available_count(self) -> int:
        """DescribeVSwitches' AvailableIpAddressCount: the CIDR block less its 4 reserved addresses and those used."""
        return max(0, self.network().num_addresses - 4 - len(self.used))

    def check_room(self, amount: int) -> None:
        """RunInstances of ``amount`` instances here: refused when fewer addresses are free (before any stock is
        taken or any instance made)."""
        if self.available_count() < amount:
            raise exc.InvalidVSwitchIdIpNotEnough(self.vswitch_id)

    def leave_free(self, free: int) -> None:
        """Control: other services' interfaces take addresses so that only ``free`` stay free (at most what the
        instances here leave; the addresses those took before are given back first)."""
        self.used -= self.others
        self.others.clear()
        while self.available_count() > max(0, free):
            self.others.add(self.allocate())

    def allocate(self, wanted: str | None = None) -> str:
        """A private IP: the wanted one (checked) or the first free host. The first address and the last 3 of the
        block are reserved (CreateVSwitch: "192.168.1.0, .253, .254 and .255" of a /24)."""
        net = self.network()
        if wanted is not None:
            try:
                addr = ipaddress.IPv4Address(wanted)
            except ValueError:
                raise exc.InvalidPrivateIpMalformed() from None
            if addr not in net:
                raise exc.InvalidPrivateIpMismatch()
            if wanted in self.used:
                raise exc.IpAlreadyUsed()
            self.used.add(wanted)
            return wanted
        for offset in range(1, net.num_addresses - 3):
            host = str(net.network_address + offset)
            if host not in self.used:
                self.used.add(host)
                return host
        raise exc.InvalidVSwitchIdIpNotEnough(self.vswitch_id)


@dataclass
class Vpc:
    vpc_id: str
    region_id: str
    cidr_block: str
    name: str = ""


@dataclass
class SecurityGroup:
    group_id: str
    vpc_id: str
    region_id: str
    name: str = ""
    description: str = ""


@dataclass
class Eip:
    allocation_id: str
    ip_address: str
    region_id: str
    bandwidth: int = 5
    internet_charge_type: str = "PayByTraffic"
    name: str = ""
    status: str = "Available"  # Available | Associating | InUse | Unassociating
    instance_id: str = ""  # set from the start of Associating to the end of Unassociating
    allocation_time: str = ""
    generation: int = 0  # bumped on each change: a transition scheduled for an older state is dropped

    @property
    def attached(self) -> bool:
        """The instance sees it: associated, or being unassociated."""
        return self.status in ("InUse", "Unassociating")


class Network:
    """All network resources of the account, keyed by id."""

    def __init__(self, backend: Backend, scenario: dict[str, Any]) -> None:
        self.backend = backend
        self.vpcs: dict[str, Vpc] = {}
        self.vswitches: dict[str, VSwitch] = {}
        self.groups: dict[str, SecurityGroup] = {}
        self.eips: dict[str, Eip] = {}
        self.eip_tokens: ClientTokens[str] = ClientTokens()  # AssociateEipAddress -> allocation id
        self.associated_at: dict[str, float] = {}  # allocation id -> when its last association was accepted
        self.detached_enis: dict[str, SecondaryEni] = {}  # kept after their instance's release (DeleteOnRelease=false)
        self.eip_pool = ipaddress.IPv4Network(scenario.get("eipPool", "121.40.0.0/16"))
        self._next_eip = 10
        for v in scenario.get("vpcs", []):
            self._load_vpc(v)

    def _load_vpc(self, v: dict[str, Any]) -> None:
        vpc = Vpc(v["vpcId"], v["regionId"], v["cidrBlock"], v.get("name", ""))
        self.vpcs[vpc.vpc_id] = vpc
        for s in v.get("vswitches", []):
            self.vswitches[s["vSwitchId"]] = VSwitch(
                s["vSwitchId"], vpc.vpc_id, s["zoneId"], vpc.region_id, s["cidrBlock"], s.get("name", "")
            )
        for g in v.get("securityGroups", []):
            self.groups[g["securityGroupId"]] = SecurityGroup(
                g["securityGroupId"], vpc.vpc_id, vpc.region_id, g.get("name", ""), g.get("description", "")
            )

    # ---- lookups
    def vswitch(self, vswitch_id: str, region_id: str) -> VSwitch:
        vsw = self.vswitches.get(vswitch_id)
        if vsw is None or vsw.region_id != region_id:
            raise exc.InvalidVSwitchIdNotFound()
        return vsw

    def group(self, group_id: str, region_id: str) -> SecurityGroup:
        grp = self.groups.get(group_id)
        if grp is None or grp.region_id != region_id:
            raise exc.InvalidSecurityGroupIdNotFound()
        return grp

    def eip(self, allocation_id: str, region_id: str) -> Eip:
        eip = self.eips.get(allocation_id)
        if eip is None or eip.region_id != region_id:
            raise exc.InvalidAllocationIdNotFound()
        return eip

    def eip_of(self, instance_id: str) -> Eip | None:
        """The EIP bound to the instance or in transition with it."""
        return next((e for e in self.eips.values() if e.instance_id == instance_id), None)

    def attached_eip_of(self, instance_id: str) -> Eip | None:
        """The EIP the instance shows (DescribeInstances ``EipAddress``)."""
        eip = self.eip_of(instance_id)
        return eip if eip is not None and eip.attached else None

    # ---- EIP rules
    def allocate_eip(self, region_id: str, bandwidth: int, charge_type: str, name: str) -> Eip:
        ip = str(self.eip_pool.network_address + self._next_eip)
        self._next_eip += 1
        eip = Eip(
            allocation_id=self.backend.new_id("eip"),
            ip_address=ip,
            region_id=region_id,
            bandwidth=bandwidth,
            internet_charge_type=charge_type,
            name=name,
            allocation_time=self.backend.iso_now(seconds=True),
        )
        self.eips[eip.allocation_id] = eip
        return eip

    def associate_eip(
        self,
        allocation_id: str,
        instance_id: str,
        region_id: str,
        client_token: str | None = None,
        fingerprint: str = "",
    ) -> None:
        """AssociateEipAddress; a repeat of an accepted request under its ClientToken is answered as the first was
        (no change), the same token with other parameters is ``IdempotentParameterMismatch`` ([meta]
        vpc/AssociateEipAddress.json: ClientToken "ensures the idempotence of the request")."""
        if self.eip_tokens.replay(client_token, fingerprint) is not None:
            return
        eip = self.eip(allocation_id, region_id)
        inst = self.backend.instances.items.get(instance_id)
        if inst is None or inst.region_id != region_id:
            raise exc.EipInstanceNotFound()
        if eip.status != "Available":
            raise exc.IncorrectEipStatus()
        if self.eip_of(instance_id) is not None or inst.public_ip:
            raise exc.EipAssociationDuplicated()
        if inst.status not in ("Running", "Stopped"):
            raise exc.IncorrectInstanceStatus()
        self._not_too_soon(allocation_id)
        eip.instance_id = instance_id
        self._transition(eip, "Associating", "InUse")
        self.eip_tokens.remember(client_token, fingerprint, allocation_id)
        self.associated_at[allocation_id] = self.backend.clock.now()

    def _not_too_soon(self, allocation_id: str) -> None:
        """AssociateEipAddress "cannot be called repeatedly within the specified period" (the VPC reference names no
        period): a new association of an EIP within ``realism.launch.eipRepeatSeconds`` of its last is refused."""
        window = self.backend.realism.launch.eip_repeat
        last = self.associated_at.get(allocation_id)
        if window > 0 and last is not None and self.backend.clock.now() < last + window:
            raise exc.EipTaskConflict()

    def unassociate_eip(self, allocation_id: str, instance_id: str | None, region_id: str) -> None:
        eip = self.eip(allocation_id, region_id)
        if eip.status != "InUse" or (instance_id and eip.instance_id != instance_id):
            raise exc.IncorrectEipStatus()
        self._transition(eip, "Unassociating", "Available")

    def _transition(self, eip: Eip, during: str, then: str) -> None:
        eip.generation += 1
        lag = self.backend.realism.eip_transition
        if lag <= 0:
            self._settle(eip, then)
            return
        eip.status = during
        generation = eip.generation

        def done() -> None:
            if self.eips.get(eip.allocation_id) is eip and eip.generation == generation:
                self._settle(eip, then)

        self.backend.schedule(lag, done)

    @staticmethod
    def _settle(eip: Eip, status: str) -> None:
        eip.status = status
        if status == "Available":
            eip.instance_id = ""

    def release_eip(self, allocation_id: str, region_id: str) -> None:
        eip = self.eip(allocation_id, region_id)
        if eip.status != "Available":
            raise exc.IncorrectEipStatus()
        del self.eips[allocation_id]

    def instance_gone(self, instance_id: str) -> None:
        """Releasing an instance unassociates its EIP (the EIP itself stays allocated)."""
        eip = self.eip_of(instance_id)
        if eip is not None:
            eip.generation += 1
            eip.status, eip.instance_id = "Available", ""
