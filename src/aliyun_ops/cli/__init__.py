"""The ``aliyun-ops`` command line: thin commands that build the engine's objects, call them, print."""

from __future__ import annotations


def main() -> None:
    """Entry point of the ``aliyun-ops`` script (pyproject ``[project.scripts]``)."""
    from aliyun_ops.cli.app import app

    app()


__all__ = ["main"]
