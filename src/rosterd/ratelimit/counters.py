"""Fixed-window counters for every limit of a request at once.

The limits library counts one limit per call (``incr``, then ``get_expiry`` for a reset),
which costs a coroutine per limit in process and a Redis round trip per limit and per reset.
A request here is one pass:

- in Redis, one Lua script that increments every counter of the request (INCR, and EXPIRE
  when new, as the library's own ``incr_expire`` script does) and returns each count with
  its TTL, over the library's redis-py client;
- in process, a dict of windows that the event loop (their only user) reads and writes
  without an await, ended windows swept out every few seconds. The library's in-process
  storages do not fit there: the asyncio one awaits a lock and schedules a task per
  counter, and the synchronous one starts a timer thread whenever its last one has
  finished (every 10 ms): profiled in process, 1,623 thread starts in 2,000 requests, most
  of the limiter's CPU. A ``cachetools.TLRUCache`` cost 2-9 us a lookup against a dict's
  0.1-0.2 us, and a request makes five.

A count is (requests counted in the window, seconds until the window resets).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from limits.aio.storage import RedisStorage
from limits.errors import StorageError

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


# Windows kept in process at most (the oldest go first): a bound on memory when failed
# authentications come from ever new addresses.
IN_PROCESS_WINDOWS = 100_000
# Seconds between sweeps of ended windows.
_SWEEP_EVERY = 10.0


class _Window:
    """One counter's window: its count so far and when it ends (``time.monotonic``)."""

    __slots__ = ("count", "ends")

    def __init__(self, ends: float) -> None:
        self.count = 0
        self.ends = ends


class InProcessCounters:
    """Counters in this process; the event loop is their only user."""

    def __init__(self, maxsize: int = IN_PROCESS_WINDOWS) -> None:
        self._windows: dict[str, _Window] = {}
        self._maxsize = maxsize
        self._sweep_at = time.monotonic() + _SWEEP_EVERY

    def charge(self, stages: Sequence[Stage]) -> list[Count]:
        now = time.monotonic()
        if now >= self._sweep_at:
            self._sweep(now)
        windows = self._windows
        counts: list[Count] = []
        for stage in stages:
            over = False
            for key, quota, seconds in stage:
                window = windows.get(key)
                if window is None or window.ends <= now:  # none yet, or its window ended
                    window = self._open(key, now + seconds, now)
                window.count += 1
                counts.append((window.count, _reset(window.ends, now)))
                over = over or window.count > quota
            if over:
                break
        return counts

    def peek(self, keys: Sequence[str]) -> list[Count]:
        now = time.monotonic()
        counts: list[Count] = []
        for key in keys:
            window = self._windows.get(key)
            if window is None or window.ends <= now:
                counts.append((0, 0))
            else:
                counts.append((window.count, _reset(window.ends, now)))
        return counts

    def _open(self, key: str, ends: float, now: float) -> _Window:
        self._windows.pop(key, None)  # a new window goes to the end of the dict's order
        if len(self._windows) >= self._maxsize:
            self._sweep(now)
            while len(self._windows) >= self._maxsize:
                del self._windows[next(iter(self._windows))]  # the longest open
        window = self._windows[key] = _Window(ends)
        return window

    def _sweep(self, now: float) -> None:
        self._windows = {k: w for k, w in self._windows.items() if w.ends > now}
        self._sweep_at = now + _SWEEP_EVERY


def _reset(ends: float, now: float) -> int:
    """Whole seconds until a window ends, rounded up. Rounded to the microsecond first:
    ``(now + 60) - now`` is 60.000000000000004 for some ``now``, which rounds up to 61."""
    return max(0, math.ceil(round(ends - now, 6)))


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
