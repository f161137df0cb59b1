"""Device profiles of every registered protocol, told apart by ``protocol:``.

A profile describes a device *model* (its tags and how to decode them) and knows nothing about
where a device is: that is a `device_profiles.device.DeviceConfig`, in a gateway config.
The union is built from the protocol registry (`device_profiles.protocols`), so a new protocol
is one line there, not another edit here.
"""

from __future__ import annotations

from typing import Annotated, Any, Union, cast

from pydantic import Field, TypeAdapter

from device_profiles.base import ProfileBase, TagBase
from device_profiles.protocols import PROTOCOLS

# A profile of any protocol, as the loader returns it: code that needs one protocol's fields
# checks ``isinstance(profile, PROTOCOLS[name].profile)``.
DeviceProfile = ProfileBase


def _adapter() -> TypeAdapter[DeviceProfile]:
    models = tuple(spec.profile for spec in PROTOCOLS.values())
    union: Any = models[0] if len(models) == 1 else Annotated[Union[models], Field(discriminator="protocol")]  # noqa: UP007
    return cast(TypeAdapter[DeviceProfile], TypeAdapter(union))


PROFILE_ADAPTER: TypeAdapter[DeviceProfile] = _adapter()

__all__ = ["PROFILE_ADAPTER", "DeviceProfile", "ProfileBase", "TagBase"]
