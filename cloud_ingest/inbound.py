"""Bytes from MQTT → a validated wire message, or a dead letter with the reason.

The fast path validates the raw JSON straight against the schema of the topic's kind, all in
pydantic-core (data messages into plain dicts, see ``batch.py``); only a message that fails is
looked at again, slowly, to name the reason precisely. Nothing here raises: the consumer must
never stop on bad input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from cloud_ingest.batch import DataBatch
from common.config_files import describe_errors
from wire.json_v1 import GZIP_MAGIC, TOPIC_ROOT, WIRE_VERSION, BirthMessage, DeathMessage, decode_payload

WireMessage = DataBatch | BirthMessage | DeathMessage

_MODELS: dict[str, type[BaseModel]] = {"birth": BirthMessage, "death": DeathMessage}
_ROOT_PARTS = TOPIC_ROOT.split("/")


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a message went to the dead letters, plus what the topic told us about its sender."""

    reason: str  # oversized | bad_topic | bad_gzip | bad_json | unknown_version | wrong_type | schema |
    # topic_mismatch (| db_rejected, from the ingestor)
    detail: str
    enterprise: str | None = None
    gateway: str | None = None


def split_topic(topic: str) -> tuple[str, str, str] | None:
    """``shopfloor/v1/<ent>/<gw>/<kind>`` → (ent, gw, kind); None for any other shape."""
    parts = topic.split("/")
    if len(parts) != len(_ROOT_PARTS) + 3 or parts[: len(_ROOT_PARTS)] != _ROOT_PARTS:
        return None
    ent, gw, kind = parts[len(_ROOT_PARTS) :]
    return ent, gw, kind


def _schema_detail(err: ValidationError, limit: int = 5) -> str:
    return "; ".join(describe_errors(err, dotted=True, limit=limit, branches=("sample", "block")))


def _diagnose(payload: bytes, kind: str, err: ValidationError, ent: str, gw: str) -> Rejected:
    """The slow path: tell broken JSON, another version and another type apart from schema errors."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as jerr:
        return Rejected("bad_json", str(jerr)[:500], ent, gw)
    if not isinstance(doc, dict):
        return Rejected("schema", f"(top level): expected a JSON object, got {type(doc).__name__}", ent, gw)
    if "v" in doc and doc["v"] != WIRE_VERSION:
        return Rejected("unknown_version", f"v={doc['v']!r}; this service reads v={WIRE_VERSION}", ent, gw)
    if "type" in doc and doc["type"] != kind:
        return Rejected("wrong_type", f"type={doc['type']!r} on a {kind!r} topic", ent, gw)
    return Rejected("schema", _schema_detail(err), ent, gw)


def decode(topic: str, payload: bytes, *, max_bytes: int) -> WireMessage | Rejected:
    where = split_topic(topic)
    if where is None:
        return Rejected("bad_topic", f"expected {TOPIC_ROOT}/<enterprise>/<gateway>/<kind>")
    ent, gw, kind = where
    if len(payload) > max_bytes:
        return Rejected("oversized", f"{len(payload)} bytes > ingest.max_message_bytes={max_bytes}", ent, gw)
    if payload.startswith(GZIP_MAGIC):  # the agent's optional compression (publish.compress)
        try:
            payload = decode_payload(payload, max_bytes=max_bytes)
        except ValueError as err:
            reason = "oversized" if "inflates beyond" in str(err) else "bad_gzip"
            return Rejected(reason, f"{err} (ingest.max_message_bytes={max_bytes})", ent, gw)
    model = _MODELS.get(kind)
    if model is None and kind != "data":
        return Rejected("bad_topic", f"unknown kind {kind!r}; expected data, birth or death", ent, gw)
    msg: WireMessage
    try:
        # data (the common case) is validated without building sample objects
        msg = DataBatch.from_json(payload) if model is None else model.model_validate_json(payload)  # type: ignore[assignment]
    except ValidationError as err:
        return _diagnose(payload, kind, err, ent, gw)
    if msg.enterprise != ent or msg.gateway != gw:
        return Rejected(
            "topic_mismatch",
            f"payload says {msg.enterprise}/{msg.gateway}, topic says {ent}/{gw}",
            ent,
            gw,
        )
    return msg
