"""``doctor``: will the next reclaim of each managed instance work? It reads the deployed function (FC 3.0), its
EventBridge rule, its role's RAM policies, its recent errors (CloudMonitor) and, per managed instance, what
``plan`` computes; it changes nothing. Exit 1 when any check fails.
"""

from __future__ import annotations

from typing import Annotated

import typer

from aliyun_ops.cli.common import EndpointOpt, JsonOpt, RegionOpt, console, emit_json, one_line_errors, open_cloud

COLUMNS = (("target", "for"), ("name", "check"), ("status", "status"), ("detail", "detail"))
STYLE = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_cmd)


@one_line_errors
def doctor_cmd(
    function: Annotated[
        str, typer.Option("--function", help="The deployed function's name (s.yaml's functionName).")
    ] = "aliyun-ops",
    hours: Annotated[
        float, typer.Option("--hours", min=1, max=744, help="How far back to look for function errors.")
    ] = 24,
    region: RegionOpt = None,
    endpoint: EndpointOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check, without changing anything, that the next reclaim of each managed instance would work."""
    from rich.table import Table
    from rich.text import Text

    from aliyun_ops import doctor
    from aliyun_ops.cli.common import load_credentials
    from aliyun_ops.cli.incident import make_plan
    from aliyun_ops.cli.inventory import managed
    from aliyun_ops.cloud.controlplane import ControlPlane

    cloud, settings = open_cloud(region, endpoint)
    plane = ControlPlane(load_credentials(), settings, endpoint=endpoint)
    report = doctor.run(cloud, plane, settings, managed(cloud), function_name=function, hours=hours,
                        make_plan=make_plan)  # fmt: skip
    if json_out:
        emit_json(report)
    else:
        table = Table(title=f"aliyun-ops doctor: {function} in {report['region']}", title_justify="left")
        for _, header in COLUMNS:
            table.add_column(header)
        for check in report["checks"]:
            status = Text.from_markup(STYLE.get(check["status"], check["status"]))
            table.add_row(Text(check["target"]), Text(check["name"]), status, Text(check["detail"]))  # no emoji codes
        out = console()
        out.print(table)
        out.print("[green]The next reclaim would work.[/]" if report["ok"] else "[red]Fix the failed checks.[/]")
    if not report["ok"]:
        raise typer.Exit(1)
