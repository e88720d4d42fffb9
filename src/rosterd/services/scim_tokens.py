"""SCIM bearer tokens: issued per tenant for an IdP's SCIM connector; presented tokens are
judged by the runtime's SecretGate (rosterd.services.secret_gate)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from rosterd.auth.secrets import SCIM_TOKEN_PREFIX
from rosterd.models import ScimToken, Tenant
from rosterd.services import bearer_secrets
from rosterd.services.context import Actor

KIND: bearer_secrets.SecretKind[ScimToken] = bearer_secrets.SecretKind(
    model=ScimToken, prefix=SCIM_TOKEN_PREFIX, label="SCIM token", resource="scim_token"
)


@dataclass(frozen=True)
class IssuedScimToken:
    record: ScimToken
    token: str


def create_token(
    session: Session,
    tenant: Tenant,
    *,
    name: str,
    hmac_key: bytes,
    actor: Actor,
    expires_at: datetime | None = None,
) -> IssuedScimToken:
    issued = bearer_secrets.create(
        session, KIND, tenant, name=name, hmac_key=hmac_key, actor=actor, expires_at=expires_at
    )
    return IssuedScimToken(record=issued.record, token=issued.secret)


def list_tokens(session: Session, tenant: Tenant) -> list[ScimToken]:
    return bearer_secrets.list_all(session, KIND, tenant)


def revoke_token(session: Session, tenant: Tenant, token_id: uuid.UUID, actor: Actor) -> ScimToken:
    return bearer_secrets.revoke(session, KIND, tenant, token_id, actor)


__all__ = ["KIND", "create_token", "list_tokens", "revoke_token"]
