"""Commands that start a server or talk to one: ``emulator``, ``serve`` and ``invoke``.

``invoke`` sends the very notice the cloud would send (CloudMonitor or EventBridge shape) to a running
``serve``, so the whole path (HTTP runtime -> engine -> cloud) can be tried by hand.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from aliyun_ops.cli.common import (
    CliFailure,
    EndpointOpt,
    JsonOpt,
    RegionOpt,
    console,
    emit_json,
    load_settings,
    one_line_errors,
)

SAMPLE_ACCOUNT = "1690700000000030"


def sample_event(fmt: str, instance_id: str, region_id: str, account_id: str = SAMPLE_ACCOUNT) -> dict[str, Any]:
    """A spot interruption notice exactly as the chosen channel delivers it (the emulator's builder)."""
    from aliyun_ops.emulator.delivery import interruption_event

    info = {"instanceId": instance_id, "regionId": region_id, "action": "delete"}
    return interruption_event(info, account_id, time.time()).render(fmt)


def register(app: typer.Typer) -> None:
    app.command("emulator")(emulator_cmd)
    app.command("serve")(serve_cmd)
    app.command("invoke")(invoke_cmd)


@one_line_errors
def emulator_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8900,
    scenario: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Scenario JSON (default: the built-in one).")
    ] = None,
    time_scale: Annotated[float, typer.Option(help="Emulated seconds per real second.")] = 1.0,
    sample: Annotated[
        bool, typer.Option("--sample", help="Start with a sample spot instance (shop-web-1, with an EIP) to try on.")
    ] = False,
) -> None:
    """Run the local ECS/VPC API emulator (until Ctrl-C)."""
    from aliyun_ops.deploy import load_ram_policy
    from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator, serve

    data = _read_scenario(scenario) if scenario else None
    out = console()

    def started(emu: Emulator) -> None:
        out.print(f"[bold]Emulator[/] on http://{host}:{port} (time x{time_scale:g}); Ctrl-C stops it. Use it with:")
        out.print(f"  export ALIBABA_CLOUD_ACCESS_KEY_ID={DEFAULT_ACCESS_KEY_ID}")
        out.print(f"  export ALIBABA_CLOUD_ACCESS_KEY_SECRET={DEFAULT_ACCESS_KEY_SECRET}")
        out.print(f"  aliyun-ops probe --cores 2 --memory 4 --endpoint {host}:{port}")
        if sample:
            seed(emu)

    def seed(emu: Emulator) -> None:
        from aliyun_ops.cli.demo import REGION, seed_instance
        from aliyun_ops.cloud import Cloud
        from aliyun_ops.config import Credentials, Settings

        settings = Settings(region_id=REGION, ecs_endpoint=emu.endpoint, vpc_endpoint=emu.endpoint, protocol="http")
        admin = Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
        instance_id, ip = seed_instance(Cloud(admin, settings), emu)
        out.print(f"Sample spot instance shop-web-1: [bold]{instance_id}[/] with elastic IP {ip}. Try:")
        out.print(f"  aliyun-ops plan {instance_id} --endpoint {host}:{port}")

    try:
        serve(
            host=host,
            port=port,
            scenario=data,
            time_scale=time_scale,
            on_start=started,
            function_role_policy=load_ram_policy(),  # the function's RAM role: the shipped policy, as deployed
        )
    except OSError as err:
        raise CliFailure(f"cannot listen on {host}:{port}: {err.strerror or err}") from None


def _read_scenario(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CliFailure(f"cannot read scenario {path}: {err}") from err
    if not isinstance(data, dict):
        raise CliFailure(f"scenario {path} must be a JSON object")
    from aliyun_ops.emulator.backend import complete_scenario

    try:
        return complete_scenario(data)
    except ValueError as err:
        raise CliFailure(f"scenario {path}: {err}") from None


@one_line_errors
def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on (on Function Compute: 0.0.0.0).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (Function Compute custom runtime: 9000).")] = 9000,
    region: RegionOpt = None,
    endpoint: EndpointOpt = None,
) -> None:
    """Run the HTTP runtime (POST /invoke) as on Function Compute's custom runtime."""
    from aliyun_ops.cli.emuclock import follow
    from aliyun_ops.config import resolve_credentials
    from aliyun_ops.runtime.server import serve

    settings = load_settings(region, endpoint) if (region or endpoint) else None
    # the endpoint from the flags or the environment (the shipped command line has no --endpoint)
    pointed = settings or load_settings(None, None)
    target = pointed.ecs_endpoint or "the official Aliyun endpoints"
    out = console()

    def started() -> None:
        out.print(f"[bold]aliyun-ops runtime[/] listening on http://{host}:{port}/invoke; ECS/VPC at {target}")
        if resolve_credentials() is None:
            out.print(
                "[yellow]warning:[/] no credentials in the environment: requests must carry FC's "
                "x-fc-access-key-id / x-fc-access-key-secret headers, or set ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET"
            )

    runner = None
    emulated = follow(pointed.ecs_endpoint, pointed.protocol) if pointed.ecs_endpoint else None
    if emulated is not None:  # the local emulator: run on its clock, as it runs
        from aliyun_ops.runtime.invoke import Runner

        runner = Runner(settings, sleep=emulated.sleep, clock=emulated.now)
        out.print(f"following the emulator's clock at {pointed.ecs_endpoint} (x{emulated.scale:g})")
    try:
        serve(host=host, port=port, settings=settings, on_start=started, runner=runner)
    except OSError as err:
        raise CliFailure(f"cannot listen on {host}:{port}: {err.strerror or err}") from None


@one_line_errors
def invoke_cmd(
    instance_id: Annotated[str, typer.Argument(help="The instance the notice is about.")],
    fmt: Annotated[str, typer.Option("--format", help="cloudmonitor or eventbridge.")] = "cloudmonitor",
    url: Annotated[str, typer.Option(help="The running runtime's invoke URL.")] = "http://127.0.0.1:9000/invoke",
    region: Annotated[str, typer.Option(help="Region of the instance.")] = "cn-hangzhou",
    json_out: JsonOpt = False,
) -> None:
    """Send a sample spot interruption notice to a running `aliyun-ops serve`."""
    if fmt not in ("cloudmonitor", "eventbridge"):
        raise CliFailure(f"--format must be cloudmonitor or eventbridge, got {fmt!r}")
    event = sample_event(fmt, instance_id, region)
    try:
        # As Function Compute sends it: the raw event and a request id (the runtime logs it).
        headers = {"x-fc-request-id": f"cli-{uuid.uuid4()}"}
        resp = httpx.post(url, json=event, headers=headers, timeout=900)
    except httpx.HTTPError as err:
        raise CliFailure(f"cannot reach {url}: {err}") from err
    _report_invoke(resp, json_out)


def _report_invoke(resp: httpx.Response, json_out: bool) -> None:
    """Show the runtime's answer; a non-2xx answer is a failure (exit 1), never hidden."""
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text
    if json_out:
        emit_json({"status": resp.status_code, "body": body})
    else:
        message = body.get("message") or body.get("error") or json.dumps(body) if isinstance(body, dict) else body
        colour = "green" if resp.is_success else "red"
        console().print(f"[{colour}]HTTP {resp.status_code}[/] {message}")
    if not resp.is_success:
        raise typer.Exit(1)
