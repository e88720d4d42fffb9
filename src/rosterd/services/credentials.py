"""What every credential kind shares: expiry dates, and when a last use is worth writing.

OAuth clients, SCIM tokens and API keys may each be given an expiry date when they are
made; past it they authenticate no more, and the refusal says that they expired (not just
"invalid"), so whoever runs the integration knows to issue a new one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rosterd.models.base import utcnow
from rosterd.services.errors import Unauthenticated, invalid_field

# last_used_at is written at most this often, so a busy caller does not turn reads into writes.
LAST_USED_GRANULARITY = timedelta(minutes=1)
# The furthest ahead an expiry date may be set: far enough for any plan, near enough that a
# typo (a year 20260) is refused instead of meaning "never".
LONGEST_LIFETIME = timedelta(days=100 * 365)


def is_stale(last_used_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether a last-use time is old enough to be worth a write."""
    return last_used_at is None or (now or utcnow()) - last_used_at > LAST_USED_GRANULARITY


def check_expiry(expires_at: datetime | None, now: datetime | None = None) -> datetime | None:
    """An expiry date given for a new credential, in UTC; it must be in the future."""
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise invalid_field("expires_at", "give a time zone (e.g. 2030-01-31T00:00:00Z)")
    now = now or utcnow()
    if expires_at <= now:
        raise invalid_field("expires_at", "must be in the future")
    if expires_at - now > LONGEST_LIFETIME:
        raise invalid_field("expires_at", "must be within 100 years")
    return expires_at.astimezone(UTC)


def expiry_refusal(
    label: str, expires_at: datetime | None, now: datetime | None = None
) -> str | None:
    """Why a credential of kind ``label`` is refused for its expiry date, or None."""
    if expires_at is None or expires_at > (now or utcnow()):
        return None
    when = expires_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"the {label} expired at {when}"


def check_not_expired(label: str, expires_at: datetime | None) -> None:
    """Refuse a credential past its expiry date, saying so."""
    refusal = expiry_refusal(label, expires_at)
    if refusal is not None:
        raise Unauthenticated(refusal)
