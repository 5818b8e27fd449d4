"""Build the code folder Function Compute runs: this project and its dependencies, nothing else.

    python -m aliyun_ops.deploy.package --out code [--project .]

is ``pip install --target <out> <project>``. Function Compute's python3.10 runtime is Linux x86_64, and
pydantic-core is compiled: build with Python 3.10 on Linux x86_64 (for example inside
``docker run --rm -v "$PWD":/src -w /src python:3.10-slim python -m pip install --target code .``),
otherwise the folder will not import there. The packager warns when the build interpreter differs.

``--deps-from-env`` builds offline: the project is installed without its dependencies, which are then
copied from the environment running the packager (the installed closure of ``aliyun-ops``'s
requirements). Run it from a Python 3.10 Linux x86_64 venv for the same reason as above.

The folder leaves out the local ECS/VPC emulator (``aliyun_ops/emulator``, its scenario data included):
it is for tests, the demo and the bench, the function never imports it (tests/unit/test_architecture.py),
and it is about a third of the code. The installed RECORD is rewritten to match what is left.

A folder it built holds a ``.aliyun-ops-package`` marker; it is emptied before a rebuild. Any other
non-empty folder is refused, so a typo cannot wipe a directory.
"""

from __future__ import annotations

import argparse
import csv
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

log = logging.getLogger(__name__)

MARKER = ".aliyun-ops-package"
FC_PYTHON = (3, 10)
# Packages of this project that the function does not need, left out of the code folder.
LEFT_OUT = ("aliyun_ops/emulator",)


class PackageError(Exception):
    """The code folder could not be built."""


def pip_command(out: Path, project: Path, *, deps: bool = True, index: bool = True,
                build_isolation: bool = True) -> list[str]:
    """The one pip command the build runs (the flags turned off are for offline tests)."""
    cmd = [sys.executable, "-m", "pip", "install", "--target", str(out), "--no-compile",
           "--disable-pip-version-check", "--no-input"]
    cmd += [] if deps else ["--no-deps"]
    cmd += [] if index else ["--no-index"]
    cmd += [] if build_isolation else ["--no-build-isolation"]
    return [*cmd, str(project)]


def prepare(out: Path) -> None:
    """Empty a folder this tool built before; refuse any other non-empty folder."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise PackageError(f"{out} is not empty and was not built by aliyun-ops; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    names = []
    for req in dist.requires or []:
        if "extra ==" in req.replace("extra==", "extra =="):
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req)
        if match:
            names.append(match.group(0))
    return names


def installed_closure(requirements: Sequence[str]) -> list[metadata.Distribution]:
    """Every installed distribution these requirements need, transitively (extras left out; one whose
    marker excludes this interpreter is not installed, so it is skipped)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(requirements)
    while todo:
        name = _canonical(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        todo.extend(_requirement_names(dist))
    return list(seen.values())


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def vendor_installed(out: Path, root: str = "aliyun-ops") -> list[str]:
    """Copy into ``out`` the installed dependencies of ``root`` as just installed there (its fresh
    metadata says what it requires); return their names."""
    built = next((d for d in metadata.distributions(path=[str(out)]) if _canonical(d.metadata["Name"]) == root), None)
    if built is None:
        raise PackageError(f"{out} holds no {root} metadata to read its requirements from")
    copied = []
    for dist in installed_closure(_requirement_names(built)):
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


def build(
    out: Path,
    project: Path,
    *,
    deps: bool = True,
    index: bool = True,
    build_isolation: bool = True,
    deps_from_env: bool = False,
) -> Path:
    """Install ``project`` (with its dependencies, from the index or ``deps_from_env``) into ``out``,
    less what the function does not need (``LEFT_OUT``)."""
    out, project = Path(out).resolve(), Path(project).resolve()
    if not (project / "pyproject.toml").exists():
        raise PackageError(f"{project} has no pyproject.toml")
    if project.is_relative_to(out) or out.is_relative_to(project / "src"):
        raise PackageError(f"--out {out} would overwrite the project itself; choose a folder such as ./code")
    _warn_if_not_fc_like()
    prepare(out)
    cmd = pip_command(out, project, deps=deps and not deps_from_env, index=index, build_isolation=build_isolation)
    log.info("running %s", " ".join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PackageError(f"pip failed ({done.returncode}):\n{done.stderr[-4000:]}")
    (out / MARKER).write_text("built by python -m aliyun_ops.deploy.package\n", encoding="utf-8")
    if not (out / "aliyun_ops" / "__init__.py").exists():
        raise PackageError(f"{out} does not hold the aliyun_ops package after pip install")
    log.info("left out of the code folder: %s", ", ".join(leave_out(out)) or "nothing")
    if deps_from_env:
        names = vendor_installed(out)
        log.info("copied %d installed dependencies: %s", len(names), ", ".join(names))
    return out


def _warn_if_not_fc_like() -> None:
    here = (sys.version_info[:2], platform.system(), platform.machine())
    if here != (FC_PYTHON, "Linux", "x86_64"):
        log.warning("building with Python %d.%d on %s/%s; Function Compute's python3.10 is Linux/x86_64: compiled "
                    "dependencies (pydantic-core) may not import there", *here[0], here[1], here[2])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aliyun_ops.deploy.package",
                                     description="Build the Function Compute code folder.")
    parser.add_argument("--out", type=Path, default=Path("code"), help="code folder to build (default: code)")
    parser.add_argument("--project", type=Path, default=Path("."), help="project to install (default: .)")
    parser.add_argument("--no-deps", action="store_true", help="install the project only")
    parser.add_argument("--no-index", action="store_true", help="do not use the package index")
    parser.add_argument("--deps-from-env", action="store_true",
                        help="offline: copy the dependencies installed in this environment instead of pip's")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        out = build(args.out, args.project, deps=not args.no_deps, index=not (args.no_index or args.deps_from_env),
                    build_isolation=not args.deps_from_env, deps_from_env=args.deps_from_env)
    except PackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
