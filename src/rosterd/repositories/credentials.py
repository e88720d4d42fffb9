from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rosterd.models import OAuthClient, ScimToken, SigningKey


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


def add_scim_token(session: Session, token: ScimToken) -> ScimToken:
    session.add(token)
    session.flush()
    return token


def find_scim_token(session: Session, token_hash: str) -> ScimToken | None:
    """A SCIM token by its hash; the hash is unique across tenants, so it finds the tenant."""
    return session.scalar(select(ScimToken).where(ScimToken.token_hash == token_hash))


def get_scim_token(session: Session, tenant_id: uuid.UUID, token_id: uuid.UUID) -> ScimToken | None:
    return session.scalar(
        select(ScimToken).where(ScimToken.tenant_id == tenant_id, ScimToken.id == token_id)
    )


def list_scim_tokens(session: Session, tenant_id: uuid.UUID) -> list[ScimToken]:
    return list(
        session.scalars(
            select(ScimToken).where(ScimToken.tenant_id == tenant_id).order_by(ScimToken.created_at)
        )
    )


def touch_scim_token(session: Session, token_id: uuid.UUID, when: datetime) -> None:
    session.execute(update(ScimToken).where(ScimToken.id == token_id).values(last_used_at=when))
