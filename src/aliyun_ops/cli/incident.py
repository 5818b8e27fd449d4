"""``plan`` (the dry run), ``replace`` (the engine by hand) and ``reconcile``.

``plan`` computes the plan with the very functions the incident uses (``recovery.gather`` for the
reads, ``planner.rank_candidates`` with the same arguments, ``recovery.launch.build_spec`` for the
request) and checks the chosen launch with ``RunInstances DryRun=true``: it creates, changes and
deletes nothing. ``replace`` runs ``service.run_incident`` exactly as a notice would.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aliyun_ops import errors, models, orchestrators
from aliyun_ops.cli import render
from aliyun_ops.cli.common import (
    CliFailure,
    EndpointOpt,
    JsonOpt,
    RegionOpt,
    console,
    emit_json,
    one_line_errors,
    open_cloud,
)
from aliyun_ops.cli.progress import ImageWatcher

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Settings
    from aliyun_ops.recovery.gather import Inputs

InstanceArg = Annotated[str, typer.Argument(help="The spot instance, e.g. i-bp1...")]


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_cmd)
    app.command("replace")(replace_cmd)
    app.command("reconcile")(reconcile_cmd)


def find_instance(cloud: Cloud, instance_id: str) -> models.Instance:
    instance = cloud.describe_instance(instance_id)
    if instance is None:
        raise errors.NotFound(
            "InvalidInstanceId.NotFound", f"instance {instance_id} does not exist in {cloud.region_id}"
        )
    return instance


# -- plan ----------------------------------------------------------------------------------------
def make_plan(
    cloud: Cloud, settings: Settings, instance: models.Instance
) -> tuple[models.Plan, Inputs, models.Instance]:
    """The plan the incident would execute now, from the same reads and the same ranking call, skipping the pairs
    an incident would skip: those the vSwitches' sold-out tags (``aops:sold-out:<type>``) still hold."""
    from aliyun_ops.recovery.gather import gather
    from aliyun_ops.recovery.launch import plan_launch
    from aliyun_ops.recovery.soldout import SoldOutMemory

    with ThreadPoolExecutor(max_workers=12, thread_name_prefix="aliyun-ops-plan") as pool:
        inputs = gather(cloud, instance, settings, pool, price_all=True)
    sold_out = SoldOutMemory(cloud, settings).snapshot(inputs.vswitches)
    plan, enriched = plan_launch(instance, inputs, settings, sold_out)
    return plan, inputs, enriched


def dry_run(
    cloud: Cloud, settings: Settings, enriched: models.Instance, inputs: Inputs, plan: models.Plan
) -> dict[str, Any]:
    """RunInstances DryRun=true for the chosen candidate; ``DryRunOperation`` means the launch is valid.

    The real launch uses a fresh image of the instance; the image it was built from stands in for it. The DryRun
    takes the launch's own fallbacks (``run_with_fallbacks``): a refusal the launch would retry is no refusal.
    """
    from aliyun_ops.recovery.launch import build_spec, run_with_fallbacks
    from aliyun_ops.recovery.naming import incident_id

    if plan.chosen is None:
        return {"valid": False, "code": None, "message": "no candidate to check"}
    spec = build_spec(enriched, inputs, plan.chosen, enriched.image_id, settings, incident_id(enriched.instance_id))
    try:
        run_with_fallbacks(
            lambda s, token: cloud.run_instances(s, token, dry_run=True), spec, f"ao-dry-{uuid.uuid4().hex[:24]}"
        )
    except errors.PermissionDenied:
        raise
    except errors.CloudError as exc:
        return {"valid": False, "code": exc.code, "message": exc.message}
    return {"valid": True, "code": "DryRunOperation", "message": "RunInstances would succeed"}


def plan_json(instance: models.Instance, plan: models.Plan, check: dict[str, Any]) -> dict[str, Any]:
    rows = render.candidate_rows(plan)
    return {
        "instance_id": instance.instance_id,
        "instance_type": instance.instance_type,
        "zone": instance.zone_id,
        "candidates": rows,
        "chosen": rows[0] if rows else None,
        "skipped": [{"what": what, "why": why} for what, why in plan.skipped],
        "notes": list(plan.notes),
        "limits": render.limits_json(plan.limits),
        "dry_run": check,
    }


@one_line_errors
def plan_cmd(
    instance_id: InstanceArg, region: RegionOpt = None, endpoint: EndpointOpt = None, json_out: JsonOpt = False
) -> None:
    """Show what a replacement would launch now, and check it with a DryRun. Changes nothing."""
    cloud, settings = open_cloud(region, endpoint)
    instance = find_instance(cloud, instance_id)
    if orchestrators.owner(instance.tags):
        show_owner(instance, json_out)
        return
    plan, inputs, enriched = make_plan(cloud, settings, instance)
    check = dry_run(cloud, settings, enriched, inputs, plan)
    if json_out:
        emit_json(plan_json(instance, plan, check))
        if not check["valid"]:
            raise typer.Exit(1)
        return
    out = console()
    out.print(
        f"Plan for {instance.instance_id} ({instance.name or 'unnamed'}, {instance.instance_type} "
        f"in {instance.zone_id}): nothing is changed."
    )
    for line in plan.limits.notes:
        out.print(f"Limit: {line}", markup=False, highlight=False)
    for line in (n for n in plan.notes if n.startswith("placement:")):
        out.print(line[:1].upper() + line[1:], markup=False, highlight=False)
    out.print(render.candidates_table(plan))
    if plan.skipped:
        out.print(render.skipped_table(plan.skipped))
    out.print(render.chosen_line(plan.chosen))
    verdict = "[green]valid[/]" if check["valid"] else f"[red]refused[/] ({check['code']}: {check['message']})"
    out.print(f"DryRun of the launch: {verdict}")
    if not check["valid"]:
        raise typer.Exit(1)


def show_owner(instance: models.Instance, json_out: bool) -> None:
    """An orchestrator's instance has no plan: its Auto Scaling group or ACK replaces it, so nothing is launched,
    not even as a DryRun. Not a failure: aliyun-ops does what it should with it, nothing."""
    owner = orchestrators.owner(instance.tags)
    said = orchestrators.left_alone(instance.instance_id, owner)
    if json_out:
        emit_json({"instance_id": instance.instance_id, "owner": owner, "candidates": [], "chosen": None,
                   "dry_run": None, "message": said})
        return
    console().print(f"Plan for {instance.instance_id}: none. {said}.", markup=False, highlight=False)


# -- replace -------------------------------------------------------------------------------------
@one_line_errors
def replace_cmd(
    instance_id: InstanceArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    region: RegionOpt = None,
    endpoint: EndpointOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Replace an instance now, by hand, with the engine a notice triggers: image it, launch the best
    candidate with the same identity, then release the original and move its elastic IP."""
    from aliyun_ops import service
    from aliyun_ops.notify import build_notifier

    cloud, settings = open_cloud(region, endpoint, bounded=False)
    instance = find_instance(cloud, instance_id)
    if not yes and json_out:
        raise CliFailure("replace --json releases the original without asking: add --yes")
    if not yes and not typer.confirm(
        f"Replace {instance.instance_id} ({instance.name or 'unnamed'}) and release it once the replacement runs?"
    ):
        raise typer.Exit(1)
    deadline = service.effective_deadline(settings, None, cloud.clock())

    def run() -> service.Outcome:
        return service.run_incident(
            cloud, settings, instance, deadline=deadline, notifier=build_notifier(), release_original=True
        )

    if json_out:
        emit_json(run().to_json())
        return
    out = console()
    out.print(f"Replacing {instance.instance_id} ({instance.instance_type} in {instance.zone_id}): imaging it first.")
    with ImageWatcher(lambda: open_cloud(region, endpoint)[0], instance.instance_id, out):  # its own client
        outcome = run()
    show_record(outcome.record, outcome.message)


def show_record(record: models.IncidentRecord | None, message: str) -> None:
    out = console()
    out.print(f"[bold green]{message}[/]")
    if record is None:
        return
    out.print(render.timeline_table(record.timeline, record.started_at))
    out.print(render.summary_table(record.before, record.after))
    for line in render.incident_rows(record):
        out.print(line)


# -- reconcile -----------------------------------------------------------------------------------
@one_line_errors
def reconcile_cmd(region: RegionOpt = None, endpoint: EndpointOpt = None, json_out: JsonOpt = False) -> None:
    """Catch up on what events missed: finish or recover lineages whose instance is gone or stopped."""
    from aliyun_ops import service
    from aliyun_ops.cli.common import load_credentials, load_settings
    from aliyun_ops.notify import build_notifier

    failed: errors.PassIncomplete | None = None
    try:
        outcomes = service.reconcile(
            settings=load_settings(region, endpoint), credentials=load_credentials(), notifier=build_notifier()
        )
    except errors.PassIncomplete as exc:  # every item was handled: show them all, then fail
        failed, outcomes = exc, [o for o in exc.outcomes if isinstance(o, service.Outcome)]
    if json_out:
        emit_json([o.to_json() for o in outcomes])
    else:
        if not outcomes:
            console().print("Nothing to do: every lineage has a live instance.")
        for o in outcomes:
            console().print(f"{o.status}: {o.message}")
    if failed is not None:
        raise CliFailure(str(failed))
