"""The RateLimit-Policy and RateLimit fields of draft-ietf-httpapi-ratelimit-headers (-09 and
later): Structured Field lists of ``"name";q=<quota>;w=<window>`` and
``"name";r=<remaining>;t=<seconds to reset>``."""

from __future__ import annotations

from rosterd.ratelimit.policy import Verdict


def policy_field(verdict: Verdict) -> str:
    """Every limit that applies to the request; the same from one response to the next."""
    return ", ".join(
        f'"{policy.label(item)}";q={item.amount};w={item.get_expiry()}'
        for policy in verdict.policies
        for item in policy.items
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
