from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from rosterd.models.base import Base, utcnow


class OAuthClient(Base):
    """An OAuth 2.0 confidential client; only the HMAC of its secret is kept.

    Rotating the secret keeps the HMAC of the one it replaces, valid until
    ``previous_secret_expires_at``, so integrations can switch over without an outage.
    """

    __tablename__ = "oauth_clients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[datetime | None]
    name: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_oauth_clients_tenant_id", "tenant_id"),)


class SigningKey(Base):
    """An RSA key that signs one tenant's access tokens (RS256).

    The public half is kept in clear as a JWK (the JWKS and verification read only that);
    the private half only sealed with a key derived from the server secret
    (rosterd.auth.key_seal), never as a usable key. A key signs until it is retired by a
    rotation, then verifies until the tokens it signed have expired. A row without a tenant
    is a legacy key of the whole deployment from before keys were per tenant: it has no
    private half and only verifies, until its grace has passed.
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_signing_keys_tenant_id", "tenant_id"),)


class TenantSecret(Base):
    """A tenant secret presented as a bearer token; only its HMAC is kept."""

    __abstract__ = True

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ScimToken(TenantSecret):
    """What an IdP's SCIM connector uses on /scim/v2."""

    __tablename__ = "scim_tokens"
    __table_args__ = (Index("ix_scim_tokens_tenant_id", "tenant_id"),)


class ApiKey(TenantSecret):
    """A tenant API key (user identities surface, ADMIN x-api-key)."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_tenant_id", "tenant_id"),)


class AdminUser(Base):
    """A person who logs in to /api/v1 with a password (argon2id).

    Usernames are unique across the server: the login request names no tenant.
    ``token_epoch`` is in every token issued; bumping it (logout) revokes them all.
    ``throttle_epoch`` is in the key of every login throttle on the account; bumping it
    (``rosterd admins unlock``) lifts them on every node.
    """

    __tablename__ = "admin_users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    token_epoch: Mapped[int] = mapped_column(default=0)
    throttle_epoch: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    last_login_at: Mapped[datetime | None]
    # When offboarding last ended this admin's sessions (bumped ``token_epoch``): a login
    # since then is a session to end again; none since, and there is nothing to end.
    sessions_ended_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("uq_admin_users_username", func.lower(username), unique=True),
        Index("ix_admin_users_tenant_id", "tenant_id"),
    )
