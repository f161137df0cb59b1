"""The protocol registry: one line per protocol the product speaks.

Each entry names the protocol (the value of ``protocol:`` in a profile) and the model its
profiles validate as. The rest of a protocol lives in the packages named after it, one per
layer, and each layer finds its part by that name:

    device_profiles/<name>.py      the profile model (here, so profiles load before any collector)
    collectors/<name>/plugin.py    ``PLUGIN``: collector, options parser, discoverer and its URL schemes
    simulators/<name>/serve.py     ``serve(specs, *, host)``: the simulator (optional)

This module is the bottom of that stack on purpose: the profile loader, the collectors, the
edge agent's CLI and ``device-sim`` all read it, and it names no module above it — not even
in a string — so no import cycle can hide behind a lazy import. See collectors/README.md,
"How to add a protocol".
"""

from __future__ import annotations

from dataclasses import dataclass

from device_profiles.base import ProfileBase
from device_profiles.modbus import ModbusProfile
from device_profiles.opcua import OpcUaProfile


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolSpec:
    """One registered protocol."""

    name: str  # ``protocol:`` in profiles, and the package name under collectors/ and simulators/
    label: str  # how messages name it
    profile: type[ProfileBase]  # the model of its profiles; its ``protocol`` field is Literal[name]


PROTOCOLS: dict[str, ProtocolSpec] = {
    "modbus": ProtocolSpec(name="modbus", label="Modbus (TCP, RTU)", profile=ModbusProfile),
    "opcua": ProtocolSpec(name="opcua", label="OPC UA", profile=OpcUaProfile),
}
