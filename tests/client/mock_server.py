"""A scripted rosterd for httpx.MockTransport: it issues numbered tokens (and, for a refresh
token it issued, the next one in its place: rotation), answers the v2 calls the tests script,
and records every request it sees."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

BASE = "http://rosterd.test"
TOKEN_PATH = "/tenants/acme/connect/token"

Handler = Callable[[httpx.Request], httpx.Response]


def user_json(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "username": f"u{n}",
        "email": f"u{n}@example.com",
        "firstName": "U",
        "lastName": str(n),
        "status": "active",
        "isActive": True,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "modifiedAt": "2026-01-01T00:00:00.000Z",
        **extra,
    }


@dataclass
class FakeServer:
    """``routes`` maps "METHOD /path" to a handler; ``token_lifetime`` is expires_in.
    ``refresh_tokens`` are those a refresh token grant may use (each once)."""

    routes: dict[str, Handler] = field(default_factory=dict)
    token_lifetime: int = 3600
    tokens_issued: int = 0
    seen: list[httpx.Request] = field(default_factory=list)
    token_delay: threading.Event | None = None
    refused_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.seen.append(request)
        if request.url.path == TOKEN_PATH:
            return self._token(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token in self.refused_tokens or not token.startswith("tok-"):
            return httpx.Response(
                401, json={"error": {"code": "unauthorized", "message": "expired", "details": []}}
            )
        handler = self.routes[f"{request.method} {request.url.path}"]
        return handler(request)

    def _token(self, request: httpx.Request) -> httpx.Response:
        if self.token_delay is not None:
            self.token_delay.wait(5)
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        answer: dict[str, Any] = {"token_type": "Bearer", "expires_in": self.token_lifetime}
        with self._lock:
            if form["grant_type"] == "refresh_token":
                if form.get("refresh_token") not in self.refresh_tokens:
                    return httpx.Response(400, json={"error": "invalid_grant"})
                self.refresh_tokens.remove(form["refresh_token"])
            self.tokens_issued += 1
            number = self.tokens_issued
            if form["grant_type"] == "refresh_token":
                answer["refresh_token"] = f"rrt-{number}"
                self.refresh_tokens.add(answer["refresh_token"])
        return httpx.Response(200, json={"access_token": f"tok-{number}", **answer})

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.seen if r.url.path == path]


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)
