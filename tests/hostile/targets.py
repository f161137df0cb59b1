"""What hostile input is thrown at, and what each must do with it: the one list the property
tests (``tests/hostile/test_*.py``) and the longer fuzz run (``scripts/fuzz.py``) share.

A target is a hypothesis strategy of inputs and a ``check`` that feeds one input to the
product and returns an `Outcome` (accepted, or rejected with its reason). ``check`` raises
`Crash` when the input got an answer the product must never give: an exception other than
the target's own rejection, a rejection without a reason, an output the next stage refuses
(a sample the cloud's wire schema would reject), or more output than the input's limit.
"""
from __future__ import annotations

from tests.hostile.base import T0, Crash, Outcome, Target
from tests.hostile.device_targets import check_modbus, check_opcua, modbus_cases, opcua_values
from tests.hostile.file_targets import (
    GATEWAY_EXAMPLE,
    PROFILE_EXAMPLE,
    alias_bomb,
    check_inventory,
    inventory_files,
    load_gateway,
    load_profile,
    loader_check,
    xlsx_with_cell,
    yaml_texts,
)
from tests.hostile.wire_targets import (
    check_gzip,
    check_inbound,
    check_sparkplug,
    gzip_payloads,
    sparkplug_sessions,
    wire_messages,
)

__all__ = ["BY_NAME", "T0", "TARGETS", "Crash", "Outcome", "Target", "alias_bomb", "check_opcua",
           "xlsx_with_cell"]

TARGETS: tuple[Target, ...] = (
    Target("json_v1", wire_messages(), check_inbound),
    Target("gzip", gzip_payloads(), check_gzip),
    Target("sparkplug", sparkplug_sessions(), check_sparkplug),
    Target("gateway_config", yaml_texts(GATEWAY_EXAMPLE), loader_check(load_gateway, "gateway.yaml")),
    Target("device_profile", yaml_texts(PROFILE_EXAMPLE), loader_check(load_profile, "profile.yaml")),
    Target("inventory", inventory_files(), check_inventory),
    Target("modbus_codec", modbus_cases(), check_modbus),
    Target("opcua_convert", opcua_values(), check_opcua),
)
BY_NAME = {t.name: t for t in TARGETS}
