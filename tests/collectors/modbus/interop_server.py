"""A Modbus TCP device built on pyModbusTCP, an implementation that shares no code with
pymodbus, with the same faults as our simulator. Used by the interoperability tests only."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pyModbusTCP.server import DataBank, DataHandler, ModbusServer

from tests.support import free_port, wait_port


@dataclass
class InteropFaults:
    delay_s: float = 0.0
    exception: int | None = None
    illegal: set[tuple[str, int]] = field(default_factory=set)
    garbage: bool = False
    reads: int = 0


class _Handler(DataHandler):
    def __init__(self, bank: DataBank, faults: InteropFaults) -> None:
        super().__init__(bank)
        self.faults = faults

    def _check(self, table: str, address: int, count: int) -> Any:
        f = self.faults
        f.reads += 1
        if f.delay_s:
            time.sleep(f.delay_s)
        if f.exception:
            return DataHandler.Return(exp_code=f.exception)
        if any((table, a) in f.illegal for a in range(address, address + count)):
            return DataHandler.Return(exp_code=2)
        return None

    def read_h_regs(self, address: int, count: int, srv_info: Any) -> Any:
        return self._check("holding", address, count) or super().read_h_regs(address, count, srv_info)

    def read_i_regs(self, address: int, count: int, srv_info: Any) -> Any:
        return self._check("input", address, count) or super().read_i_regs(address, count, srv_info)

    def read_coils(self, address: int, count: int, srv_info: Any) -> Any:
        return self._check("coil", address, count) or super().read_coils(address, count, srv_info)

    def read_d_inputs(self, address: int, count: int, srv_info: Any) -> Any:
        refused = self._check("discrete_input", address, count)
        return refused or super().read_d_inputs(address, count, srv_info)


class InteropServer:
    """pyModbusTCP's threaded server on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.bank = DataBank()
        self.faults = InteropFaults()
        self._server: ModbusServer | None = None

    def load(self, words: dict[tuple[str, int], int], bits: dict[tuple[str, int], bool]) -> None:
        for (table, addr), w in words.items():
            setter = self.bank.set_holding_registers if table == "holding" else self.bank.set_input_registers
            setter(addr, [w])
        for (table, addr), b in bits.items():
            (self.bank.set_coils if table == "coil" else self.bank.set_discrete_inputs)(addr, [b])

    def _engine(self, session: Any) -> None:
        assert self._server is not None
        self._server._internal_engine(session)
        if self.faults.garbage:
            session.response.pdu.raw = bytes(b ^ 0x5A for b in session.response.pdu.raw)

    def start(self) -> None:
        self._server = ModbusServer("127.0.0.1", self.port, no_block=True,
                                    data_hdl=_Handler(self.bank, self.faults), ext_engine=self._engine)
        self._server.start()
        wait_port("127.0.0.1", self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            # open connections end when their handler thread notices, within its 1 s recv timeout

    def __enter__(self) -> InteropServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
