"""The link proxy that stands for a branch's link in the fault tests: a cut must reach
every connection at once, as a dropped link does, or a fault test waits on a timeout
instead of testing what happens after a cut.  Loopback sockets only; no service."""
from __future__ import annotations

import socket
import threading
import time

from devtools.linkproxy import LinkProxy


def _silent_server() -> socket.socket:
    """Accepts, reads what it is sent, and never answers (a database busy with a query)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=conn.recv, args=(100,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_a_cut_reaches_a_client_waiting_for_an_answer_at_once():
    # Reproduced in CI: the proxy closed its sockets while its own threads were blocked
    # reading them, so the kernel kept them open, no reset went out, and a database
    # client waiting for an answer waited for its read timeout (120 s) instead.
    server = _silent_server()
    with LinkProxy(server.getsockname()) as proxy:
        client = socket.create_connection(("127.0.0.1", proxy.port))
        client.settimeout(10)
        client.sendall(b"SELECT 1")
        time.sleep(0.2)  # the query is across, the client now waits for its answer
        proxy.cut()
        try:
            answer = client.recv(10)
        except ConnectionResetError:
            answer = b""
        except TimeoutError:
            answer = None
        assert answer == b"", "the client did not notice the cut"
    server.close()


def test_after_a_cut_new_connections_are_refused_until_the_link_is_restored():
    server = _silent_server()
    with LinkProxy(server.getsockname()) as proxy:
        proxy.cut()
        refused = socket.create_connection(("127.0.0.1", proxy.port))
        refused.settimeout(10)
        try:
            assert refused.recv(10) == b""
        except ConnectionResetError:
            pass
        proxy.restore()
        client = socket.create_connection(("127.0.0.1", proxy.port))
        client.sendall(b"x")
        deadline = time.monotonic() + 10
        while proxy.connections < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proxy.connections == 1
    server.close()
