"""Load profiles and gateway configs from YAML, with errors a technician can act on.

Every error names the file, the field path (``devices[1].endpoint``) and what would be valid.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from device_profiles.models import PROFILE_ADAPTER, DeviceProfile, GatewayConfig

LIBRARY = Path(__file__).parent / "library"

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """A configuration file that cannot be used, with every problem listed."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + ("\n  ".join(["invalid configuration:", *problems])))


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def _describe(err: Any, data: Any) -> str:
    # Pydantic puts the union branch / validator name into loc; drop the noise.
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    if loc and isinstance(data, dict) and loc[0] == data.get("protocol"):
        loc = loc[1:]  # the discriminated-union branch, not a field the user wrote
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling; see the example configs in examples/)"
    elif err["type"] == "missing":
        msg = "required field is missing"
    got = err.get("input")
    if err["type"] not in ("missing", "extra_forbidden") and not isinstance(got, dict | list):
        msg += f" (got {got!r})"
    return f"{_field_path(loc)}: {msg}"


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(path, [f"cannot read file: {err.strerror}"]) from err
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(path, [f"{where}not valid YAML: {problem}"]) from err


def validate(model: type[M] | TypeAdapter[M], data: Any, path: Path | str) -> M:
    if not isinstance(data, dict):
        raise ConfigError(path, [f"(top level): expected a mapping of fields, got {type(data).__name__}"])
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(path, [_describe(e, data) for e in err.errors()]) from err


def load_profile(path: Path | str) -> DeviceProfile:
    path = Path(path)
    return validate(PROFILE_ADAPTER, read_yaml(path), path)


def load_gateway_config(path: Path | str) -> GatewayConfig:
    path = Path(path)
    return validate(GatewayConfig, read_yaml(path), path)


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
