"""SQL of the authorization code flow: grants (with their one code) and refresh tokens.

A code or refresh token is found by its HMAC and locked (PostgreSQL; SQLite writers hold
the database) before it is checked, so two requests redeeming the same one take turns and
the second sees what the first did.

Spent rows are deleted in bounded batches by the scheduler (``delete_spent_*``): refresh
tokens first, then grants left without any, so a grant never goes while it has a token that
could still be presented.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, or_, select, update
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


def delete_spent_refresh_tokens(
    session: Session, tenant_id: uuid.UUID, cutoff: datetime, batch: int
) -> int:
    """Delete at most ``batch`` of the tenant's refresh tokens that expired before
    ``cutoff`` or whose grant was revoked before it; how many went.

    A used token of a live grant within its lifetime is kept: presenting it again must still
    be recognised as reuse and revoke the grant. Rows another node is locking (PostgreSQL)
    are skipped, not waited for.
    """
    revoked = select(OAuthGrant.id).where(
        OAuthGrant.tenant_id == tenant_id, OAuthGrant.revoked_at < cutoff
    )
    due = (
        select(OAuthRefreshToken.id)
        .where(
            OAuthRefreshToken.tenant_id == tenant_id,
            or_(OAuthRefreshToken.expires_at < cutoff, OAuthRefreshToken.grant_id.in_(revoked)),
        )
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    result = session.execute(
        delete(OAuthRefreshToken).where(OAuthRefreshToken.id.in_(due.scalar_subquery())),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_spent_grants(
    session: Session, tenant_id: uuid.UUID, cutoff: datetime, batch: int
) -> int:
    """Delete at most ``batch`` of the tenant's grants that have no refresh token left and
    were revoked, or whose code expired, before ``cutoff``; how many went.

    Such a grant can issue nothing more: a code that expired cannot be redeemed, and tokens
    come only from a code or a refresh token of the grant.
    """
    has_tokens = (
        select(OAuthRefreshToken.id).where(OAuthRefreshToken.grant_id == OAuthGrant.id).exists()
    )
    due = (
        select(OAuthGrant.id)
        .where(
            OAuthGrant.tenant_id == tenant_id,
            or_(OAuthGrant.revoked_at < cutoff, OAuthGrant.code_expires_at < cutoff),
            ~has_tokens,
        )
        .limit(batch)
        .with_for_update(of=OAuthGrant, skip_locked=True)
    )
    result = session.execute(
        delete(OAuthGrant).where(OAuthGrant.id.in_(due.scalar_subquery())),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
