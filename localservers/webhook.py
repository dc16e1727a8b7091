"""A webhook receiver on a loopback port, for the demo's alerts: it checks each alert's
signature (persistence.sinks.verify_signature), answers 204 to a signed one and 401 to
anything else, and counts both. Nothing is kept but the counts."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from persistence.sinks import verify_signature

BODY_MAX = 1_000_000


class WebhookReceiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.accepted = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="demo-webhook", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/alerts"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _count(self, signed: bool) -> None:
        with self._lock:
            if signed:
                self.accepted += 1
            else:
                self.refused += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, BODY_MAX))
                signed = verify_signature(
                    receiver.secret,
                    self.headers.get("X-Fraud-Timestamp", ""),
                    body,
                    self.headers.get("X-Fraud-Signature", ""),
                )
                receiver._count(signed)
                self.send_response(204 if signed else 401)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the demo's terminal shows its own progress line."""

        return Handler
