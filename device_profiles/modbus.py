"""Modbus profile models: where each tag lives and how its registers decode."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from device_profiles.base import Model, ProfileBase, TagBase

ModbusTable = Literal["coil", "discrete_input", "holding", "input"]
ModbusType = Literal[
    "bool", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float32", "float64", "string", "bcd16", "bcd32",
]
WordOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]
TrimSpaces = Literal["none", "trailing", "leading", "both"]

REGISTER_WIDTH: dict[str, int] = {
    "bool": 1, "int16": 1, "uint16": 1, "bcd16": 1,
    "int32": 2, "uint32": 2, "float32": 2, "bcd32": 2,
    "int64": 4, "uint64": 4, "float64": 4,
}


# Vendor notation: the first digit names the table, the rest is a 1-based number.
# "40001" = holding 0, "30010" = input 9, "10001" = discrete input 0, "00001" = coil 0;
# six-digit forms ("400001") reach the full 65536 range; ".N" selects bit N of a register.
_NOTATION = re.compile(r"^(?P<t>[0134])(?P<n>\d{4,5})(?:\.(?P<bit>\d{1,2}))?$")
_NOTATION_TABLE: dict[str, ModbusTable] = {
    "0": "coil", "1": "discrete_input", "3": "input", "4": "holding",
}


def parse_notation(text: str) -> tuple[ModbusTable, int, int | None]:
    """'40001' -> ('holding', 0, None); '40010.3' -> ('holding', 9, 3)."""
    m = _NOTATION.match(text.strip())
    if not m or int(m.group("n")) == 0:
        raise ValueError(
            f"address {text!r} is neither a number nor Modbus notation like 40001 (holding), "
            "30001 (input), 10001 (discrete input), 00001 (coil), 400001 or 40001.3 (bit 3)"
        )
    bit = m.group("bit")
    return _NOTATION_TABLE[m.group("t")], int(m.group("n")) - 1, int(bit) if bit is not None else None


class ModbusTag(TagBase):
    table: ModbusTable = "holding"
    address: int = Field(
        ge=0, le=65535,
        description="0-based register or bit address (1-based when the profile says "
        "addressing: one_based), or vendor notation as a string: '40001', '30010.3'",
    )
    type: ModbusType = "uint16"
    order: WordOrder | None = Field(None, description="byte/word order; defaults to the profile's")
    bit: int | None = Field(None, ge=0, le=15, description="for bool in a register: bit index")
    length: int | None = Field(None, ge=1, le=125, description="registers, for strings")
    trim_spaces: TrimSpaces = Field(
        "none",
        description="strings: which space characters (0x20) to remove after decoding; the "
        "default keeps the text exactly as the device holds it, only the NUL padding after it "
        "is removed ('LINE-01 ' stays 'LINE-01 '). trailing: for fields padded with spaces; "
        "leading: for right-aligned fields; both",
    )
    scale: float = Field(1.0, allow_inf_nan=False)
    offset: float = Field(0.0, allow_inf_nan=False)
    mask: int | None = Field(None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _notation(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("address"), str):
            return data
        text = data["address"]
        if text.strip().isdigit() and not _NOTATION.match(text.strip()):
            return {**data, "address": int(text)}
        table, address, bit = parse_notation(text)
        given = data.get("table")
        if given is not None and given != table:
            raise ValueError(f"address {text!r} is in the {table} table, but table says {given!r}")
        out = {**data, "table": table, "address": address}
        if bit is not None:
            if data.get("bit") not in (None, bit):
                raise ValueError(f"address {text!r} names bit {bit}, but bit says {data['bit']}")
            out["bit"] = bit
            out.setdefault("type", "bool")
        return out

    @model_validator(mode="after")
    def _check(self) -> ModbusTag:
        if self.table in ("coil", "discrete_input") and self.type != "bool":
            raise ValueError(f"a {self.table} holds one bit: type must be bool, not {self.type}")
        if self.type == "string" and self.length is None:
            raise ValueError("type string needs length (number of registers, two bytes each)")
        if self.trim_spaces != "none" and self.type != "string":
            raise ValueError(f"trim_spaces applies to type string only, not {self.type}; remove it")
        if self.bit is not None and (self.type != "bool" or self.table in ("coil", "discrete_input")):
            raise ValueError("bit selects one bit of a holding/input register: type must be bool")
        if self.address + self.registers > 65536:
            raise ValueError(f"address {self.address} + {self.registers} registers runs past 65535")
        return self

    @property
    def registers(self) -> int:
        if self.table in ("coil", "discrete_input"):
            return 1
        if self.type == "string":
            return self.length or 1
        return REGISTER_WIDTH[self.type]


class ModbusDefaults(Model):
    order: WordOrder = "ABCD"
    unit_id: int = Field(1, ge=0, le=255)
    addressing: Literal["zero_based", "one_based"] = Field(
        "zero_based", description="how plain numeric addresses in this profile count"
    )
    # Request planning (None: the collector's defaults; a gateway config may override per
    # device in options). Devices that refuse reads across unmapped registers want max_gap 0.
    max_gap_registers: int | None = Field(None, ge=0, le=125)
    max_block_registers: int | None = Field(None, ge=1, le=125)
    max_gap_bits: int | None = Field(None, ge=0, le=2000)
    max_block_bits: int | None = Field(None, ge=1, le=2000)


class ModbusProfile(ProfileBase):
    protocol: Literal["modbus"]
    defaults: ModbusDefaults = Field(default_factory=ModbusDefaults)
    tags: list[ModbusTag] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _one_based(cls, data: Any) -> Any:
        """With ``addressing: one_based`` plain numbers count from 1, as many manuals do."""
        if not isinstance(data, dict):
            return data
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, dict) or defaults.get("addressing") != "one_based":
            return data
        tags = []
        for tag in data.get("tags") or []:
            if isinstance(tag, dict) and isinstance(tag.get("address"), int):
                if tag["address"] < 1:
                    raise ValueError(
                        f"tag {tag.get('name')!r}: address {tag['address']} with addressing "
                        "one_based; the first register is 1"
                    )
                tag = {**tag, "address": tag["address"] - 1}
            tags.append(tag)
        return {**data, "tags": tags}

    def order_of(self, tag: ModbusTag) -> str:
        return tag.order or self.defaults.order
