"""``device-sim opcua``: one OPC UA device with the security modes and user tokens of a real
PLC::

    device-sim opcua --profile filling_line --port 4840 \\
        --security None --security Basic256Sha256_SignAndEncrypt --user operator:secret \\
        --pki-dir var/sim-pki
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from simulators.devices import DeviceSpec
from simulators.opcua.serve import DEFAULT_SECURITY, serve
from simulators.opcua.server import SECURITY_MODES
from simulators.run import run_until_interrupted


@click.command("opcua")
@click.option("--profile", required=True, help="profile name from the library, or a YAML path")
@click.option("--port", type=int, default=4840, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--security", "security", multiple=True, type=click.Choice(list(SECURITY_MODES)),
              help="repeatable; default None + Basic256Sha256 Sign/SignAndEncrypt")
@click.option("--user", "users", multiple=True, metavar="NAME:PASSWORD", help="repeatable username token")
@click.option("--pki-dir", type=click.Path(path_type=Path), default=None,
              help="keep the server certificate here (so clients trust it once)")
def command(profile: str, port: int, host: str, seed: int, security: tuple[str, ...],
            users: tuple[str, ...], pki_dir: Path | None) -> None:
    """Serve one OPC UA device profile, with security modes and users."""
    logging.basicConfig(level=logging.INFO)
    bad = [u for u in users if ":" not in u]
    if bad:
        raise click.BadParameter(f"{', '.join(bad)}: expected NAME:PASSWORD", param_hint="--user")
    creds = dict(u.split(":", 1) for u in users)
    run_until_interrupted(serve([DeviceSpec(profile, port, None, seed)], host=host,
                                security=security or DEFAULT_SECURITY, users=creds, pki_dir=pki_dir))
