"""Rate-limit policies and what one request's charge against them came to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from limits import RateLimitItem, parse_many

# Storages the limits library serves asynchronously with the dependencies rosterd installs.
STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


def check_limits(text: str) -> str:
    """``text`` if it is one or more limits such as '3000/minute' or '50/second;3000/minute'."""
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if not items or any(item.amount < 1 for item in items):
        raise ValueError(
            f"{text!r} is not a rate limit: write e.g. '3000/minute' or '50/second;3000/minute' "
            "(an amount of at least 1 per second, minute, hour or day; several joined by ';')"
        )
    return text.strip()


def check_storage(uri: str) -> str:
    """``uri`` if it names a storage the limiter can use: memory:// or a Redis URL."""
    scheme = uri.partition("://")[0].removeprefix("async+")
    if "://" not in uri or scheme not in STORAGE_SCHEMES:
        raise ValueError(
            f"{uri!r} is not a rate-limit storage: use memory:// or redis://host:port/db "
            f"(schemes: {', '.join(STORAGE_SCHEMES)})"
        )
    return uri


@dataclass(frozen=True)
class Policy:
    """Limits that apply together to one partition: a credential, a tenant, a client IP."""

    name: str
    items: tuple[RateLimitItem, ...]

    @classmethod
    def parse(cls, name: str, text: str) -> Policy:
        return cls(name, tuple(parse_many(check_limits(text))))

    def __hash__(self) -> int:
        # Worked out once: a request looks its policies up in caches (their keys, their
        # RateLimit-Policy field), and hashing the library's items costs microseconds.
        return self._hash

    @cached_property
    def _hash(self) -> int:
        return hash((self.name, self.items))

    @cached_property
    def limits(self) -> tuple[Limit, ...]:
        """Each of the policy's limits with its name and window, worked out once."""
        return tuple(
            Limit(item, self.label(item), item.amount, item.get_expiry()) for item in self.items
        )

    def label(self, item: RateLimitItem) -> str:
        """The name a header gives one of the limits: the policy's, with the window when the
        policy has several (``credential-1s``, ``credential-60s``)."""
        return self.name if len(self.items) == 1 else f"{self.name}-{item.get_expiry()}s"


@dataclass(frozen=True)
class Limit:
    item: RateLimitItem
    label: str
    quota: int
    window: int  # seconds


class Standing(NamedTuple):
    """Where one limit stands after a request. (Tuples: a request makes several of these and
    its Verdict, and a frozen dataclass costs twice a tuple's time to build.)"""

    label: str
    quota: int
    window: int
    remaining: int
    # Seconds until the window's quota is back (the RateLimit field reports the tightest's).
    reset: int | None = None


def tightest(standings: Sequence[Standing]) -> Standing | None:
    """The limit closest to refusing: the fewest remaining, then the longest window (the
    longer wait). The RateLimit field reports this one, as the draft's multiple-windows
    example does."""
    if not standings:
        return None
    return min(standings, key=lambda s: (s.remaining, -s.window))


class Verdict(NamedTuple):
    """A request's charge against its policies: every policy that applies, where each of
    its limits stands, the one to report and, when refused, how long to wait."""

    policies: tuple[Policy, ...]
    standings: tuple[Standing, ...] = ()
    report: Standing | None = None  # the refusing limit, else the tightest; reset known
    retry_after: int | None = None

    @property
    def allowed(self) -> bool:
        return self.retry_after is None
