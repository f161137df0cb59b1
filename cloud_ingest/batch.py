"""Data messages as the write path sees them: the wire contract, validated without model objects.

Validating a 1000-sample ``DataMessage`` builds 1000 ``WireSample`` instances, and building them
costs about three times what checking them does; on the whole path that is a third of a
worker's CPU. So data messages are validated against a ``TypedDict`` schema *derived from the
wire models at import time* (same field types, the same constraints, extra keys forbidden),
which yields plain dicts. It cannot drift from ``wire.json_v1``: it is generated from it, and
``tests/cloud_ingest/test_batch.py`` holds both to the same verdicts. Births and deaths, which
are rare, use the models directly.

A data message's items are samples or blocks (``WireBlock``: good values of one device read at
one instant); the schema tells them apart exactly as the model does (``item_kind``), and a
batch spells every block out into the sample dicts the writer takes, so nothing past this
module knows blocks exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, NotRequired, cast, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, TypeAdapter
from typing_extensions import TypedDict

from wire.json_v1 import Counters, DataMessage, WireBlock, WireItem, WireSample, item_kind

SampleDict = dict[str, Any]  # keys d, t, ts, rt, v and optionally q, c, r (defaults as in WireSample)


def _typed_dict_of(model: type[BaseModel], *, replace: dict[Any, Any]) -> Any:
    """A TypedDict with the model's fields, types and constraints; nested models swapped per ``replace``."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        ann: Any = info.annotation
        if get_origin(ann) is list and get_args(ann)[0] in replace:
            ann = list.__class_getitem__(replace[get_args(ann)[0]])
        if info.metadata:
            ann = Annotated.__class_getitem__((ann, *info.metadata))  # type: ignore[attr-defined]
        fields[name] = ann if info.is_required() else NotRequired[ann]
    make: Any = TypedDict  # the functional form, with a computed name and fields
    td = make(f"{model.__name__}Dict", fields)
    td.__pydantic_config__ = ConfigDict(extra="forbid")
    return td


_SAMPLE_TD = _typed_dict_of(WireSample, replace={})
_BLOCK_TD = _typed_dict_of(WireBlock, replace={})
# WireItem with the dicts in place of the models: the same tags, told apart the same way
_ITEM_TD: Any = Annotated[Annotated[_SAMPLE_TD, Tag("sample")] | Annotated[_BLOCK_TD, Tag("block")],
                          Discriminator(item_kind)]
_DATA_TD = _typed_dict_of(DataMessage, replace={WireItem: _ITEM_TD})
DATA_ADAPTER: TypeAdapter[dict[str, Any]] = TypeAdapter(_DATA_TD)


def spelled_out(items: list[dict[str, Any]]) -> list[SampleDict]:
    """Validated items with every block replaced by its samples (good, no code, no reason), in
    order; a message of samples only comes back as it is."""
    if not any("values" in i for i in items):
        return items
    out: list[SampleDict] = []
    for i in items:
        values = i.get("values")
        if values is None:
            out.append(i)
        else:
            d, ts, rt = i["d"], i["ts"], i["rt"]
            out += [{"d": d, "t": t, "ts": ts, "rt": rt, "v": v} for t, v in values.items()]
    return out


@dataclass(frozen=True, slots=True)
class DataBatch:
    """One validated data message; ``samples`` are dicts with the wire's short keys."""

    enterprise: str
    gateway: str
    session: str
    seq: int
    sent: int
    samples: list[SampleDict]
    counters: Counters | None = None
    historical: bool = False
    stream: str | None = None  # the gateway's buffer; seq is unique within (gateway, stream)

    @classmethod
    def from_json(cls, payload: bytes) -> DataBatch:
        """Raises pydantic.ValidationError exactly when ``DataMessage`` would."""
        doc = DATA_ADAPTER.validate_json(payload)
        return cls(doc["enterprise"], doc["gateway"], doc["session"], doc["seq"], doc["sent"],
                   spelled_out(doc["samples"]), cast(Counters | None, doc.get("counters")),
                   doc.get("historical", False), doc.get("stream"))

    @classmethod
    def of(cls, msg: DataMessage) -> DataBatch:
        samples = [s.model_dump(exclude_none=False) for s in msg.all_samples()]
        return cls(msg.enterprise, msg.gateway, msg.session, msg.seq, msg.sent, samples, msg.counters,
                   msg.historical, msg.stream)
