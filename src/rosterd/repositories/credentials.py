from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from rosterd.models import OAuthClient, SigningKey


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


def signing_keys(session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc())))


def add_signing_key(session: Session, key: SigningKey) -> None:
    session.add(key)
    session.flush()
