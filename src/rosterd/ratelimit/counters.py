"""Fixed-window counters for every limit of a request at once, in the limits library's
storages.

The library counts one limit per call (``incr``, then ``get_expiry`` for a reset), which
costs a coroutine per limit in process and a Redis round trip per limit and per reset. A
request here is one pass: in process, the library's synchronous ``MemoryStorage`` (its
counters, windows and expiry) called directly from the event loop, a few microseconds and
no await; in Redis, one Lua script that increments every counter of the request (INCR and
EXPIRE when new, as the library's own ``incr_expire`` script does) and returns each count
with its TTL, over the library's redis-py client.

A count is (requests counted in the window, seconds until the window resets).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from limits.aio.storage import RedisStorage
from limits.errors import StorageError
from limits.storage import MemoryStorage

# One stage: the counters of one policy's limits, as (key, quota, window seconds).
Stage = Sequence[tuple[str, int, int]]
Count = tuple[int, int]

# KEYS: every counter of every stage, in order. ARGV: the number of stages, then for each
# stage its number of counters followed by each counter's quota and window. Stops after the
# first stage in which a counter goes over its quota, as the stages are charged in turn.
# Returns count, TTL, count, TTL... of the counters it incremented.
_CHARGE = """
local out = {}
local k = 1
local a = 2
for _ = 1, tonumber(ARGV[1]) do
  local over = false
  for _ = 1, tonumber(ARGV[a]) do
    local quota = tonumber(ARGV[a + 1])
    local count = redis.call("incrby", KEYS[k], 1)
    if count == 1 then
      redis.call("expire", KEYS[k], ARGV[a + 2])
    end
    if count > quota then
      over = true
    end
    out[#out + 1] = count
    out[#out + 1] = redis.call("ttl", KEYS[k])
    k = k + 1
    a = a + 2
  end
  a = a + 1
  if over then
    break
  end
end
return out
"""

# KEYS: counters to read. Returns count, TTL, ... without counting anything.
_PEEK = """
local out = {}
for k = 1, #KEYS do
  out[#out + 1] = tonumber(redis.call("get", KEYS[k]) or "0")
  out[#out + 1] = redis.call("ttl", KEYS[k])
end
return out
"""


class InProcessCounters:
    """Counters in this process: the library's ``MemoryStorage``, called synchronously."""

    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage

    def charge(self, stages: Sequence[Stage]) -> list[Count]:
        counts: list[Count] = []
        for stage in stages:
            over = False
            for key, quota, window in stage:
                count = self._storage.incr(key, window)
                counts.append((count, self._reset(key)))
                over = over or count > quota
            if over:
                break
        return counts

    def peek(self, keys: Sequence[str]) -> list[Count]:
        return [(self._storage.get(key), self._reset(key)) for key in keys]

    def _reset(self, key: str) -> int:
        return max(0, math.ceil(self._storage.get_expiry(key) - time.time()))


class RedisCounters:
    """Counters in Redis, one round trip a call, over the library's redis-py client."""

    def __init__(self, storage: RedisStorage) -> None:
        self._bridge = storage.bridge
        self._errors = storage.base_exceptions
        # The redis-py bridge's client (rosterd always asks for implementation="redispy").
        bridge: Any = storage.bridge
        connection = bridge.get_connection()
        self._charge = connection.register_script(_CHARGE)
        self._peek = connection.register_script(_PEEK)

    async def charge(self, stages: Sequence[Stage]) -> list[Count]:
        keys: list[str] = []
        args: list[int] = [len(stages)]
        for stage in stages:
            args.append(len(stage))
            for key, quota, window in stage:
                keys.append(self._bridge.prefixed_key(key))
                args += (quota, window)
        return await self._run(self._charge, keys, args)

    async def peek(self, keys: Sequence[str]) -> list[Count]:
        return await self._run(self._peek, [self._bridge.prefixed_key(k) for k in keys], [])

    async def _run(self, script: Any, keys: list[str], args: list[int]) -> list[Count]:
        try:
            flat = await script(keys, args)
        except self._errors as exc:
            raise StorageError(exc) from exc
        return [(int(flat[i]), max(0, int(flat[i + 1]))) for i in range(0, len(flat), 2)]
