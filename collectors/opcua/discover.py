"""``edge-agent discover opc.tcp://...``: browse a server and write a profile skeleton.

The skeleton validates as an OpcUaProfile: one tag per variable under Objects (down to
``depth`` levels, optionally filtered), node ids in ``nsu=`` notation wherever the namespace
is not 0 (so the profile survives the server renumbering its namespaces), the server's data
type, array length, and a suggested sampling interval — the server's MinimumSamplingInterval
or a default by type (fast for bits, slow for text), whichever is slower. Variables of
vendor-specific structured types are left out and counted in the description; a technician
then deletes what is not needed, names units and marks key tags.
"""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import re
import uuid
from typing import Any
from urllib.parse import urlparse

from pydantic import ValidationError

from collectors.opcua.config import OpcUaOptions
from collectors.opcua.errors import NothingDiscovered, OptionsError
from collectors.opcua.items import BrowsedVariable
from collectors.opcua.uaclient.browse import browse
from collectors.opcua.uaclient.session import UaSession
from common.config_files import describe_errors
from device_profiles.opcua import OpcUaProfile

# OPC UA built-in type ids (Part 6, 5.1.2) and common namespace-0 subtypes -> our type names.
BUILTIN_TYPES: dict[int, str] = {
    1: "Boolean", 2: "SByte", 3: "Byte", 4: "Int16", 5: "UInt16", 6: "Int32", 7: "UInt32",
    8: "Int64", 9: "UInt64", 10: "Float", 11: "Double", 12: "String", 13: "DateTime",
    15: "ByteString", 290: "Double", 294: "DateTime", 295: "String", 289: "UInt32", 26: "Double",
    27: "Int64", 28: "UInt64", 21: "String",
}
SUGGESTED_MS: dict[str, int] = {"Boolean": 500, "String": 5000, "DateTime": 5000, "ByteString": 5000}
DEFAULT_MS = 1000


def _tag_name(path: list[str], taken: set[str]) -> str:
    base = re.sub(r"[^0-9A-Za-z]+", "_", "_".join(path)).strip("_").lower()[:100] or "tag"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def node_id_text(v: BrowsedVariable) -> str:
    ident = v.identifier
    if v.kind == "b":
        ident = base64.b64encode(bytes(ident)).decode()
    elif v.kind == "g":
        ident = str(uuid.UUID(str(ident)))
    if v.namespace_index == 0:
        return f"{v.kind}={ident}"
    if v.namespace_uri:
        return f"nsu={v.namespace_uri};{v.kind}={ident}"
    return f"ns={v.namespace_index};{v.kind}={ident}"


def _matches(path: list[str], pattern: str | None) -> bool:
    if not pattern:
        return True
    text = ".".join(path).lower()
    pat = pattern.lower()
    return fnmatch.fnmatch(text, pat) if any(c in pat for c in "*?[") else pat in text


def skeleton(variables: list[BrowsedVariable], *, url: str, info: dict[str, str], depth: int,
             filter: str | None) -> dict[str, Any]:
    """The profile dict for browsed variables (pure, so it is testable without a server)."""
    taken: set[str] = set()
    tags: list[dict[str, Any]] = []
    skipped = 0
    namespaces: list[str] = []
    for v in variables:
        if not _matches(v.path, filter):
            continue
        type_ = BUILTIN_TYPES.get(v.data_type or -1)
        if type_ is None or (v.value_rank or -1) > 1:
            skipped += 1
            continue
        tag: dict[str, Any] = {"name": _tag_name(v.path, taken), "node_id": node_id_text(v), "type": type_}
        if v.value_rank == 1:
            tag["array_length"] = max([d for d in v.array_dimensions if d] or [1])
        tag["interval_ms"] = max(int(v.min_sampling_ms or 0), SUGGESTED_MS.get(type_, DEFAULT_MS))
        own = v.description and v.description != v.path[-1]  # many servers repeat the browse name
        tag["description"] = v.description if own else ".".join(v.path)
        tags.append(tag)
        if v.namespace_uri and v.namespace_index and v.namespace_uri not in namespaces:
            namespaces.append(v.namespace_uri)
    host = urlparse(url).hostname or "server"
    name = re.sub(r"[^0-9A-Za-z_.-]+", "_", f"{info.get('model') or host}")[:64].strip("_") or "opcua_device"
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    note = f" {skipped} variable(s) of structured or multi-dimensional types left out." if skipped else ""
    return {
        "profile": name,
        "protocol": "opcua",
        "manufacturer": info.get("manufacturer"),
        "model": info.get("model"),
        "description": (f"Skeleton discovered from {url} on {when} (depth {depth}"
                        f"{', filter ' + repr(filter) if filter else ''}).{note} Review names, units and "
                        "intervals before use."),
        "namespaces": namespaces,
        "default_interval_ms": DEFAULT_MS,
        "defaults": {"mode": "subscribe", "publishing_interval_ms": DEFAULT_MS},
        "tags": tags,
    }


async def discover(url: str, *, depth: int = 3, filter: str | None = None, timeout_s: float = 10.0,
                   **security: Any) -> dict[str, Any]:
    """Browse ``url`` and return a profile skeleton (a dict that validates as OpcUaProfile).

    ``security`` takes the device option names: security_policy, security_mode, auth,
    username, password_env, user_cert, user_key, pki_dir. Raises DeviceUnreachable (or
    SecurityRejected / UntrustedServerCertificate) like the collector, and NothingDiscovered
    (a CollectorError and ValueError) when nothing matched, since an empty profile is not a valid one.
    """
    try:
        options = OpcUaOptions.model_validate({"connect_timeout_s": timeout_s, **security})
    except ValidationError as err:
        problems = "; ".join(describe_errors(err, noun="option", fields=list(OpcUaOptions.model_fields)))
        raise OptionsError(f"discover {url}: {problems}") from None
    session = UaSession(url, device="discover", options=options, timeout_s=timeout_s)
    await session.open()
    try:
        variables, info = await browse(session, depth=depth)
    finally:
        await session.close()
    profile = skeleton(variables, url=url, info=info, depth=depth, filter=filter)
    if not profile["tags"]:
        matching = f" matching {filter!r}" if filter else ""
        raise NothingDiscovered(f"{url}: no variables with a built-in data type found within depth {depth}"
                         f"{matching}; try a larger --depth or another --filter")
    OpcUaProfile.model_validate(profile)
    return profile
