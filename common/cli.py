"""One exit-code convention for every command line of the product (``edge-agent``,
``cloud-ingest``, ``device-sim``), through click's own exceptions:

    0  done
    1  the command ran, and what it needed or checked failed (a device, the broker, the database)
    2  it could not start: bad usage or an invalid configuration (click's usage errors are 2 too)

Messages go to stderr as ``error: …``, one line per problem, saying what to do next.
"""

from __future__ import annotations

from typing import IO, Any

import click

EXIT_FAILED = 1
EXIT_CONFIG = 2


class _Error(click.ClickException):
    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class CommandFailed(_Error):
    """What the command needed or checked failed (exit 1)."""

    exit_code = EXIT_FAILED


class ConfigInvalid(_Error):
    """The command cannot start with this configuration or these arguments (exit 2)."""

    exit_code = EXIT_CONFIG



def examples_epilog(text: str) -> str:
    """``text`` (lines of shell, ``#`` comments allowed) as the end of a ``--help``."""
    lines = [line.strip() for line in text.strip().splitlines()]
    # "\b" keeps click from re-wrapping the block: each example stays on its own line
    return "\b\n示例 Examples:\n" + "\n".join(f"  {line}" for line in lines)


def attach_examples(root: click.Group, examples: dict[str, str]) -> None:
    """Put each command's examples at the end of its ``--help`` (``示例 Examples:``).

    ``examples`` maps a command path below ``root`` ("evidence build", "" for the root itself)
    to its examples. A path naming no command is a mistake in the table and raises, so the table
    cannot drift from the commands. A command a group loads lazily (listed, not yet loaded) is
    left to that group, which gives it ``examples_epilog`` when it loads it.
    """
    for path, text in examples.items():
        cmd: click.Command = root
        for name in path.split():
            if not isinstance(cmd, click.Group):
                raise KeyError(f"no command {path!r} under {root.name!r}")
            if name not in cmd.commands:
                if name in cmd.list_commands(click.Context(cmd)):
                    break
                raise KeyError(f"no command {path!r} under {root.name!r}")
            cmd = cmd.commands[name]
        else:
            cmd.epilog = examples_epilog(text)
