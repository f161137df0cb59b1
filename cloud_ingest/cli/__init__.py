"""``cloud-ingest``: the cloud side's command line, one module per group of commands.

A new group of commands is a module here with its click commands and one line below.
"""

from __future__ import annotations

import logging
import sys

import click

from cloud_ingest.cli import service_commands


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def main(verbose: bool) -> None:
    """Cloud side of the shop-floor gateway: store what gateways publish, serve it back."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


for command in (service_commands.migrate_cmd, service_commands.serve_cmd, service_commands.status_cmd):
    main.add_command(command)
