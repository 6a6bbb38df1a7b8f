"""A partner's webhook receiver on 127.0.0.1: a real HTTP server in a thread that checks each
signature with the `standardwebhooks` package and answers as the test scripts it."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Script:
    """What the receiver answers, in order; the last answer repeats."""

    answers: list[tuple[int, dict[str, str], bytes]] = field(
        default_factory=lambda: [(204, {}, b"")]
    )
    delay: float = 0.0  # seconds before answering: a slow receiver


class Receiver:
    def __init__(self, secret: str, scheme: str) -> None:
        self.webhook = Webhook(secret)
        self.scheme = scheme
        self.received: list[Received] = []
        self.script = Script()
        self.port = 0

    def url(self, path: str = "/hooks", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        try:
            self.webhook.verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        self.received.append(Received(handler.path, headers, body, verified))
        answers = self.script.answers
        status, extra, content = answers.pop(0) if len(answers) > 1 else answers[0]
        time.sleep(self.script.delay)
        if not verified:
            status, extra, content = 401, {}, b"bad signature"
        try:
            handler.send_response(status)
            for name, value in extra.items():
                handler.send_header(name, value)
            handler.send_header("content-length", str(len(content)))
            handler.end_headers()
            handler.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender stopped reading (a truncated answer, a timeout): as partners see it


@contextmanager
def receiving(secret: str, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """A receiver on a free port of 127.0.0.1; with `tls`, over HTTPS."""
    receiver = Receiver(secret, "https" if tls else "http")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.handle(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
