"""Modbus profile models: where each tag lives and how its registers decode."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from device_profiles.base import Model, ProfileBase, TagBase

ModbusTable = Literal["coil", "discrete_input", "holding", "input"]
ModbusType = Literal[
    "bool", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float32", "float64", "string", "bcd16", "bcd32",
]
WordOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]

REGISTER_WIDTH: dict[str, int] = {
    "bool": 1, "int16": 1, "uint16": 1, "bcd16": 1,
    "int32": 2, "uint32": 2, "float32": 2, "bcd32": 2,
    "int64": 4, "uint64": 4, "float64": 4,
}


class ModbusTag(TagBase):
    table: ModbusTable = "holding"
    address: int = Field(ge=0, le=65535, description="0-based register or bit address")
    type: ModbusType = "uint16"
    order: WordOrder | None = Field(None, description="byte/word order; defaults to the profile's")
    bit: int | None = Field(None, ge=0, le=15, description="for bool in a register: bit index")
    length: int | None = Field(None, ge=1, le=125, description="registers, for strings")
    scale: float = 1.0
    offset: float = 0.0
    mask: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> ModbusTag:
        if self.table in ("coil", "discrete_input") and self.type != "bool":
            raise ValueError(f"a {self.table} holds one bit: type must be bool, not {self.type}")
        if self.type == "string" and self.length is None:
            raise ValueError("type string needs length (number of registers, two bytes each)")
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


class ModbusProfile(ProfileBase):
    protocol: Literal["modbus"]
    defaults: ModbusDefaults = Field(default_factory=ModbusDefaults)
    tags: list[ModbusTag] = Field(min_length=1)

    def order_of(self, tag: ModbusTag) -> str:
        return tag.order or self.defaults.order
