"""The network-fault proxy over real sockets: forwards, cuts (refuses and drops), stalls
(keeps connections open, forwards nothing) and comes back."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from simulators.network import TcpProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def echo() -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address  # type: ignore[misc]
    finally:
        server.shutdown()
        server.server_close()


def _roundtrip(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    return sock.recv(4096)


def test_forwards_cuts_and_listens_again(echo: tuple[str, int]) -> None:
    proxy = TcpProxy(echo)
    proxy.start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as s:
            assert _roundtrip(s, b"hello") == b"hello"
            proxy.cut()
            assert not proxy.listening
            s.settimeout(2)
            assert s.recv(16) == b""  # torn down mid-stream
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        proxy.start()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as s:
            assert _roundtrip(s, b"again") == b"again"
    finally:
        proxy.close()


def test_a_stall_keeps_the_connection_and_forwards_nothing(echo: tuple[str, int]) -> None:
    proxy = TcpProxy(echo)
    proxy.start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as s:
            assert _roundtrip(s, b"one") == b"one"
            proxy.stall()
            s.sendall(b"two")
            s.settimeout(1.0)
            with pytest.raises(TimeoutError):
                s.recv(16)
            proxy.resume()
            s.settimeout(3.0)
            assert s.recv(16) == b"two"  # held, not lost
    finally:
        proxy.close()
