"""``notify test``: one test message to each configured notification channel, and what each one answered."""

from __future__ import annotations

import dataclasses

import typer
from rich.markup import escape

from aliyun_ops.cli.common import CliFailure, JsonOpt, RegionOpt, console, emit_json, load_settings, one_line_errors

notify_app = typer.Typer(help="Notification channels (DingTalk, Feishu, WeCom, Slack, webhook).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    notify_app.command("test")(test_cmd)
    app.add_typer(notify_app, name="notify")


@one_line_errors
def test_cmd(region: RegionOpt = None, json_out: JsonOpt = False) -> None:
    """Send one test message to each configured channel; exits 1 if any refused it."""
    from aliyun_ops.notify import ENV_VARS, build_notifier
    from aliyun_ops.notify.trial import send_trial

    notifier = build_notifier()
    if not notifier.channels:
        urls = ", ".join(v for k, v in ENV_VARS.items() if k.endswith("_url"))
        raise CliFailure(f"no notification channel is configured: set one of {urls}")
    results = send_trial(notifier, load_settings(region, None).region_id)
    if json_out:
        emit_json([dataclasses.asdict(r) for r in results])
    else:
        for r in results:
            console().print(f"{r.channel}: " + ("[green]sent[/]" if r.sent else f"[red]failed[/] ({escape(r.error)})"))
    if not all(r.sent for r in results):
        raise typer.Exit(1)
