"""What the gateway announces on every connection: its devices, their tags, the expected
interval and report mode of each tag, and the business links (业务环节) it serves.

The cloud's registry and the evidence are built from births, so a birth says what the gateway
*expects* to produce; the counters on every batch then say what it did.
"""

from __future__ import annotations

from pathlib import Path

from device_profiles.device import DeviceConfig
from device_profiles.loader import resolve_profile
from device_profiles.models import DeviceProfile
from edge_agent import __version__
from edge_agent.config import GatewayConfig
from edge_agent.normalize import Normalizer, Rule
from wire.json_v1 import BirthMessage, DeviceInfo, EnterpriseInfo, TagInfo
from wire.sample import now_ms


def load_devices(cfg: GatewayConfig, config_path: Path) -> list[tuple[DeviceConfig, DeviceProfile]]:
    """The enabled devices with their profiles (a relative profile path is relative to the
    gateway config)."""
    return [
        (dev, resolve_profile(dev.profile, relative_to=config_path))
        for dev in cfg.devices
        if dev.enabled
    ]


Devices = list[tuple[DeviceConfig, DeviceProfile, Normalizer]]


def _device_info(dev: DeviceConfig, prof: DeviceProfile, norm: Normalizer) -> DeviceInfo:
    def tag_info(rule: Rule, t: object) -> TagInfo:
        name = str(getattr(t, "name"))  # noqa: B009 - TagBase of any protocol
        return TagInfo(
            name=name, type=str(getattr(t, "type", None) or getattr(t, "data_type", "unknown")),
            unit=rule.unit, description=getattr(t, "description", None),
            interval_ms=dev.interval_ms or prof.interval_of(t),  # type: ignore[arg-type]
            report="change" if rule.mode == "change" else "all",
            heartbeat_ms=rule.heartbeat_ms if rule.mode == "change" else None,
            links=prof.links_of(t),  # type: ignore[arg-type]
        )

    return DeviceInfo(
        id=dev.id, profile=prof.profile, protocol=prof.protocol,
        manufacturer=prof.manufacturer, model=prof.model, workshop=dev.workshop,
        line=dev.line, key_process=dev.key_process,
        tags=[tag_info(norm.rules[t.name], t) for t in prof.tags],
    )


def _head(cfg: GatewayConfig, *, session: str, next_seq: int, devices: list[DeviceInfo]) -> BirthMessage:
    ent = cfg.gateway.enterprise
    return BirthMessage(
        enterprise=ent.id,
        gateway=cfg.gateway.id,
        session=session,
        ts=now_ms(),
        next_seq=next_seq,
        agent_version=__version__,
        enterprise_info=EnterpriseInfo(name=ent.name, industry=ent.industry, district=ent.district),
        devices=devices,
    )


def birth_message(cfg: GatewayConfig, devices: Devices, *, session: str, next_seq: int) -> BirthMessage:
    """The whole birth as one model (the Sparkplug encoder maps it to NBIRTH/DBIRTH)."""
    return _head(cfg, session=session, next_seq=next_seq,
                 devices=[_device_info(dev, prof, norm) for dev, prof, norm in devices])


def birth_json(cfg: GatewayConfig, devices: Devices, *, session: str, next_seq: int) -> bytes:
    """The JSON v1 birth, byte for byte ``birth_message(...).model_dump_json(exclude_none=True)``,
    made one device at a time: ten devices of 1,000 tags as one model were 10,000 TagInfo objects
    alive at once, 8 MB, the agent's peak memory at every connection. Now one device's models
    are alive at a time, and the text."""
    head = _head(cfg, session=session, next_seq=next_seq, devices=[]).model_dump_json(exclude_none=True)
    empty = '"devices":[]}'
    if not head.endswith(empty):  # pragma: no cover - devices is the model's last field
        raise AssertionError("BirthMessage.devices is no longer its last field")
    parts = [_device_info(dev, prof, norm).model_dump_json(exclude_none=True)
             for dev, prof, norm in devices]
    return (head[: -len(empty)] + '"devices":[' + ",".join(parts) + "]}").encode()
