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
