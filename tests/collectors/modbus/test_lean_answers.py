"""The collector's own read-registers answers decode exactly as pymodbus' do, for every answer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu.decoders import DecodePDU
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse, ReadInputRegistersResponse

from collectors.modbus.pymodbus_client import ModbusLink, _HoldingAnswer, _InputAnswer


def _decoded(cls: type[ReadHoldingRegistersResponse], data: bytes) -> list[int] | str:
    pdu = cls()
    try:
        pdu.decode(data)
    except ModbusIOException:
        return "byte count beyond the data"
    return list(pdu.registers)


@given(count=st.integers(0, 255), body=st.binary(max_size=260))
def test_the_same_registers_or_the_same_refusal(count: int, body: bytes) -> None:
    data = bytes([count]) + body
    assert _decoded(_HoldingAnswer, data) == _decoded(ReadHoldingRegistersResponse, data)
    assert _decoded(_InputAnswer, data) == _decoded(ReadInputRegistersResponse, data)


def test_a_full_answer_and_its_text() -> None:
    data = bytes([250]) + bytes(range(250))
    pdu = _HoldingAnswer(dev_id=7, transaction_id=3)
    pdu.decode(data)
    assert pdu.registers[:2] == [0x0001, 0x0203] and len(pdu.registers) == 125
    assert str(pdu) == "_HoldingAnswer(dev_id=7, transaction_id=3, registers=125)"
    assert (_HoldingAnswer.function_code, _InputAnswer.function_code) == (3, 4)
    assert _InputAnswer.rtu_byte_count_pos == ReadInputRegistersResponse.rtu_byte_count_pos


@pytest.mark.parametrize("kind", ["tcp", "rtu_tcp"])
async def test_only_the_links_own_decoder_uses_them(kind: str) -> None:
    """A simulator or another client in the same process keeps pymodbus' own classes."""
    link = ModbusLink(kind="tcp" if kind == "tcp" else "rtu_tcp", host="127.0.0.1", port=1, timeout_s=1)
    try:
        own = link._client.ctx.framer.decoder.pdu_table
        assert own[3][1] is _HoldingAnswer and own[4][1] is _InputAnswer
        assert DecodePDU.pdu_table[3][1] is ReadHoldingRegistersResponse
        assert DecodePDU.pdu_table[4][1] is ReadInputRegistersResponse
    finally:
        link.close()
