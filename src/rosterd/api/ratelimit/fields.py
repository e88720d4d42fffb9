"""The RateLimit-Policy and RateLimit fields of draft-ietf-httpapi-ratelimit-headers (-09 and
later): Structured Field lists of ``"name";q=<quota>;w=<window>`` and
``"name";r=<remaining>;t=<seconds to reset>``."""

from __future__ import annotations

from functools import lru_cache

from rosterd.ratelimit.policy import Policy, Verdict


def policy_field(verdict: Verdict) -> str:
    """Every limit that applies to the request; the same from one response to the next."""
    return _members(verdict.policies)


@lru_cache(maxsize=1024)
def _members(policies: tuple[Policy, ...]) -> str:
    return ", ".join(
        f'"{limit.label}";q={limit.quota};w={limit.window}'
        for policy in policies
        for limit in policy.limits
    )


def ratelimit_field(verdict: Verdict) -> str | None:
    """The limit that refused the request, else the one closest to refusing the next (the
    draft lets a server name only that one when the others share its quota unit)."""
    report = verdict.report
    if report is None:
        return None
    return f'"{report.label}";r={report.remaining};t={report.reset}'


def headers(verdict: Verdict) -> list[tuple[bytes, bytes]]:
    fields = [(b"ratelimit-policy", policy_field(verdict).encode())]
    current = ratelimit_field(verdict)
    if current is not None:
        fields.append((b"ratelimit", current.encode()))
    return fields
