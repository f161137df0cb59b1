"""``cloud-ingest``: the cloud side's command line, one module per group of commands.

A new group of commands is a module here with its click commands and one line below.
"""

from __future__ import annotations

import logging
import sys

import click

from cloud_ingest.cli import (
    evidence_commands,
    gateway_commands,
    inventory_commands,
    key_commands,
    package_commands,
    service_commands,
    token_commands,
)
from cloud_ingest.cli.help_examples import EXAMPLES
from common.cli import attach_examples


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="debug logging")
def main(verbose: bool) -> None:
    """Cloud side of the shop-floor gateway: store what gateways publish, serve it back."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@main.group()
def evidence() -> None:
    """数据贯通证据 Data-connectivity evidence: figures for a window, signed packages, verification."""


@main.group()
def inventory() -> None:
    """设备台账 Equipment inventory of an enterprise, including devices no gateway reads."""


@main.group()
def keys() -> None:
    """证据签名密钥 The evidence signing key: create, show, rotate."""


@main.group()
def tokens() -> None:
    """API 令牌 API tokens: create (shown once), list, revoke."""


for command in (service_commands.migrate_cmd, service_commands.serve_cmd, service_commands.status_cmd):
    main.add_command(command)
evidence.add_command(evidence_commands.figures_cmd)
for command in (inventory_commands.import_cmd, inventory_commands.show_cmd, inventory_commands.template_cmd):
    inventory.add_command(command)
for command in package_commands.COMMANDS:
    evidence.add_command(command)
for command in key_commands.COMMANDS:
    keys.add_command(command)
main.add_command(gateway_commands.gateways)
tokens.add_command(token_commands.create_cmd)
tokens.add_command(token_commands.list_cmd)
tokens.add_command(token_commands.revoke_cmd)
tokens.add_command(token_commands.import_cmd)

attach_examples(main, EXAMPLES)
