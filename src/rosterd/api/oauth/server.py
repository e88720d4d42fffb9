"""The OAuth 2.0 authorization server for the authorization code flow, on Authlib.

Authlib's grants carry the protocol: the authorization request's checks (client, exact
redirect URI, response type, scope), PKCE (RFC 7636), client authentication at the token
endpoint (HTTP Basic, form, or none for a public client), the authorization_code and
refresh_token grants and RFC 7009 revocation. What is rosterd's is the storage and the
rules of rosterd.services.oauth_grants (the scopes an admin may grant, single use,
rotation, revoking a grant whose code or refresh token comes back), and the request and
response adapters, as Authlib has no Starlette server integration.

One ``AuthorizationServer`` is made per request: it holds that request's Session and
tenant, which Authlib's callbacks (``query_client``, the grants' storage methods) use. It
never commits; the endpoint's unit of work does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from authlib.oauth2 import rfc6749
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from rosterd.auth.credential_kinds import Kind, identify
from rosterd.models import AdminUser, OAuthClient, OAuthGrant, OAuthRefreshToken, Tenant
from rosterd.runtime import Runtime
from rosterd.services import clients as clients_service
from rosterd.services import oauth_grants
from rosterd.services.context import Actor
from rosterd.services.errors import Invalid

# Every client authenticates at the token endpoint: a confidential one with its secret
# (Basic or form), a public one by naming itself (and proving PKCE).
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
CODE_CHALLENGE_METHOD = "S256"


class Payload(OAuth2Payload):  # type: ignore[misc]
    """The parameters of a request, read (query string or form) before Authlib runs."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._datalist: dict[str, list[str]] = {}
        for key, value in items:
            self._datalist.setdefault(key, []).append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class Request(OAuth2Request):  # type: ignore[misc]
    """An Authlib request built from what Starlette read.

    ``headers`` must be looked up regardless of case (Starlette's are; Authlib asks for
    "Authorization"). Authlib refuses request URLs that are neither https nor loopback
    (InsecureTransportError). Whether rosterd is reached over TLS is the deployment's
    business (TLS often ends at a proxy; ROSTERD_PUBLIC_URL says what clients use), the
    same for every surface, so Authlib is given the request's URL on https.
    """

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        items: Iterable[tuple[str, str]],
    ) -> None:
        parts = urlsplit(url)
        super().__init__(method, urlunsplit(("https", parts.netloc, parts.path, parts.query, "")))
        self.headers = headers
        self.payload = Payload(items)

    @property
    def args(self) -> dict[str, str]:
        data: dict[str, str] = self.payload.data
        return data

    @property
    def form(self) -> dict[str, str]:
        data: dict[str, str] = self.payload.data
        return data


class Client(ClientMixin):  # type: ignore[misc]
    """A stored client as Authlib asks about it."""

    def __init__(self, row: OAuthClient, hmac_key: bytes, grantor: AdminUser | None = None) -> None:
        self.row = row
        self._hmac_key = hmac_key
        self._grantor = grantor

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Every authorization request names its redirect URI (OAuth 2.1): then the token
        # request must name the same one, and nothing depends on which URI is "the" default.
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        allowed = oauth_grants.client_allows(self.row, scope, self._grantor)
        return None if allowed is None else " ".join(allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return clients_service.redirect_uri_matches(self.row, redirect_uri)

    def check_client_secret(self, client_secret: str) -> bool:
        return clients_service.secret_matches(self.row, client_secret, self._hmac_key)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.row.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.check_grant_type("authorization_code")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.row.grant_types


class Code(rfc6749.AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, grant: OAuthGrant) -> None:
        self.grant = grant
        self.code_challenge = grant.code_challenge
        self.code_challenge_method = CODE_CHALLENGE_METHOD

    def get_redirect_uri(self) -> str:
        return self.grant.redirect_uri

    def get_scope(self) -> str:
        return " ".join(self.grant.scopes)


class RefreshToken(rfc6749.TokenMixin):  # type: ignore[misc]
    def __init__(self, row: OAuthRefreshToken | None, grant: OAuthGrant) -> None:
        self.row = row
        self.grant = grant

    def check_client(self, client: Client) -> bool:
        return self.grant.client_row_id == client.row.id

    def get_scope(self) -> str:
        return " ".join(self.grant.scopes)

    def is_expired(self) -> bool:
        return False  # checked when it was found (rosterd.services.oauth_grants)

    def is_revoked(self) -> bool:
        return False


class S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE for every client, S256 only.

    Where Authlib falls short: its CodeChallenge lets an authorization request without a
    ``code_challenge`` through (it is "required" only of public clients, at the token
    endpoint) and defaults a missing method to ``plain``. rosterd requires a challenge of
    every client, with ``code_challenge_method=S256`` stated, as the OAuth 2.0 security
    BCP (RFC 9700 §2.1.1) advises; the rest of the checks are Authlib's.
    """

    DEFAULT_CODE_CHALLENGE_METHOD = CODE_CHALLENGE_METHOD
    SUPPORTED_CODE_CHALLENGE_METHOD = [CODE_CHALLENGE_METHOD]

    def validate_code_challenge(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send a code_challenge (S256)")
        if data.get("code_challenge_method") != CODE_CHALLENGE_METHOD:
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCode(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    server: Server

    def generate_authorization_code(self) -> str:
        return oauth_grants.new_code()

    def save_authorization_code(self, code: str, request: Request) -> None:
        ctx = self.server.ctx
        admin: AdminUser = request.user
        client: Client = request.client
        try:
            oauth_grants.start(
                ctx.session,
                client.row,
                admin,
                code=code,
                scopes=(request.scope or "").split(),
                redirect_uri=request.payload.redirect_uri,
                code_challenge=request.payload.data["code_challenge"],
                hmac_key=ctx.runtime.hmac_key,
                code_ttl=timedelta(seconds=ctx.runtime.settings.authorization_code_ttl_seconds),
                actor=ctx.actor,
            )
        except Invalid as exc:
            raise InvalidScopeError(
                description=exc.message,
                redirect_uri=request.payload.redirect_uri,
                state=request.payload.state,
            ) from exc

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        ctx = self.server.ctx
        try:
            grant = oauth_grants.redeem_code(
                ctx.session, ctx.tenant.id, client.row, code, ctx.runtime.hmac_key
            )
        except oauth_grants.Replayed:
            return None  # the grant is revoked in this transaction, which commits
        return None if grant is None else Code(grant)

    def delete_authorization_code(self, authorization_code: Code) -> None:
        oauth_grants.mark_code_used(authorization_code.grant)

    def authenticate_user(self, authorization_code: Code) -> oauth_grants.Delegation | None:
        return oauth_grants.delegation(self.server.ctx.session, authorization_code.grant)


class Refresh(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every use returns a new refresh token
    server: Server

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        ctx = self.server.ctx
        client: Client = self.request.client
        try:
            found = oauth_grants.redeem_refresh_token(
                ctx.session, ctx.tenant.id, client.row, refresh_token, ctx.runtime.hmac_key
            )
        except oauth_grants.Replayed:
            return None  # the whole grant is revoked in this transaction, which commits
        # The admin is checked here, not only in authenticate_user: Authlib answers a
        # missing user with invalid_request, where RFC 6749 §5.2 has invalid_grant for a
        # refresh token that no longer stands.
        if found is None or oauth_grants.delegation(ctx.session, found[1]) is None:
            return None
        return RefreshToken(*found)

    def authenticate_user(self, refresh_token: RefreshToken) -> oauth_grants.Delegation | None:
        return oauth_grants.delegation(self.server.ctx.session, refresh_token.grant)

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        if refresh_token.row is not None:
            oauth_grants.mark_refresh_token_used(refresh_token.row)


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. Revoking a refresh token, or an access token of the authorization code
    flow, ends its whole grant. A client_credentials access token names no grant: there is
    nothing to revoke but the client itself (``rosterd clients revoke``), so it is answered
    200 like any token this server does not know, as §2.2 says."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS
    server: Server

    def query_token(self, token_string: str, token_type_hint: str | None) -> RefreshToken | None:
        ctx = self.server.ctx
        kind = identify(token_string).kind
        if kind is Kind.OAUTH_ACCESS_TOKEN:
            access = ctx.runtime.signer.verify(token_string)
            gid = None if access is None else access.claims.get("gid")
            if access is None or access.tenant_id != ctx.tenant.id or not isinstance(gid, str):
                return None
            try:
                grant = oauth_grants.grant_by_id(ctx.session, ctx.tenant.id, uuid.UUID(gid))
            except ValueError:
                return None
        else:
            grant = oauth_grants.grant_of_refresh_token(
                ctx.session, ctx.tenant.id, token_string, ctx.runtime.hmac_key
            )
        return None if grant is None else RefreshToken(None, grant)

    def revoke_token(self, token: RefreshToken, request: Request) -> None:
        oauth_grants.revoke(self.server.ctx.session, token.grant)


@dataclass
class Context:
    runtime: Runtime
    session: Session
    tenant: Tenant
    # Who acts on the authorization endpoint: the signed-in admin (``grantor``, whose rights
    # bound a request that names no scope).
    actor: Actor
    grantor: AdminUser | None = None
    found: dict[str, Any] = field(default_factory=dict)


class Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, ctx: Context) -> None:
        super().__init__(scopes_supported=None)
        self.ctx = ctx
        self.register_grant(AuthorizationCode, [S256Required(required=True)])
        self.register_grant(Refresh)
        self.register_endpoint(Revocation)

    def query_client(self, client_id: str) -> Client | None:
        row = clients_service.live_client(self.ctx.session, self.ctx.tenant.id, client_id)
        return None if row is None else Client(row, self.ctx.runtime.hmac_key, self.ctx.grantor)

    def generate_token(
        self,
        grant_type: str,
        client: Client,
        user: oauth_grants.Delegation | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """An access token acting for the admin (``sub``) through the client (``client_id``,
        ``azp``), naming its grant (``gid``), and, when the client may refresh, a new
        refresh token (stored here, so ``save_token`` has nothing left to do)."""
        assert user is not None
        runtime, tenant = self.ctx.runtime, self.ctx.tenant
        held = oauth_grants.current_scopes(user)
        scopes = [s for s in (scope or "").split() if s in held]
        ttl = runtime.settings.access_token_ttl_seconds
        client_id = client.get_client_id()
        access = runtime.signer.issue(
            issuer=runtime.issuer(tenant.slug),
            tenant_id=tenant.id,
            subject=str(user.admin.id),
            scopes=scopes,
            ttl=ttl,
            extra={
                "client_id": client_id,
                "azp": client_id,
                "gid": str(user.grant.id),
                "preferred_username": user.admin.username,
            },
        )
        token: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(scopes),
        }
        if include_refresh_token:
            token["refresh_token"] = oauth_grants.issue_refresh_token(
                self.ctx.session,
                user.grant,
                runtime.hmac_key,
                timedelta(days=runtime.settings.refresh_token_ttl_days),
            )
        return token

    def save_token(self, token: dict[str, Any], request: Request) -> None:
        """Nothing: the refresh token was stored as it was made, the access token is a JWT."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's hook for framework signals: rosterd listens to none."""

    def create_oauth2_request(self, request: Request) -> Request:
        return request

    def handle_response(
        self, status: int, body: Any, headers: Iterable[tuple[str, str]]
    ) -> Response:
        extra = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        merged = {**dict(headers), **extra}
        if isinstance(body, dict):
            merged.pop("Content-Type", None)
            return JSONResponse(body, status_code=status, headers=merged)
        return Response(body or b"", status_code=status, headers=merged)
