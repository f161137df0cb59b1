"""Fixtures for the OPC UA collector tests: the real simulator on a free loopback port.

Starting an asyncua server costs a couple of seconds, so a module shares one simulator
(module-scoped event loop) unless a test needs to stop or reconfigure its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from device_profiles.device import DeviceConfig
from device_profiles.loader import load_profile
from device_profiles.opcua import OpcUaProfile
from simulators.opcua.server import OpcUaSimulator
from tests.support import free_port

CASES = Path(__file__).resolve().parents[2] / "cases" / "opcua"


def case_profile(name: str) -> OpcUaProfile:
    profile = load_profile(CASES / name / "profile.yaml")
    assert isinstance(profile, OpcUaProfile)
    return profile


def device(endpoint: str, *, id: str = "plc1", timeout_s: float = 2.0, **options: Any) -> DeviceConfig:
    return DeviceConfig(id=id, profile="test", endpoint=endpoint, timeout_s=timeout_s, options=options)


@pytest.fixture(scope="module")
def basic_profile() -> OpcUaProfile:
    return case_profile("basic")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def basic_sim(basic_profile: OpcUaProfile) -> AsyncIterator[OpcUaSimulator]:
    sim = OpcUaSimulator(basic_profile, port=free_port())
    async with sim:
        yield sim
    sim.close()
