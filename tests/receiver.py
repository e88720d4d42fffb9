"""A webhook receiver on 127.0.0.1 for tests: records what it is sent, answers as told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook as Verifier


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> dict[str, Any]:
        """The CloudEvent, once its signature checks out as a receiver would check it."""
        event: dict[str, Any] = Verifier(secret).verify(self.body, self.headers)
        return event


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # The status to answer; a callable decides per request.
    status: int | Callable[[], int] = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, secret: str) -> list[dict[str, Any]]:
        with self.lock:
            got = list(self.received)
        return [r.verified(secret) for r in got]

    def wait_for(
        self, done: Callable[[list[Received]], bool], timeout: float = 60.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                got = list(self.received)
            if done(got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver: condition not met in {timeout} s; got {len(got)}")
            time.sleep(0.05)

    def types(self) -> list[str]:
        with self.lock:
            return [json.loads(r.body)["type"] for r in self.received]


@contextmanager
def receiving(status: int | Callable[[], int] = 200) -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            answer = receiver.status() if callable(receiver.status) else receiver.status
            if 200 <= answer < 300:
                with receiver.lock:
                    receiver.received.append(Received(dict(self.headers.items()), body))
            self.send_response(answer)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    receiver.status = status
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
