from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rosterd.models import OAuthClient
from rosterd.models.credential import TenantSecret


def find_client(session: Session, tenant_id: uuid.UUID, client_id: str) -> OAuthClient | None:
    return session.scalar(
        select(OAuthClient).where(
            OAuthClient.tenant_id == tenant_id, OAuthClient.client_id == client_id
        )
    )


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


def touch_secret(
    session: Session, model: type[TenantSecret], secret_id: uuid.UUID, when: datetime
) -> None:
    session.execute(update(model).where(model.id == secret_id).values(last_used_at=when))
