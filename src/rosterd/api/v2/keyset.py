"""Keyset cursors of the v2 user list (an extension): a cursor names the (created_at, id)
of the last user of a page in creation order, so the next page starts right after it
however the users before it changed, were deleted or were added meanwhile."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from rosterd.services.errors import invalid_field

MAX_LENGTH = 128


def cursor_of(created_at: datetime, user_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{user_id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def after(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, id) a cursor continues after; one this API did not give is a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, user_id = raw.partition("|")
        created_at = datetime.fromisoformat(moment)
        if created_at.tzinfo is None:
            raise ValueError("no offset")
        return created_at, uuid.UUID(hex=user_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid_field("cursor", "not a cursor this API gave") from exc
