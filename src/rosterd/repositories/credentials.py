from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from rosterd.db.prepared import PointReader, Prepared
from rosterd.models import OAuthClient
from rosterd.models.credential import TenantSecret


def find_client(
    session: Session, tenant_id: uuid.UUID, client_id: str, *, for_update: bool = False
) -> OAuthClient | None:
    """The client; ``for_update`` locks its row (read fresh) until the transaction ends
    (PostgreSQL; SQLite writers hold the database)."""
    stmt = select(OAuthClient).where(
        OAuthClient.tenant_id == tenant_id, OAuthClient.client_id == client_id
    )
    if for_update:
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    return session.scalar(stmt)


def client_standing(
    session: Session, tenant_id: uuid.UUID, client_id: str
) -> tuple[datetime | None, datetime | None] | None:
    """A client's (revoked_at, expires_at) alone: asked often, through the unique index."""
    row = session.execute(
        select(OAuthClient.revoked_at, OAuthClient.expires_at).where(
            OAuthClient.client_id == client_id, OAuthClient.tenant_id == tenant_id
        )
    ).one_or_none()
    return None if row is None else (row.revoked_at, row.expires_at)


def list_clients(session: Session, tenant_id: uuid.UUID) -> list[OAuthClient]:
    return list(
        session.scalars(
            select(OAuthClient)
            .where(OAuthClient.tenant_id == tenant_id)
            .order_by(OAuthClient.created_at)
        )
    )


def add_client(session: Session, client: OAuthClient) -> OAuthClient:
    session.add(client)
    session.flush()
    return client


# SCIM tokens and API keys: tenant secrets presented as bearer tokens, kept as HMACs.
S = TypeVar("S", bound=TenantSecret)


def add_secret(session: Session, row: TenantSecret) -> None:
    session.add(row)
    session.flush()


def find_secret(session: Session, model: type[S], token_hash: str) -> S | None:
    """A secret by its hash; the hash is unique across tenants, so it finds the tenant."""
    return session.scalar(select(model).where(model.token_hash == token_hash))


_STANDING: dict[type[TenantSecret], Prepared] = {}


async def secret_standing(db: PointReader, model: type[S], token_hash: str) -> Any | None:
    """``find_secret`` as a point read of the row's id, tenant_id, expires_at, last_used_at
    and revoked_at (a statement compiled once per kind)."""
    prepared = _STANDING.get(model)
    if prepared is None:
        prepared = _STANDING[model] = Prepared(
            select(
                model.id, model.tenant_id, model.expires_at, model.last_used_at, model.revoked_at
            ).where(model.token_hash == bindparam("token_hash")),
            name="Standing",
        )
    return await prepared.first(db, {"token_hash": token_hash})


def get_secret(
    session: Session, model: type[S], tenant_id: uuid.UUID, secret_id: uuid.UUID
) -> S | None:
    return session.scalar(select(model).where(model.tenant_id == tenant_id, model.id == secret_id))


def list_secrets(session: Session, model: type[S], tenant_id: uuid.UUID) -> list[S]:
    return list(
        session.scalars(
            select(model).where(model.tenant_id == tenant_id).order_by(model.created_at)
        )
    )


# The credentials whose last use is kept (rosterd.lifecycle.last_uses).
Used = OAuthClient | TenantSecret


def touch(session: Session, model: type[Used], row_id: uuid.UUID, when: datetime) -> None:
    """Move the credential's last use to ``when`` unless a later one is stored."""
    session.execute(
        update(model)
        .where(model.id == row_id, or_(model.last_used_at.is_(None), model.last_used_at < when))
        .values(last_used_at=when)
        .execution_options(synchronize_session=False)
    )
