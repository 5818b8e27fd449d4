"""One emulated account for one tool: an in-process emulator, its original spot instances, and the
readings the figures need (notice times, image build windows, when replacements run, the journal).

Each tool gets its own world in every phase: the same scenario, the same instances, no shared stock.
The scenario is the emulator's default one, with every real-cloud lag and refusal on; a world changes
only what a phase sets out to measure (timing, the snapshot speed that gives its image build times,
and, for a scenario of the matrix, the knob it is about). Durations come from the emulator's own model
where it is exact (an image is Usable / Available / listed at its start + the model's times; an
instance is Running pending + boot seconds after its RunInstances), not from the 50 ms ticker that
settles state.

The bench's own setup and inspection calls go through ``Patient``: the default scenario refuses 2% of
all calls with the throttling family or 503, and only the tools' handling of that is under test.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.latency import EmuTime, LatencyModel

REGION = "cn-hangzhou"
ZONE = "cn-hangzhou-g"
VSWITCH = "vsw-bp1emu00000000000g"
GROUPS = ["sg-bp1emu000000000web", "sg-bp1emu000000000ssh"]
IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"
TYPE = "ecs.c7.large"
SETUP_KEY = ("emulator-access-key-id", "emulator-access-key-secret")
# The originals log in with a password unless a scenario says otherwise: the old tool launches with
# PasswordInherit, which works only from an image of an instance that had one (see docs/performance.md).
PASSWORD = "Bench-Passw0rd"
TRANSIENT_CODES = frozenset({"Throttling", "Throttling.User", "Throttling.Api", "Rejected.Throttling",
                             "ServiceUnavailable"})
ESSD = "cloud_essd"


def _fast_emulator_sockets() -> None:
    """The emulator answers headers and body in two writes; with Nagle's algorithm and delayed ACKs
    every keep-alive call then waits ~40 ms. Turning on TCP_NODELAY (a stdlib handler option) brings
    a call to ~2 ms. Asked of the protocol layer; harmless once it does it itself."""
    from aliyun_ops.emulator import server

    server._Handler.disable_nagle_algorithm = True


class Patient:
    """An SDK client whose calls are repeated while the emulator answers a transient refusal."""

    def __init__(self, client: Any, attempts: int = 10) -> None:
        self._client, self._attempts = client, attempts

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(1, self._attempts + 1):
                try:
                    return attr(*args, **kwargs)
                except Exception as exc:
                    if attempt == self._attempts or getattr(exc, "code", None) not in TRANSIENT_CODES:
                        raise
                    time.sleep(0.01 * attempt)
            raise AssertionError("unreachable")

        return call


@dataclass
class Original:
    instance_id: str
    name: str
    build_gib: int  # system + data disk GiB: what the image build time grows with
    eip: str | None = None  # the EIP's address when one is attached
    # Earlier instances of its lineage: an image of one of them is an image "of the instance" too.
    ancestors: tuple[str, ...] = ()
    # Its data disks in device order, each with the markers it held at the notice (read by ``World.notice``).
    data: list[DataDisk] = field(default_factory=list)
    # Markers its guest wrote after the notice (disk id -> markers), and writes the emulator refused.
    written: dict[str, list[str]] = field(default_factory=dict)
    refused_writes: list[str] = field(default_factory=list)


@dataclass
class DataDisk:
    device: str
    disk_id: str
    size_gib: int
    markers: list[str] = field(default_factory=list)
    status: str = "In_use"


@dataclass(frozen=True)
class ImageTimes:
    """One image's moments (emulated epoch seconds) as the emulator's model fixes them at CreateImage."""

    start: float
    usable: float  # RunInstances accepts it (instant access, or Available)
    available: float  # DescribeImages' default filter shows it (if its source is not released first)
    listed: float  # DescribeImages lists it at all (imageListLagSeconds)
    # An image made from a snapshot of the system disk: when that snapshot started and was accomplished
    # (CreateImage takes only an accomplished snapshot). None for an image made from the instance.
    snapshot_start: float | None = None
    snapshot_done: float | None = None

    def ready(self, usable: bool) -> float:
        """When a caller that waits for Usable (or only for Available) can first see it launchable."""
        return max(self.usable if usable else self.available, self.listed)

    def cloud_s(self, usable: bool) -> float:
        """The cloud's share of the way from the first write to a launchable image: the snapshot's build (if
        any) plus the image's, without the caller's round trips between them."""
        snapshot = (self.snapshot_done - self.snapshot_start) if self.snapshot_start is not None \
            and self.snapshot_done is not None else 0.0
        return snapshot + self.ready(usable) - self.start

    @property
    def steps(self) -> int:
        """Writes in sequence to get the image: CreateImage, or CreateSnapshot then CreateImage."""
        return 1 if self.snapshot_start is None else 2


@dataclass
class Notice:
    original: Original
    at: float  # emulated epoch seconds
    event: dict[str, Any]


@dataclass
class World:
    """An emulator with a scenario, for one tool."""

    label: str
    scale: float
    timing: dict[str, float] = field(default_factory=dict)
    realism: dict[str, Any] = field(default_factory=dict)  # overrides of the default scenario's realism keys
    stock: list[tuple[str, str, bool, bool | int]] = field(default_factory=list)
    emu: Any = None
    client: Any = None
    vpc: Any = None
    originals: list[Original] = field(default_factory=list)
    tool: str = "ours"
    faults: list[dict[str, Any]] = field(default_factory=list)  # extra fault rules once armed
    stale: set[tuple[str, str, bool]] = field(default_factory=set)  # see scenarios.install_stale_listing
    want_eip: bool = False
    sold_out_at_notice: bool = False  # the original zone sells out for every type right after the notice
    guest_writes: tuple[float, ...] = ()  # seconds after the notice at which each guest writes to each data disk

    def start(self) -> World:
        from aliyun_ops.deploy import load_ram_policy
        from aliyun_ops.emulator import Emulator
        from aliyun_ops.emulator.backend import load_default_scenario

        _fast_emulator_sockets()
        scenario = copy.deepcopy(load_default_scenario())
        scenario["timing"] = {**scenario.get("timing", {}), **self.timing}
        scenario["realism"] = {**scenario.get("realism", {}), **self.realism}
        self.emu = Emulator(scenario=scenario, time_scale=self.scale, function_role_policy=load_ram_policy()).start()
        self.client, self.vpc = _clients(self.emu.endpoint)
        return self

    def stop(self) -> None:
        if self.emu is not None:
            self.emu.stop()

    @property
    def backend(self) -> Any:
        return self.emu.backend

    def timing_of(self, name: str) -> float:
        return float(self.backend.timing(name))

    @property
    def up_s(self) -> float:
        """RunInstances to Running."""
        return self.timing_of("pendingSeconds") + self.timing_of("instanceBootSeconds")

    def build_s(self, gib: float) -> float:
        """Seconds to Available of an image of never-snapshotted disks totalling ``gib``, by the world's model."""
        speed = self.backend.realism.snapshot
        per_gib = 1024.0 / speed.full_mibps if speed is not None else self.timing_of("imageSecondsPerGiB")
        return self.timing_of("imageBaseSeconds") + per_gib * gib

    def gib_for(self, build_s: float) -> float:
        """The disk GiB whose first image takes ``build_s`` to be Available."""
        return (build_s - self.build_s(0)) / (self.build_s(1) - self.build_s(0))

    # ---- setup (before any latency rule: fast)
    def launch(self, name: str, *, system_gib: int = 20, data_gib: int = 0, itype: str = TYPE, zone: str = ZONE,
               vswitch: str = VSWITCH, spot: bool = True, disk: str = ESSD, password: bool = True,
               key_pair: str | None = None, tags: dict[str, str] | None = None, original: bool = True,
               data_sizes: tuple[int, ...] = (), image: str = IMAGE) -> Original:
        """Launch an original: with a password unless ``password=False``, or ``key_pair`` (no password);
        ``original=False`` for a helper instance the figures do not count. Its data disks: one of
        ``data_gib``, or one per entry of ``data_sizes`` (GiB, in device order)."""
        from alibabacloud_ecs20140526 import models as m

        sizes = data_sizes or ((data_gib,) if data_gib else ())
        data_gib = sum(sizes)
        data = [m.RunInstancesRequestDataDisk(category=disk, size=gib) for gib in sizes] or None
        made = self.client.run_instances(m.RunInstancesRequest(
            region_id=REGION, image_id=image, instance_type=itype, zone_id=zone, v_switch_id=vswitch,
            security_group_ids=GROUPS, instance_name=name, host_name=name, internet_charge_type="PayByTraffic",
            spot_strategy="SpotAsPriceGo" if spot else "NoSpot",
            password=PASSWORD if password and not key_pair else None, key_pair_name=key_pair,
            tag=[m.RunInstancesRequestTag(key=k, value=v) for k, v in (tags or {}).items()] or None,
            system_disk=m.RunInstancesRequestSystemDisk(category=disk, size=str(system_gib)),
            data_disk=data))
        made_one = Original(made.body.instance_id_sets.instance_id_set[0], name, system_gib + data_gib)
        if original:
            self.originals.append(made_one)
        return made_one

    def advance_until(self, done: Callable[[], bool], step_s: float, tries: int = 50) -> None:
        """Setup only (before any tool runs): fast-forward the emulated clock until ``done()``."""
        for _ in range(tries):
            if done():
                return
            self.emu.clock.advance(step_s)
        raise RuntimeError(f"{self.label}: setup condition not reached")

    def boot_all(self) -> None:
        """Fast-forward until every original is Running (launching many takes emulated time too)."""
        ids = {o.instance_id for o in self.originals}
        for _ in range(10):
            self.emu.clock.advance(self.timing_of("pendingSeconds") + self.timing_of("instanceBootSeconds") + 1)
            if all(i["status"] == "Running" for i in self.instances() if i["id"] in ids):
                return
        raise RuntimeError(f"{self.label}: originals did not boot")

    def attach_eip(self, original: Original) -> None:
        from alibabacloud_vpc20160428 import models as v

        made = self.vpc.allocate_eip_address(v.AllocateEipAddressRequest(region_id=REGION, bandwidth="5"))
        self.vpc.associate_eip_address(v.AssociateEipAddressRequest(
            region_id=REGION, allocation_id=made.body.allocation_id, instance_id=original.instance_id))
        original.eip = made.body.eip_address

    def prepare(self) -> None:
        """After the originals are launched: boot them, have each guest write a marker to each of its data
        disks (what a correct replacement must hold), attach EIPs, then change the stock."""
        self.boot_all()
        for original in self.originals:
            for disk in self.data_of(original.instance_id):
                self.backend.disks.write_marker(disk.disk_id, f"setup:{disk.disk_id}")
        if self.want_eip:
            for original in self.originals:
                self.attach_eip(original)
        for zone, itype, spot, available in self.stock:
            self.backend.set_stock(zone, itype, spot, available)
        self.backend.bench_stale = set(self.stale)

    def arm(self, latency: LatencyModel, qps: float | None = None) -> EmuTime:
        """Start the clock readings workers use; add the latency (and qps) rules."""
        self.emu.control.clear_faults()
        latency.apply(self.emu.control)
        if qps is not None:
            self.emu.control.faults(actions=["*"], qps_limit=latency.real_qps(qps))
        for rule in self.faults:
            self.emu.control.faults(**rule)
        return EmuTime.of(self.emu.clock)

    # ---- the incident
    def notice(self, original: Original, notice_s: float) -> Notice:
        """The spot notice; first the original's data disks and their markers at this moment."""
        with self.backend.lock:
            self.backend.settle()
            original.data = self.data_of(original.instance_id)
            at = self.emu.clock.now()
        sent = self.emu.interrupt(original.instance_id, notice_seconds=notice_s)
        with self.backend.lock:
            for disk in original.data:
                for offset in self.guest_writes:
                    self.backend.schedule(offset, functools.partial(self._guest_write, original, disk.disk_id, offset))
        if self.sold_out_at_notice:
            with self.backend.lock:
                for itype in self.backend.catalogue.types:
                    for spot in (True, False):
                        self.backend.set_stock(ZONE, itype, spot, False)
        return Notice(original, at, sent["event"])

    def _guest_write(self, original: Original, disk_id: str, offset: float) -> None:
        """Runs in the emulator's timeline (its settle, in time order): the guest writes while it runs."""
        marker = f"t+{offset:g}:{disk_id}"
        try:
            self.backend.disks.write_marker(disk_id, marker)
        except Exception as err:  # the emulator refused: the disk or instance is no longer there to write to
            original.refused_writes.append(f"{marker}: {getattr(err, 'code', '') or err}")
            return
        original.written.setdefault(disk_id, []).append(marker)

    # ---- readings
    def calls(self) -> list[dict[str, Any]]:
        return list(self.emu.journal.entries())

    def image_times(self, image_id: str) -> ImageTimes | None:
        """The image's moments from the emulator's model (None for an unknown or public image)."""
        with self.backend.lock:
            img = next((i for i in self.backend.images.items.values() if i.image_id == image_id), None)
            if img is None or not img.build_seconds:
                return None
            available = img.started_at + img.build_seconds
            usable = available if img.usable_from is None else min(img.usable_from, available)
            system = next((r.get("SnapshotId", "") for r in img.disks if r.get("Type") == "system"), "")
            snap = self.backend.disks.snapshots.get(system)
            if snap is None:
                return ImageTimes(img.started_at, usable, available, img.listed_from)
            return ImageTimes(img.started_at, usable, available, img.listed_from, snap.started_at,
                              snap.started_at + snap.build_seconds)

    def running_at(self, name: str, after: float) -> list[float]:
        """When each instance launched with this name after ``after`` is (or will be) Running."""
        return sorted(c["time"] + self.up_s for c in self.calls() if c["action"] == "RunInstances"
                      and c["status"] == 200 and c["params"].get("InstanceName") == name and c["time"] >= after)

    def instances(self) -> list[dict[str, Any]]:
        with self.backend.lock:
            self.backend.settle()
            return [_summary(i) for i in self.backend.instances.items.values()]

    def data_of(self, instance_id: str) -> list[DataDisk]:
        """The data disks attached to the instance now (any state), in device order, with their markers."""
        with self.backend.lock:
            self.backend.settle()
            inst = self.backend.instances.items.get(instance_id)
            disks = sorted((d for d in inst.disks if d.kind == "data"), key=lambda d: d.device) if inst else []
            return [DataDisk(d.device, d.disk_id, d.size, list(d.markers), d.status) for d in disks]

    def image_sources(self, image_id: str) -> set[str]:
        """The instances an image was made from: directly (CreateImage InstanceId), or through the snapshot
        of its system disk. Empty for a public image or an unknown one."""
        with self.backend.lock:
            img = next((i for i in self.backend.images.items.values() if i.image_id == image_id), None)
            if img is None or img.owner_alias != "self":
                return set()
            found = {img.source_instance_id} if img.source_instance_id else set()
            for row in img.disks:
                snap = self.backend.disks.snapshots.get(row.get("SnapshotId", ""))
                if row.get("Type") == "system" and snap is not None and snap.instance_id:
                    found.add(snap.instance_id)
            return found

    def boots(self, instance_id: str) -> list[dict[str, Any]]:
        """The emulator's boot log of the instance: each time it reached Running, with its In_use disks."""
        with self.backend.lock:
            self.backend.settle()
            return list(self.backend.instances.boot_log(instance_id))

    def wait_until(self, emulated_at: float, real_cap_s: float) -> None:
        """Sleep (really) until the emulator's clock reaches ``emulated_at``, at most ``real_cap_s``."""
        deadline = time.monotonic() + real_cap_s
        while self.emu.clock.now() < emulated_at and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.001, (emulated_at - self.emu.clock.now()) / self.scale)))


def _summary(inst: Any) -> dict[str, Any]:
    return {"id": inst.instance_id, "name": inst.launch.name, "hostname": inst.launch.hostname,
            "status": inst.status, "zone": inst.zone_id, "vpc": inst.vpc_id, "type": inst.instance_type,
            "groups": sorted(inst.launch.security_group_ids), "public_ip": inst.public_ip,
            "image_id": inst.launch.image_id}


def _clients(endpoint: str) -> tuple[Any, Any]:
    from alibabacloud_ecs20140526.client import Client as Ecs
    from alibabacloud_tea_openapi.models import Config
    from alibabacloud_vpc20160428.client import Client as Vpc

    config = Config(access_key_id=SETUP_KEY[0], access_key_secret=SETUP_KEY[1], region_id=REGION,
                    endpoint=endpoint, protocol="http")
    return Patient(Ecs(config)), Patient(Vpc(config))


def eip_holder(world: World, address: str) -> str | None:
    """The instance an EIP address is associated with now (None when it is not associated)."""
    with world.backend.lock:
        for eip in world.backend.network.eips.values():
            if eip.ip_address == address:
                return str(eip.instance_id) or None
    return None
