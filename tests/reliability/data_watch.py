"""What a user would check about a lineage's data disks after a reclaim, seen from the guest (issue 19).

Every data disk of the original gets one marker per slot before the notice (``<device>:early``) and one a second
before the release (``<device>:last``), so any disk that holds a slot's data says so, wherever the engine moved or
copied it. ``Watch`` looks at the lineage again and again during a scenario and keeps the counts:

- **blank start**: a replacement that served (Running, not held: not tagged ``aops:disks=pending``) without every
  slot's data, or booted again (any boot after its first, the hold's) without it. Seen at any look, even if a later
  look finds the disk attached: it started blank once.
- **markers lost**: at the end, the slots' markers missing from the final Running replacement's data disks (every
  marker of every slot when no replacement runs). A slot whose disk the cloud deleted with the original before the
  engine made any call that could keep it is *unsaveable* (counted apart): no engine could have saved it.
- **unrecorded**: the delivery was killed after the call that kept the disks and before any call that records them
  (the system snapshot with the slot record, a disk label) reached the cloud. The keep and the snapshot are the
  incident's first writes, sent side by side; no single API call does both. The kept disks then carry nothing that
  ties them to the instance once it is released: counted apart, with their markers and disks (docs/reliability.md).
- **orphans**: at the end, disks of the lineage (the original's data and system disks, copies, anything tagged with
  its id) left detached, while no held replacement is waiting for them: nothing will use or delete them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aliyun_ops.models import TAG_DISK_OF, TAG_DISKS, TAG_LINEAGE, TAG_REPLACES, TAG_SYSTEM_OF
from tests.functional.engine_support import REGION, World, tags_of

NOTICE_S = 300.0


def region_disks(world: World) -> list[dict[str, Any]]:
    """Every disk of the region, through DescribeDisks paging, as a user lists them."""
    from alibabacloud_ecs20140526 import models as ecs_models

    out: list[dict[str, Any]] = []
    page = 1
    while True:
        req = ecs_models.DescribeDisksRequest(region_id=REGION, page_size=100, page_number=page)
        rows = world.ecs.describe_disks_with_options(req, world.rt).body.to_map()["Disks"]["Disk"]
        out.extend(rows)
        if len(rows) < 100:
            return out
        page += 1


def markers_of(world: World, disk_id: str) -> list[str]:
    """What the guest wrote on the disk (empty when the disk no longer exists)."""
    backend = world.emu.backend
    with backend.lock:
        backend.settle()
        disk = backend.disks.items.get(disk_id)
        return list(disk.markers) if disk is not None else []


def boots_of(world: World, instance_id: str) -> list[dict[str, Any]]:
    backend = world.emu.backend
    with backend.lock:
        backend.settle()
        try:
            boots: list[dict[str, Any]] = backend.instances.boot_log(instance_id)
        except Exception:  # an id the emulator never knew
            return []
        return boots


def mark_slots(world: World, old: str) -> dict[str, str]:
    """Write ``<device>:early`` on each data disk of ``old`` now, and ``<device>:last`` one second before the
    release; the slots, device -> original disk id."""
    rows = [d for d in region_disks(world) if d.get("InstanceId") == old and d["Type"] == "data"]
    slots = {d["Device"]: d["DiskId"] for d in rows}
    backend = world.emu.backend
    for device, disk_id in slots.items():
        world.emu.control.write_marker(disk_id, f"{device}:early")

    def last_second() -> None:
        for device, disk_id in slots.items():
            backend.disks.write_marker(disk_id, f"{device}:last")

    backend.schedule(NOTICE_S - 1.0, last_second)
    return slots


def kept_in_journal(world: World, disk_id: str) -> bool:
    """Did any successful call ask for ``disk_id`` to outlive its instance (DeleteWithInstance=false)?"""
    for call in world.emu.journal.entries():
        if call["action"] == "ModifyDiskAttribute" and call["status"] == 200 and disk_id in json.dumps(call["params"]):
            return True
    return False


def recorded_in_journal(world: World, disk_ids: list[str]) -> bool:
    """Did any successful call record these disks: a snapshot of one (the system snapshot carries the slot record) or
    a label on one?"""
    for call in world.emu.journal.entries():
        if call["status"] != 200 or call["action"] not in ("CreateSnapshot", "TagResources"):
            continue
        text = json.dumps(call["params"])
        if any(d and d in text for d in disk_ids):
            return True
    return False


@dataclass
class Watch:
    """One reclaimed original and its data, looked at by ``look`` and judged by ``finish``."""

    world: World
    old: str
    slots: dict[str, str]  # device -> original disk id
    system_disk: str = ""
    seen: set[str] = field(default_factory=set)  # lineage instance ids ever seen
    blank: set[str] = field(default_factory=set)  # instance ids that started blank
    slot_of_disk: dict[str, set[str]] = field(default_factory=dict)  # disk id -> slots whose data it holds
    unsaveable: set[str] = field(default_factory=set)  # slots the cloud deleted before any keep
    unrecorded: bool = False  # kept, then killed before any record of the disks reached the cloud

    def lineage(self, instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
        mine = []
        for inst in instances:
            tags = tags_of(inst)
            if inst["InstanceId"] != self.old and self.old in (tags.get(TAG_REPLACES), tags.get(TAG_LINEAGE)):
                mine.append(inst)
        return mine

    def _slots_on(self, disk_id: str) -> set[str]:
        found = {m.rsplit(":", 1)[0] for m in markers_of(self.world, disk_id) if m.endswith(":early")}
        if found:
            self.slot_of_disk[disk_id] = found
        return self.slot_of_disk.get(disk_id, set())

    def held_data(self, instance_id: str, disks: list[dict[str, Any]]) -> set[str]:
        """The slots whose data is on a data disk attached to the instance."""
        out: set[str] = set()
        for d in disks:
            if d.get("InstanceId") == instance_id and d["Type"] == "data" and d["Status"] == "In_use":
                out |= self._slots_on(d["DiskId"])
        return out

    def look(self) -> None:
        """One look at the lineage: any replacement serving or booted again without every slot's data is blank."""
        instances = self.world.instances()
        disks = region_disks(self.world)
        for d in disks:
            self._slots_on(d["DiskId"])
        for inst in self.lineage(instances):
            iid = inst["InstanceId"]
            self.seen.add(iid)
            held = tags_of(inst).get(TAG_DISKS) == "pending"
            if inst["Status"] == "Running" and not held and self.held_data(iid, disks) < self.wanted():
                self.blank.add(iid)
        for iid in self.seen:
            for boot in boots_of(self.world, iid)[1:]:
                covered: set[str] = set()
                unknown = 0
                for d in boot["disks"]:
                    if d["kind"] != "data":
                        continue
                    slots = self.slot_of_disk.get(d["diskId"], set())
                    covered |= slots
                    unknown += 0 if slots or not d["markers"] else 1
                if len(covered & self.wanted()) + unknown < len(self.wanted()):
                    self.blank.add(iid)

    def wanted(self) -> set[str]:
        return set(self.slots) - self.unsaveable

    def after_release(self) -> None:
        """Note the slots the cloud destroyed with the original because nothing had kept them yet."""
        present = {d["DiskId"] for d in region_disks(self.world)}
        for device, disk_id in self.slots.items():
            if disk_id not in present and not kept_in_journal(self.world, disk_id):
                self.unsaveable.add(device)
        ids = [*self.slots.values(), self.system_disk]
        kept = any(kept_in_journal(self.world, d) for d in self.slots.values())
        self.unrecorded = kept and not recorded_in_journal(self.world, ids)

    def final(self) -> dict[str, Any]:
        """The end state: the final replacement, markers lost, orphans, and whether one is still held."""
        self.look()
        instances = self.world.instances()
        disks = region_disks(self.world)
        live = [i for i in self.lineage(instances) if i["Status"] not in ("Deleted",)]
        running = [i for i in live if i["Status"] == "Running" and tags_of(i).get(TAG_DISKS) != "pending"]
        held = [i for i in live if tags_of(i).get(TAG_DISKS) == "pending"]
        lost = 0
        final_id = ""
        best: list[str] = []
        for inst in running:
            on = [
                m
                for d in disks
                if d.get("InstanceId") == inst["InstanceId"] and d["Type"] == "data"
                for m in markers_of(self.world, d["DiskId"])
            ]
            if len(on) >= len(best):
                best, final_id = on, inst["InstanceId"]
        for device in sorted(self.wanted()):
            lost += sum(1 for m in (f"{device}:early", f"{device}:last") if m not in best)
        mine = set(self.slots.values()) | {self.system_disk}
        orphans = [
            d["DiskId"]
            for d in disks
            if d["Status"] == "Available"
            and (d["DiskId"] in mine or self.old in (tags_of(d).get(TAG_DISK_OF), tags_of(d).get(TAG_SYSTEM_OF)))
        ]
        return {
            "final": final_id,
            "running": len(running),
            "held": len(held),
            "markers_lost": lost,
            "orphans": [] if held else orphans,
            "waiting_for_held": orphans if held else [],
            "blank": sorted(self.blank),
        }


class KilledAt(BaseException):
    """The function was killed (not an Exception: nothing in the engine catches it)."""


def deliver_killed_after(world: World, event: dict[str, Any], action: str, nth: int = 1, **overrides: Any) -> None:
    """Deliver ``event`` to an engine killed as the answer to its ``nth`` successful ``action`` call arrives (the
    call took effect); the delivery must reach it."""
    import threading

    from aliyun_ops.cloud.sdk import Sdk

    real = Sdk.call
    seen = [0]
    lock = threading.Lock()

    def call(sdk: Sdk, product: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
        with lock:
            if seen[0] >= nth:
                raise KilledAt(f"dead before {name}")
        result = real(sdk, product, name, params)
        with lock:
            if name == action:
                seen[0] += 1
                if seen[0] == nth:
                    raise KilledAt(f"killed after {name}")
        return result

    Sdk.call = call  # type: ignore[method-assign,assignment]
    try:
        world.handle(event, **overrides)
    except KilledAt:
        return
    finally:
        Sdk.call = real  # type: ignore[method-assign]
    raise AssertionError(f"the delivery ended before its {nth} {action} call")


class Told:
    """A notifier that keeps what the user would be told."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def incident_started(self, record: Any) -> None:
        self.records.append(record)

    def incident_finished(self, record: Any) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        return [f"{r.status} {r.reason} {getattr(r, 'error', '')} {' '.join(w for _, w in r.timeline)}"
                for r in self.records]


def reconcile_pass(world: World, told: Told, **overrides: Any) -> tuple[list[str], str]:
    """One reconcile pass told to ``told``: the outcomes' words, and the error it raised ('' when none)."""
    from aliyun_ops import service
    from tests.functional.engine_support import CREDS, settings

    try:
        outcomes = service.reconcile(
            settings=settings(world.emu, **overrides),
            credentials=CREDS,
            notifier=told,
            sleep=world.advance,
            clock=world.emu.clock.now,
        )
    except Exception as exc:
        return [], f"{type(exc).__name__}: {exc}"
    return [f"{o.status}: {o.message} {o.record.reason if o.record else ''}" for o in outcomes], ""
