"""Serve OPC UA device profiles until cancelled: the ``device-sim`` entry for protocol opcua.

``serve(specs, host=...)`` is what ``simulators.cli.SERVERS["opcua"]`` calls (one server per
device spec, security None plus Basic256Sha256 Sign/SignAndEncrypt, anonymous). For security
and user options run this module directly::

    python -m simulators.opcua.serve --profile filling_line --port 4840 \\
        --security None --security Basic256Sha256_SignAndEncrypt --user operator:secret
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from device_profiles.loader import resolve_profile
from device_profiles.opcua import OpcUaProfile
from simulators.opcua.server import SECURITY_MODES, OpcUaSimulator

log = logging.getLogger("device_sim.opcua")

DEFAULT_SECURITY = ("None", "Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt")


def build(
    profile_ref: str, *, port: int, host: str = "127.0.0.1", seed: int = 0, **kwargs: Any
) -> OpcUaSimulator:
    profile = resolve_profile(profile_ref)
    if not isinstance(profile, OpcUaProfile):
        raise ValueError(f"profile {profile_ref!r} is not an OPC UA profile (protocol: {profile.protocol})")
    return OpcUaSimulator(profile, port=port, host=host, seed=seed, **kwargs)


async def serve(
    specs: Sequence[Any],
    *,
    host: str = "127.0.0.1",
    security: Sequence[str] = DEFAULT_SECURITY,
    users: dict[str, str] | None = None,
    pki_dir: Path | None = None,
) -> None:
    """Run one simulator per spec (``.profile``, ``.port``, ``.seed``) until cancelled."""
    sims = [
        build(
            s.profile,
            port=s.port,
            host=host,
            seed=getattr(s, "seed", 0),
            security=security,
            users=users,
            pki_dir=pki_dir,
        )
        for s in specs
    ]
    try:
        for sim in sims:
            await sim.start()
            print(
                f"opcua {sim.endpoint} profile={sim.profile.profile} security={','.join(sim.security)} "
                f"certificate={sim.certificate}",
                flush=True,
            )
        await asyncio.Event().wait()
    finally:
        for sim in sims:
            await sim.stop()
            sim.close()


@click.command()
@click.option("--profile", required=True, help="profile name from the library, or a YAML path")
@click.option("--port", type=int, default=4840, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--security",
    "security",
    multiple=True,
    type=click.Choice(list(SECURITY_MODES)),
    help="repeatable; default None + Basic256Sha256 Sign/SignAndEncrypt",
)
@click.option("--user", "users", multiple=True, metavar="NAME:PASSWORD", help="repeatable username token")
@click.option(
    "--pki-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="keep the server certificate here (so clients trust it once)",
)
def main(
    profile: str,
    port: int,
    host: str,
    seed: int,
    security: tuple[str, ...],
    users: tuple[str, ...],
    pki_dir: Path | None,
) -> None:
    """Serve one OPC UA device profile."""
    logging.basicConfig(level=logging.INFO)
    creds = dict(u.split(":", 1) for u in users)

    class _Spec:
        def __init__(self) -> None:
            self.profile, self.port, self.seed = profile, port, seed

    try:
        asyncio.run(
            serve([_Spec()], host=host, security=security or DEFAULT_SECURITY, users=creds, pki_dir=pki_dir)
        )
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
