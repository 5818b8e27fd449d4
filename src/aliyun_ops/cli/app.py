"""The typer application: one place that lists every command.

Each command group lives in its own module and registers itself here; the engine is imported inside
the commands, so ``aliyun-ops --help`` stays fast.
"""

from __future__ import annotations

import typer

from aliyun_ops import __version__
from aliyun_ops.cli import demo, doctor, held, incident, inventory, notifycmd, servers
from aliyun_ops.cli.helpfmt import FlagsWithoutTypeGroup

app = typer.Typer(
    name="aliyun-ops",
    help="Keep Alibaba Cloud spot ECS instances alive across reclaims. New here? Run `aliyun-ops demo`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=FlagsWithoutTypeGroup,  # no "<bool>" beside a flag in any help page
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aliyun-ops {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    config: str = typer.Option(
        "", "--config", metavar="FILE", help="Settings file (YAML; default: $ALIYUN_OPS_CONFIG or ./aliyun-ops.yaml)."
    ),
    profile: str = typer.Option(
        "",
        "--profile",
        metavar="NAME",
        help="Use this aliyun CLI profile (~/.aliyun/config.json) for credentials and region "
        "(default: the environment, $ALIBABA_CLOUD_PROFILE, then the file's current profile).",
    ),
) -> None:
    """Keep Alibaba Cloud spot ECS instances alive across reclaims."""
    from aliyun_ops.cli.common import use_profile

    use_profile(profile)
    if config:
        import os

        from aliyun_ops.config import CONFIG_ENV

        os.environ[CONFIG_ENV] = config  # read by every Settings.from_env of this process


demo.register(app)
servers.register(app)
inventory.register(app)
incident.register(app)
held.register(app)
notifycmd.register(app)
doctor.register(app)
