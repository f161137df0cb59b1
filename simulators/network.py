"""Network faults on a real TCP path: a proxy that can be cut, stalled and restored.

Put it between a client and its server (an agent and its broker, an ingest worker and its
database) and turn the path off without touching either end:

- ``cut()``: the listening socket is closed (new connections are refused, as with a stopped
  server) and every open connection is torn down mid-stream;
- ``stall()``: connections stay open but nothing is forwarded either way, as when a link or a
  firewall silently drops packets; only timeouts and keepalives notice;
- ``start()`` / ``resume()``: listen again / forward again.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading

# what a technician reads after "cannot listen on HOST:PORT: ...", from every simulator
LISTEN_HINT = ("; 端口已被占用或不可用 the port is in use or not allowed: 换一个 choose another --port, "
               "or stop the program using it (`ss -ltnp` shows which)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpProxy:
    def __init__(self, target: tuple[str, int], *, port: int | None = None) -> None:
        self.target = target
        self.port = port or _free_port()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._flowing = threading.Event()
        self._flowing.set()

    @property
    def listening(self) -> bool:
        return self._listener is not None

    @property
    def stalled(self) -> bool:
        return not self._flowing.is_set()

    def start(self) -> None:
        """Listen (again) on the same port."""
        if self._listener is not None:
            return
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        ls.settimeout(0.2)
        self._listener = ls
        th = threading.Thread(target=self._accept, args=(ls,), daemon=True, name=f"proxy:{self.port}")
        th.start()
        self._threads.append(th)

    def cut(self) -> None:
        ls, self._listener = self._listener, None
        if ls is not None:
            # shutdown wakes the accepting thread; until it returns from poll the kernel would
            # still complete handshakes on a merely closed socket
            with contextlib.suppress(OSError):
                ls.shutdown(socket.SHUT_RDWR)
            ls.close()
            for th in self._threads:
                if th.name.startswith("proxy:") and th is not threading.current_thread():
                    th.join(2)
            self._threads = [th for th in self._threads if th.is_alive()]
        with self._lock:
            conns, self._conns = self._conns, set()
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    def stall(self) -> None:
        """Stop forwarding without closing anything."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self.resume()
        self.cut()
        for th in self._threads:
            th.join(5)

    def _accept(self, ls: socket.socket) -> None:
        while self._listener is ls:
            try:
                client, _ = ls.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns |= {client, upstream}
            th = threading.Thread(target=self._pipe, args=(client, upstream), daemon=True)
            th.start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        try:
            sel.register(a, selectors.EVENT_READ, b)
            sel.register(b, selectors.EVENT_READ, a)
            while True:
                if not self._flowing.wait(0.5):
                    continue  # stalled: bytes wait in the kernel's buffers, unread
                for key, _ in sel.select(timeout=0.5):
                    src, dst = key.fileobj, key.data
                    assert isinstance(src, socket.socket)
                    if not self._flowing.is_set():
                        break
                    data = src.recv(65536)
                    if not data:
                        return
                    dst.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            sel.close()
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()
            with self._lock:
                self._conns -= {a, b}
