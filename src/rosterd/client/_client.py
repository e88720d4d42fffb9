"""``Client`` and ``AsyncClient``: the namespaces of resources over one transport."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from rosterd.client._auth import (
    AsyncTokenSource,
    Clock,
    Credentials,
    TokenSource,
    TokenState,
    monotonic,
)
from rosterd.client._call import Call
from rosterd.client._resources.audit import AsyncAudit, Audit
from rosterd.client._resources.events import AsyncEvents, Events
from rosterd.client._resources.groups import AsyncGroups, Groups
from rosterd.client._resources.lifecycle import AsyncLifecycle, Lifecycle
from rosterd.client._resources.roles import AsyncRoles, Roles
from rosterd.client._resources.teams import AsyncTeams, Teams
from rosterd.client._resources.users import AsyncUsers, Users
from rosterd.client._resources.webhooks import AsyncWebhooks, Webhooks
from rosterd.client._retry import RetryPolicy
from rosterd.client._transport import AsyncTransport, Transport

DEFAULT_TIMEOUT = 30.0
USER_AGENT = "rosterd-python"


def _raw(response: httpx.Response) -> httpx.Response:
    return response


def _raw_call(
    method: str,
    path: str,
    params: Mapping[str, Any] | None,
    json: Any,
    headers: Mapping[str, str] | None,
    idempotent: bool,
) -> Call[httpx.Response]:
    return Call(
        method.upper(),
        path,
        _raw,
        params=params,
        json=json,
        headers=dict(headers or {}),
        idempotency_key=None if idempotent else False,
    )


class _Settings:
    """What ``Client`` and ``AsyncClient`` make of their common arguments."""

    def __init__(
        self,
        base_url: str,
        tenant: str,
        client_id: str,
        client_secret: str | None,
        scopes: Sequence[str] | None,
        max_retries: int | None,
        retry: RetryPolicy | None,
        token_refresh_margin: float,
        clock: Clock,
        refresh_token: str | None = None,
        on_refresh_token: Callable[[str], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        if client_secret is None and refresh_token is None:
            raise ValueError("give the client's secret, or a refresh token")
        credentials = Credentials(
            tenant, client_id, client_secret, scopes, refresh_token, on_refresh_token
        )
        self.tokens = TokenState(
            self.base_url, credentials, refresh_margin=token_refresh_margin, clock=clock
        )
        policy = retry or RetryPolicy()
        if max_retries is not None:
            policy = RetryPolicy(
                max_retries=max_retries,
                backoff=policy.backoff,
                max_backoff=policy.max_backoff,
                max_wait=policy.max_wait,
            )
        self.policy = policy


class Client:
    """A rosterd API client over ``httpx.Client``; safe to share between threads.

    ``base_url`` is the server (``http://127.0.0.1:8080``); ``tenant`` the tenant's slug;
    ``client_id`` and ``client_secret`` an OAuth client of that tenant (``rosterd clients
    create``); instead of a secret, a ``refresh_token`` of the authorization code flow (a
    public client's, as ``rosterd login --browser`` gets), each rotated one handed to
    ``on_refresh_token`` to keep; ``scopes`` the scopes to ask for (all the client has when
    None). Pass
    ``http_client`` to bring your own ``httpx.Client`` (proxies, TLS, event hooks; it is
    then yours to close). ``max_retries`` (or a whole ``retry`` policy) bounds the retries of
    429, 503 and lost connections; ``token_refresh_margin`` is how many seconds before expiry
    the token is renewed.

    Example::

        from rosterd.client import Client

        with Client("http://127.0.0.1:8080", tenant="acme",
                    client_id="cl_…", client_secret="…") as client:
            ada = client.users.create(email="ada@example.com", first_name="Ada",
                                      last_name="Lovelace")
            for user in client.users.list(status="active"):
                print(user.email)
    """

    def __init__(
        self,
        base_url: str,
        tenant: str = "default",
        *,
        client_id: str,
        client_secret: str | None = None,
        scopes: Sequence[str] | None = None,
        http_client: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        token_refresh_margin: float = 60.0,
        clock: Clock = monotonic,
        refresh_token: str | None = None,
        on_refresh_token: Callable[[str], None] | None = None,
    ) -> None:
        s = _Settings(
            base_url,
            tenant,
            client_id,
            client_secret,
            scopes,
            max_retries,
            retry,
            token_refresh_margin,
            clock,
            refresh_token,
            on_refresh_token,
        )
        self.base_url = s.base_url
        self.tenant = tenant
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            timeout=timeout, headers={"User-Agent": USER_AGENT}
        )
        self._tokens = TokenSource(s.tokens)
        self._transport = Transport(self._http, s.base_url, self._tokens, s.policy, clock)
        self.users = Users(self._transport)
        self.groups = Groups(self._transport)
        self.roles = Roles(self._transport)
        self.teams = Teams(self._transport)
        self.audit = Audit(self._transport)
        self.events = Events(self._transport)
        self.lifecycle = Lifecycle(self._transport)
        self.webhooks = Webhooks(self._transport)

    def authenticate(self) -> None:
        """Get an access token now (the first call otherwise does): a check of the client id
        and secret that needs no scope. ``AuthError`` if the server refuses them.

        Example::

            client.authenticate()
        """
        self._transport.authenticate()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Any call the namespaces do not cover, with the same token handling, retries and
        errors: ``path`` is below ``base_url``. A POST gets an Idempotency-Key and is
        retried unless ``idempotent=False`` (then it is sent once, never repeated).

        Example::

            r = client.request("GET", "/integration/v2/users", params={"limit": 1})
            print(r.json()["totalCount"])
        """
        return self._transport.run(_raw_call(method, path, params, json, headers, idempotent))

    def close(self) -> None:
        """Close the HTTP client, unless it was passed in."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient:
    """``Client`` for asyncio, over ``httpx.AsyncClient``: the same arguments and
    namespaces, every call awaited, every listing an async iterator; safe to share between
    the tasks of one event loop. With a ``refresh_token`` instead of a secret, tasks refused
    together renew it once (a rotated token works once, so a second renewal would fail), and
    ``on_refresh_token`` (a plain function, called in the event loop) gets each rotated one.

    Example::

        from rosterd.client import AsyncClient

        async with AsyncClient("http://127.0.0.1:8080", tenant="acme",
                               client_id="cl_…", client_secret="…") as client:
            ada = await client.users.create(email="ada@example.com", first_name="Ada",
                                            last_name="Lovelace")
            async for user in client.users.list():
                print(user.email)
    """

    def __init__(
        self,
        base_url: str,
        tenant: str = "default",
        *,
        client_id: str,
        client_secret: str | None = None,
        scopes: Sequence[str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        token_refresh_margin: float = 60.0,
        clock: Clock = monotonic,
        refresh_token: str | None = None,
        on_refresh_token: Callable[[str], None] | None = None,
    ) -> None:
        s = _Settings(
            base_url,
            tenant,
            client_id,
            client_secret,
            scopes,
            max_retries,
            retry,
            token_refresh_margin,
            clock,
            refresh_token,
            on_refresh_token,
        )
        self.base_url = s.base_url
        self.tenant = tenant
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=timeout, headers={"User-Agent": USER_AGENT}
        )
        self._tokens = AsyncTokenSource(s.tokens)
        self._transport = AsyncTransport(self._http, s.base_url, self._tokens, s.policy, clock)
        self.users = AsyncUsers(self._transport)
        self.groups = AsyncGroups(self._transport)
        self.roles = AsyncRoles(self._transport)
        self.teams = AsyncTeams(self._transport)
        self.audit = AsyncAudit(self._transport)
        self.events = AsyncEvents(self._transport)
        self.lifecycle = AsyncLifecycle(self._transport)
        self.webhooks = AsyncWebhooks(self._transport)

    async def authenticate(self) -> None:
        """Example: ``await client.authenticate()`` (see ``Client.authenticate``)."""
        await self._transport.authenticate()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Example: ``r = await client.request("GET", "/integration/v2/roles")`` (see
        ``Client.request``)."""
        return await self._transport.run(_raw_call(method, path, params, json, headers, idempotent))

    async def aclose(self) -> None:
        """Close the HTTP client, unless it was passed in."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
