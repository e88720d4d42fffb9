"""Counting against policies in process and in Redis (the same answers), and what happens
when a shared storage is gone."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket

import pytest
from redis.asyncio.connection import AbstractConnection

from rosterd.ratelimit.limiter import Limiter
from rosterd.ratelimit.policy import Policy
from tests.backends import redis_url


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Limiter:
    """A limiter over counters in process, or in Redis under a prefix of its own."""
    uri = "memory://" if request.param == "memory" else redis_url()
    return Limiter(uri, key_prefix=f"rosterd-test-{secrets.token_hex(6)}")


def _charge(limiter: Limiter, *stages: tuple[Policy, tuple[str, ...]]) -> list[bool]:
    async def run() -> list[bool]:
        return [(await limiter.charge(*stages)).allowed for _ in range(4)]

    return asyncio.run(run())


def test_a_credential_over_its_limit_does_not_spend_its_tenant_s(limiter: Limiter) -> None:
    credential, tenant = Policy.parse("credential", "2/minute"), Policy.parse("tenant", "3/minute")

    async def run() -> tuple[list[bool], bool, int]:
        first = [
            (await limiter.charge((credential, ("t1", "a")), (tenant, ("t1",)))).allowed
            for _ in range(4)
        ]
        other = await limiter.charge((credential, ("t1", "b")), (tenant, ("t1",)))
        tenant_left = {s.label: s.remaining for s in other.standings}["tenant"]
        return first, other.allowed, tenant_left

    allowed, other_allowed, tenant_left = asyncio.run(run())
    assert allowed == [True, True, False, False]
    # The tenant counted a's two admitted requests, not the two refused: b still gets in.
    assert other_allowed and tenant_left == 0


def test_a_refusal_says_when_to_come_back_and_counts_nothing(limiter: Limiter) -> None:
    failures = Policy.parse("failed-auth", "2/minute")

    async def run() -> tuple[bool, bool, int | None]:
        before = await limiter.refusal(failures, ("198.51.100.1",))
        await limiter.count(failures, ("198.51.100.1",))
        await limiter.count(failures, ("198.51.100.1",))
        after = await limiter.refusal(failures, ("198.51.100.1",))
        again = await limiter.refusal(failures, ("198.51.100.1",))
        elsewhere = await limiter.refusal(failures, ("198.51.100.2",))
        assert after is not None and again is not None
        assert again.standings == after.standings  # looking did not count
        return before is None, elsewhere is None, after.retry_after

    nothing_before, nothing_elsewhere, wait = asyncio.run(run())
    assert nothing_before and nothing_elsewhere
    assert wait is not None and 1 <= wait <= 60


def test_an_unreachable_storage_serves_requests_unlimited_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    limiter = Limiter(f"redis://127.0.0.1:{port}/0", key_prefix="t")
    policy = Policy.parse("credential", "1/minute")
    with caplog.at_level(logging.WARNING, logger="rosterd.ratelimit"):
        assert _charge(limiter, (policy, ("t1", "a"))) == [True] * 4
    warnings = [r for r in caplog.records if "not enforced" in r.getMessage()]
    assert len(warnings) == 1  # once, not per request


def test_every_window_is_counted_and_the_tightest_reported(limiter: Limiter) -> None:
    credential = Policy.parse("credential", "3/minute;5/hour")
    tenant = Policy.parse("tenant", "100/minute")

    async def run() -> list[tuple[dict[str, int], str | None, int | None]]:
        seen = []
        for _ in range(2):
            verdict = await limiter.charge((credential, ("t1", "a")), (tenant, ("t1",)))
            report = verdict.report
            seen.append(
                (
                    {s.label: s.remaining for s in verdict.standings},
                    report.label if report else None,
                    report.reset if report else None,
                )
            )
        return seen

    (first, first_report, first_reset), (second, second_report, _) = asyncio.run(run())
    assert first == {"credential-60s": 2, "credential-3600s": 4, "tenant": 99}
    assert second == {"credential-60s": 1, "credential-3600s": 3, "tenant": 98}
    assert first_report == second_report == "credential-60s"
    assert first_reset is not None and 59 <= first_reset <= 60


def test_a_request_s_limits_are_one_redis_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    limiter = Limiter(redis_url(), key_prefix=f"rosterd-test-{secrets.token_hex(6)}")
    credential = Policy.parse("credential", "50/second;3000/minute")
    tenant = Policy.parse("tenant", "100/second;6000/minute")
    failures = Policy.parse("failed-auth", "5/second;20/minute")
    sent: list[bytes] = []
    send = AbstractConnection.send_packed_command

    async def counted(self: AbstractConnection, command: bytes, check_health: bool = True) -> None:
        sent.append(command)
        await send(self, command, check_health)

    async def run() -> None:
        for _ in range(2):  # the first loads the scripts
            sent.clear()
            await limiter.refusal(failures, ("198.51.100.1",))
            await limiter.charge((credential, ("t1", "a")), (tenant, ("t1",)))

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    asyncio.run(run())
    assert len(sent) == 2  # the address's check, then four windows counted
