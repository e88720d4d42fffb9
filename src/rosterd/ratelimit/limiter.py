"""Counting requests against policies, in the limits library's async storage.

Fixed windows: one counter per limit and partition (one INCR in Redis), and the window's
reset is exact, which is what the RateLimit field's ``t`` and Retry-After report. The burst a
fixed window allows across its boundary is held by a policy's shorter window
('50/second;3000/minute').
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from limits import RateLimitItem
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from rosterd.ratelimit.policy import Policy, Standing, Verdict

log = logging.getLogger("rosterd.ratelimit")

# A partition is named by strings: a tenant id, a tenant id and a credential, an IP.
Partition = tuple[str, ...]
# Seconds a Redis call may take before the request is served without its limit.
_REDIS_TIMEOUT = 1.0
_WARN_EVERY = 60.0


class Limiter:
    """Charges requests to policies in one storage: memory:// (this process) or Redis.

    When the storage fails (Redis unreachable), requests are served unlimited rather than
    refused, and the failure is logged once a minute: a directory that IdPs provision into
    should not stop because its rate-limit store did.
    """

    def __init__(self, storage_uri: str, *, key_prefix: str) -> None:
        self._uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        self._options: dict[str, Any] = {"key_prefix": key_prefix}
        self._in_memory = self._uri.startswith("async+memory")
        if not self._in_memory:
            self._options |= {"stream_timeout": _REDIS_TIMEOUT, "connect_timeout": _REDIS_TIMEOUT}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._window: FixedWindowRateLimiter | None = None
        self._warned_at = -math.inf

    def _counter(self) -> FixedWindowRateLimiter:
        """The strategy over its storage. A Redis client's connections belong to the event
        loop that opened them, so a loop other than the last one (a server has one; a test
        client may start several) gets a client of its own; counters in memory are kept."""
        loop = None if self._in_memory else asyncio.get_running_loop()
        if self._window is None or self._loop is not loop:
            storage = storage_from_string(self._uri, wrap_exceptions=True, **self._options)
            self._window, self._loop = FixedWindowRateLimiter(storage), loop
        return self._window

    async def charge(self, *stages: tuple[Policy, Partition]) -> Verdict:
        """Count one request against each stage's policy in turn, stopping at the first that
        refuses it: a credential over its own limit does not spend its tenant's."""
        policies = tuple(policy for policy, _ in stages)
        standings: list[Standing] = []
        try:
            counter = self._counter()
            for policy, partition in stages:
                refused: list[Standing] = []
                for item in policy.items:
                    keys = (policy.name, *partition)
                    admitted = await counter.hit(item, *keys)
                    standing = await _standing(counter, policy, item, keys)
                    standings.append(standing)
                    if not admitted:
                        refused.append(standing)
                if refused:
                    wait = max([1, *(s.reset for s in refused)])
                    return Verdict(policies, tuple(standings), retry_after=wait)
        except StorageError as exc:
            self._storage_failed(exc)
            return Verdict(policies)
        return Verdict(policies, tuple(standings))

    async def refusal(self, policy: Policy, partition: Partition) -> Verdict | None:
        """The refusal a request would get if ``policy`` is spent for ``partition``, without
        counting the request; None while there is room."""
        keys = (policy.name, *partition)
        try:
            counter = self._counter()
            for item in policy.items:
                if not await counter.test(item, *keys):
                    standings = [await _standing(counter, policy, i, keys) for i in policy.items]
                    wait = max([1, *(s.reset for s in standings if s.remaining == 0)])
                    return Verdict((policy,), tuple(standings), retry_after=wait)
        except StorageError as exc:
            self._storage_failed(exc)
        return None

    async def count(self, policy: Policy, partition: Partition) -> None:
        """Count one event (a failed authentication) against ``policy`` for ``partition``."""
        keys = (policy.name, *partition)
        try:
            counter = self._counter()
            for item in policy.items:
                await counter.hit(item, *keys)
        except StorageError as exc:
            self._storage_failed(exc)

    def _storage_failed(self, exc: StorageError) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning("rate limits are not enforced: their storage failed: %s", exc)


async def _standing(
    counter: FixedWindowRateLimiter, policy: Policy, item: RateLimitItem, keys: Partition
) -> Standing:
    stats = await counter.get_window_stats(item, *keys)
    return Standing(
        label=policy.label(item),
        quota=item.amount,
        window=item.get_expiry(),
        remaining=stats.remaining,
        reset=max(0, math.ceil(stats.reset_time - time.time())),
    )
