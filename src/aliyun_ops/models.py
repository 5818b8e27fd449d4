"""Typed, frozen records shared by the layers: the cloud client produces them, the pure decision
functions (policy, planner) consume them, the incident orchestrator passes them around.

No I/O here. Add fields only at the end of a record and only with a default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

Tags = tuple[tuple[str, str], ...]
# A region id ("cn-hangzhou", "eu-west-1", "cn-shanghai-finance-1"): the one rule for configuration and
# events alike, since a region picks the API endpoint the SDK talks to.
REGION_ID = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")
ACCOUNT_ID = re.compile(r"^[0-9]{1,20}$")  # an Alibaba Cloud account id (UID): "1537742922454562"

# Tag keys the tool writes and reads. Aliyun refuses tag keys that start with "aliyun" or "acs:"
# (InvalidTagKey.Malformed), so the prefix is "aops:" (aliyun-ops), not "aliyun-ops:".
TAG_PREFIX = "aops:"
TAG_MANAGED = "aops:managed"  # "false" opts an instance out
TAG_REPLACES = "aops:replaces"  # on a replacement: the id of the instance it replaced
TAG_LINEAGE = "aops:lineage"  # stable id of a lineage: the id of its first instance
TAG_GENERATION = "aops:generation"  # 0 for the first instance, +1 per replacement
TAG_INCIDENT = "aops:incident"  # on images and replacements: the incident id
TAG_IMAGE_OF = "aops:image-of"  # on images: the instance the image was made from
TAG_NOTIFIED = "aops:notified"  # on a replacement: its incident's final notification went out
TAG_DATA = "aops:data"  # on an instance: "copy" keeps today's full-image copy of the data; default: the disks move
TAG_DISK_OF = "aops:disk-of"  # on a kept data disk: the instance whose data it holds
TAG_DEVICE = "aops:device"  # on a kept data disk: its device name on that instance (the attach order)
TAG_DISKS = "aops:disks"  # on a replacement: "pending" while held stopped for its data disks, then "attached"
TAG_EIP = "aops:eip"  # on a replacement: the allocation id of the lineage's elastic IP
TAG_LAUNCHED = "aops:launched"  # on an image: the instance last launched from it (the lineage's current one)
TAG_RETIRED = "aops:retired"  # on a lineage's images: its instance was removed by its user; never relaunched
TAG_BASELINE = "aops:baseline"  # on a baseline snapshot and its image: when it was taken (UTC, 20240519T030000Z)
TAG_FALLBACK = "aops:fallback"  # on a pay-as-you-go fallback: reconcile moves it back to spot (remove to keep it)
TAG_SYSTEM_OF = "aops:system-of"  # on a system disk kept past its instance until its snapshot is done
TAG_HELD = "aops:held"  # on a replacement kept stopped for a missing data disk: the digest of what its user was told


def tag_value(tags: Tags, key: str) -> str | None:
    for k, v in tags:
        if k == key:
            return v
    return None


@dataclass(frozen=True)
class Eip:
    allocation_id: str
    ip_address: str
    instance_id: str | None = None
    status: str = "Available"  # Available | InUse | Associating | Unassociating
    bandwidth: int | None = None
    internet_charge_type: str | None = None


@dataclass(frozen=True)
class Disk:
    disk_id: str
    kind: str  # "system" | "data"
    category: str  # cloud_essd, cloud_ssd, cloud_efficiency, cloud_auto, cloud_essd_entry, ...
    size_gib: int
    device: str = ""
    delete_with_instance: bool = True
    performance_level: str | None = None
    zone_id: str = ""
    status: str = ""  # In_use | Available | Attaching | Detaching | Creating | ReIniting
    instance_id: str = ""  # attached to ("" when detached)
    tags: Tags = ()
    source_snapshot_id: str = ""  # the snapshot it was created from (a cross-zone copy's move snapshot)
    description: str = ""  # a kept system disk's: its instance's identity (``recovery.identity``)

    def tag(self, key: str) -> str | None:
        return tag_value(self.tags, key)


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    disk_id: str
    status: str  # progressing | accomplished | failed
    progress: int = 0  # percent
    available: bool = False  # instant access: disks can be created from it (images only once accomplished)
    tags: Tags = ()
    name: str = ""
    description: str = ""

    def tag(self, key: str) -> str | None:
        return tag_value(self.tags, key)


@dataclass(frozen=True)
class Instance:
    instance_id: str
    region_id: str
    zone_id: str
    instance_type: str
    status: str  # Pending | Starting | Running | Stopping | Stopped
    name: str = ""
    hostname: str = ""
    description: str = ""
    cpu: int = 0
    memory_mib: int = 0
    image_id: str = ""
    os_type: str = "linux"
    vpc_id: str = ""
    vswitch_id: str = ""
    private_ips: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    key_pair_name: str | None = None
    ram_role_name: str | None = None
    resource_group_id: str | None = None
    instance_charge_type: str = "PostPaid"
    internet_charge_type: str | None = None
    internet_max_bandwidth_out: int = 0
    spot_strategy: str = "NoSpot"  # NoSpot | SpotAsPriceGo | SpotWithPriceLimit
    spot_price_limit: float | None = None
    spot_duration: int | None = None
    spot_interruption_behavior: str | None = None  # Terminate | Stop
    stopped_mode: str | None = None
    tags: Tags = ()
    lock_reasons: tuple[str, ...] = ()  # OperationLocks: "Recycling" when under spot notice
    public_ips: tuple[str, ...] = ()
    eip: Eip | None = None
    creation_time: str = ""
    start_time: str = ""  # StartTime: when it last started (to the minute), "" if the answer lacks it
    user_data: str | None = None  # base64, filled by DescribeUserData when needed
    disks: tuple[Disk, ...] = ()  # filled by DescribeDisks when needed

    @property
    def is_spot(self) -> bool:
        return self.spot_strategy not in ("", "NoSpot")

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / 1024

    def tag(self, key: str) -> str | None:
        return tag_value(self.tags, key)

    @property
    def system_disk(self) -> Disk | None:
        return next((d for d in self.disks if d.kind == "system"), None)


@dataclass(frozen=True)
class InstanceType:
    type_id: str  # ecs.c7.large
    family: str  # ecs.c7
    cpu: int
    memory_gib: float
    arch: str = "X86"  # X86 | ARM
    gpu_amount: int = 0
    gpu_spec: str = ""
    generation: str = ""

    @property
    def has_gpu(self) -> bool:
        return self.gpu_amount > 0


@dataclass(frozen=True)
class Offering:
    """One (zone, type) as DescribeAvailableResource reports it for a given charge/spot strategy."""

    zone_id: str
    instance_type: str
    status: str = "Available"  # Available | SoldOut
    status_category: str = "WithStock"  # WithStock | ClosedWithStock | WithoutStock | ClosedWithoutStock

    @property
    def in_stock(self) -> bool:
        return self.status == "Available" and self.status_category == "WithStock"


@dataclass(frozen=True)
class SpotPrice:
    zone_id: str
    instance_type: str
    spot_price: float  # per hour, CNY
    origin_price: float  # the pay-as-you-go price, per hour
    timestamp: str = ""


@dataclass(frozen=True)
class SpotAdvice:
    """One (type, zone) pool as DescribeSpotAdvice reports it: the last 30 days' averages.

    ``interruption_rate`` is the API's InterruptionRate (unit: %, 0..100), ``rate_desc`` its bucket text
    (InterruptRateDesc: "0-3%", "3-5%", "5-10%", "10-100%"), ``average_discount`` its AverageSpotDiscount: the
    average spot price as a percentage of the pay-as-you-go price (1..100; 20 means 0.2 x pay-as-you-go)."""

    zone_id: str
    instance_type: str
    interruption_rate: float  # percent over the trailing 30 days
    rate_desc: str = ""
    average_discount: int | None = None  # percent of the pay-as-you-go price


@dataclass(frozen=True)
class VSwitch:
    vswitch_id: str
    vpc_id: str
    zone_id: str
    cidr_block: str = ""
    available_ips: int = 0
    tags: Tags = ()


@dataclass(frozen=True)
class Image:
    image_id: str
    name: str
    status: str  # Creating | Waiting | Available | UnAvailable | CreateFailed | Deprecated
    progress: int = 0  # percent
    creation_time: str = ""
    size_gib: int = 0
    architecture: str = ""
    tags: Tags = ()
    usable: bool | None = None  # DescribeImages' Usable: an instant-access image can launch while Creating
    data_devices: tuple[str, ...] = ()  # devices of the data disks its DiskDeviceMappings carry (a full image)

    def tag(self, key: str) -> str | None:
        return tag_value(self.tags, key)

    @property
    def launchable(self) -> bool:
        """RunInstances can use it now: Available and not ``Usable=false`` (an image can turn Available before it is
        Usable: terraform-provider-alicloud waits for Usable), or Usable before Available (instant access)."""
        if self.status == "Available":
            return self.usable is not False
        return self.usable is True and self.status in ("Creating", "Waiting")


@dataclass(frozen=True)
class Candidate:
    """One launch option the planner ranks."""

    zone_id: str
    vswitch_id: str
    itype: InstanceType
    spot_strategy: str = "SpotAsPriceGo"
    spot_price_limit: float | None = None
    spot_price: float | None = None
    origin_price: float | None = None
    reason: str = ""  # why it ranks where it does: "same type, same zone", ...
    tier: int = 0  # 1 same type+zone, 2 same type other zone, 3 equivalent type, 4 pay-as-you-go fallback
    interruption_rate: float | None = None  # DescribeSpotAdvice: percent over 30 days (None: unknown or not spot)
    rate_desc: str = ""  # its bucket: "0-3%", "3-5%", "5-10%", "10-100%"
    score: float | None = None  # risk placement: spot price + expected interruption cost, CNY per hour

    @property
    def instance_type(self) -> str:
        return self.itype.type_id

    @property
    def saving(self) -> float | None:
        """Share saved against pay-as-you-go, 0..1."""
        if self.spot_price is None or not self.origin_price:
            return None
        return 1 - self.spot_price / self.origin_price


@dataclass(frozen=True)
class Limits:
    """The bill limits a plan was made under: what a replacement may cost, and how large it may be, against
    the original. A ratio of None: that limit is off. A ratio with no reference price: the original's price
    could not be read, so the price limit could not apply (``notes`` says so)."""

    max_price_ratio: float | None = None
    reference_price: float | None = None  # min(the original type's spot, its pay-as-you-go price), per hour
    max_price: float | None = None  # ratio x reference: the most a spot candidate may cost per hour
    payg_reference: float | None = None  # the original type's pay-as-you-go price (what tier 4 compares with)
    max_payg_price: float | None = None  # ratio x payg_reference: the most a pay-as-you-go fallback may cost
    max_size_ratio: float | None = None
    max_cpu: float | None = None  # ratio x the original's vCPU
    max_memory_gib: float | None = None  # ratio x the original's memory
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """What the engine will do for one incident: the ranked candidates, best first."""

    original: Instance
    candidates: tuple[Candidate, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (what, why) for every option left out
    notes: tuple[str, ...] = field(default=())
    limits: Limits = Limits()  # the price and size limits in force (``plan`` shows them)

    @property
    def chosen(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class InstanceSummary:
    """The before/after columns of an incident: what a person wants to compare."""

    instance_id: str
    instance_type: str
    zone_id: str
    name: str = ""
    cpu: int = 0
    memory_gib: float = 0.0
    spot_price: float | None = None  # per hour
    origin_price: float | None = None  # pay-as-you-go per hour
    public_ip: str | None = None
    private_ip: str | None = None
    status: str = ""


@dataclass
class IncidentRecord:
    """The structured result of one invocation; accumulates as the incident runs."""

    incident_id: str  # stable across re-deliveries of the same notice
    instance_id: str
    region_id: str
    event_id: str = ""
    started_at: float = 0.0  # epoch seconds
    finished_at: float | None = None
    status: str = "started"  # started | replaced | failed | ignored | resumed
    reason: str = ""  # one line: why it ended as it did
    advice: str = ""  # on failure: what the user should do
    image_id: str | None = None
    image_source: str = ""  # fresh | lineage-fallback | baseline (never a public base image)
    image_time: str = ""  # when the launched image's data was taken (the notice, or the baseline's time), UTC
    new_instance_id: str | None = None
    before: InstanceSummary | None = None
    after: InstanceSummary | None = None
    tried: list[str] = field(default_factory=list)  # "ecs.c7.large@cn-hangzhou-h: NoStock"
    timeline: list[tuple[float, str]] = field(default_factory=list)  # (epoch seconds, what happened)
    deleted_images: list[str] = field(default_factory=list)
    eip: str | None = None
    chosen: str = ""  # the launched candidate: "ecs.c7.large@cn-hangzhou-g (SpotAsPriceGo)"
    chosen_reason: str = ""  # why the planner ranked it first: "same type, other zone ..., spot 0.07/h"
    data_mode: str = ""  # move (the data disks go to the replacement) | copy (the data is in a full image)
    data_disks: list[str] = field(default_factory=list)  # "/dev/xvdb: d-... (moved)", one per data disk
    tags_left: list[str] = field(default_factory=list)  # "key=value" of the tags the replacement had no room for

    def log(self, at: float, what: str) -> None:
        self.timeline.append((at, what))

    def to_dict(self) -> dict[str, object]:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class SystemEvent:
    """One spot interruption in CloudMonitor's system-event history (``DescribeSystemEventAttribute``):
    the cloud's own record that it reclaimed (or is reclaiming) an instance."""

    instance_id: str
    time: float  # epoch seconds (the API's Time is UNIX milliseconds)
    event_id: str = ""  # the API's Id: the same id the delivered notice carried ("" on older API versions)
    action: str | None = None  # Content.action ("delete"), when the event says
    region_id: str = ""
    name: str = ""  # Instance:PreemptibleInstanceInterruption


# The API's times (``2024-05-19T10:00Z``, with seconds or fractions) and the events' (EventBridge's ISO 8601,
# CloudMonitor's ``20190409T121826.922+0800``); a ``Z`` is read as UTC.
_TIME_FORMATS = (
    "%Y-%m-%dT%H:%M%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y%m%dT%H%M%S.%f%z",
    "%Y%m%dT%H%M%S%z",
)


def parse_time(text: str) -> float | None:
    """An API or event time as epoch seconds (the forms of ``_TIME_FORMATS``); None if absent or unreadable."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(value, fmt).timestamp()
        except ValueError:
            continue
    return None
