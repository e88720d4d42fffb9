"""The dashboard's counts: by status, and by how long ago users last signed in."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from rosterd.domain.commands import NewUser
from rosterd.models import UserStatus
from rosterd.models.base import utcnow
from rosterd.services import dashboard
from rosterd.services import users as users_service
from rosterd.services.context import Actor


def _user(session: Session, actor: Actor, days_ago: int | None, **fields: object) -> None:
    user = users_service.create_user(
        session, actor, NewUser(email=f"u-{secrets.token_hex(4)}@example.com", **fields)
    )
    if days_ago is not None:
        user.last_login_at = utcnow() - timedelta(days=days_ago)
    session.flush()


def test_users_are_counted_by_status_and_sign_in_recency(session: Session, actor: Actor) -> None:
    for days_ago in (None, None, 1, 29, 31, 65, 91, 400):
        _user(session, actor, days_ago)
    _user(session, actor, None, status=UserStatus.pending)
    overview = dashboard.overview(session, actor, utcnow())
    assert {b.label: b.users for b in overview.by_status} == {
        "pending": 1,
        "active": 8,
        "suspended": 0,
        "inactive": 0,
    }
    assert overview.total == 9
    assert overview.never_signed_in == 3
    assert [(b.label, b.users) for b in overview.sign_in_recency] == [
        ("signed in within 30 days", 2),
        ("idle 30-60 days", 1),
        ("idle 60-90 days", 1),
        ("idle 90+ days", 2),
        ("never signed in", 3),
    ]
