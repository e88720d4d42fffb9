"""Counting requests against policies, in the limits library's async storage.

Fixed windows, as the library's ``FixedWindowRateLimiter`` counts them: one counter per
limit and partition, incremented by each request and expiring with its window (one Lua
call, INCR and EXPIRE, in Redis). The count the increment returns is the request's
remaining quota, so only the reported limit's reset needs a second call (a Redis TTL): a
request costs one call per limit and one more, which matters when every call is a round
trip. The window's reset is exact, which is what the RateLimit field's ``t`` and
Retry-After report. The burst a fixed window allows across its boundary is held by a
policy's shorter window ('50/second;3000/minute').
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from typing import Any

from limits.aio.storage import Storage
from limits.errors import StorageError
from limits.storage import storage_from_string

from rosterd.ratelimit.policy import Policy, Standing, Verdict, tightest

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
        # redis-py's asyncio client: each count is one Lua call (INCR and EXPIRE at
        # once), and it spent about 40% less CPU per call than coredis here.
        options |= {
            "implementation": "redispy",
            "socket_timeout": _REDIS_TIMEOUT,
            "socket_connect_timeout": _REDIS_TIMEOUT,
        }
    return async_uri, options


class Limiter:
    """Charges requests to policies in one storage: memory:// (this process) or Redis.

    When the storage fails (Redis unreachable), requests are served unlimited rather than
    refused, and the failure is logged once a minute: a directory that IdPs provision into
    should not stop because its rate-limit store did.
    """

    def __init__(self, storage_uri: str, *, key_prefix: str) -> None:
        self._uri, self._options = storage_arguments(storage_uri, key_prefix)
        self._in_memory = self._uri.startswith("async+memory")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._storage = self._open()  # now, so that a bad storage URL stops the start
        self._warned_at = -math.inf

    def _open(self) -> Storage:
        # Redis errors come out as StorageError; memory:// has none to wrap.
        wrap = not self._in_memory
        storage = storage_from_string(self._uri, wrap_exceptions=wrap, **self._options)
        assert isinstance(storage, Storage)
        return storage

    def _counters(self) -> Storage:
        """The storage. A Redis client's connections belong to the event loop that opened
        them, so a loop other than the last one (a server has one; a test client may start
        several) gets a client of its own; counters in memory are kept."""
        loop = None if self._in_memory else asyncio.get_running_loop()
        if self._loop is not loop:
            self._storage, self._loop = self._open(), loop
        return self._storage

    async def charge(self, *stages: tuple[Policy, Partition]) -> Verdict:
        """Count one request against each stage's policy in turn, stopping at the first that
        refuses it: a credential over its own limit does not spend its tenant's."""
        policies = tuple(policy for policy, _ in stages)
        standings: list[Standing] = []
        keys: dict[str, str] = {}  # a standing's label -> its counter's key
        refused: list[Standing] = []
        try:
            counters = self._counters()
            for policy, partition in stages:
                for limit in policy.limits:
                    key = limit.item.key_for(policy.name, *partition)
                    count = await counters.incr(key, limit.window)
                    standing = Standing(
                        limit.label, limit.quota, limit.window, max(0, limit.quota - count)
                    )
                    keys[limit.label] = key
                    standings.append(standing)
                    if count > limit.quota:
                        refused.append(standing)
                if refused:
                    break
            resets = {s.label: await self._reset(counters, keys[s.label]) for s in refused}
            report = tightest(refused or standings)
            if report is not None:
                reset = resets.get(report.label)
                if reset is None:
                    reset = await self._reset(counters, keys[report.label])
                report = dataclasses.replace(report, reset=reset)
        except StorageError as exc:
            self._storage_failed(exc)
            return Verdict(policies)
        retry_after = max([1, *resets.values()]) if refused else None
        return Verdict(policies, tuple(standings), report, retry_after)

    async def refusal(self, policy: Policy, partition: Partition) -> Verdict | None:
        """The refusal a request would get if ``policy`` is spent for ``partition``, without
        counting the request; None while there is room."""
        try:
            counters = self._counters()
            for limit in policy.limits:
                key = limit.item.key_for(policy.name, *partition)
                if await counters.get(key) >= limit.quota:
                    reset = max(1, await self._reset(counters, key))
                    spent = Standing(limit.label, limit.quota, limit.window, 0, reset)
                    return Verdict((policy,), (spent,), spent, retry_after=reset)
        except StorageError as exc:
            self._storage_failed(exc)
        return None

    async def count(self, policy: Policy, partition: Partition) -> None:
        """Count one event (a failed authentication) against ``policy`` for ``partition``."""
        try:
            counters = self._counters()
            for limit in policy.limits:
                await counters.incr(limit.item.key_for(policy.name, *partition), limit.window)
        except StorageError as exc:
            self._storage_failed(exc)

    @staticmethod
    async def _reset(counters: Storage, key: str) -> int:
        """Seconds until the counter at ``key`` expires, its window's quota back."""
        return max(0, math.ceil(await counters.get_expiry(key) - time.time()))

    def _storage_failed(self, exc: StorageError) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning("rate limits are not enforced: their storage failed: %s", exc)
