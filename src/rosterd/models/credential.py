from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from rosterd.models.base import Base, utcnow


class OAuthClient(Base):
    """An OAuth 2.0 client; only the HMAC of its secret is kept.

    Rotating the secret keeps the HMAC of the one it replaces, valid until
    ``previous_secret_expires_at``, so integrations can switch over without an outage.
    A public client (a CLI, a single-page app) has no secret at all (``secret_hash`` is
    None) and may use only the authorization code grant with PKCE. Which grants a client
    may use is ``grant_types``; ``redirect_uris`` are matched exactly, character for
    character.
    """

    __tablename__ = "oauth_clients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[datetime | None]
    name: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    grant_types: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: ["client_credentials"], server_default='["client_credentials"]'
    )
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_oauth_clients_tenant_id", "tenant_id"),)

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None


class OAuthGrant(Base):
    """What an admin granted a client through the authorization code flow: one family.

    The authorization code is a column of the grant (one code per consent, used once); the
    refresh tokens issued from it are its ``OAuthRefreshToken`` rows, and every access token
    carries the grant's id (claim ``gid``). Revoking the grant (a replayed code, a reused
    refresh token, RFC 7009 revocation) ends all of them at once.
    """

    __tablename__ = "oauth_grants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_row_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE")
    )
    admin_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"))
    # The admin's ``token_epoch`` at consent: once it moves on (logout everywhere, a
    # password reset, offboarding), the grant's tokens stop working as the admin's other
    # sessions do.
    admin_token_epoch: Mapped[int]
    scopes: Mapped[list[str]] = mapped_column(JSON)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_expires_at: Mapped[datetime]
    code_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_oauth_grants_tenant_id", "tenant_id"),
        Index("ix_oauth_grants_client_row_id", "client_row_id"),
        Index("ix_oauth_grants_admin_id", "admin_id"),
        # The scheduler's retention (services.oauth_grants.purge_spent).
        Index("ix_oauth_grants_tenant_revoked", "tenant_id", "revoked_at"),
        Index("ix_oauth_grants_tenant_code_expires", "tenant_id", "code_expires_at"),
    )


class OAuthRefreshToken(Base):
    """One refresh token of a grant; only its HMAC is kept. Using it rotates it: the row is
    marked ``used_at`` and a new one issued. A used token presented again means it leaked,
    and its whole grant is revoked."""

    __tablename__ = "oauth_refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("oauth_grants.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_oauth_refresh_tokens_grant_id", "grant_id"),
        Index("ix_oauth_refresh_tokens_tenant_expires", "tenant_id", "expires_at"),
    )


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
    # The OAuth scopes this admin may grant to an app (authorization code flow); None: all.
    scopes: Mapped[list[str] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("uq_admin_users_username", func.lower(username), unique=True),
        Index("ix_admin_users_tenant_id", "tenant_id"),
    )
