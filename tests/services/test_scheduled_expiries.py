"""The users whose expiry is still to come, as the console's Lifecycle page lists them:
soonest first, keyset-paged by (expiry, id), this tenant's only, inactive users left out."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from rosterd.models import UserStatus
from rosterd.services import lifecycle
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import Invalid
from tests.factories import stored_user

SOON = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)


def _user(session: Session, tenant_id: uuid.UUID, n: int, **fields: Any) -> uuid.UUID:
    user = stored_user(tenant_id=tenant_id, number=n, username=f"u{n}", **fields)
    session.add(user)
    session.flush()
    return user.id


def _all_pages(session: Session, actor: Actor, size: int) -> list[list[uuid.UUID]]:
    pages, cursor = [], None
    while True:
        page = lifecycle.scheduled_expiries(session, actor, cursor, size)
        pages.append([u.id for u in page.users])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_soonest_first_and_ties_by_id_across_pages(session: Session, actor: Actor) -> None:
    later = _user(session, actor.tenant_id, 1, expires_at=SOON + timedelta(days=1))
    tied = sorted(_user(session, actor.tenant_id, n, expires_at=SOON) for n in range(2, 6))
    pending = _user(
        session, actor.tenant_id, 6, status=UserStatus.pending, expires_at=SOON + timedelta(days=2)
    )
    _user(session, actor.tenant_id, 7)  # no expiry
    _user(session, actor.tenant_id, 8, status=UserStatus.inactive, expires_at=SOON)
    other = tenants_service.create_tenant(session, f"t-{secrets.token_hex(5)}").id
    _user(session, other, 9, expires_at=SOON - timedelta(days=1))

    pages = _all_pages(session, actor, 2)
    assert pages == [tied[:2], tied[2:], [later, pending]]


def test_a_cursor_rosterd_did_not_give_is_refused(session: Session, actor: Actor) -> None:
    for cursor in ("zzz", "bm90IGEgY3Vyc29y", "MjAzMS0wMy0wMVQwOTowMDowMHwxMjM"):
        with pytest.raises(Invalid):
            lifecycle.scheduled_expiries(session, actor, cursor, 10)
