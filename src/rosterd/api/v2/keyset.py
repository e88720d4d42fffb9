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
