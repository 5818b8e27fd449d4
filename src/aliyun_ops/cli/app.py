"""The typer application: one place that lists every command.

Each command group lives in its own module and registers itself here; the engine is imported inside
the commands, so ``aliyun-ops --help`` stays fast.
"""

from __future__ import annotations

import typer

from aliyun_ops import __version__
from aliyun_ops.cli import demo, incident, inventory, servers

app = typer.Typer(
    name="aliyun-ops",
    help="Keep Alibaba Cloud spot ECS instances alive across reclaims. New here? Run `aliyun-ops demo`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aliyun-ops {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Keep Alibaba Cloud spot ECS instances alive across reclaims."""


demo.register(app)
servers.register(app)
inventory.register(app)
incident.register(app)
