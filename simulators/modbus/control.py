"""Fault commands for a running ``device-sim modbus``: one text line per command over TCP.

    echo "slow 15020 2.5" | nc 127.0.0.1 9000      every answer on port 15020 waits 2.5 s
    exception PORT CODE      answer every read with Modbus exception CODE (e.g. 6 = busy)
    illegal PORT TABLE ADDR  refuse one address ("illegal data address")
    silent PORT              swallow requests (the client times out)
    garbage PORT             corrupt answers on the wire
    drop PORT                reset every TCP connection now
    down PORT / up PORT      stop listening / listen again (device switched off and on)
    hold PORT TAG VALUE [UNIT]   serve a fixed value for one tag (a stuck sensor)
    release PORT TAG [UNIT]      back to the tag's generator
    clear PORT               back to normal (faults; held values stay until released)
    status                   one line per port

PORT is the simulator's TCP port (or serial device path). Each command answers "ok ..." or
"error ...". Tests do the same in-process through ``ModbusSimulator.faults``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from simulators.modbus.server import ModbusSimulator

HELP = ("commands: slow|exception|illegal|silent|garbage|drop|down|up|clear|hold|release PORT [ARGS], "
        "status")


def _value(text: str) -> float | int | bool | str:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


async def apply(sims: dict[str, ModbusSimulator], line: str) -> str:
    """Apply one command line; returns the reply."""
    words = line.split()
    if not words:
        return "error empty command; " + HELP
    cmd, args = words[0].lower(), words[1:]
    if cmd == "status":
        return "ok " + "; ".join(f"{k}: {s.faults.describe()}" for k, s in sims.items())
    if not args or args[0] not in sims:
        return f"error unknown port {args[0] if args else ''!r}; serving {', '.join(sims)}"
    sim, rest = sims[args[0]], args[1:]
    f = sim.faults
    try:
        if cmd == "slow":
            f.delay_s = float(rest[0])
        elif cmd == "exception":
            f.exception = int(rest[0])
        elif cmd == "illegal":
            f.illegal.add((rest[0], int(rest[1])))
        elif cmd == "silent":
            f.silent = True
        elif cmd == "garbage":
            f.garbage = True
        elif cmd == "drop":
            return f"ok dropped {sim.drop_connections()} connections"
        elif cmd == "down":
            await sim.stop()
        elif cmd == "up":
            await sim.start()
        elif cmd == "clear":
            f.clear()
        elif cmd in ("hold", "release"):
            unit = int(rest[2 if cmd == "hold" else 1]) if len(rest) > (2 if cmd == "hold" else 1) else None
            sim.image(unit).hold(rest[0], _value(rest[1]) if cmd == "hold" else None)
            return f"ok {args[0]}: {rest[0]} {'held' if cmd == 'hold' else 'released'}"
        else:
            return f"error unknown command {cmd!r}; " + HELP
    except (IndexError, ValueError, KeyError) as err:
        return f"error {cmd}: bad arguments ({err}); " + HELP
    return f"ok {args[0]}: {f.describe()}"


async def start_control(sims: Sequence[ModbusSimulator], *, host: str, port: int) -> asyncio.Server:
    by_key = {s.serial_port or str(s.port): s for s in sims}

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write((await apply(by_key, line.decode(errors="replace")) + "\n").encode())
                await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(client, host, port)
