"""Modbus collector (TCP, RTU over TCP, RTU serial); see README.md in this folder."""

from __future__ import annotations

from collectors.modbus.collector import ModbusCollector

__all__ = ["ModbusCollector"]
