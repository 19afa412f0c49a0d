"""Every command has help, and the help names what it does."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from fitpipe.cli import COMMANDS, cli


def _walk(
    group: click.Group, ctx: click.Context, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None:
            continue
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _walk(command, ctx, (*prefix, name))


def test_top_level_help_lists_every_available_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("path", [p for p, _ in _walk(cli, click.Context(cli))], ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    command: click.Command = cli
    ctx = click.Context(cli)
    for part in path:
        assert isinstance(command, click.Group), path
        found = command.get_command(ctx, part)
        assert found is not None, path
        command = found
    assert (command.help or "").strip(), f"fitpipe {' '.join(path)} has no help text"
