"""Build the code folder Function Compute runs: this project and what the function imports, for FC's
python3.10 (CPython 3.10, Linux x86_64, Debian 10), whatever Python builds it.

    python -m aliyun_ops.deploy.package --out code [--project .] [--with-cli]

Two pip runs: the project itself (``pip install --target <out> --no-deps <project>``, pure Python), then
its runtime requirements as binary wheels for the target (``--platform manylinux_2_28_x86_64 --platform
manylinux2014_x86_64 --implementation cp --python-version 3.10 --abi cp310 --only-binary=:all:``), so a
Python 3.11 or macOS machine still ships ``cpython-310-x86_64-linux-gnu`` / ``abi3`` modules. A
requirement with no such wheel makes the build fail with pip's reason (exit 1), never a warning.

pip evaluates environment markers against the interpreter running it, not the target (pypa/pip#11664):
on 3.11 it skips ``exceptiongroup; python_version < "3.11"`` (anyio) and ``async-timeout`` (aiohttp),
without which the folder does not import on 3.10. ``complete_for_target`` re-reads every installed
requirement with the target's markers and installs what is missing, until nothing is.

The folder holds what the function imports and nothing only the CLI needs: ``typer`` and ``rich`` (and
what only they pull in: click, pygments, markdown-it-py, shellingham) are left out; the ``aliyun_ops.cli``
sources stay (a few kB) but cannot run there. ``--with-cli`` keeps them, for the custom runtime whose
command is the CLI's ``serve`` (s.yaml, the default deployment).

``--deps-from-env`` builds offline: the project is installed without its dependencies, which are then
copied from the environment running the packager. That environment's compiled modules are built for its
own Python, so it is refused unless the packager runs on CPython 3.10, Linux x86_64.

The folder leaves out the local ECS/VPC emulator (``aliyun_ops/emulator``, its scenario data included):
it is for tests, the demo and the bench, the function never imports it (tests/unit/test_architecture.py),
and it is about a third of the code. The installed RECORD is rewritten to match what is left.

A folder it built holds a ``.aliyun-ops-package`` marker; it is emptied before a rebuild. Any other
non-empty folder is refused, so a typo cannot wipe a directory.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import importlib.metadata as metadata
import io
import logging
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MARKER = ".aliyun-ops-package"
FC_PYTHON = (3, 10)
# FC's python3.10 runtime is Debian 10 on x86_64 (FC docs, "Python runtimes"): glibc 2.28, so wheels tagged
# manylinux_2_28 and older (manylinux2014 = glibc 2.17) load there.
FC_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux2014_x86_64")
FC_ABI = "cp310"
# The environment markers of FC's python3.10, for the requirements pip evaluated against the build Python.
FC_MARKERS = {
    "python_version": "3.10", "python_full_version": "3.10.0", "implementation_name": "cpython",
    "implementation_version": "3.10.0", "platform_python_implementation": "CPython", "sys_platform": "linux",
    "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
}  # fmt: skip
# Requirements of aliyun-ops that only its CLI imports (the function never does: tests/unit/test_package_target.py):
# typer and rich, and the FC 3.0, EventBridge and RAM SDKs that only ``aliyun-ops doctor`` reads with.
CLI_ONLY = ("typer", "rich", "alibabacloud-fc20230330", "alibabacloud-eventbridge20200401", "alibabacloud-ram20150501")
# Packages of this project that the function does not need, left out of the code folder.
LEFT_OUT = ("aliyun_ops/emulator",)
ROOT = "aliyun-ops"


class PackageError(Exception):
    """The code folder could not be built."""


def _pip(out: Path, *, index: bool) -> list[str]:
    cmd = [sys.executable, "-m", "pip", "install", "--target", str(out), "--no-compile",
           "--disable-pip-version-check", "--no-input"]
    return cmd if index else [*cmd, "--no-index"]


def project_command(out: Path, project: Path, *, index: bool = True, build_isolation: bool = True) -> list[str]:
    """Install the project alone (pure Python: any interpreter builds the same files)."""
    cmd = [*_pip(out, index=index), "--no-deps"]
    cmd += [] if build_isolation else ["--no-build-isolation"]
    return [*cmd, str(project)]


def target_command(out: Path, requirements: Sequence[str], *, index: bool = True, deps: bool = True) -> list[str]:
    """Install ``requirements`` as FC's python3.10 wheels (binary only: pip cannot build for another target)."""
    cmd = _pip(out, index=index)
    for tag in FC_PLATFORMS:
        cmd += ["--platform", tag]
    cmd += ["--implementation", "cp", "--python-version", "{}.{}".format(*FC_PYTHON), "--abi", FC_ABI,
            "--only-binary=:all:"]
    cmd += [] if deps else ["--no-deps"]
    return [*cmd, *requirements]


def prepare(out: Path) -> None:
    """Empty a folder this tool built before; refuse any other non-empty folder."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise PackageError(f"{out} is not empty and was not built by aliyun-ops; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _requirements_module() -> Any:
    """``packaging.requirements`` (PEP 508 parsing), else the copy pip vendors: pip is there, it builds."""
    for name in ("packaging.requirements", "pip._vendor.packaging.requirements"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise PackageError("cannot parse requirements: neither packaging nor pip is importable")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _applies(req: Any, extras: set[str]) -> bool:
    """Does ``req`` apply on FC's python3.10, for a distribution installed with ``extras``?"""
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**FC_MARKERS, "extra": extra}) for extra in {"", *extras})


def runtime_requirements(dist: metadata.Distribution, *, cli: bool = False) -> list[str]:
    """``dist``'s requirements that apply on the target, as ``name[extras]specifier`` (CLI-only ones
    left out unless ``cli``)."""
    parse = _requirements_module().Requirement
    left_out = set() if cli else {_canonical(name) for name in CLI_ONLY}
    kept = []
    for text in dist.requires or []:
        req = parse(text)
        if _applies(req, set()) and _canonical(req.name) not in left_out:
            extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
            kept.append(f"{req.name}{extras}{req.specifier}")
    return kept


def _built_root(out: Path) -> metadata.Distribution:
    built = next((d for d in metadata.distributions(path=[str(out)]) if _canonical(d.metadata["Name"]) == ROOT), None)
    if built is None:
        raise PackageError(f"{out} holds no {ROOT} metadata to read its requirements from")
    return built


def missing_for_target(out: Path, *, cli: bool = False) -> list[str]:
    """Requirements of the distributions in ``out`` that apply on FC's python3.10 but are not installed
    there (pip decided them with the build Python's markers)."""
    parse = _requirements_module().Requirement
    dists = {_canonical(d.metadata["Name"]): d for d in metadata.distributions(path=[str(out)])}
    requested: dict[str, set[str]] = {}
    for dist in dists.values():
        for text in dist.requires or []:
            req = parse(text)
            if _applies(req, set()):  # not e.g. ``APScheduler[etcd,...]; extra == "test"``
                requested.setdefault(_canonical(req.name), set()).update(req.extras)
    left_out = set() if cli else {_canonical(name) for name in CLI_ONLY}
    missing: dict[str, list[str]] = {}
    for name, dist in dists.items():
        for text in dist.requires or []:
            req = parse(text)
            wanted = _canonical(req.name)
            if wanted in dists or not _applies(req, requested.get(name, set())):
                continue
            if name == ROOT and wanted in left_out:
                continue
            missing.setdefault(req.name, []).append(str(req.specifier))
    return sorted(name + ",".join(s for s in specs if s) for name, specs in missing.items())


def complete_for_target(out: Path, *, index: bool = True, cli: bool = False, rounds: int = 10) -> list[str]:
    """Install, as target wheels, what ``missing_for_target`` finds until nothing is missing; return it."""
    added: list[str] = []
    for _ in range(rounds):
        missing = missing_for_target(out, cli=cli)
        if not missing:
            return added
        log.info("requirements of FC's python3.10 that pip skipped on this Python: %s", ", ".join(missing))
        _run(target_command(out, missing, index=index, deps=False))
        added += missing
    raise PackageError(f"requirements still missing after {rounds} rounds: {', '.join(missing_for_target(out))}")


def installed_closure(requirements: Sequence[str]) -> list[metadata.Distribution]:
    """Every installed distribution these requirements need on the target, transitively (extras left out)."""
    parse = _requirements_module().Requirement
    seen: dict[str, metadata.Distribution] = {}
    todo = [parse(text).name for text in requirements]
    while todo:
        name = _canonical(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        todo.extend(parse(text).name for text in dist.requires or [] if _applies(parse(text), set()))
    return list(seen.values())


def vendor_installed(out: Path, *, cli: bool = False) -> list[str]:
    """Copy into ``out`` the installed runtime dependencies of the project just installed there (its
    fresh metadata says what it requires); return their names."""
    copied = []
    for dist in installed_closure(runtime_requirements(_built_root(out), cli=cli)):
        for file in dist.files or []:
            if file.parts and file.parts[0] == "..":  # scripts and data outside site-packages
                continue
            source = Path(str(dist.locate_file(file)))
            if source.is_file() and "__pycache__" not in file.parts:
                target = out / Path(*file.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        copied.append(dist.metadata["Name"])
    return sorted(copied)


def leave_out(out: Path, paths: Sequence[str] = LEFT_OUT) -> list[str]:
    """Delete ``paths`` (folders relative to ``out``) and drop their files from the installed RECORD, so
    the metadata lists only what the folder holds; return the paths that were there."""
    removed = []
    for rel in paths:
        folder = out / rel
        if folder.is_dir():
            shutil.rmtree(folder)
            removed.append(rel)
    prefixes = tuple(rel.rstrip("/") + "/" for rel in paths)
    for record in out.glob("*.dist-info/RECORD"):
        rows = list(csv.reader(io.StringIO(record.read_text(encoding="utf-8"))))
        kept = [row for row in rows if row and not row[0].startswith(prefixes)]
        if len(kept) != len(rows):
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(kept)
            record.write_text(text.getvalue(), encoding="utf-8")
    return removed


def _run(cmd: list[str]) -> None:
    log.info("running %s", " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PackageError(f"pip failed ({done.returncode}):\n{done.stderr[-4000:]}")


def build(
    out: Path,
    project: Path,
    *,
    deps: bool = True,
    index: bool = True,
    build_isolation: bool = True,
    deps_from_env: bool = False,
    cli: bool = False,
) -> Path:
    """Install ``project`` into ``out`` with its runtime dependencies for FC's python3.10 (from the index,
    or ``deps_from_env`` on a matching interpreter), less what the function does not need."""
    out, project = Path(out).resolve(), Path(project).resolve()
    if not (project / "pyproject.toml").exists():
        raise PackageError(f"{project} has no pyproject.toml")
    if project.is_relative_to(out) or out.is_relative_to(project / "src"):
        raise PackageError(f"--out {out} would overwrite the project itself; choose a folder such as ./code")
    if deps and deps_from_env:
        refuse_env_deps_unless_fc_like()
    prepare(out)
    _run(project_command(out, project, index=index, build_isolation=build_isolation))
    (out / MARKER).write_text("built by python -m aliyun_ops.deploy.package\n", encoding="utf-8")
    if not (out / "aliyun_ops" / "__init__.py").exists():
        raise PackageError(f"{out} does not hold the aliyun_ops package after pip install")
    log.info("left out of the code folder: %s", ", ".join(leave_out(out)) or "nothing")
    if deps and deps_from_env:
        names = vendor_installed(out, cli=cli)
        log.info("copied %d installed dependencies: %s", len(names), ", ".join(names))
    elif deps:
        _run(target_command(out, runtime_requirements(_built_root(out), cli=cli), index=index))
        complete_for_target(out, index=index, cli=cli)
    return out


def refuse_env_deps_unless_fc_like() -> None:
    """Copying this environment's packages gives FC's python3.10 what it can load only if this is CPython
    3.10 on Linux x86_64; anything else would ship modules that fail at import there."""
    here = (sys.version_info[:2], platform.python_implementation(), platform.system(), platform.machine())
    if here != (FC_PYTHON, "CPython", "Linux", "x86_64"):
        raise PackageError(
            "--deps-from-env copies this environment's packages, whose compiled modules are built for "
            f"{here[1]} {here[0][0]}.{here[0][1]} on {here[2]}/{here[3]}; Function Compute's python3.10 is "
            "CPython 3.10 on Linux/x86_64 and cannot import them. Run it from a Python 3.10 Linux x86_64 "
            "environment, or drop --deps-from-env to download FC's wheels from the package index"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aliyun_ops.deploy.package",
                                     description="Build the Function Compute code folder (for FC's python3.10).")
    parser.add_argument("--out", type=Path, default=Path("code"), help="code folder to build (default: code)")
    parser.add_argument("--project", type=Path, default=Path("."), help="project to install (default: .)")
    parser.add_argument("--no-deps", action="store_true", help="install the project only")
    parser.add_argument("--no-index", action="store_true", help="do not use the package index")
    parser.add_argument("--with-cli", action="store_true",
                        help="also ship the CLI's dependencies (typer, rich): the custom runtime runs `serve`")
    parser.add_argument("--deps-from-env", action="store_true",
                        help="offline, on CPython 3.10 Linux x86_64 only: copy this environment's dependencies")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        out = build(args.out, args.project, deps=not args.no_deps, index=not (args.no_index or args.deps_from_env),
                    build_isolation=not args.deps_from_env, deps_from_env=args.deps_from_env, cli=args.with_cli)
    except PackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
