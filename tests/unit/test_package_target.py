"""The code folder is for Function Compute's python3.10 (CPython 3.10, Debian 10 x86_64), not the build machine.

The build test downloads FC's wheels from the package index (the one network use of the suite: pip's own
cache keeps reruns short); it runs on whatever Python runs the suite (3.11 on CI) and fails on any compiled
module that is not cp310/abi3 for manylinux x86_64. When a CPython 3.10 interpreter is on the machine, the
folder is also imported and run with it, alone (``-I -S``) and with the CLI's packages blocked.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aliyun_ops.deploy.package import (
    ROOT as PROJECT_NAME,
)
from aliyun_ops.deploy.package import (
    PackageError,
    build,
    missing_for_target,
    target_command,
)

ROOT = Path(__file__).resolve().parents[2]
CLI_PACKAGES = ("typer", "rich", "click", "pygments", "markdown_it", "shellingham", "alibabacloud_fc20230330",
                "alibabacloud_eventbridge20200401", "alibabacloud_ram20150501")
# glibc of Debian 10 (buster), FC's python3.10 image: the newest manylinux a wheel may need there.
FC_GLIBC = (2, 28)
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def _copy_project(dest: Path) -> Path:
    dest.mkdir()
    shutil.copy(ROOT / "pyproject.toml", dest)
    (dest / "README.md").write_text("# aliyun-ops\n")
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest


@pytest.fixture(scope="module")
def code_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m aliyun_ops.deploy.package --out code`` as s.yaml's pre-deploy step runs it (the project
    is built without isolation only to spare downloading setuptools)."""
    tmp = tmp_path_factory.mktemp("package")
    return build(tmp / "code", _copy_project(tmp / "project"), build_isolation=False)


def _glibc(platform_tag: str) -> tuple[int, int] | None:
    """(major, minor) glibc of a manylinux x86_64 tag; None for anything else (macOS, musl, aarch64...)."""
    if not platform_tag.endswith("_x86_64"):
        return None
    legacy = LEGACY_MANYLINUX.get(platform_tag.removesuffix("_x86_64"))
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", platform_tag)
    return legacy or ((int(match.group(1)), int(match.group(2))) if match else None)


def _loads_on_fc(tag: str) -> bool:
    """Does a wheel tag (python-abi-platform) load on CPython 3.10 manylinux x86_64 with glibc 2.28?"""
    python, abi, plat = tag.split("-")
    if plat == "any":
        return abi == "none" and python.startswith(("py3", "py2.py3", "cp310"))
    glibc = _glibc(plat)
    if glibc is None or glibc > FC_GLIBC:
        return False
    if abi == "abi3":
        return re.fullmatch(r"cp3(\d+)", python) is not None and int(python[3:]) <= 10
    return python == "cp310" and abi == "cp310"


def test_wheel_tag_check_tells_fc_wheels_from_the_build_machines() -> None:
    """The rule the build test applies, on the tags the issue found and on the ones FC loads."""
    assert _loads_on_fc("cp310-cp310-manylinux_2_17_x86_64")
    assert _loads_on_fc("cp37-abi3-manylinux_2_28_x86_64") and _loads_on_fc("py3-none-any")
    assert not _loads_on_fc("cp311-cp311-manylinux_2_17_x86_64")
    assert not _loads_on_fc("cp310-cp310-manylinux_2_34_x86_64")  # newer glibc than Debian 10's
    assert not _loads_on_fc("cp310-cp310-macosx_11_0_arm64") and not _loads_on_fc("cp310-cp310-musllinux_1_1_x86_64")
    assert not _loads_on_fc("cp311-abi3-manylinux2014_x86_64")


def test_the_build_asks_pip_for_fc_wheels_only() -> None:
    cmd = target_command(Path("code"), ["pydantic>=2.7"])
    assert cmd[cmd.index("--python-version") + 1] == "3.10" and cmd[cmd.index("--abi") + 1] == "cp310"
    assert cmd[cmd.index("--implementation") + 1] == "cp" and "--only-binary=:all:" in cmd
    assert {cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--platform"} == {
        "manylinux_2_28_x86_64", "manylinux2014_x86_64"}  # fmt: skip


def test_every_compiled_module_in_the_folder_is_built_for_fc_python310(code_folder: Path) -> None:
    """On 3.11 the old packager shipped ``*.cpython-311-x86_64-linux-gnu.so``: FC's python3.10 cannot load them."""
    compiled = sorted(code_folder.rglob("*.so"))
    assert compiled, "no compiled module at all: pydantic-core, PyYAML and cffi have one"
    wrong = [str(p.relative_to(code_folder)) for p in compiled
             if not p.name.endswith((".cpython-310-x86_64-linux-gnu.so", ".abi3.so"))]
    assert wrong == []
    tags = {}
    for wheel in code_folder.glob("*.dist-info/WHEEL"):
        tags[wheel.parent.name] = [line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines()
                                   if line.startswith("Tag:")]
    assert [name for name, found in tags.items() if not any(_loads_on_fc(t) for t in found)] == []
    assert any(name.startswith("pydantic_core-") for name in tags)


def test_the_folder_has_the_requirements_of_python310_that_the_build_python_skips(code_folder: Path) -> None:
    """pip reads markers with the build Python: on 3.11 it skips anyio's exceptiongroup and aiohttp's
    async-timeout, and the folder would fail at import on FC."""
    assert (code_folder / "exceptiongroup").is_dir() and (code_folder / "async_timeout").is_dir()
    assert missing_for_target(code_folder) == []


def test_the_folder_holds_nothing_only_the_cli_needs(code_folder: Path) -> None:
    present = [name for name in CLI_PACKAGES if (code_folder / name).exists()]
    present += [p.name for p in code_folder.glob("*.dist-info") if p.name.split("-")[0].lower() in CLI_PACKAGES]
    assert present == []
    assert (code_folder / "aliyun_ops" / "runtime" / "fc.py").exists()
    assert (code_folder / "alibabacloud_ecs20140526").is_dir() and (code_folder / "pydantic_core").is_dir()


def test_the_folder_size_is_what_docs_say(code_folder: Path) -> None:
    """docs/performance.md gives the folder's size: it must still be that, to the megabyte's tens."""
    size = sum(p.stat().st_size for p in code_folder.rglob("*") if p.is_file())
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    match = re.search(r"code folder[^\n]*?(\d+) MB", text)
    assert match, "docs/performance.md does not give the code folder's size"
    assert abs(size / 1e6 - int(match.group(1))) < 15, f"the folder is {size / 1e6:.0f} MB"


_NO_CLI_PROBE = """
import json, sys
for name in {cli!r}:
    sys.modules[name] = None  # import fails: the function must not need them
sys.path.insert(0, sys.argv[1])
from types import SimpleNamespace
import aliyun_ops.runtime.fc as fc
import aliyun_ops.runtime.server, aliyun_ops.service, aliyun_ops.notify, aliyun_ops.cloud.sdk
import alibabacloud_ecs20140526.client, alibabacloud_vpc20160428.client, alibabacloud_cms20190101.client
answer = json.loads(fc.handler(sys.argv[2].encode(), SimpleNamespace(request_id="r-1", credentials=None)))
print(json.dumps({{"status": answer["status"], "python": list(sys.version_info[:2]),
                  "cli": sorted(m for m in sys.modules if m.split(".")[0] in {cli!r} and sys.modules[m])}}))
""".format(cli=("typer", "rich", "click", "pygments", "shellingham", "markdown_it", "alibabacloud_fc20230330",
                 "alibabacloud_eventbridge20200401", "alibabacloud_ram20150501"))


def _run_probe(python: str, path: Path, *flags: str) -> dict[str, object]:
    event = (ROOT / "tests" / "events" / "cloudmonitor_other_product.json").read_text(encoding="utf-8")
    done = subprocess.run(
        [python, *flags, "-c", _NO_CLI_PROBE, str(path), event], capture_output=True, text=True, check=False,
        env={"ALIYUN_OPS_REGION": "cn-hangzhou", "PATH": os.environ.get("PATH", "")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_function_runs_with_the_cli_packages_blocked() -> None:
    """Here typer and rich are installed; the handler, the runtime server and the engine load and answer
    without them (else the folder, which leaves them out, would fail at import on FC)."""
    result = _run_probe(sys.executable, ROOT / "src")
    assert result["status"] == "ignored" and result["cli"] == []


def _python310() -> str | None:
    """A CPython 3.10 interpreter on this machine, if any (ALIYUN_OPS_TEST_PYTHON310, PATH, pyenv)."""
    candidates = [os.environ.get("ALIYUN_OPS_TEST_PYTHON310", ""), shutil.which("python3.10") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10")))
    for python in filter(None, candidates):
        done = subprocess.run([python, "-c", "import sys, platform; print(sys.version_info[:2] == (3, 10) and "
                               "platform.python_implementation() == 'CPython')"],
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode == 0 and done.stdout.strip() == "True":
            return python
    return None


@pytest.mark.skipif(platform.machine() != "x86_64" or sys.platform != "linux", reason="FC's wheels load on x86_64")
def test_the_folder_alone_runs_the_handler_on_python310(code_folder: Path) -> None:
    """FC's interpreter, the folder alone (-I -S: no site-packages), the CLI's packages blocked."""
    python = _python310()
    if python is None:
        pytest.skip("no CPython 3.10 here to import the folder with (set ALIYUN_OPS_TEST_PYTHON310)")
    result = _run_probe(python, code_folder, "-I", "-S")
    assert result == {"status": "ignored", "python": [3, 10], "cli": []}


_THIS_PYTHON = (sys.version_info[:2], platform.python_implementation(), platform.system(), platform.machine())


@pytest.mark.skipif(_THIS_PYTHON == ((3, 10), "CPython", "Linux", "x86_64"),
                    reason="this Python is FC's: copying its packages is allowed")  # fmt: skip
def test_deps_from_env_is_refused_on_another_python(tmp_path: Path) -> None:
    """The old packager warned and exited 0 with a folder of this Python's compiled modules."""
    with pytest.raises(PackageError, match=r"CPython 3\.10 on Linux/x86_64 and cannot import them"):
        build(tmp_path / "code", _copy_project(tmp_path / "project"), index=False, build_isolation=False,
              deps_from_env=True)  # fmt: skip
    assert not (tmp_path / "code").exists()


def test_missing_for_target_reads_markers_as_python310(tmp_path: Path) -> None:
    """Requirements pip skipped on the build Python are found; extras nobody asked for and the CLI's are not."""
    _dist(tmp_path, "anyio", ['exceptiongroup>=1.0.2; python_version < "3.11"', 'trio>=0.26; extra == "trio"',
                              'uvloop; sys_platform == "win32"'])  # fmt: skip
    _dist(tmp_path, PROJECT_NAME, ["typer>=0.12", "rich>=13", "anyio", 'tomli; python_version < "3.11"'])
    assert missing_for_target(tmp_path) == ["exceptiongroup>=1.0.2", "tomli"]
    assert missing_for_target(tmp_path, cli=True) == ["exceptiongroup>=1.0.2", "rich>=13", "tomli", "typer>=0.12"]


def _dist(folder: Path, name: str, requires: list[str]) -> None:
    info = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0", *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
