"""Load device profiles from YAML: from the library by name, or from a file by path.

Errors name the file, the field path and what would be valid (`common.config_files`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from common.config_files import ConfigError, read_yaml, validate
from device_profiles.models import PROFILE_ADAPTER, DeviceProfile

LIBRARY = Path(__file__).parent / "library"

__all__ = ["LIBRARY", "ConfigError", "library_profiles", "load_profile", "resolve_profile"]


def load_profile(path: Path | str) -> DeviceProfile:
    path = Path(path)
    profile: DeviceProfile = validate(PROFILE_ADAPTER, read_yaml(path), path)
    return profile


def library_profiles() -> dict[str, Path]:
    """Profile name -> file, for every profile shipped in the library."""
    return {p.stem: p for p in sorted(LIBRARY.rglob("*.yaml"))}


@cache
def _cached_profile(path: Path) -> DeviceProfile:
    return load_profile(path)


def resolve_profile(ref: str, *, relative_to: Path | None = None) -> DeviceProfile:
    """A device's ``profile:`` is a library name or a path (relative to its config file)."""
    if ref.endswith((".yaml", ".yml")) or "/" in ref:
        path = Path(ref)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to.parent / path
        return _cached_profile(path.resolve())
    known = library_profiles()
    if ref not in known:
        raise ConfigError(
            relative_to or "profile",
            [f"profile {ref!r} is not in the library; known: {', '.join(sorted(known))}, "
             "or give a path ending in .yaml"],
        )
    return _cached_profile(known[ref])
