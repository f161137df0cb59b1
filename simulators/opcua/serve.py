"""Serve OPC UA device profiles until cancelled: the simulator entry of protocol opcua.

``serve(specs, host=...)`` is what ``device-sim serve`` calls (one server per device spec,
security None plus Basic256Sha256 Sign/SignAndEncrypt, anonymous); ``device-sim opcua``
(`simulators.opcua.command`) adds the security and user options.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from device_profiles.loader import resolve_profile
from device_profiles.opcua import OpcUaProfile
from simulators.devices import DeviceSpec
from simulators.opcua.server import OpcUaSimulator

log = logging.getLogger("device_sim.opcua")

DEFAULT_SECURITY = ("None", "Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt")


def build(spec: DeviceSpec, *, host: str = "127.0.0.1", security: Sequence[str] = DEFAULT_SECURITY,
          users: dict[str, str] | None = None, pki_dir: Path | None = None) -> OpcUaSimulator:
    profile = resolve_profile(spec.profile)
    if not isinstance(profile, OpcUaProfile):
        raise ValueError(f"profile {spec.profile!r} is not an OPC UA profile (protocol: {profile.protocol})")
    return OpcUaSimulator(profile, port=spec.port, host=host, seed=spec.seed, security=security,
                          users=users, pki_dir=pki_dir)


async def serve(
    specs: Sequence[DeviceSpec],
    *,
    host: str = "127.0.0.1",
    security: Sequence[str] = DEFAULT_SECURITY,
    users: dict[str, str] | None = None,
    pki_dir: Path | None = None,
) -> None:
    """Run one simulator per spec until cancelled."""
    sims = [build(s, host=host, security=security, users=users, pki_dir=pki_dir) for s in specs]
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
