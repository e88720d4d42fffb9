"""Option values the commands share: durations, instants and how times are shown."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import typer

_DURATION = re.compile(r"(\d+)([smhdw])")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str) -> timedelta:
    """``90d``, ``24h``, ``1w2d``: whole numbers of s, m, h, d, w; ``0`` is no time."""
    text = value.strip().lower()
    if text == "0":
        return timedelta(0)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise typer.BadParameter(f"{value!r} is not a duration such as 90d, 24h, 30m or 1w2d")
    return sum((timedelta(**{_DURATION_UNITS[u]: int(n)}) for n, u in parts), timedelta(0))


def parse_instant(value: str) -> datetime:
    """An ISO 8601 date and time with a time zone (``Z`` or an offset)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 date and time") from exc
    if parsed.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no time zone: add Z or an offset such as +02:00")
    return parsed


def when(value: datetime | None, unset: str = "") -> str:
    """A time in UTC to the second, e.g. 2030-01-31T09:00:00Z."""
    if value is None:
        return unset
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
