"""Counting requests against policies: in process, or in Redis through the limits library.

Fixed windows, as the library's ``FixedWindowRateLimiter`` counts them: one counter per
limit and partition, incremented by each request and expiring with its window. The count
is the request's remaining quota and the counter's expiry its reset, which is exact: what
the RateLimit field's ``t`` and Retry-After report. The burst a fixed window allows across
its boundary is held by a policy's shorter window ('50/second;3000/minute').

A request's limits are counted together (``counters``): synchronously in process, in one
Redis round trip when the counters are shared.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from limits.aio.storage import RedisStorage
from limits.errors import StorageError
from limits.storage import storage_from_string

from rosterd.ratelimit.counters import Count, InProcessCounters, RedisCounters, Stage
from rosterd.ratelimit.policy import Limit, Policy, Standing, Verdict, tightest

log = logging.getLogger("rosterd.ratelimit")

# A partition is named by strings: a tenant id, a tenant id and a credential, an IP.
Partition = tuple[str, ...]
# Seconds a Redis call may take before the request is served without its limit.
_REDIS_TIMEOUT = 1.0
_WARN_EVERY = 60.0


def storage_arguments(uri: str, key_prefix: str) -> tuple[str, dict[str, Any]]:
    """The asyncio ``limits`` storage a settings URI names (memory://, redis://...), as the
    URI and options ``storage_from_string`` takes; every counter rosterd keeps goes there."""
    async_uri = uri if uri.startswith("async+") else f"async+{uri}"
    options: dict[str, Any] = {"key_prefix": key_prefix}
    if not async_uri.startswith("async+memory"):
        # redis-py's asyncio client: it spent about 40% less CPU per call than coredis here.
        options |= {
            "implementation": "redispy",
            "socket_timeout": _REDIS_TIMEOUT,
            "socket_connect_timeout": _REDIS_TIMEOUT,
        }
    return async_uri, options


@lru_cache(maxsize=4096)
def _stage(policy: Policy, partition: Partition) -> Stage:
    """The counters of ``policy``'s limits for ``partition``, built once per credential,
    tenant or address while it is in use (the library's ``key_for``). The partition's first
    name (the tenant, or the IP) is a Redis Cluster hash tag, so one request's counters
    share a slot and one script can count them all."""
    tagged = (f"{{{partition[0]}}}", *partition[1:])
    return tuple(
        (limit.item.key_for(policy.name, *tagged), limit.quota, limit.window)
        for limit in policy.limits
    )


@lru_cache(maxsize=1024)
def _limits(policies: tuple[Policy, ...]) -> tuple[Limit, ...]:
    """Every limit of ``policies``, in the order their counters are charged."""
    return tuple(limit for policy in policies for limit in policy.limits)


def _verdict(policies: tuple[Policy, ...], counts: Sequence[Count]) -> Verdict:
    """Where the request stands against ``policies``, from its ``counts`` (taken up to the
    stage that refused it: the limits after that one have none)."""
    standings: list[Standing] = []
    refused: list[Standing] = []
    for limit, (count, reset) in zip(_limits(policies), counts, strict=False):
        quota = limit.quota
        standing = Standing(limit.label, quota, limit.window, max(0, quota - count), reset)
        standings.append(standing)
        if count > quota:
            refused.append(standing)
    if not refused:
        return Verdict(policies, tuple(standings), tightest(standings))
    retry_after = max([1, *(s.reset or 0 for s in refused)])
    return Verdict(policies, tuple(standings), tightest(refused), retry_after)


class Limiter:
    """Charges requests to policies in one storage: memory:// (this process) or Redis.

    When the storage fails (Redis unreachable), requests are served unlimited rather than
    refused, and the failure is logged once a minute: a directory that IdPs provision into
    should not stop because its rate-limit store did.
    """

    def __init__(self, storage_uri: str, *, key_prefix: str) -> None:
        self._uri, self._options = storage_arguments(storage_uri, key_prefix)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_process: InProcessCounters | None = None
        self._redis = self._open()  # now, so that a bad storage URL stops the start
        self._warned_at = -math.inf

    def _open(self) -> RedisCounters | None:
        if self._uri.startswith("async+memory"):
            self._in_process = InProcessCounters()
            return None
        # Redis errors come out as StorageError.
        storage = storage_from_string(self._uri, wrap_exceptions=True, **self._options)
        assert isinstance(storage, RedisStorage)
        return RedisCounters(storage)

    async def _counts(self, stages: Sequence[Stage]) -> list[Count]:
        """Count one request against ``stages`` in turn, stopping after the first in which a
        limit refuses it."""
        if self._in_process is not None:
            return self._in_process.charge(stages)
        return await self._shared().charge(stages)

    async def _peek(self, keys: Sequence[str]) -> list[Count]:
        if self._in_process is not None:
            return self._in_process.peek(keys)
        return await self._shared().peek(keys)

    def _shared(self) -> RedisCounters:
        """The Redis counters. A Redis client's connections belong to the event loop that
        opened them, so a loop other than the last one (a server has one; a test client may
        start several) gets a client of its own."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._redis is None:
            self._redis, self._loop = self._open(), loop
        assert self._redis is not None
        return self._redis

    async def charge(self, *stages: tuple[Policy, Partition]) -> Verdict:
        """Count one request against each stage's policy in turn, stopping at the first that
        refuses it: a credential over its own limit does not spend its tenant's."""
        policies = tuple(policy for policy, _ in stages)
        try:
            counts = await self._counts([_stage(p, partition) for p, partition in stages])
        except StorageError as exc:
            self._storage_failed(exc)
            return Verdict(policies)
        return _verdict(policies, counts)

    async def refusal(self, policy: Policy, partition: Partition) -> Verdict | None:
        """The refusal a request would get if ``policy`` is spent for ``partition``, without
        counting the request; None while there is room."""
        stage = _stage(policy, partition)
        try:
            counts = await self._peek([key for key, _, _ in stage])
        except StorageError as exc:
            self._storage_failed(exc)
            return None
        for limit, (count, reset) in zip(policy.limits, counts, strict=True):
            if count >= limit.quota:
                spent = Standing(limit.label, limit.quota, limit.window, 0, max(1, reset))
                return Verdict((policy,), (spent,), spent, retry_after=spent.reset)
        return None

    async def count(self, policy: Policy, partition: Partition) -> None:
        """Count one event (a failed authentication) against ``policy`` for ``partition``."""
        try:
            await self._counts([_stage(policy, partition)])
        except StorageError as exc:
            self._storage_failed(exc)

    def _storage_failed(self, exc: StorageError) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning("rate limits are not enforced: their storage failed: %s", exc)
