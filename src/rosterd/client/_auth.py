"""Access tokens from ``/tenants/{tenant}/connect/token``: OAuth 2.0 client credentials (RFC
6749 §4.4), or a refresh token (§6) from the authorization code flow (``rosterd login
--browser``). Refresh tokens rotate: each answer carries the next one, which replaces the
one used and is handed to ``on_refresh_token`` to be kept (the used one no longer works).

The token is fetched on first use and again shortly before it expires (``refresh_margin``
seconds before, at most half its lifetime), so a long run does not meet an expired token.
When the server still refuses a token (401: it expired early, its signing key was retired),
the caller asks for a refresh naming the token it was refused: the first caller to take the
lock fetches a new token, and every concurrent caller refused with the same old token finds
the new one there and uses it — one token request however many threads or tasks were refused
together (single flight). The sync source locks with a ``threading.Lock``, the async one with
an ``asyncio.Lock``; the state they guard and the token request are shared.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

from rosterd.client import errors
from rosterd.client._retry import server_wait

Clock = Callable[[], float]


@dataclass(frozen=True)
class Credentials:
    tenant: str
    client_id: str
    client_secret: str | None
    scopes: Sequence[str] | None = None
    refresh_token: str | None = None
    on_refresh_token: Callable[[str], None] | None = field(default=None, compare=False)

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"Credentials(tenant={self.tenant!r}, client_id={self.client_id!r})"


class TokenState:
    """The current token and when to refresh it; the token request and its answer."""

    def __init__(
        self, base_url: str, credentials: Credentials, *, refresh_margin: float, clock: Clock
    ) -> None:
        self.url = f"{base_url}/tenants/{credentials.tenant}/connect/token"
        self.credentials = credentials
        self.refresh_margin = refresh_margin
        self.clock = clock
        self.token: str | None = None
        self.refresh_token = credentials.refresh_token
        self.refresh_at = 0.0
        self.fetches = 0  # token requests made; what tests of single flight count

    def fresh(self) -> str | None:
        """The current token unless it is due for refresh."""
        if self.token is not None and self.clock() < self.refresh_at:
            return self.token
        return None

    def renewed_since(self, stale: str | None) -> str | None:
        """A token other than ``stale`` that is still fresh: another caller refreshed."""
        token = self.fresh()
        return token if token is not None and token != stale else None

    def request(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        c = self.credentials
        form = {"client_id": c.client_id}
        if self.refresh_token is not None:
            form.update(grant_type="refresh_token", refresh_token=self.refresh_token)
        else:
            form["grant_type"] = "client_credentials"
        if c.client_secret is not None:
            form["client_secret"] = c.client_secret
        if c.scopes:
            form["scope"] = " ".join(c.scopes)
        return client.build_request("POST", self.url, data=form)

    def accept(self, response: httpx.Response) -> str:
        """Keep the token a token response carries; raise what an error response means."""
        self.fetches += 1
        if response.is_error:
            error = errors.from_response(response, retry_after=server_wait(response))
            if isinstance(error, errors.BadRequest) and error.code == "invalid_grant":
                # RFC 6749 answers a refresh token revoked, expired or already used with a
                # 400: to the caller it is a sign-in refused, to be made again.
                raise errors.AuthError(
                    error.message,
                    status=error.status,
                    body=error.body,
                    code=error.code,
                    request_id=error.request_id,
                ) from None
            raise error
        body = response.json()
        lifetime = float(body.get("expires_in") or 3600)
        self.token = str(body["access_token"])
        rotated = body.get("refresh_token")
        if self.refresh_token is not None and isinstance(rotated, str) and rotated:
            self.refresh_token = rotated
            if self.credentials.on_refresh_token is not None:
                self.credentials.on_refresh_token(rotated)
        self.refresh_at = self.clock() + lifetime - min(self.refresh_margin, lifetime / 2)
        return self.token


Send = Callable[[httpx.Request], httpx.Response]
AsyncSend = Callable[[httpx.Request], Awaitable[httpx.Response]]


class TokenSource:
    """Tokens for a sync ``Client``; safe to share between threads."""

    def __init__(self, state: TokenState) -> None:
        self.state = state
        self._lock = threading.Lock()

    def token(self, client: httpx.Client, send: Send) -> str:
        token = self.state.fresh()
        if token is not None:
            return token
        with self._lock:
            return self.state.fresh() or self._fetch(client, send)

    def refresh(self, stale: str | None, client: httpx.Client, send: Send) -> str:
        """A token other than ``stale``, which the server refused."""
        with self._lock:
            return self.state.renewed_since(stale) or self._fetch(client, send)

    def _fetch(self, client: httpx.Client, send: Send) -> str:
        return self.state.accept(send(self.state.request(client)))


class AsyncTokenSource:
    """Tokens for an ``AsyncClient``; safe to share between tasks of one event loop."""

    def __init__(self, state: TokenState) -> None:
        self.state = state
        self._lock = asyncio.Lock()

    async def token(self, client: httpx.AsyncClient, send: AsyncSend) -> str:
        token = self.state.fresh()
        if token is not None:
            return token
        async with self._lock:
            return self.state.fresh() or await self._fetch(client, send)

    async def refresh(self, stale: str | None, client: httpx.AsyncClient, send: AsyncSend) -> str:
        async with self._lock:
            return self.state.renewed_since(stale) or await self._fetch(client, send)

    async def _fetch(self, client: httpx.AsyncClient, send: AsyncSend) -> str:
        return self.state.accept(await send(self.state.request(client)))


def monotonic() -> float:
    return time.monotonic()
