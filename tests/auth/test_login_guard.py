"""The login guard's throttles, on the memory storage and on Redis (several nodes sharing it).

Redis is the one at ROSTERD_TEST_REDIS_URL (default redis://127.0.0.1:6379); when it is not
reachable its tests are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
import threading
from urllib.parse import urlparse

import pytest

from rosterd.auth.login_guard import (
    PASSWORD_CHECK_NICENESS,
    Attempt,
    LoginGuard,
    Throttled,
    address_key,
    async_storage,
)

REDIS_URL = os.environ.get("ROSTERD_TEST_REDIS_URL", "redis://127.0.0.1:6379")
# Counters of this run apart from other runs sharing the Redis.
PREFIX = f"rosterd-test-{secrets.token_hex(4)}"


def _redis_reachable() -> bool:
    parsed = urlparse(REDIS_URL)
    try:
        with socket.create_connection((parsed.hostname or "", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


STORAGES = [
    pytest.param("memory://", id="memory"),
    pytest.param(
        REDIS_URL,
        id="redis",
        marks=pytest.mark.skipif(not _redis_reachable(), reason=f"no Redis at {REDIS_URL}"),
    ),
]


def guard(uri: str, per_account: str = "2/minute", per_address: str = "100/minute") -> LoginGuard:
    return LoginGuard(
        async_storage(uri, key_prefix=PREFIX),
        per_account=per_account,
        per_address=per_address,
        concurrency=1,
    )


def failing() -> tuple[bool, None]:
    return False, None


def passing() -> tuple[bool, str]:
    return True, "token"


async def throttled_for(guard: LoginGuard, attempt: Attempt) -> int:
    with pytest.raises(Throttled) as refused:
        await guard.check(attempt, failing)
    return refused.value.retry_after


def user() -> str:
    return f"user-{secrets.token_hex(6)}"


# Each test runs in one event loop, as a server does (a Redis client's connections belong
# to the loop that opened them).


@pytest.mark.parametrize("uri", STORAGES)
def test_failures_are_counted_per_account_and_address(uri: str) -> None:
    async def scenario() -> None:
        g = guard(uri)
        name = user()
        attempt = g.attempt(name, "192.0.2.1", epoch=0)
        await g.check(attempt, failing)
        await g.check(attempt, failing)
        assert 1 <= await throttled_for(g, attempt) <= 60
        # The same username from elsewhere, or with another epoch (unlocked), is let through.
        assert await g.check(g.attempt(name.upper(), "192.0.2.2", epoch=0), passing) == "token"
        assert await g.check(g.attempt(name, "192.0.2.1", epoch=1), passing) == "token"

    asyncio.run(scenario())


@pytest.mark.parametrize("uri", STORAGES)
def test_a_success_clears_the_account_count(uri: str) -> None:
    async def scenario() -> None:
        g = guard(uri)
        attempt = g.attempt(user(), "192.0.2.1", epoch=0)
        await g.check(attempt, failing)
        assert await g.check(attempt, passing) == "token"
        await g.check(attempt, failing)
        await g.check(attempt, failing)
        await throttled_for(g, attempt)

    asyncio.run(scenario())


@pytest.mark.parametrize("uri", STORAGES)
def test_the_address_tier_counts_every_username(uri: str) -> None:
    async def scenario() -> None:
        g = guard(uri, per_account="100/minute", per_address="2/minute")
        address = f"198.51.100.{secrets.randbelow(250) + 1}-{secrets.token_hex(3)}"
        await g.check(g.attempt(user(), address, 0), failing)
        await g.check(g.attempt(user(), address, 0), failing)
        await throttled_for(g, g.attempt(user(), address, 0))

    asyncio.run(scenario())


@pytest.mark.skipif(not _redis_reachable(), reason=f"no Redis at {REDIS_URL}")
def test_nodes_sharing_redis_share_the_count() -> None:
    async def scenario() -> None:
        first, second = guard(REDIS_URL), guard(REDIS_URL)
        attempt = first.attempt(user(), "192.0.2.9", epoch=0)
        await first.check(attempt, failing)
        await second.check(attempt, failing)
        await throttled_for(first, attempt)
        await throttled_for(second, attempt)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::ffff:1", "2001:db8::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("testclient", "testclient"),
        (None, "unknown"),
    ],
)
def test_address_key(host: str | None, key: str) -> None:
    assert address_key(host) == key


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
def test_passwords_are_checked_at_a_lower_cpu_priority() -> None:
    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def verify() -> tuple[bool, int]:
        return False, nice()

    g = guard("memory://")
    own = nice()
    checked = asyncio.run(g.check(g.attempt(user(), "192.0.2.77", epoch=0), verify))
    assert checked == min(19, own + PASSWORD_CHECK_NICENESS)
    assert nice() == own  # the rest of the process keeps its priority
