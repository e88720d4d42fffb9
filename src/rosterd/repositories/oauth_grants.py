"""SQL of the authorization code flow: grants (with their one code) and refresh tokens.

A code or refresh token is found by its HMAC and locked (PostgreSQL; SQLite writers hold
the database) before it is checked, so two requests redeeming the same one take turns and
the second sees what the first did.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rosterd.models import AdminUser, OAuthGrant, OAuthRefreshToken


def add(session: Session, row: OAuthGrant | OAuthRefreshToken) -> None:
    session.add(row)
    session.flush()


def grant_by_code(session: Session, tenant_id: uuid.UUID, code_hash: str) -> OAuthGrant | None:
    return session.scalar(
        select(OAuthGrant)
        .where(OAuthGrant.tenant_id == tenant_id, OAuthGrant.code_hash == code_hash)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def refresh_token(
    session: Session, tenant_id: uuid.UUID, token_hash: str
) -> tuple[OAuthRefreshToken, OAuthGrant] | None:
    """The refresh token and its grant, both locked."""
    row = session.execute(
        select(OAuthRefreshToken, OAuthGrant)
        .join(OAuthGrant, OAuthGrant.id == OAuthRefreshToken.grant_id)
        .where(OAuthRefreshToken.tenant_id == tenant_id, OAuthRefreshToken.token_hash == token_hash)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def grant(session: Session, tenant_id: uuid.UUID, grant_id: uuid.UUID) -> OAuthGrant | None:
    return session.scalar(
        select(OAuthGrant).where(OAuthGrant.tenant_id == tenant_id, OAuthGrant.id == grant_id)
    )


def grant_standing(
    session: Session, tenant_id: uuid.UUID, grant_id: uuid.UUID
) -> tuple[datetime | None, bool] | None:
    """A grant's revoked_at, and whether its admin's token_epoch is still the one it was
    granted under (asked often, by primary keys); None when there is no such grant."""
    row = session.execute(
        select(
            OAuthGrant.revoked_at,
            (AdminUser.token_epoch == OAuthGrant.admin_token_epoch).label("current"),
        )
        .join(AdminUser, AdminUser.id == OAuthGrant.admin_id)
        .where(OAuthGrant.id == grant_id, OAuthGrant.tenant_id == tenant_id)
    ).one_or_none()
    return None if row is None else (row.revoked_at, bool(row.current))


def revoke(session: Session, grant_id: uuid.UUID, when: datetime) -> None:
    session.execute(
        update(OAuthGrant)
        .where(OAuthGrant.id == grant_id, OAuthGrant.revoked_at.is_(None))
        .values(revoked_at=when)
    )


def admin(session: Session, tenant_id: uuid.UUID, admin_id: uuid.UUID) -> AdminUser | None:
    return session.scalar(
        select(AdminUser).where(AdminUser.tenant_id == tenant_id, AdminUser.id == admin_id)
    )
