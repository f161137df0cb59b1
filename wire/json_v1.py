"""JSON wire format v1 between the edge agent and the cloud (documented in docs/wire-format.md).

These models are the contract: the agent builds its messages with them and the ingest service
validates every message against them. Short keys in samples keep a batch of a thousand samples
small on a slow uplink; everything else is spelled out.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, StringConstraints, Tag

from common.model import Frozen
from wire.business_links import BusinessLink
from wire.sample import Quality, Sample

WIRE_VERSION = 1
TOPIC_ROOT = "shopfloor/v1"

Name = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]
REASON_MAX = 512  # a sample's reason; the gateway cuts a longer one (wire.sample_text)
EPOCH_MS_LIMIT = 10**14  # year 5138: no clock of a device or gateway means a later time
EpochMs = Annotated[int, Field(ge=0, lt=EPOCH_MS_LIMIT)]


def topic(enterprise: str, gateway: str, kind: str) -> str:
    """Topics are namespaced by enterprise and gateway: ``shopfloor/v1/<ent>/<gw>/<kind>``."""
    return f"{TOPIC_ROOT}/{enterprise}/{gateway}/{kind}"


def subscription(kind: str = "+") -> str:
    return f"{TOPIC_ROOT}/+/+/{kind}"


GZIP_MAGIC = b"\x1f\x8b"


def decode_payload(raw: bytes, *, max_bytes: int) -> bytes:
    """Undo the optional gzip compression of a payload (told apart by its magic bytes).

    Raises ValueError when the payload is not valid gzip or inflates beyond ``max_bytes``.
    Exactly one whole gzip member is accepted: a truncated stream would otherwise come out as
    a shorter payload, and bytes after the member (another member, garbage) would be ignored.
    Inflation stops at ``max_bytes + 1`` bytes, so a bomb costs no more memory than that.
    """
    if not raw.startswith(GZIP_MAGIC):
        return raw
    import zlib

    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(raw, max_bytes + 1)
    except zlib.error as err:
        raise ValueError(f"payload starts like gzip but does not inflate: {err}") from err
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise ValueError(f"payload inflates beyond {max_bytes} bytes")
    if not inflater.eof:
        raise ValueError("payload starts like gzip but is cut short: the stream ends before its "
                         "end marker and checksum")
    if inflater.unused_data:
        raise ValueError(f"payload has {len(inflater.unused_data)} bytes after its gzip stream "
                         "(one gzip member per message)")
    return out


TagName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
BlockValue = float | int | bool | str


class WireSample(Frozen):
    d: Name = Field(description="device id")
    t: TagName = Field(description="tag")
    ts: EpochMs = Field(description="source timestamp, UTC epoch ms")
    rt: EpochMs = Field(description="gateway read timestamp, UTC epoch ms")
    v: float | int | bool | str | None = Field(description="value; null when quality is bad")
    q: Literal["good", "uncertain", "bad"] = "good"
    c: int | None = Field(default=None, description="the device's own status code")
    r: Annotated[str, StringConstraints(max_length=REASON_MAX)] | None = Field(
        default=None, description="reason, for bad quality"
    )

    @classmethod
    def of(cls, s: Sample) -> WireSample:
        return cls.model_construct(
            d=s.device, t=s.tag, ts=s.ts, rt=s.read_ts, v=s.value, q=s.quality.label,
            c=s.code, r=s.reason,
        )

    def to_sample(self) -> Sample:
        return Sample(self.d, self.t, self.ts, self.v, Quality.parse(self.q), self.rt, self.c, self.r)


class WireBlock(Frozen):
    """Good samples of one device read at one instant, in one object: ``values`` maps each tag
    to its value. It stands for one `WireSample` a tag, with quality good, no code and no
    reason, and ``ts`` and ``rt`` as given: a clean Modbus request is one block, so a poll's
    points cost their name and value on the wire instead of a whole object each (a sixth of
    the bytes). Anything not good travels as samples."""

    d: Name = Field(description="device id")
    ts: EpochMs = Field(description="source timestamp of every value, UTC epoch ms")
    rt: EpochMs = Field(description="gateway read timestamp of every value, UTC epoch ms")
    values: dict[TagName, BlockValue] = Field(min_length=1, description="tag -> value, all good")

    def samples(self) -> list[WireSample]:
        return [WireSample.model_construct(d=self.d, t=t, ts=self.ts, rt=self.rt, v=v, q="good",
                                           c=None, r=None) for t, v in self.values.items()]


def item_kind(item: Any) -> str:
    """A block has ``values``; anything else is read as a sample (and its errors are a sample's)."""
    if isinstance(item, dict):
        return "block" if "values" in item else "sample"
    return "block" if isinstance(item, WireBlock) else "sample"


# An item of a data message's ``samples``: one sample, or a block of good samples read together.
WireItem = Annotated[Annotated[WireSample, Tag("sample")] | Annotated[WireBlock, Tag("block")],
                     Discriminator(item_kind)]


def item_count(item: WireSample | WireBlock) -> int:
    """Samples an item stands for."""
    return len(item.values) if isinstance(item, WireBlock) else 1


class DeviceCounters(Frozen):
    """Cumulative since the gateway's buffer was created; they survive restarts."""

    read: int = Field(0, ge=0)
    buffered: int = Field(0, ge=0)
    published: int = Field(0, ge=0)
    read_errors: int = Field(0, ge=0)
    dropped: dict[str, int] = Field(default_factory=dict, description="reason -> samples")
    skipped_polls: int = Field(0, ge=0, description="poll ticks skipped because the previous poll "
                               "overran its interval (never read, so in no other counter)")


class Counters(Frozen):
    batches_published: int = Field(0, ge=0)
    devices: dict[str, DeviceCounters] = Field(default_factory=dict)


class DataMessage(Frozen):
    v: Literal[1] = 1
    type: Literal["data"] = "data"
    enterprise: Name
    gateway: Name
    session: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    stream: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="id of the gateway's buffer: a new buffer (reinstall, new disk) starts "
        "a new stream whose seq begins again at 1; seq is unique within (gateway, stream)")
    seq: int = Field(ge=1, lt=2**32, description="batch sequence within the stream, gapless, "
                     "survives restarts")
    sent: EpochMs
    samples: list[WireItem] = Field(min_length=1, description="samples, and blocks of good "
                                    "samples of one device read at one instant (WireBlock)")
    counters: Counters | None = None
    historical: bool = Field(False, description="backlog sealed before the current connection")

    def all_samples(self) -> list[WireSample]:
        """Every sample the message carries, blocks spelled out, in order."""
        out: list[WireSample] = []
        for item in self.samples:
            if isinstance(item, WireBlock):
                out += item.samples()
            else:
                out.append(item)
        return out

    def sample_count(self) -> int:
        return sum(map(item_count, self.samples))


class TagInfo(Frozen):
    name: str
    type: str
    unit: str | None = None
    interval_ms: int = Field(ge=1)
    description: str | None = None
    report: Literal["all", "change"] = Field("all", description="change: report by exception")
    heartbeat_ms: int | None = Field(None, ge=1, description="max silence in change mode")
    links: list[BusinessLink] = Field(
        default_factory=list, description="business links (业务环节) the tag serves (wire/business_links.py)")


class DeviceInfo(Frozen):
    id: Name
    profile: str
    protocol: str
    manufacturer: str | None = None
    model: str | None = None
    workshop: str | None = None
    line: str | None = None
    key_process: bool = False
    tags: list[TagInfo]


class EnterpriseInfo(Frozen):
    name: str | None = None
    industry: str | None = None
    district: str | None = None


class BirthMessage(Frozen):
    v: Literal[1] = 1
    type: Literal["birth"] = "birth"
    enterprise: Name
    gateway: Name
    session: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    ts: EpochMs
    next_seq: int = Field(ge=1)
    agent_version: str
    enterprise_info: EnterpriseInfo = Field(default_factory=EnterpriseInfo)
    devices: list[DeviceInfo]


class DeathMessage(Frozen):
    v: Literal[1] = 1
    type: Literal["death"] = "death"
    enterprise: Name
    gateway: Name
    session: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    ts: EpochMs
    reason: Literal["lost", "shutdown"] = "lost"
