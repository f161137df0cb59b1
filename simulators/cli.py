"""``device-sim``: serve device profiles as simulated devices, one or many per process.

    device-sim serve --device energy_meter_3ph@15020 --device filling_line@4840   (any protocol)
    device-sim modbus --profile energy_meter_3ph --port 15020 [--unit 1] [--seed 7]
    device-sim opcua --profile filling_line --port 4840 --security Basic256Sha256_SignAndEncrypt
    device-sim profiles

``serve`` takes the protocol from each profile; the protocol subcommands (every option of one
simulator) come from the simulator packages (`simulators.registry`), imported only when named.
Exit codes as every command line of the product (`common.cli`): 1 when a simulator cannot run
(its port is taken), 2 for bad arguments or profiles.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from common.cli import attach_examples, examples_epilog
from device_profiles.loader import library_profiles
from simulators.devices import DeviceSpec, parse_device
from simulators.help_examples import EXAMPLES
from simulators.registry import COMMANDS, command_for, serve_all
from simulators.run import run_until_interrupted


class _Commands(click.Group):
    """The generic commands, plus one per protocol whose simulator has its own."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in COMMANDS:
            found = command_for(cmd_name)
            if cmd_name in EXAMPLES:
                found.epilog = examples_epilog(EXAMPLES[cmd_name])
        return found


@click.group(cls=_Commands)
def main() -> None:
    """Simulated shop-floor devices for development, tests and demos."""


@main.command()
@click.option("--device", "devices", multiple=True, required=True, metavar="PROFILE@PORT[:UNIT]")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def serve(devices: tuple[str, ...], host: str, seed: int) -> None:
    """Serve devices of any protocol; each profile says which."""
    run_specs([parse_device(text, seed=seed + i) for i, text in enumerate(devices)], host=host)


@main.command()
def profiles() -> None:
    """List the profiles shipped in the library."""
    for name, path in library_profiles().items():
        click.echo(f"{name}\t{path.parent.name}")


def run_specs(specs: Sequence[DeviceSpec], *, host: str = "127.0.0.1") -> None:
    """Programmatic entry (scripts): serve ``specs`` until interrupted."""
    run_until_interrupted(serve_all(specs, host=host))


attach_examples(main, EXAMPLES)

if __name__ == "__main__":
    main()
