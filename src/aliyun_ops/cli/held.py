"""``start-held``: the one way to start a replacement that is held stopped because a data disk is missing.

A replacement waits, stopped, until every data-disk slot its original had is filled (``recovery.resume``). When a
disk is gone for good (its user deleted it, or wants it on another server), only its user can decide that the
server may boot without it: ``aliyun-ops start-held i-... --without /dev/xvdc``. Nothing else starts it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from aliyun_ops import errors, models
from aliyun_ops.cli.common import CliFailure, EndpointOpt, JsonOpt, RegionOpt, console, emit_json, one_line_errors


def register(app: typer.Typer) -> None:
    app.command("start-held")(start_held_cmd)


def device_name(text: str) -> str:
    """``xvdc`` or ``/dev/xvdc`` -> ``/dev/xvdc``."""
    name = text.strip()
    if not name or "/" in name.removeprefix("/dev/") or not name.removeprefix("/dev/").isalnum():
        raise CliFailure(f"--without takes a device name such as /dev/xvdc, got {text!r}")
    return name if name.startswith("/dev/") else "/dev/" + name


@one_line_errors
def start_held_cmd(
    instance_id: Annotated[str, typer.Argument(help="The held replacement, e.g. i-bp1...")],
    without: Annotated[
        list[str] | None,
        typer.Option("--without", metavar="DEVICE", help="A data-disk slot to start without (repeatable)."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    region: RegionOpt = None,
    endpoint: EndpointOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Finish a replacement held for its data disks: attach every disk it can find, start it, move its elastic IP.
    It stays stopped while a slot has no disk, unless you name that slot with --without."""
    from aliyun_ops.cli.common import open_cloud
    from aliyun_ops.cli.incident import find_instance
    from aliyun_ops.recovery.resume import expected_slots, finish_held
    from aliyun_ops.service import effective_deadline

    skip = sorted({device_name(d) for d in without or []})
    cloud, settings = open_cloud(region, endpoint, bounded=False)
    held = find_instance(cloud, instance_id)
    original = held.tag(models.TAG_REPLACES)
    if held.tag(models.TAG_DISKS) != "pending" or not original:
        raise CliFailure(f"{instance_id} is not a replacement held for its data disks (tag {models.TAG_DISKS})")
    if cloud.describe_instance(original) is not None:
        raise CliFailure(f"{instance_id} replaces {original}, which still exists: its disks are freed by its release")
    slots = expected_slots(cloud, held)
    unknown = [d for d in skip if d not in {s.device for s in slots}]
    if unknown:
        have = ", ".join(s.device for s in slots) or "none"
        raise CliFailure(f"{', '.join(unknown)}: not a data-disk slot of {original} (its slots: {have})")
    if skip and json_out and not yes:
        raise CliFailure("start-held --without --json starts a server without data: add --yes")
    if skip and not yes:
        named = "; ".join(s.describe() for s in slots if s.device in skip)
        if not typer.confirm(f"Start {instance_id} WITHOUT {named}?"):
            raise typer.Exit(1)
    deadline = effective_deadline(settings, None, cloud.clock())
    try:
        said = finish_held(cloud, held, deadline=deadline, poll_s=settings.image_poll_max_s, skip=skip)
    except errors.DataUnavailable as exc:
        raise CliFailure(f"{exc}; name the slot with --without DEVICE to start without it") from exc
    if json_out:
        emit_json({"status": "started", "instance_id": instance_id, "without": skip, "log": said})
        return
    out = console()
    for line in said:
        out.print(line)
    out.print(f"[bold green]{instance_id} started[/]" + (f" without {', '.join(skip)}" if skip else ""))
