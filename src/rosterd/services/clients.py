"""OAuth 2.0 clients: creation (secret shown once) and client authentication."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.auth.secrets import (
    CLIENT_ID_PREFIX,
    CLIENT_SECRET_PREFIX,
    new_token,
    token_hash,
    token_matches,
)
from rosterd.models import OAuthClient, Tenant
from rosterd.models.base import utcnow
from rosterd.repositories import credentials as credentials_repo
from rosterd.services.errors import Invalid, Unauthenticated, invalid_field


@dataclass(frozen=True)
class IssuedClient:
    client: OAuthClient
    client_secret: str


def create_client(
    session: Session, tenant: Tenant, *, name: str, scopes: list[str], hmac_key: bytes
) -> IssuedClient:
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise invalid_field("scopes", f"unknown scope(s) {', '.join(unknown)}")
    if not scopes:
        raise invalid_field("scopes", "at least one scope is required")
    secret = new_token(CLIENT_SECRET_PREFIX)
    client = credentials_repo.add_client(
        session,
        OAuthClient(
            tenant_id=tenant.id,
            client_id=new_token(CLIENT_ID_PREFIX, 12),
            secret_hash=token_hash(hmac_key, secret),
            name=name,
            scopes=sorted(set(scopes)),
        ),
    )
    return IssuedClient(client=client, client_secret=secret)


def authenticate(
    session: Session, tenant: Tenant, client_id: str, client_secret: str, hmac_key: bytes
) -> OAuthClient:
    client = credentials_repo.find_client(session, tenant.id, client_id)
    if (
        client is None
        or client.revoked_at is not None
        or not token_matches(hmac_key, client_secret, client.secret_hash)
    ):
        raise Unauthenticated("client authentication failed")
    client.last_used_at = utcnow()
    return client


def grant_scopes(client: OAuthClient, requested: str | None) -> list[str]:
    """The scopes to put in a token: those asked for, which the client must hold."""
    if not requested:
        return list(client.scopes)
    asked = requested.split()
    held = set(client.scopes)
    refused = [s for s in asked if s not in held and "admin" not in held]
    if refused or any(s not in ALL_SCOPES for s in asked):
        raise Invalid(
            f"scope not granted to this client: {' '.join(refused or asked)}",
            code="invalid_scope",
        )
    return sorted(set(asked))
