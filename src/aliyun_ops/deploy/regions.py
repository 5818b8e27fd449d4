"""Deploy the function to every configured region: one ``s deploy`` per region.

    python -m aliyun_ops.deploy.regions [--template s.yaml] [--dry-run] [-- extra s arguments]

The regions are ``ALIYUN_OPS_REGION`` (``cn-hangzhou`` when unset, as the template's own default) and then each of
``ALIYUN_OPS_REGIONS``, each once, in that order, checked with the settings' own region validator: a malformed one
is refused before anything runs. Each run is ``s deploy -y -t <template> [extra ...]`` with
``ALIYUN_OPS_DEPLOY_REGION=<region>`` added to that child's environment (the template's ``vars.region`` reads it),
so each region gets its own function, triggers and timer: Function Compute functions and the EventBridge default
bus are regional, so a region's spot notices reach only a function of that region.

The first region whose ``s deploy`` fails stops the run: the regions already deployed and the ones not deployed are
said, and the exit status is non-zero. ``--dry-run`` prints the commands and runs nothing. Only the region and the
command are ever printed, never the environment (it holds the deploy's credentials).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pydantic

from aliyun_ops.config import ENV, Settings
from aliyun_ops.errors import ConfigError

DEPLOY_REGION_ENV = "ALIYUN_OPS_DEPLOY_REGION"  # s.yaml's vars.region: ${env('ALIYUN_OPS_DEPLOY_REGION', ...)}
DEFAULT_REGION = "cn-hangzhou"  # the template's default when ALIYUN_OPS_DEPLOY_REGION is unset
PRIMARY_ENV, OTHERS_ENV = ENV["region_id"][0], ENV["regions"][0]  # ALIYUN_OPS_REGION, ALIYUN_OPS_REGIONS


@dataclass
class Report:
    """Which regions ``s deploy`` finished in, and which it did not reach or failed in."""

    deployed: list[str] = field(default_factory=list)
    failed: str | None = None
    not_deployed: list[str] = field(default_factory=list)


def deploy_regions(environ: Mapping[str, str]) -> tuple[str, ...]:
    """ALIYUN_OPS_REGION, then ALIYUN_OPS_REGIONS, each once; ConfigError naming the variable for a malformed one."""
    primary = environ.get(PRIMARY_ENV, "").strip() or DEFAULT_REGION
    others = tuple(part.strip() for part in environ.get(OTHERS_ENV, "").split(",") if part.strip())
    try:
        checked = Settings(region_id=primary, regions=others)  # the very validators the function's settings use
    except pydantic.ValidationError as err:
        problems = [
            f"{PRIMARY_ENV if e['loc'][0] == 'region_id' else OTHERS_ENV}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        ]
        raise ConfigError("; ".join(problems)) from None
    return tuple(dict.fromkeys((checked.region_id, *checked.regions)))


def deploy_command(template: str, extra: Sequence[str]) -> list[str]:
    return ["s", "deploy", "-y", "-t", template, *extra]


def deploy_all(
    regions: Sequence[str],
    command: Sequence[str],
    environ: Mapping[str, str],
    *,
    run: Callable[[list[str], dict[str, str]], int],
    say: Callable[[str], None],
) -> Report:
    """``command`` once per region with that region in ``DEPLOY_REGION_ENV``, in order; stops at the first failure."""
    report = Report()
    for index, region in enumerate(regions):
        say(f"{region}: {DEPLOY_REGION_ENV}={region} {shlex.join(command)}")
        status = run(list(command), {**environ, DEPLOY_REGION_ENV: region})
        if status != 0:
            report.failed = region
            report.not_deployed = list(regions[index:])
            return report
        report.deployed.append(region)
    return report


def _run(command: list[str], env: dict[str, str]) -> int:
    executable = shutil.which(command[0], path=env.get("PATH"))
    if executable is None:
        raise ConfigError(f"{command[0]!r} (Serverless Devs) is not on PATH: npm install -g @serverless-devs/s")
    return subprocess.run([executable, *command[1:]], env=env, check=False).returncode


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(
        prog="python -m aliyun_ops.deploy.regions",
        description="Run `s deploy` once per region of ALIYUN_OPS_REGION and ALIYUN_OPS_REGIONS.",
    )
    parser.add_argument("--template", default="s.yaml", help="the Serverless Devs template (default: s.yaml)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands and run nothing")
    parser.add_argument("extra", nargs="*", help="after --: more arguments for s deploy")
    args = parser.parse_args(argv)
    env = dict(os.environ if environ is None else environ)
    try:
        regions = deploy_regions(env)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = deploy_command(args.template, args.extra)
    if args.dry_run:
        for region in regions:
            print(f"{DEPLOY_REGION_ENV}={region} {shlex.join(command)}")
        return 0
    try:
        report = deploy_all(regions, command, env, run=_run, say=lambda line: print(line, flush=True))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _summary(report)


def _summary(report: Report) -> int:
    deployed = ", ".join(report.deployed) or "none"
    if report.failed is None:
        print(f"deployed to every region: {deployed}")
        return 0
    print(
        f"error: s deploy failed in {report.failed}; deployed: {deployed}; "
        f"not deployed: {', '.join(report.not_deployed)}",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
