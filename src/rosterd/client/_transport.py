"""Sending a call: authentication, retries, the Idempotency-Key and error mapping, once for
``httpx.Client`` and once for ``httpx.AsyncClient`` over the same request building
(``_call``), token state (``_auth``) and retry rules (``_retry``)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import httpx

from rosterd.client import errors
from rosterd.client._auth import AsyncTokenSource, Clock, TokenSource
from rosterd.client._call import Call, Paged
from rosterd.client._retry import IDEMPOTENCY_HEADER, RetryPolicy, exhausted_wait, server_wait

T = TypeVar("T")

# What waits between tries; tests replace them to see the waits without sleeping.
sleep = time.sleep
async_sleep = asyncio.sleep


class Pacing:
    """When the client may send again: a successful answer that reports a rate limit spent
    holds every later request of the client (all threads or tasks) until it resets."""

    def __init__(self, policy: RetryPolicy, clock: Clock) -> None:
        self.policy = policy
        self.clock = clock
        self.resume_at = 0.0

    def wait(self) -> float:
        return max(0.0, self.resume_at - self.clock())

    def note(self, response: httpx.Response) -> None:
        if response.is_error:
            return  # the retry decides what an error's wait means
        seconds = exhausted_wait(response)
        if seconds is not None and seconds <= self.policy.max_wait:
            self.resume_at = max(self.resume_at, self.clock() + seconds)


def build(
    client: httpx.Client | httpx.AsyncClient, base_url: str, call: Call[Any]
) -> httpx.Request:
    headers = dict(call.headers)
    if call.method == "POST" and call.idempotency_key is not False:
        key = call.idempotency_key
        # One key per call, sent again on each of its tries.
        headers[IDEMPOTENCY_HEADER] = key if isinstance(key, str) else str(uuid.uuid4())
    return client.build_request(
        call.method,
        base_url + call.path,
        params=call.params,
        json=call.json,
        headers=headers,
    )


def _decide(
    policy: RetryPolicy,
    request: httpx.Request,
    attempt: int,
    response: httpx.Response | None,
    *,
    always: bool,
) -> float | None:
    if not (always or policy.may_retry(request)):
        return None
    return policy.delay(attempt, response)


def _authorized(request: httpx.Request, token: str) -> httpx.Request:
    """One try of ``request``, with ``token``: each try is a request of its own (the same
    body and Idempotency-Key), so nothing a try did to its request carries to the next."""
    headers = request.headers.copy()
    headers["Authorization"] = f"Bearer {token}"
    return httpx.Request(request.method, request.url, headers=headers, content=request.content)


def _failure(response: httpx.Response) -> errors.APIError:
    return errors.from_response(response, retry_after=server_wait(response))


def _unreachable(request: httpx.Request, exc: httpx.TransportError) -> errors.TransportError:
    error = errors.TransportError(f"{request.method} {request.url}: {exc!r}")
    error.__cause__ = exc
    return error


class Transport:
    """Runs calls on an ``httpx.Client``."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        tokens: TokenSource,
        policy: RetryPolicy,
        clock: Clock,
    ) -> None:
        self.http = http
        self.base_url = base_url
        self.tokens = tokens
        self.policy = policy
        self.pacing = Pacing(policy, clock)

    def run(self, call: Call[T]) -> T:
        return call.parse(self.send(build(self.http, self.base_url, call)))

    def authenticate(self) -> None:
        """Have a token (fetched now unless a fresh one is held)."""
        self.tokens.token(self.http, self._token_call)

    def pages(self, paged: Paged[T]) -> Iterator[T]:
        params = dict(paged.params)
        while True:
            page = self.send(
                self.http.build_request("GET", self.base_url + paged.path, params=params)
            ).json()
            yield from paged.items(page)
            following = paged.next(page)
            if following is None:
                return
            params.update(following)

    def send(self, request: httpx.Request) -> httpx.Response:
        """``request`` with a token, retried as the policy allows; an error status raised."""
        attempt, refreshed = 0, False
        while True:
            token = self.tokens.token(self.http, self._token_call)
            response = self._try(_authorized(request, token), attempt, always=False)
            if response is None:
                attempt += 1
                continue
            if response.status_code == 401 and not refreshed:
                self.tokens.refresh(token, self.http, self._token_call)
                refreshed = True
                continue
            if response.is_error:
                delay = _decide(self.policy, request, attempt, response, always=False)
                if delay is None:
                    raise _failure(response)
                sleep(delay)
                attempt += 1
                continue
            return response

    def _token_call(self, request: httpx.Request) -> httpx.Response:
        """The token request, retried on 429/503 and lost connections (asking for a token
        twice does no harm); its answer, error or not, goes to the token state."""
        attempt = 0
        while True:
            response = self._try(request, attempt, always=True)
            if response is None:
                attempt += 1
                continue
            delay = _decide(self.policy, request, attempt, response, always=True)
            if delay is None:
                return response
            sleep(delay)
            attempt += 1

    def _try(self, request: httpx.Request, attempt: int, *, always: bool) -> httpx.Response | None:
        """One send (once the pacing allows); None when it got no answer and waited to try
        again."""
        paused = self.pacing.wait()
        if paused:
            sleep(paused)
        try:
            response = self.http.send(request)
            self.pacing.note(response)
            return response
        except httpx.TransportError as exc:
            delay = _decide(self.policy, request, attempt, None, always=always)
            if delay is None:
                raise _unreachable(request, exc) from exc
            sleep(delay)
            return None


class AsyncTransport:
    """Runs calls on an ``httpx.AsyncClient``; the same steps as ``Transport``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        tokens: AsyncTokenSource,
        policy: RetryPolicy,
        clock: Clock,
    ) -> None:
        self.http = http
        self.base_url = base_url
        self.tokens = tokens
        self.policy = policy
        self.pacing = Pacing(policy, clock)

    async def authenticate(self) -> None:
        """Have a token (fetched now unless a fresh one is held)."""
        await self.tokens.token(self.http, self._token_call)

    async def run(self, call: Call[T]) -> T:
        return call.parse(await self.send(build(self.http, self.base_url, call)))

    async def pages(self, paged: Paged[T]) -> AsyncIterator[T]:
        params = dict(paged.params)
        while True:
            response = await self.send(
                self.http.build_request("GET", self.base_url + paged.path, params=params)
            )
            page = response.json()
            for item in paged.items(page):
                yield item
            following = paged.next(page)
            if following is None:
                return
            params.update(following)

    async def send(self, request: httpx.Request) -> httpx.Response:
        attempt, refreshed = 0, False
        while True:
            token = await self.tokens.token(self.http, self._token_call)
            response = await self._try(_authorized(request, token), attempt, always=False)
            if response is None:
                attempt += 1
                continue
            if response.status_code == 401 and not refreshed:
                await self.tokens.refresh(token, self.http, self._token_call)
                refreshed = True
                continue
            if response.is_error:
                delay = _decide(self.policy, request, attempt, response, always=False)
                if delay is None:
                    raise _failure(response)
                await async_sleep(delay)
                attempt += 1
                continue
            return response

    async def _token_call(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            response = await self._try(request, attempt, always=True)
            if response is None:
                attempt += 1
                continue
            delay = _decide(self.policy, request, attempt, response, always=True)
            if delay is None:
                return response
            await async_sleep(delay)
            attempt += 1

    async def _try(
        self, request: httpx.Request, attempt: int, *, always: bool
    ) -> httpx.Response | None:
        paused = self.pacing.wait()
        if paused:
            await async_sleep(paused)
        try:
            response = await self.http.send(request)
            self.pacing.note(response)
            return response
        except httpx.TransportError as exc:
            delay = _decide(self.policy, request, attempt, None, always=always)
            if delay is None:
                raise _unreachable(request, exc) from exc
            await async_sleep(delay)
            return None
