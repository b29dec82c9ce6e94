"""LinkProxy: a TCP proxy that stands for a branch's internet link in tests and benchmarks.

    proxy = LinkProxy(("127.0.0.1", 5672)).start()
    url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F"
    proxy.cut()       # every open connection is reset, new ones are refused
    proxy.restore()   # the link is back

It can also emulate a slow link: ``rate_bps`` limits each direction's bandwidth, shared
by all connections through the proxy as on one real link, and ``rtt`` adds a round trip
(half each way).  It counts the bytes that cross it.
Only ever listens on and connects to loopback addresses.
"""
from __future__ import annotations

import heapq
import itertools
import socket
import struct
import threading
import time


class _Pipe:
    """One direction of one connection: read, delay, pace, write."""

    def __init__(self, proxy: LinkProxy, src: socket.socket, dst: socket.socket, direction: str):
        self.proxy, self.src, self.dst, self.direction = proxy, src, dst, direction
        self._queue: list = []
        self._cond = threading.Condition()
        self._closed = False
        self._order = itertools.count()

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._write, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = self.src.recv(65536)
            except OSError:
                data = b""
            with self._cond:
                heapq.heappush(self._queue, (time.monotonic() + self.proxy.rtt / 2, next(self._order), data))
                self._cond.notify()
            if not data:
                return

    def _write(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                deliver_at, _, data = heapq.heappop(self._queue)
            if not data:
                _shutdown(self.dst)
                return
            # Wait out the propagation delay, then for this chunk's turn on the link:
            # the bandwidth is the link's, shared by every connection that crosses it.
            done = self.proxy._reserve(self.direction, max(deliver_at, time.monotonic()), len(data))
            time.sleep(max(0.0, done - time.monotonic()))
            try:
                self.dst.sendall(data)
            except OSError:
                _shutdown(self.src)
                return
            self.proxy._count(self.direction, len(data))


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _reset(sock: socket.socket) -> None:
    """Close with RST, as a dropped link looks to the other end.

    The shutdown comes first: a pipe thread blocked in ``recv`` on this socket holds the
    kernel's socket open past ``close`` (so no RST would go out, and the other end would
    wait for an answer until its own timeout); shutdown wakes it at once.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    _shutdown(sock)
    try:
        sock.close()
    except OSError:
        pass


class LinkProxy:
    def __init__(self, target: tuple[str, int], rate_bps: float = 0.0, rtt: float = 0.0, listen_port: int = 0):
        if not target[0].startswith("127.") and target[0] not in ("localhost", "::1"):
            raise ValueError("LinkProxy only forwards to loopback addresses")
        self.target = target
        self.rate_bps, self.rtt = rate_bps, rtt
        self.bytes_up = 0    # client -> server
        self.bytes_down = 0  # server -> client
        self._up_log: list[tuple[float, int]] = []  # (Unix time, bytes_up so far), one entry per chunk
        self.connections = 0  # forwarded (accepted while the link was up)
        self._free_at = {"up": 0.0, "down": 0.0}  # when each direction of the link is next idle
        self._up = True
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", listen_port))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._closed = False

    def start(self) -> LinkProxy:
        threading.Thread(target=self._accept, daemon=True, name=f"linkproxy-{self.port}").start()
        return self

    def _reserve(self, direction: str, ready: float, size: int) -> float:
        """Book ``size`` bytes on one direction of the link from ``ready`` on; when they are across."""
        if not self.rate_bps:
            return ready
        with self._lock:
            start = max(ready, self._free_at[direction])
            self._free_at[direction] = start + size * 8 / self.rate_bps
            return self._free_at[direction]

    def _count(self, direction: str, n: int) -> None:
        with self._lock:
            if direction == "up":
                self.bytes_up += n
                self._up_log.append((time.time(), self.bytes_up))
            else:
                self.bytes_down += n

    def bytes_up_since(self, moment: float) -> int:
        """Bytes carried client -> server after ``moment`` (Unix time)."""
        with self._lock:
            before = max((total for at, total in self._up_log if at <= moment), default=0)
            return self.bytes_up - before

    def reset_counts(self) -> None:
        with self._lock:
            self.bytes_up = self.bytes_down = 0
            self._up_log.clear()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up:
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                # A cut that came while this connection was being made must reach it too:
                # checked under the lock that cut() takes, so no connection outlives a cut.
                up = self._up
                if up:
                    self._sockets += [client, server]
                    self.connections += 1
            if not up:
                _reset(client)
                _reset(server)
                continue
            _Pipe(self, client, server, "up").start()
            _Pipe(self, server, client, "down").start()

    @property
    def is_up(self) -> bool:
        return self._up

    def cut(self) -> None:
        """Drop the link: reset every open connection and refuse new ones."""
        with self._lock:
            self._up = False
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            _reset(s)

    def restore(self) -> None:
        self._up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread so that it ends
        except OSError:
            pass
        try:
            self._listener.close()
        except OSError:
            pass

    def __enter__(self) -> LinkProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
