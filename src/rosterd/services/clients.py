"""OAuth 2.0 clients: creation (secret shown once), rotation, revocation, authentication.

Rotation issues a new secret and keeps the one it replaces valid for a grace period, so a
running integration can switch over without an outage; only one previous secret is kept, so
rotating again ends the older one at once. Revocation ends the client: it gets no more
tokens, and the tokens it holds stop working within seconds (rosterd.services.client_gate).
"""

from __future__ import annotations

import hmac
import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.auth.secrets import CLIENT_ID_PREFIX, CLIENT_SECRET_PREFIX, new_token, token_hash
from rosterd.models import OAuthClient, Tenant
from rosterd.models.base import utcnow
from rosterd.repositories import credentials as credentials_repo
from rosterd.services import audit, credentials
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, Invalid, NotFound, Unauthenticated, invalid_field

LABEL = "OAuth client"
RESOURCE = "oauth_client"
DEFAULT_ROTATION_GRACE = timedelta(hours=24)
LONGEST_ROTATION_GRACE = timedelta(days=30)
AUTHENTICATION_FAILED = "client authentication failed"
CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 (a grant type, not a secret)
GRANT_TYPES = (CLIENT_CREDENTIALS, AUTHORIZATION_CODE, REFRESH_TOKEN)


@dataclass(frozen=True)
class IssuedClient:
    client: OAuthClient
    # None for a public client, which has no secret.
    client_secret: str | None


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str) -> str:
    """An acceptable redirect URI: absolute, without a fragment (RFC 6749 §3.1.2), https or
    http to a loopback address (RFC 8252 §7.3), or a private-use scheme with a dot in it
    (RFC 8252 §7.1, e.g. com.example.app:/callback)."""
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise invalid_field("redirect_uris", f"{uri!r} is not a URI") from exc
    if len(uri) > 2000 or any(c.isspace() for c in uri) or parts.fragment or "#" in uri:
        raise invalid_field("redirect_uris", f"{uri!r}: no spaces, no fragment, 2000 characters")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and _loopback(parts.hostname):
        return uri
    if "." in parts.scheme and parts.scheme not in ("http", "https") and parts.path:
        return uri
    raise invalid_field(
        "redirect_uris",
        f"{uri!r}: use https, http to a loopback address, or a reverse-domain scheme",
    )


def redirect_uri_matches(client: OAuthClient, presented: str) -> bool:
    """Whether ``presented`` is one of the client's redirect URIs, character for character;
    for an http URI to a loopback IP address, any port (RFC 8252 §7.3: a native app, such as
    ``rosterd login --browser``, listens on whatever port the system gives it)."""
    if presented in client.redirect_uris:
        return True
    try:
        asked = urlsplit(presented)
        asked_port = asked.port
    except ValueError:
        return False
    if asked.scheme != "http" or asked.hostname in (None, "localhost"):
        return False
    if not _loopback(asked.hostname) or asked_port is None:
        return False
    for registered in client.redirect_uris:
        known = urlsplit(registered)
        if (
            known.scheme == "http"
            and known.hostname == asked.hostname
            and (known.path, known.query) == (asked.path, asked.query)
            and known.username is None
            and asked.username is None
        ):
            return True
    return False


def check_grant_types(grant_types: list[str], redirect_uris: list[str], public: bool) -> list[str]:
    chosen = sorted(set(grant_types))
    unknown = [g for g in chosen if g not in GRANT_TYPES]
    if unknown or not chosen:
        raise invalid_field("grant_types", f"choose from {', '.join(GRANT_TYPES)}")
    if public and CLIENT_CREDENTIALS in chosen:
        raise invalid_field("grant_types", "a public client has no secret: no client_credentials")
    if REFRESH_TOKEN in chosen and AUTHORIZATION_CODE not in chosen:
        raise invalid_field("grant_types", "refresh_token comes with authorization_code")
    if AUTHORIZATION_CODE in chosen and not redirect_uris:
        raise invalid_field("redirect_uris", "authorization_code needs at least one")
    if redirect_uris and AUTHORIZATION_CODE not in chosen:
        raise invalid_field("redirect_uris", "only the authorization_code grant redirects")
    return chosen


def create_client(
    session: Session,
    tenant: Tenant,
    *,
    name: str,
    scopes: list[str],
    hmac_key: bytes,
    actor: Actor,
    expires_at: datetime | None = None,
    grant_types: list[str] | None = None,
    redirect_uris: list[str] | None = None,
    public: bool = False,
) -> IssuedClient:
    """A new client: by default a confidential client of the client_credentials grant. A
    public client (``public``) gets no secret and may use authorization_code (with PKCE,
    as every client must) and refresh_token only."""
    if not name.strip() or len(name) > 255:
        raise invalid_field("name", "give a name of 1 to 255 characters")
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise invalid_field("scopes", f"unknown scope(s) {', '.join(unknown)}")
    if not scopes:
        raise invalid_field("scopes", "at least one scope is required")
    expires_at = credentials.check_expiry(expires_at)
    uris = list(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris or []))
    grants = check_grant_types(grant_types or [CLIENT_CREDENTIALS], uris, public)
    secret = None if public else new_token(CLIENT_SECRET_PREFIX)
    client = credentials_repo.add_client(
        session,
        OAuthClient(
            tenant_id=tenant.id,
            client_id=new_token(CLIENT_ID_PREFIX, 12),
            secret_hash=None if secret is None else token_hash(hmac_key, secret),
            name=name,
            scopes=sorted(set(scopes)),
            grant_types=grants,
            redirect_uris=uris,
            expires_at=expires_at,
        ),
    )
    audit.record(
        session,
        actor,
        f"{RESOURCE}.created",
        RESOURCE,
        client.client_id,
        after={
            "name": client.name,
            "scopes": client.scopes,
            "grant_types": client.grant_types,
            "redirect_uris": client.redirect_uris,
            "public": client.is_public,
            "expires_at": audit.jsonable(expires_at),
        },
    )
    return IssuedClient(client=client, client_secret=secret)


def list_clients(session: Session, tenant: Tenant) -> list[OAuthClient]:
    return credentials_repo.list_clients(session, tenant.id)


def _locked(session: Session, tenant: Tenant, client_id: str) -> OAuthClient:
    client = credentials_repo.find_client(session, tenant.id, client_id, for_update=True)
    if client is None:
        raise NotFound(f"{LABEL} {client_id} not found")
    return client


def rotate_secret(
    session: Session,
    tenant: Tenant,
    client_id: str,
    *,
    hmac_key: bytes,
    actor: Actor,
    grace: timedelta = DEFAULT_ROTATION_GRACE,
) -> IssuedClient:
    """A new secret for the client; the current one stays valid for ``grace`` (0: not)."""
    if grace < timedelta(0) or grace > LONGEST_ROTATION_GRACE:
        raise invalid_field("grace", "must be between 0 seconds and 30 days")
    client = _locked(session, tenant, client_id)
    if client.revoked_at is not None:
        raise Conflict(f"{LABEL} {client_id} is revoked; create a new client instead")
    if client.is_public:
        raise Conflict(f"{LABEL} {client_id} is a public client: it has no secret to rotate")
    now = utcnow()
    if grace:
        client.previous_secret_hash = client.secret_hash
        client.previous_secret_expires_at = now + grace
    else:
        client.previous_secret_hash = client.previous_secret_expires_at = None
    secret = new_token(CLIENT_SECRET_PREFIX)
    client.secret_hash = token_hash(hmac_key, secret)
    audit.record(
        session,
        actor,
        f"{RESOURCE}.rotated",
        RESOURCE,
        client.client_id,
        after={"previous_secret_expires_at": audit.jsonable(client.previous_secret_expires_at)},
    )
    return IssuedClient(client=client, client_secret=secret)


def revoke_client(session: Session, tenant: Tenant, client_id: str, actor: Actor) -> OAuthClient:
    """End the client: no new tokens, and its access tokens are refused from now on."""
    client = _locked(session, tenant, client_id)
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        client.previous_secret_hash = client.previous_secret_expires_at = None
        audit.record(session, actor, f"{RESOURCE}.revoked", RESOURCE, client.client_id)
    return client


def _secret_matches(client: OAuthClient, presented_hash: str) -> bool:
    if client.secret_hash is None:
        return False
    if hmac.compare_digest(presented_hash, client.secret_hash):
        return True
    previous, until = client.previous_secret_hash, client.previous_secret_expires_at
    return (
        previous is not None
        and until is not None
        and until > utcnow()
        and hmac.compare_digest(presented_hash, previous)
    )


def authenticate(
    session: Session, tenant: Tenant, client_id: str, client_secret: str, hmac_key: bytes
) -> OAuthClient:
    """The client whose id and secret (or previous secret, during rotation) these are.

    Reads only: the caller notes the use (``is_stale``, ``Runtime.last_uses``). Whether the client
    is revoked or expired is told only to a caller who knows its secret.
    """
    client = credentials_repo.find_client(session, tenant.id, client_id)
    if client is None or not _secret_matches(client, token_hash(hmac_key, client_secret)):
        raise Unauthenticated(AUTHENTICATION_FAILED)
    if client.revoked_at is not None:
        raise Unauthenticated(f"{AUTHENTICATION_FAILED}: the {LABEL} is revoked")
    refusal = credentials.expiry_refusal(LABEL, client.expires_at)
    if refusal is not None:
        raise Unauthenticated(f"{AUTHENTICATION_FAILED}: {refusal}")
    return client


def secret_matches(client: OAuthClient, client_secret: str, hmac_key: bytes) -> bool:
    """Whether ``client_secret`` is the client's secret (or its previous one, in its grace)."""
    return _secret_matches(client, token_hash(hmac_key, client_secret))


def live_client(session: Session, tenant_id: uuid.UUID, client_id: str) -> OAuthClient | None:
    """The client, unless it does not exist, is revoked or has expired."""
    client = credentials_repo.find_client(session, tenant_id, client_id)
    if client is None or client.revoked_at is not None:
        return None
    if credentials.expiry_refusal(LABEL, client.expires_at) is not None:
        return None
    return client


def is_stale(client: OAuthClient) -> bool:
    """Whether the client's last_used_at is old enough to be worth a write."""
    return credentials.is_stale(client.last_used_at)


def grant_scopes(client: OAuthClient, requested: str | None) -> list[str]:
    """The scopes to put in a client_credentials token: those asked for, which the client
    must hold."""
    if CLIENT_CREDENTIALS not in client.grant_types:
        raise Invalid(
            "this client may not use the client_credentials grant",
            code="unauthorized_client",
        )
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
