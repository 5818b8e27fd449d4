"""The import rules between the product and its emulator, read from the source with ``ast``.

- Nothing of the product imports ``aliyun_ops.emulator`` (eagerly, inside a function, under
  ``TYPE_CHECKING``, or by name through ``importlib.import_module``/``__import__``), except the CLI,
  which starts the emulator for ``aliyun-ops emulator`` and ``aliyun-ops demo``. So the function's
  code folder can leave the emulator out (tests/unit/test_deploy.py builds one without it).
- The emulator imports nothing of the product (``aliyun_ops.*`` outside ``aliyun_ops.emulator``): it
  is a separate world, a stand-in for the cloud, whatever the product does.
Tests and bench may import both.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
EMULATOR = "aliyun_ops.emulator"
MAY_IMPORT_EMULATOR = ("aliyun_ops.cli",)


def module_name(path: Path, root: Path = SRC) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import anywhere in ``source``: top level, in functions,
    under ``if TYPE_CHECKING``, relative ones resolved, ``from pkg import sub`` as ``pkg.sub``, and
    ``importlib.import_module("...")``/``__import__("...")`` with a literal name."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}"  # a submodule or just a name: both count
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """Every import in ``module``'s source that breaks the rules, as "module:line imports name"."""
    found = []
    for line, name in imported_modules(source, module, is_package=is_package):
        if _within(module, EMULATOR):
            bad = _within(name, "aliyun_ops") and not _within(name, EMULATOR) and name != "aliyun_ops"
        else:
            bad = _within(name, EMULATOR) and not any(_within(module, ok) for ok in MAY_IMPORT_EMULATOR)
        if bad:
            found.append(f"{module}:{line} imports {name}")
    return found


def _sources() -> list[Path]:
    return sorted((SRC / "aliyun_ops").rglob("*.py"))


def test_the_source_tree_is_where_the_test_looks() -> None:
    modules = {module_name(p) for p in _sources()}
    assert {"aliyun_ops.runtime.fc", "aliyun_ops.emulator.backend", "aliyun_ops.cli.demo"} <= modules


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_import_rules_between_product_and_emulator(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert violations(source, module_name(path), is_package=path.name == "__init__.py") == []


@pytest.mark.parametrize(
    ("module", "source", "bad"),
    [
        # the emulator reaching into the product, however it is written
        ("aliyun_ops.emulator.backend", "def f():\n    from aliyun_ops.deploy import load_ram_policy\n",
         "aliyun_ops.deploy"),
        ("aliyun_ops.emulator.backend", "from .. import deploy\n", "aliyun_ops.deploy"),
        ("aliyun_ops.emulator.models.images", "from ...events import parse_event\n", "aliyun_ops.events"),
        ("aliyun_ops.emulator.server", "import importlib\nimportlib.import_module('aliyun_ops.config')\n",
         "aliyun_ops.config"),
        ("aliyun_ops.emulator", "from aliyun_ops import policy\n", "aliyun_ops.policy"),
        # the product reaching into the emulator
        ("aliyun_ops.service", "def f():\n    import aliyun_ops.emulator.backend\n", "aliyun_ops.emulator.backend"),
        ("aliyun_ops.runtime.fc", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
         "    from aliyun_ops.emulator import Emulator\n", "aliyun_ops.emulator"),
        ("aliyun_ops.runtime.invoke", "from .. import emulator\n", "aliyun_ops.emulator"),
        ("aliyun_ops.deploy", "__import__('aliyun_ops.emulator.delivery')\n", "aliyun_ops.emulator.delivery"),
    ],
)  # fmt: skip
def test_the_checker_catches_each_way_of_breaking_a_rule(module: str, source: str, bad: str) -> None:
    is_package = module in ("aliyun_ops.emulator", "aliyun_ops.deploy")
    assert any(v.endswith(f"imports {bad}") for v in violations(source, module, is_package=is_package))


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("aliyun_ops.emulator.server", "from .backend import Backend\nfrom . import responses\n"),
        ("aliyun_ops.emulator.models.images", "from ..core import Clock\nimport json\n"),
        ("aliyun_ops.cli.demo", "def f():\n    from aliyun_ops.emulator import Emulator\n"),
        ("aliyun_ops.service", "from aliyun_ops import errors, models\nimport aliyun_ops.events\n"),
    ],
)
def test_the_checker_lets_allowed_imports_pass(module: str, source: str) -> None:
    assert violations(source, module) == []
