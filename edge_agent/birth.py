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


def birth_message(cfg: GatewayConfig, devices: list[tuple[DeviceConfig, DeviceProfile, Normalizer]],
                  *, session: str, next_seq: int) -> BirthMessage:
    ent = cfg.gateway.enterprise

    def tag_info(dev: DeviceConfig, prof: DeviceProfile, rule: Rule, t: object) -> TagInfo:
        name = str(getattr(t, "name"))  # noqa: B009 - TagBase of any protocol
        return TagInfo(
            name=name, type=str(getattr(t, "type", None) or getattr(t, "data_type", "unknown")),
            unit=rule.unit, description=getattr(t, "description", None),
            interval_ms=dev.interval_ms or prof.interval_of(t),  # type: ignore[arg-type]
            report="change" if rule.mode == "change" else "all",
            heartbeat_ms=rule.heartbeat_ms if rule.mode == "change" else None,
            links=prof.links_of(t),  # type: ignore[arg-type]
        )

    return BirthMessage(
        enterprise=ent.id,
        gateway=cfg.gateway.id,
        session=session,
        ts=now_ms(),
        next_seq=next_seq,
        agent_version=__version__,
        enterprise_info=EnterpriseInfo(name=ent.name, industry=ent.industry, district=ent.district),
        devices=[
            DeviceInfo(
                id=dev.id, profile=prof.profile, protocol=prof.protocol,
                manufacturer=prof.manufacturer, model=prof.model, workshop=dev.workshop,
                line=dev.line, key_process=dev.key_process,
                tags=[tag_info(dev, prof, norm.rules[t.name], t) for t in prof.tags],
            )
            for dev, prof, norm in devices
        ],
    )
