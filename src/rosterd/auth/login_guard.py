"""What stands between a login form and argon2: throttles and a bound on concurrent hashing.

A password check costs about 100 ms of one core, by design. Two things keep that from being
turned against the server or its admins:

* **Throttles** (the ``limits`` library, moving windows): failures are counted per (username,
  client address) and per client address, in several tiers such as 5 a minute, 10 in ten
  minutes, 20 an hour. Once a tier is used up, further attempts are refused at once, without
  any hashing, until the window frees: the wait grows as failures pile up, and nobody can
  lock an admin out from elsewhere, because the counters of other addresses are untouched.
  The account key carries the admin's ``throttle_epoch`` (0 for usernames that do not exist,
  which are throttled exactly alike), so `rosterd admins unlock` lifts an admin's throttles
  on every node by bumping a number in the database. Counters live in the ``limits`` storage
  named by ROSTERD_RATE_LIMIT_STORAGE: memory:// per process, redis:// shared.
* **A capacity limiter** (anyio) admits ROSTERD_LOGIN_CONCURRENCY checks at a time; the
  others wait for their turn on the event loop, holding no thread, so a flood of logins
  costs at most that many cores and the rest of the API keeps the others. The checks run on
  threads of their own at a lower CPU priority (nice +10, on Linux, where a thread's nice
  value is its own), so that when every core is busy the requests around them (and, on
  PostgreSQL, the database's processes) go first and logins wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import anyio
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from rosterd.domain.rules import fold
from rosterd.ratelimit.limiter import storage_arguments

T = TypeVar("T")


# How much nicer than the rest of the process the threads that check passwords are (a nice
# value only ever goes up without privileges; 19 is the lowest priority).
PASSWORD_CHECK_NICENESS = 10


def _yield_cpu() -> None:
    if sys.platform == "linux":
        thread = threading.get_native_id()
        nice = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, nice + PASSWORD_CHECK_NICENESS))


class Throttled(Exception):
    """Too many failed logins for this attempt's account or address."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def async_storage(uri: str, key_prefix: str) -> Storage:
    """The asyncio flavour of the ``limits`` storage a URI names (memory://, redis://...)."""
    async_uri, options = storage_arguments(uri, key_prefix)
    storage = storage_from_string(async_uri, **options)
    assert isinstance(storage, Storage), f"{uri} is not an async storage"
    return storage


def address_key(host: str | None) -> str:
    """The client address the per-address throttle counts: an IPv6 client by its /64, the
    block one subscriber usually holds whole, so hopping within it does not reset the count."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(frozen=True)
class Attempt:
    """The throttle keys of one login attempt."""

    account: tuple[str, ...]
    address: tuple[str, ...]


class LoginGuard:
    def __init__(
        self,
        storage: Storage,
        *,
        per_account: str,
        per_address: str,
        concurrency: int,
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_account = parse_many(per_account)
        self._per_address = parse_many(per_address)
        self._slots = anyio.CapacityLimiter(concurrency)
        self._workers = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="password-check", initializer=_yield_cpu
        )

    @staticmethod
    def attempt(username: str, client_host: str | None, epoch: int) -> Attempt:
        # The username is hashed: keys stay short and usernames stay out of a shared store.
        user = hashlib.sha256(fold(username).encode()).hexdigest()[:32]
        address = address_key(client_host)
        return Attempt(
            account=("login-account", user, address, str(epoch)),
            address=("login-address", address),
        )

    async def check(self, attempt: Attempt, verify: Callable[[], tuple[bool, T]]) -> T:
        """Run ``verify`` (the password check, in a worker thread, one of at most
        ``concurrency``) unless the attempt is throttled; count it when it fails.

        ``verify`` answers (succeeded, result) and ``check`` returns the result either way.
        The throttles are looked at before waiting for a slot, so a throttled attempt is
        refused at once, and again once it has one; the outcome is counted before the slot
        is given up. So a burst of attempts queued for one account verifies no more passwords
        than the throttle allows (with ``concurrency`` above 1, or several nodes, at most that
        many more). Raises Throttled.
        """
        await self._refuse_if_throttled(attempt)
        async with self._slots:
            await self._refuse_if_throttled(attempt)
            loop = asyncio.get_running_loop()
            succeeded, result = await loop.run_in_executor(self._workers, verify)
            if succeeded:
                for item in self._per_account:
                    await self._limiter.clear(item, *attempt.account)
            else:
                for item, key in self._tiers(attempt):
                    await self._limiter.hit(item, *key)
        return result

    async def locked(self, attempt: Attempt) -> bool:
        """Whether a throttle of the attempt's account (for its address) is used up: the
        next attempt will be refused unchecked."""
        for item in self._per_account:
            if not await self._limiter.test(item, *attempt.account):
                return True
        return False

    def _tiers(self, attempt: Attempt) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        return [(item, attempt.account) for item in self._per_account] + [
            (item, attempt.address) for item in self._per_address
        ]

    async def _refuse_if_throttled(self, attempt: Attempt) -> None:
        waits = []
        for item, key in self._tiers(attempt):
            if not await self._limiter.test(item, *key):
                stats = await self._limiter.get_window_stats(item, *key)
                waits.append(stats.reset_time - time.time())
        if waits:
            raise Throttled(max(1, math.ceil(max(waits))))
