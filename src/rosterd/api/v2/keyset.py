"""Keyset cursors of the v2 user and group lists (an extension): a cursor names the sort key
and id of the last item of a page, so the next page starts right after it however the items
before it changed, were deleted or were added meanwhile (offset paging skips one item for
every item deleted before the offset). Users page by cursor in creation order, groups in
their name order."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any, get_args

from rosterd.repositories.users import SortKey
from rosterd.services.errors import invalid_field

MAX_LENGTH = 1500  # a group's name (255 characters) in UTF-8, JSON- and base64-encoded


def _encode(key: str, item_id: uuid.UUID) -> str:
    raw = json.dumps([key, item_id.hex], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        key, item_id = json.loads(raw)
        if not isinstance(key, str) or not isinstance(item_id, str):
            raise ValueError("not a cursor")
        return key, uuid.UUID(hex=item_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise invalid_field("cursor", "not a cursor this API gave") from exc


def user_cursor(created_at: datetime, user_id: uuid.UUID) -> str:
    return _encode(created_at.isoformat(), user_id)


def user_after(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) a user cursor continues after; anything else is a 400."""
    moment, user_id = _decode(cursor)
    try:
        created_at = datetime.fromisoformat(moment)
    except ValueError as exc:
        raise invalid_field("cursor", "not a cursor this API gave") from exc
    if created_at.tzinfo is None:
        raise invalid_field("cursor", "not a cursor this API gave")
    return created_at, user_id


def group_cursor(name: str, group_id: uuid.UUID) -> str:
    return _encode(name, group_id)


def group_after(cursor: str) -> tuple[str, uuid.UUID]:
    """The (name, id) a group cursor continues after; anything else is a 400."""
    return _decode(cursor)


# The sort keys whose values are times (the rest are text keys), and those never NULL.
_TIMES = {"createdAt", "lastLoginAt"}
_NEVER_NULL = {"createdAt", "username"}
_WIDTH = {"name": 2}


def _not_a_cursor() -> Exception:
    return invalid_field("cursor", "not a cursor this list gave for this order")


def sorted_user_cursor(sort_by: SortKey, descending: bool, keyset: tuple[Any, ...]) -> str:
    """A cursor of the user list in any order (the console's): the order it was made for
    and the keyset of the last user shown (rosterd.services.users.keyset_of)."""
    *values, user_id = keyset
    shown = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps(
        [sort_by, "desc" if descending else "asc", *shown, user_id.hex],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def sorted_user_after(cursor: str, sort_by: SortKey, descending: bool) -> tuple[Any, ...]:
    """The keyset a ``sorted_user_cursor`` continues after, when it was made for this order;
    anything else (another order, an edited cursor) is a 400."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _not_a_cursor() from exc
    width = _WIDTH.get(sort_by, 1)
    if (
        not isinstance(raw, list)
        or len(raw) != width + 3
        or raw[:2] != [sort_by, "desc" if descending else "asc"]
        or sort_by not in get_args(SortKey)
    ):
        raise _not_a_cursor()
    *values, user_id = raw[2:]
    if not all(v is None or isinstance(v, str) for v in values) or not isinstance(user_id, str):
        raise _not_a_cursor()
    if sort_by in _NEVER_NULL and None in values:
        raise _not_a_cursor()
    try:
        keys: list[Any] = [_moment(v) for v in values] if sort_by in _TIMES else values
        return (*keys, uuid.UUID(hex=user_id))
    except ValueError as exc:
        raise _not_a_cursor() from exc


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a cursor's time has its offset")
    return moment
