"""``aliyun-ops demo``: the whole story on one machine, in seconds, with nothing to configure.

1. An emulated Alibaba Cloud (ECS + VPC) starts in-process, its clock running ``time_scale`` times
   faster than the wall clock.
2. A spot instance is created through the official SDK as a user would have made it: name,
   hostname, key pair, RAM role, tags, two security groups, user data and an elastic IP.
3. The runtime server (the Function Compute custom runtime) starts on 127.0.0.1.
4. The emulator reclaims the instance (its zone/type then sold out) and delivers the notice to it.
5. The instance has a 100 GiB data disk; its guest writes a marker to it at the start and another one
   second before the release. The engine keeps the disk, images the system disk only, holds the
   replacement stopped, attaches the disk once the cloud has released the original, starts it, and moves
   the elastic IP. The demo checks the outcome through the SDK, not through the record: exit 0 only when
   the replacement is Running with the original's public IP and its data disk holds the last-second marker.

The engine runs on the emulator's clock (``clock``/``sleep`` injected), so the timeline reads in
cloud seconds: a 70 s image and the 300 s notice, not the few real seconds they take here.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from aliyun_ops.cli import render
from aliyun_ops.cli.common import CliFailure, JsonOpt, console, emit_json, one_line_errors
from aliyun_ops.cli.progress import ImageWatcher
from aliyun_ops.models import Image, IncidentRecord

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.emulator import Emulator

REGION = "cn-hangzhou"
ZONE = "cn-hangzhou-i"
VSWITCH = "vsw-bp1emu00000000000i"
SECURITY_GROUPS = ["sg-bp1emu000000000web", "sg-bp1emu000000000ssh"]
BASE_IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"
INSTANCE_TYPE = "ecs.c7.large"
USER_DATA = "#!/bin/sh\nsystemctl enable --now nginx\n"
NOTICE_S = 300.0
FIRST_MARKER = "orders.db: order 1041 (written at boot)"
LAST_MARKER = "orders.db: order 1042 (written 1 s before the release)"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)


@dataclass
class Story:
    """What the demo saw, on the emulator's clock: merged into one timeline at the end."""

    clock: Any
    events: list[tuple[float, str]] = field(default_factory=list)
    outcome: Any = None
    error: str = ""
    _seen: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, what: str, once: str | None = None) -> None:
        with self._lock:
            if once is not None:
                if once in self._seen:
                    return
                self._seen.add(once)
            self.events.append((self.clock(), what))

    def on_image(self, image: Image) -> None:
        for mark in (25, 50, 75):
            if image.status == "Creating" and image.progress >= mark:
                self.note(f"image {image.image_id} {image.progress}%", once=f"img{mark}")

    def on_cloud(self, kind: str, info: dict[str, Any]) -> None:
        if kind == "state_change" and info.get("state") in ("Running", "Deleted", "Stopped"):
            self.note(
                f"cloud: {info.get('instanceId')} {info['state']}", once=f"{info.get('instanceId')}:{info['state']}"
            )


def seed_instance(cloud: Cloud, emu: Emulator) -> tuple[str, str]:
    """A spot web server as a user would have it, through the official SDK; returns (id, public IP)."""
    params: dict[str, Any] = {
        "ImageId": BASE_IMAGE,
        "InstanceType": INSTANCE_TYPE,
        "ZoneId": ZONE,
        "VSwitchId": VSWITCH,
        "SecurityGroupIds": SECURITY_GROUPS,
        "InstanceName": "shop-web-1",
        "HostName": "shop-web-1",
        "KeyPairName": "ops-key",
        "RamRoleName": "shop-web-role",
        "SpotStrategy": "SpotAsPriceGo",
        "InstanceChargeType": "PostPaid",
        "InternetMaxBandwidthOut": 0,
        "SystemDisk": {"Category": "cloud_essd", "Size": 40},
        "DataDisk": [{"Category": "cloud_essd", "Size": 100, "PerformanceLevel": "PL1"}],
        "UserData": base64.b64encode(USER_DATA.encode()).decode(),
        "Tag": [{"Key": "app", "Value": "shop"}, {"Key": "env", "Value": "demo"}],
        "Amount": 1,
    }
    body = cloud.call("ecs", "RunInstances", params)
    instance_id = str(body["InstanceIdSets"]["InstanceIdSet"][0])
    emu.clock.advance(40)  # boot (Pending -> Starting -> Running) before the story starts
    eip = cloud.call("vpc", "AllocateEipAddress", {"Bandwidth": "5", "InternetChargeType": "PayByTraffic"})
    cloud.associate_eip(str(eip["AllocationId"]), instance_id, "demo-eip-" + instance_id[-12:])
    return instance_id, str(eip["EipAddress"])


def data_disk(cloud: Cloud, instance_id: str) -> str:
    (disk,) = [d for d in cloud.describe_disks(instance_id) if d.kind == "data"]
    return disk.disk_id


def verify(
    cloud: Cloud, record: IncidentRecord | None, old_id: str, ip: str, markers: Callable[[str], list[str]]
) -> tuple[bool, str]:
    """Through the SDK: the replacement is Running, holds the original's public IP, and its data disk holds
    what the guest wrote one second before the release."""
    if record is None or not record.new_instance_id:
        return False, "no replacement was launched"
    new = cloud.describe_instance(record.new_instance_id)
    if new is None or new.status != "Running":
        return False, f"replacement {record.new_instance_id} is {new.status if new else 'missing'}"
    holders = [e.ip_address for e in cloud.describe_eips(instance_id=new.instance_id)]
    if ip not in holders:
        return False, f"replacement {new.instance_id} does not hold {ip} (has {holders or 'none'})"
    disks = [d for d in cloud.describe_disks(new.instance_id) if d.kind == "data"]
    if len(disks) != 1 or LAST_MARKER not in markers(disks[0].disk_id):
        return False, f"replacement {new.instance_id} lacks the data written before the release"
    old = cloud.describe_instance(old_id)
    gone = "released" if old is None else f"still {old.status}"
    return True, (
        f"{new.instance_id} is Running with {ip} and data disk {disks[0].disk_id} holding the last-second write; "
        f"the original {old_id} is {gone}"
    )


def notify_environ() -> dict[str, str]:
    """The notification settings of this shell (``ALIYUN_OPS_NOTIFY_*``): the demo's engine sends to the channels
    the user configured, as the deployed function would; nothing else of the environment reaches it."""
    import os

    from aliyun_ops.notify import ENV_VARS

    return {name: value for name in ENV_VARS.values() if (value := os.environ.get(name))}


def engine_handle(story: Story, emu: Emulator, scale: float) -> Any:
    """``service.handle_event`` on the emulator's clock, remembering the outcome for the demo."""
    from aliyun_ops import service

    def handle(*args: Any, **kwargs: Any) -> Any:
        story.note("aliyun-ops: notice received (POST /invoke)")
        kwargs.update(clock=emu.clock.now, sleep=lambda s: time.sleep(max(s, 0.0) / scale))
        try:
            story.outcome = service.handle_event(*args, **kwargs)
        except Exception as exc:  # the runtime answers 5xx for it; the demo tells why
            story.error = f"{type(exc).__name__}: {exc}"
            raise
        return story.outcome

    return handle


@dataclass
class DemoResult:
    ok: bool
    message: str
    record: IncidentRecord | None
    events: list[tuple[float, str]]
    origin: float
    disk_rows: list[tuple[str, str, str]] = field(default_factory=list)


def run_demo(time_scale: float, out: Console) -> DemoResult:
    """Everything in one process; the emulator and the runtime server stop before this returns."""
    from aliyun_ops import emulator as em
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Credentials, Settings
    from aliyun_ops.deploy import load_ram_policy
    from aliyun_ops.emulator import Emulator
    from aliyun_ops.runtime.invoke import Runner
    from aliyun_ops.runtime.server import RuntimeServer

    # The user (admin key) sets the scene; the function runs as its RAM role: STS credentials limited
    # by the shipped least-privilege policy, exactly as deployed.
    creds = Credentials(em.DEFAULT_ACCESS_KEY_ID, em.DEFAULT_ACCESS_KEY_SECRET)
    environ = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": em.FUNCTION_ROLE_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": em.FUNCTION_ROLE_ACCESS_KEY_SECRET,
        "ALIBABA_CLOUD_SECURITY_TOKEN": em.FUNCTION_ROLE_SECURITY_TOKEN,
        **notify_environ(),
    }
    with Emulator(time_scale=time_scale, function_role_policy=load_ram_policy(pass_roles=["shop-web-role"])) as emu:
        settings = Settings(region_id=REGION, ecs_endpoint=emu.endpoint, vpc_endpoint=emu.endpoint, protocol="http")
        cloud = Cloud(creds, settings)
        old_id, ip = seed_instance(cloud, emu)
        disk_id = data_disk(cloud, old_id)
        emu.control.write_marker(disk_id, FIRST_MARKER)
        out.print(
            f"Created spot instance [bold]shop-web-1[/] ({old_id}, {INSTANCE_TYPE} in {ZONE}) with key pair, "
            f"RAM role, tags, two security groups, user data, elastic IP [bold]{ip}[/] and a 100 GiB data disk "
            f"({disk_id}) its guest writes to."
        )
        story = Story(emu.clock.now)
        emu.backend.add_listener(story.on_cloud)
        runner = Runner(settings, environ, handle=engine_handle(story, emu, time_scale))  # build_notifier(environ)
        channels = [c.name for c in getattr(runner.notifier(), "channels", ())]
        if channels:
            out.print(f"Notifications go to the configured channels: {', '.join(channels)}.")
        with RuntimeServer(port=0, runner=runner) as runtime:
            out.print(f"aliyun-ops runtime listening on {runtime.url}/invoke. The cloud now reclaims {old_id}.")
            delivered: dict[str, Any] = {}

            def last_write() -> None:  # the guest keeps working until the very end
                emu.backend.disks.write_marker(disk_id, LAST_MARKER)
                story.note(f"guest: wrote '{LAST_MARKER}' to {disk_id}")

            def reclaim() -> None:
                story.note(f"cloud: spot notice for {old_id}, released in 300 s; {INSTANCE_TYPE} in {ZONE} sold out")
                emu.backend.schedule(NOTICE_S - 1, last_write)
                delivered.update(emu.interrupt(old_id, deliver_to=f"{runtime.url}/invoke", mark_sold_out=True))

            worker = threading.Thread(target=reclaim, name="demo-reclaim", daemon=True)
            worker.start()
            with ImageWatcher(lambda: Cloud(creds, settings), old_id, out, on_update=story.on_image):
                worker.join()
        record = story.outcome.record if story.outcome is not None else None
        if record is None:
            answer = (delivered.get("delivered") or {}).get("status")
            why = story.error[:300] or "no replacement"
            return DemoResult(False, f"the runtime answered HTTP {answer}: {why}", None, story.events, 0.0)
        ok, message = verify(cloud, record, old_id, ip, emu.control.markers)
        origin = story.events[0][0] if story.events else record.started_at
        rows = [("data disk", f"{disk_id} 100 GiB cloud_essd", _disk_on(cloud, record.new_instance_id))]
        after_markers = emu.control.markers(disk_id) if rows[0][2].startswith(disk_id) else []
        rows.append(("last write on it", LAST_MARKER, after_markers[-1] if after_markers else "-"))
        return DemoResult(ok, message, record, story.events, origin, rows)


def _disk_on(cloud: Cloud, instance_id: str | None) -> str:
    disks = [d for d in cloud.describe_disks(instance_id) if d.kind == "data"] if instance_id else []
    return ", ".join(f"{d.disk_id} {d.size_gib} GiB {d.category} at {d.device}" for d in disks) or "-"


def show(result: DemoResult, out: Console) -> None:
    if result.record is not None:
        merged = sorted([*result.record.timeline, *result.events], key=lambda e: e[0])
        out.print(render.timeline_table(merged, result.origin))
        out.print(render.summary_table(result.record.before, result.record.after, result.disk_rows))
    mark = "[bold green]OK[/]" if result.ok else "[bold red]FAILED[/]"
    out.print(f"{mark} {result.message}")
    if result.ok:
        out.print(
            "Next: `aliyun-ops emulator --sample` in one terminal (it prints a spot instance id), then try "
            "`aliyun-ops plan ID`, `replace ID`, `status` with --endpoint 127.0.0.1:8900 (see the README)."
        )


@one_line_errors
def demo_cmd(
    time_scale: Annotated[
        float, typer.Option("--time-scale", min=1.0, help="Emulated seconds per real second (20: ~15 s).")
    ] = 20.0,
    json_out: JsonOpt = False,
) -> None:
    """See aliyun-ops work, locally, in about 15 seconds: a spot instance is reclaimed and replaced."""
    out = Console(file=io.StringIO()) if json_out else console()
    out.print(
        f"[bold]aliyun-ops demo[/]: an emulated Alibaba Cloud runs here (time x{time_scale:g}); a spot "
        "instance will be reclaimed and aliyun-ops will replace it, keeping its identity and public IP."
    )
    result = run_demo(time_scale, out)
    if json_out:
        if result.record is None:
            raise CliFailure(result.message)
        emit_json(result.record.to_dict())
    else:
        show(result, out)
    if not result.ok:
        if json_out:
            raise CliFailure(result.message)
        raise typer.Exit(1)
