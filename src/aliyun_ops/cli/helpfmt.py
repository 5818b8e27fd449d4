"""Help pages without a type for flags.

Typer's rich help prints a type beside every option, ``<bool>`` for a flag too (``--json <bool>``), which reads as
if the flag took a value. A flag takes none: its type column stays empty. The root group hides it for every command
it hands out, so a command added later is covered without a change here.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup


class FlagsWithoutTypeGroup(TyperGroup):
    """The root group: its own flags and those of every command (and sub-group) under it show no type."""

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)
        _untyped_flags(params)
        return params

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _untype_command(command, ctx)
        return command


def _untype_command(command: Any, ctx: Any) -> None:
    """The command's flags, its --help, and those of its sub-commands (a group's ``commands``)."""
    _untyped_flags([*command.params, command.get_help_option(ctx)])
    for sub in getattr(command, "commands", {}).values():
        _untype_command(sub, ctx)


def _untyped_flags(params: list[Any]) -> None:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # the rich help prints the metavar, when set, instead of the type
