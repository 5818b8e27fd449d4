"""Read-mostly commands: ``probe`` (stock and prices), ``status`` (managed instances, images, cost),
``images`` (the lineage images kept) and ``images prune``. They go through the engine's ``Cloud`` client, so
what they show is what the engine sees when a notice arrives.
"""

from __future__ import annotations

import calendar
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aliyun_ops import models, orchestrators
from aliyun_ops.cli import render
from aliyun_ops.cli.common import EndpointOpt, JsonOpt, RegionOpt, console, emit_json, one_line_errors, open_cloud
from aliyun_ops.models import TAG_GENERATION, TAG_IMAGE_OF, TAG_INCIDENT, TAG_LINEAGE, TAG_REPLACES

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud

images_app = typer.Typer(
    help="Images made by aliyun-ops: lists them; `images prune` deletes the older ones.", invoke_without_command=True
)


def register(app: typer.Typer) -> None:
    app.command("probe")(probe_cmd)
    app.command("status")(status_cmd)
    images_app.callback()(images_cmd)
    images_app.command("prune")(prune_cmd)
    app.add_typer(images_app, name="images")


# -- probe ---------------------------------------------------------------------------------------
def probe_rows(cloud: Cloud, cores: int, memory: float, arch: str | None, zone: str | None) -> list[dict[str, Any]]:
    """Every (zone, type) of that size: stock, spot and pay-as-you-go price; in stock and cheapest first."""
    filters: dict[str, Any] = {
        "MinimumCpuCoreCount": cores,
        "MaximumCpuCoreCount": cores,
        "MinimumMemorySize": memory,
        "MaximumMemorySize": memory,
    }
    if arch:
        filters["CpuArchitecture"] = arch
    types = {t.type_id: t for t in cloud.describe_instance_types(**filters)}
    offerings = [
        o
        for o in cloud.describe_available_resource(spot=True, cores=cores, memory_gib=memory, zone_id=zone)
        if o.instance_type in types
    ]
    prices: dict[tuple[str, str], models.SpotPrice] = {}
    for type_id in sorted({o.instance_type for o in offerings}):
        for sp in cloud.describe_spot_prices(type_id, zone):
            prices[(sp.zone_id, sp.instance_type)] = sp
    rows = [_probe_row(o, types[o.instance_type], prices.get((o.zone_id, o.instance_type))) for o in offerings]
    rows.sort(key=lambda r: (not r["in_stock"], r["spot_price"] is None, r["spot_price"] or 0.0, r["zone"]))
    return rows


def _probe_row(o: models.Offering, t: models.InstanceType, sp: models.SpotPrice | None) -> dict[str, Any]:
    saving = 1 - sp.spot_price / sp.origin_price if sp and sp.origin_price else None
    return {
        "zone": o.zone_id,
        "instance_type": t.type_id,
        "cpu": t.cpu,
        "memory_gib": t.memory_gib,
        "arch": t.arch,
        "in_stock": o.in_stock,
        "stock": "in stock" if o.in_stock else "sold out",
        "spot_price": sp.spot_price if sp else None,
        "payg_price": sp.origin_price if sp else None,
        "saving": None if saving is None else round(saving, 4),
    }


PROBE_COLUMNS = (
    ("zone", "zone"),
    ("instance_type", "type"),
    ("cpu", "vCPU"),
    ("memory_gib", "GiB"),
    ("arch", "arch"),
    ("stock", "stock"),
    ("spot_price", "spot price"),
    ("payg_price", "pay-as-you-go"),
    ("saving", "saving"),
)


@one_line_errors
def probe_cmd(
    cores: Annotated[int, typer.Option("--cores", min=1, help="vCPUs.")],
    memory: Annotated[float, typer.Option("--memory", min=0.5, help="Memory in GiB.")],
    arch: Annotated[str | None, typer.Option("--arch", help="X86 or ARM.")] = None,
    zone: Annotated[str | None, typer.Option("--zone", help="Only this zone.")] = None,
    region: RegionOpt = None,
    endpoint: EndpointOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Spot stock and prices of every type of this size, across zones, cheapest first."""
    cloud, _ = open_cloud(region, endpoint)
    rows = probe_rows(cloud, cores, memory, arch.upper() if arch else None, zone)
    if json_out:
        emit_json(rows)
        return
    title = f"Spot offers for {cores} vCPU / {memory:g} GiB in {cloud.region_id}, cheapest first"
    console().print(render.rows_table(title, rows, PROBE_COLUMNS))
    if not rows:
        console().print("No instance type of that size is offered here.")


# -- status --------------------------------------------------------------------------------------
def managed(cloud: Cloud) -> list[models.Instance]:
    """Instances the engine watches: every lineage member, and every spot instance not opted out."""
    return [
        i
        for i in cloud.describe_instances()
        if i.tag(TAG_LINEAGE) or (i.is_spot and i.tag(models.TAG_MANAGED) != "false")
    ]


def month_start(now: float) -> float:
    t = time.gmtime(now)
    return float(calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)))


def instance_row(cloud: Cloud, inst: models.Instance, now: float) -> dict[str, Any]:
    """One managed instance with this month's cost at its current spot price against pay-as-you-go."""
    prices = cloud.describe_spot_prices(inst.instance_type, inst.zone_id)
    price = next((p for p in prices if p.zone_id == inst.zone_id), None)
    created = models.parse_time(inst.creation_time)
    hours = max(0.0, now - max(created or month_start(now), month_start(now))) / 3600
    spot = price.spot_price if price and inst.is_spot else (price.origin_price if price else None)
    return {
        "instance_id": inst.instance_id,
        "name": inst.name,
        "status": inst.status,
        "instance_type": inst.instance_type,
        "zone": inst.zone_id,
        "lineage": inst.tag(TAG_LINEAGE) or inst.instance_id,
        "generation": int(inst.tag(TAG_GENERATION) or 0),
        "replaces": inst.tag(TAG_REPLACES),
        "incident": inst.tag(TAG_INCIDENT),
        "public_ip": inst.eip.ip_address if inst.eip else (inst.public_ips[0] if inst.public_ips else None),
        "created": inst.creation_time,
        "hours_this_month": round(hours, 2),
        "spot_price": spot,
        "payg_price": price.origin_price if price else None,
        "cost": None if spot is None else round(spot * hours, 2),
        "payg_cost": None if price is None else round(price.origin_price * hours, 2),
        "owner": orchestrators.owner(inst.tags) or None,  # its Auto Scaling group or ACK: left to it
    }


def status_data(cloud: Cloud, now: float | None = None) -> dict[str, Any]:
    watched = managed(cloud)
    now = cloud.cloud_time() if now is None else now  # the cloud's clock: creation times are the cloud's
    rows = [instance_row(cloud, i, now) for i in watched]
    rows.sort(key=lambda r: (r["lineage"], r["generation"]))
    images = [i for i in cloud.describe_images() if i.tag(TAG_IMAGE_OF)]
    replaced = [r for r in rows if r["replaces"]]
    last = max(replaced, key=lambda r: (r["created"], r["instance_id"]), default=None)
    cost = sum(r["cost"] or 0.0 for r in rows)
    payg = sum(r["payg_cost"] or 0.0 for r in rows)
    return {
        "region": cloud.region_id,
        "instances": rows,
        "last_incident": _last_incident(last),
        "images": [
            {
                "image_id": i.image_id,
                "name": i.name,
                "status": i.status,
                "lineage": i.tag(TAG_LINEAGE),
                "image_of": i.tag(TAG_IMAGE_OF),
                "created": i.creation_time,
            }
            for i in images
        ],
        "month": {"cost": round(cost, 2), "payg_cost": round(payg, 2), "saved": round(payg - cost, 2)},
    }


def _last_incident(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"incident": row["incident"], "replaced": row["replaces"], "by": row["instance_id"], "at": row["created"]}


STATUS_COLUMNS = (
    ("lineage", "lineage"),
    ("generation", "gen"),
    ("instance_id", "instance"),
    ("name", "name"),
    ("status", "status"),
    ("instance_type", "type"),
    ("zone", "zone"),
    ("public_ip", "public IP"),
    ("spot_price", "spot price"),
    ("cost", "cost this month"),
    ("payg_cost", "pay-as-you-go"),
)
IMAGE_COLUMNS = (
    ("image_id", "image"),
    ("lineage", "lineage"),
    ("image_of", "of instance"),
    ("status", "status"),
    ("created", "created"),
)


@one_line_errors
def status_cmd(region: RegionOpt = None, endpoint: EndpointOpt = None, json_out: JsonOpt = False) -> None:
    """Managed instances, their lineage, the last incident, the images kept and this month's cost."""
    cloud, _ = open_cloud(region, endpoint)
    data = status_data(cloud)
    if json_out:
        emit_json(data)
        return
    out = console()
    out.print(render.rows_table(f"Managed instances in {data['region']}", data["instances"], STATUS_COLUMNS))
    for row in (r for r in data["instances"] if r["owner"]):
        said = orchestrators.left_alone(row["instance_id"], row["owner"])
        out.print(f"Not replaced: {said}.", markup=False, highlight=False)
    last = data["last_incident"]
    out.print(
        "Last incident: none"
        if last is None
        else f"Last incident: {last['incident']}: {last['replaced']} replaced by {last['by']} ({last['at']})"
    )
    out.print(render.rows_table("Images kept", data["images"], IMAGE_COLUMNS))
    m = data["month"]
    out.print(
        f"This month (estimate): ¥{m['cost']:.2f} on spot vs ¥{m['payg_cost']:.2f} pay-as-you-go: "
        f"[bold green]¥{m['saved']:.2f} saved[/]"
    )


# -- images --------------------------------------------------------------------------------------
def lineage_images(cloud: Cloud) -> list[dict[str, Any]]:
    """The images the engine made of lineage members (tagged ``aops:image-of``), oldest first; the user's own
    images are not listed."""
    rows = [
        {
            "image_id": i.image_id,
            "lineage": i.tag(TAG_LINEAGE),
            "instance": i.tag(TAG_IMAGE_OF),
            "created": i.creation_time,
            "status": i.status,
            "size_gib": i.size_gib,
            "name": i.name,
        }
        for i in cloud.describe_images()
        if i.tag(TAG_IMAGE_OF)
    ]
    rows.sort(key=lambda r: (r["lineage"] or "", r["created"], r["image_id"]))
    return rows


IMAGES_COLUMNS = (
    ("image_id", "image"),
    ("lineage", "lineage"),
    ("instance", "of instance"),
    ("created", "created"),
    ("status", "status"),
    ("size_gib", "GiB"),
)


@one_line_errors
def images_cmd(
    ctx: typer.Context, region: RegionOpt = None, endpoint: EndpointOpt = None, json_out: JsonOpt = False
) -> None:
    """Images made by aliyun-ops: lists them; `images prune` deletes the older ones."""
    if ctx.invoked_subcommand is not None:  # `images prune`: its own options and output
        return
    cloud, _ = open_cloud(region, endpoint)
    rows = lineage_images(cloud)
    if json_out:
        emit_json(rows)
        return
    console().print(render.rows_table(f"Images kept in {cloud.region_id}", rows, IMAGES_COLUMNS))
    if not rows:
        console().print("No image kept: aliyun-ops makes one when it replaces an instance.")


# -- images prune --------------------------------------------------------------------------------
def prune(cloud: Cloud, keep: int) -> dict[str, Any]:
    """Per lineage keep the ``keep`` newest images (never one a live instance was launched from)."""
    from aliyun_ops.recovery.housekeeping import prune_listed

    images = [i for i in cloud.describe_images(statuses="Available") if i.tag(TAG_IMAGE_OF) and i.tag(TAG_LINEAGE)]
    in_use = {i.image_id for i in cloud.describe_instances()}
    deleted = prune_listed(cloud, images, cloud.describe_snapshots, keep, in_use)
    kept = [i.image_id for i in images if i.image_id not in deleted]
    return {"deleted": deleted, "kept": kept, "keep": keep}


@one_line_errors
def prune_cmd(
    keep: Annotated[int | None, typer.Option("--keep", min=1, help="Images to keep per lineage.")] = None,
    region: RegionOpt = None,
    endpoint: EndpointOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete all but the newest K images of each lineage (default: ALIYUN_OPS_KEEP_IMAGES or 2)."""
    cloud, settings = open_cloud(region, endpoint)
    result = prune(cloud, keep if keep is not None else settings.keep_images)
    if json_out:
        emit_json(result)
        return
    deleted = ", ".join(result["deleted"]) or "none"
    console().print(f"Deleted: {deleted}. Kept {len(result['kept'])} image(s) (newest {result['keep']} per lineage).")
