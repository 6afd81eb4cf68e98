"""The HTTP plumbing the Batch emulator and the managed-identity endpoint share."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from vegdask.batch_emulator._protocol import EmulatorError

__all__ = ["MAX_BODY", "LocalHandler", "LocalServer"]

MAX_BODY = 16 * 1024 * 1024
"""Largest request body read (Batch's own limit on a request is far smaller)."""


class LocalHandler(BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler that replies with a body of known length."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Log nothing: a local service for tests and trials."""

    def target(self) -> tuple[str, dict[str, str]]:
        """The request's path and its query parameters (the first value of each)."""
        parsed = urlparse(self.path)
        return parsed.path, {k: v[0] for k, v in parse_qs(parsed.query).items()}

    def read_body(self) -> bytes:
        """The request's body, of its ``Content-Length`` (none: empty).

        Raises
        ------
        EmulatorError
            ``400 InvalidHeaderValue`` for a length that is not a whole number of bytes up to
            `MAX_BODY`.
        """
        given = self.headers.get("content-length")
        if given is None:
            return b""
        if not given.strip().isdigit() or int(given) > MAX_BODY:
            raise EmulatorError(
                400,
                "InvalidHeaderValue",
                f"The value for one of the HTTP headers is not in the correct format: "
                f"Content-Length {given[:40]!r} (a whole number of bytes up to {MAX_BODY})",
            )
        return self.rfile.read(int(given))

    def send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        """Reply ``status`` with ``headers`` (in order), ``Content-Length`` and ``data``."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class LocalServer(ThreadingHTTPServer):
    """A threaded HTTP server on 127.0.0.1 that serves from a daemon thread."""

    daemon_threads = True

    def __init__(self, port: int, handler: type[LocalHandler]) -> None:
        super().__init__(("127.0.0.1", port), handler)

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return self.server_address[1]

    def serve_in_thread(self, poll_interval: float = 0.5) -> threading.Thread:
        """Start serving in a daemon thread; `shutdown` ends it."""
        thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
        )
        thread.start()
        return thread
