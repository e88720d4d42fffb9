"""Policies in the limits library's notation, and which limit a verdict reports."""

from __future__ import annotations

import pytest

from rosterd.config import Settings
from rosterd.ratelimit.policy import Policy, Standing, check_limits, check_storage, tightest


@pytest.mark.parametrize(
    "text", ["3000/minute", "50/second;3000/minute", "10 per 2 seconds", " 5/hour , 100/day "]
)
def test_limits_in_the_library_notation_are_accepted(text: str) -> None:
    assert check_limits(text) == text.strip()


@pytest.mark.parametrize("text", ["", "fast", "0/minute", "10/fortnight", "10/minute;", "-1/s"])
def test_anything_else_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a rate limit: write e\.g\. '3000/minute'"):
        check_limits(text)


def test_settings_refuse_bad_limits_and_storages() -> None:
    with pytest.raises(ValueError, match="is not a rate limit"):
        Settings(rate_limit_per_credential="lots")
    with pytest.raises(ValueError, match="is not a rate-limit storage"):
        Settings(rate_limit_storage="memcached://127.0.0.1:11211")
    for uri in ("memory://", "redis://127.0.0.1:6379/2", "async+redis://h:6379", "rediss://h"):
        assert check_storage(uri) == uri


def test_a_policy_of_several_limits_names_each_by_its_window() -> None:
    single = Policy.parse("credential", "3000/minute")
    assert [single.label(i) for i in single.items] == ["credential"]
    several = Policy.parse("tenant", "50/second;3000/minute;10000/hour")
    assert [several.label(i) for i in several.items] == ["tenant-1s", "tenant-60s", "tenant-3600s"]


def test_the_tightest_limit_is_the_one_with_the_fewest_remaining_then_the_longest_window() -> None:
    second = Standing("credential-1s", 5, 1, remaining=3)
    minute = Standing("credential-60s", 100, 60, remaining=3)
    tenant = Standing("tenant", 500, 60, remaining=200)
    assert tightest([second, minute, tenant]) == minute
    nearly = Standing("credential-1s", 5, 1, remaining=1)
    assert tightest([nearly, minute, tenant]) == nearly
    assert tightest([]) is None
