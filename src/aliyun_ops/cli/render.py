"""Rich tables and timelines for people; every function takes plain records and returns a renderable.

The JSON side of each command (``--json``) prints the same records as dicts, so nothing here decides
anything: it only formats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from aliyun_ops.models import Candidate, Image, IncidentRecord, InstanceSummary, Limits, Plan


def money(value: float | None) -> str:
    return "-" if value is None else f"¥{value:.4f}/h"


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.0f}%"


def memory(gib: float) -> str:
    return f"{gib:g} GiB"


def candidate_rows(plan: Plan) -> list[dict[str, Any]]:
    """The plan's candidates as flat dicts: the rows of the table and of ``--json``."""
    return [
        {
            "rank": i,
            "zone": c.zone_id,
            "instance_type": c.instance_type,
            "cpu": c.itype.cpu,
            "memory_gib": c.itype.memory_gib,
            "vswitch": c.vswitch_id,
            "spot_strategy": c.spot_strategy,
            "spot_price": c.spot_price,
            "payg_price": c.origin_price,
            "saving": None if c.saving is None else round(c.saving, 4),
            "tier": c.tier,
            "interruption_rate": c.interruption_rate,
            "rate_bucket": c.rate_desc or None,
            "score": None if c.score is None else round(c.score, 6),
            "reason": c.reason,
        }
        for i, c in enumerate(plan.candidates, 1)
    ]


def candidates_table(plan: Plan, limit: int = 10) -> Table:
    more = len(plan.candidates) - limit
    title = "Candidates, best first"
    if more > 0:
        title += f" (top {limit} of {len(plan.candidates)}; --json lists all)"
    table = Table(title=title, title_justify="left")
    for name in ("#", "zone", "type", "vCPU", "memory", "stock", "spot price", "saving", "risk", "score", "why"):
        table.add_column(name, justify="right" if name in ("#", "vCPU", "saving") else "left")
    for i, c in enumerate(plan.candidates[:limit], 1):
        style = "bold green" if i == 1 else ""
        stock = "pay-as-you-go" if c.spot_strategy == "NoSpot" else "in stock"
        table.add_row(
            str(i),
            c.zone_id,
            c.instance_type,
            str(c.itype.cpu),
            memory(c.itype.memory_gib),
            stock,
            money(c.spot_price),
            percent(c.saving),
            risk(c),
            money(c.score),
            short_why(c),
            style=style,
        )
    return table


def risk(c: Candidate) -> str:
    """The pool's 30-day interruption rate and its bucket ("12.5% (10-100%)"); "-" when not known."""
    if c.interruption_rate is None:
        return "-" if c.spot_strategy == "NoSpot" or c.score is None else "unknown"
    return f"{c.interruption_rate:g}% ({c.rate_desc})" if c.rate_desc else f"{c.interruption_rate:g}%"


def limits_json(limits: Limits) -> dict[str, Any]:
    """The bill limits in force, as ``plan --json`` shows them (None: off or, for a price, not known)."""
    return {
        "max_price_ratio": limits.max_price_ratio,
        "reference_price": limits.reference_price,
        "max_price": None if limits.max_price is None else round(limits.max_price, 6),
        "payg_reference_price": limits.payg_reference,
        "max_payg_price": None if limits.max_payg_price is None else round(limits.max_payg_price, 6),
        "max_size_ratio": limits.max_size_ratio,
        "max_cpu": limits.max_cpu,
        "max_memory_gib": limits.max_memory_gib,
        "notes": list(limits.notes),
    }


def skipped_table(skipped: Sequence[tuple[str, str]], limit: int = 20) -> Table:
    """The options left out and why, those a bill limit left out first (they are the surprising ones); one row
    per type and reason, with the zones it covers."""
    groups: dict[tuple[str, str], list[str]] = {}
    for what, why in skipped:
        head, _, zone = what.rpartition("@")
        groups.setdefault((head or what, why), []).append(zone if head else "")
    ordered = sorted(groups.items(), key=lambda g: not _by_a_limit(g[0][1]))
    more = len(ordered) - limit
    title = "Left out" + (f" (first {limit} of {len(ordered)}; --json lists all)" if more > 0 else "")
    table = Table(title=title, title_justify="left")
    table.add_column("option")
    table.add_column("zones")
    table.add_column("why")
    for (what, why), zones in ordered[:limit]:
        shown = ", ".join(z for z in zones if z) or "-"
        table.add_row(Text(what), Text(shown), Text(why), style="yellow" if _by_a_limit(why) else "")
    return table


def _by_a_limit(why: str) -> bool:
    return "(size limit)" in why or "price limit" in why


def short_why(c: Candidate) -> str:
    """The planner's reason without what the other columns already say (zone, type, size, price, risk)."""
    why = c.reason.split(", spot ")[0].split(", pay-as-you-go ")[0].split(", risk ")[0]
    if "equivalent " in why and "(" in why:
        head, relation = why[: why.index("equivalent ")], why[why.rfind(", ") + 2 :]
        return f"{head}equivalent, {relation.removesuffix(')')}"
    return why.replace(f" {c.zone_id}", "")


def chosen_line(chosen: Candidate | None) -> Text:
    if chosen is None:
        return Text("No candidate can be launched now.", style="bold red")
    price = f" at {money(chosen.spot_price)}" if chosen.spot_price is not None else ""
    return Text.assemble(
        ("Chosen: ", "bold"),
        (f"{chosen.instance_type} in {chosen.zone_id}", "bold green"),
        f"{price} ({chosen.reason or 'best ranked'})",
    )


def summary_table(
    before: InstanceSummary | None,
    after: InstanceSummary | None,
    extra: Sequence[tuple[str, str, str]] = (),
) -> Table:
    """Before/after columns of an incident: type, zone, price, IP, id (and ``extra`` rows: label, before, after)."""
    table = Table(title="Before and after", title_justify="left")
    table.add_column("")
    table.add_column("before")
    table.add_column("after", style="green")
    rows: list[tuple[str, Callable[[InstanceSummary], str]]] = [
        ("instance", lambda s: s.instance_id),
        ("name", lambda s: s.name or "-"),
        ("type", lambda s: s.instance_type),
        ("vCPU / memory", lambda s: f"{s.cpu} / {memory(s.memory_gib)}"),
        ("zone", lambda s: s.zone_id),
        ("spot price", lambda s: money(s.spot_price)),
        ("pay-as-you-go", lambda s: money(s.origin_price)),
        ("public IP", lambda s: s.public_ip or "-"),
        ("private IP", lambda s: s.private_ip or "-"),
        ("status", lambda s: s.status or "-"),
    ]
    for label, get in rows:
        table.add_row(label, get(before) if before else "-", get(after) if after else "-")
    for label, was, now in extra:
        table.add_row(label, was, now)
    return table


def timeline_table(timeline: Sequence[tuple[float, str]], origin: float | None = None) -> Table:
    """The incident's steps with the emulated time since the first one (``+12s``)."""
    table = Table(title="Timeline", title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column("at", style="dim", justify="right")
    table.add_column("what")
    start = origin if origin is not None else (timeline[0][0] if timeline else 0.0)
    for at, what in timeline:
        table.add_row(f"+{at - start:5.0f}s", what)
    return table


def incident_rows(record: IncidentRecord) -> list[str]:
    """A few key facts under the timeline: status, image, EIP, deleted images."""
    lines = [f"status: {record.status}" + (f" ({record.reason})" if record.reason else "")]
    if record.image_id:
        lines.append(f"image: {record.image_id} ({record.image_source or 'fresh'})")
    if record.eip:
        lines.append(f"elastic IP: {record.eip}")
    if record.tried:
        lines.append("tried: " + "; ".join(record.tried))
    if record.advice:
        lines.append(f"advice: {record.advice}")
    return lines


def images_table(images: Iterable[Image], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("image", "name", "status", "created", "of instance"):
        table.add_column(name)
    for img in images:
        table.add_row(img.image_id, img.name, img.status, img.creation_time, img.tag("aops:image-of") or "-")
    return table


def rows_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> Table:
    """A table from dict rows: ``columns`` is ``(key, header)``; money keys end with ``price``."""
    table = Table(title=title, title_justify="left")
    for _, header in columns:
        table.add_column(header)
    for row in rows:
        table.add_row(*(_cell(key, row.get(key)) for key, _ in columns))
    return table


def _cell(key: str, value: Any) -> str:
    if value is None or value == "":
        return "-"
    if key.endswith("price") or key.endswith("cost"):
        return money(float(value)) if key.endswith("price") else f"¥{float(value):.2f}"
    if key == "saving":
        return percent(float(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
