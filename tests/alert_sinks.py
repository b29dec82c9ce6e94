"""Receivers for alerts in tests: a local HTTP server for the webhook and a minimal SMTP sink.

The standard library has no SMTP server since Python 3.12 (``smtpd`` is gone); the sink
speaks just enough of RFC 5321 for ``smtplib`` to hand it a message.
"""
from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookSink:
    """An HTTP server on 127.0.0.1 that records each JSON body POSTed to it.

    ``answers`` is the status for each request in turn (200 once they run out).
    """

    def __init__(self, answers: list[int] | None = None):
        self.answers = list(answers or [])
        self.received: list[dict[str, Any]] = []  # the bodies answered 2xx
        self.requests = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink._lock:
                    sink.requests += 1
                    status = sink.answers.pop(0) if sink.answers else 200
                    if status < 300:
                        sink.received.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """A one-connection-at-a-time SMTP server on 127.0.0.1 that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def received(self) -> list[Message]:
        with self._lock:
            return list(self.messages)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as lines:
                self._session(conn, lines)

    def _session(self, conn: socket.socket, lines: Any) -> None:
        conn.sendall(b"220 sink ready\r\n")
        while line := lines.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250 sink\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 end with a dot\r\n")
                data = b""
                while (part := lines.readline()) not in (b".\r\n", b""):
                    data += part[1:] if part.startswith(b"..") else part
                with self._lock:
                    self.messages.append(message_from_bytes(data))
                conn.sendall(b"250 kept\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.sock.close()
