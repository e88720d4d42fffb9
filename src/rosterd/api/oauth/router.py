"""OAuth 2.0 token endpoint, token revocation (RFC 7009), JWKS and server metadata (RFC 8414).

The token endpoint serves three grants. ``authorization_code`` and ``refresh_token`` run on
Authlib's server (rosterd.api.oauth.server), in a write transaction of their own that
commits even when the request is refused, so that a replayed code or refresh token
revokes its grant. ``client_credentials`` keeps its own path below, older than Authlib
here: a read (a client's token costs no write beyond a ``last_used_at`` once a minute), its
refusals saying which credential was expected (rosterd.auth.credential_kinds), and the
secret of a rotation's grace period; Authlib's ClientCredentialsGrant would need all three
written around it, so it would not make one implementation of the endpoint.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import Depends, Form, Header, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from rosterd.api.deps import ReadSession, RuntimeDep, in_unit_of_work
from rosterd.api.oauth import server as oauth_server
from rosterd.api.ratelimit.dependencies import limit_issued_tokens
from rosterd.api.routing import api_router
from rosterd.auth.credential_kinds import Kind, Need, Presented, from_authorization, identify
from rosterd.auth.scopes import ALL_SCOPES
from rosterd.db.work import Kind as WorkKind
from rosterd.runtime import Runtime
from rosterd.services import clients as clients_service
from rosterd.services import signing_keys
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import DomainError, Invalid, NotFound, Unauthenticated

PREFIX = "/tenants"

router = api_router(prefix=PREFIX, tags=["OAuth 2.0"])

_NEEDS = (
    "this endpoint needs an OAuth client's id and secret, by HTTP Basic or as client_id and "
    "client_secret in the form (`rosterd clients create`)"
)
# No client credentials at all (perhaps a bearer token instead), and credentials that fail.
NEED = Need(None, _NEEDS)
NEED_SECRET = Need(Kind.CLIENT_SECRET, _NEEDS)

_OAUTH_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}
# The grants Authlib's server runs (rosterd.api.oauth.server).
AUTHLIB_GRANTS = ("authorization_code", "refresh_token")


def render(request: Request, exc: DomainError, status: int) -> Response:
    """RFC 6749 §5.2 error responses."""
    if status == 401 or isinstance(exc, Unauthenticated):
        error, status = "invalid_client", 401
    elif exc.code in _OAUTH_ERRORS:
        error = exc.code
    elif status == 404 and request.url.path.endswith("/connect/token"):
        # An unknown tenant is indistinguishable from a wrong client to the caller.
        error, status = "invalid_client", 401
    elif status == 429:
        # The registered OAuth code for "cannot handle the request now"; when to come back
        # is in Retry-After.
        error = "temporarily_unavailable"
    elif status >= 500 or status in (404, 405):
        error = "server_error" if status >= 500 else "invalid_request"
    else:
        error = "invalid_request"
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="rosterd"'
    return JSONResponse(
        {"error": error, "error_description": exc.message}, status_code=status, headers=headers
    )


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthenticated("malformed HTTP Basic credentials") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise Unauthenticated("malformed HTTP Basic credentials")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding ('+' is a space).
    return unquote_plus(client_id), unquote_plus(secret)


def _client_of(authorization: str | None, client_id: str | None) -> str | None:
    """The client a token request names (HTTP Basic, else the form), for its rate limit."""
    try:
        basic = _basic_credentials(authorization)
    except Unauthenticated:
        return None
    return basic[0] if basic else client_id


@router.post(
    "/{tenant}/connect/token",
    operation_id="issueToken",
    summary="Issue an access token (client_credentials, authorization_code, refresh_token)",
    description="Form-encoded. `client_credentials`: the client authenticates with HTTP Basic "
    "or with `client_id` and `client_secret` in the body and gets a signed JWT access token. "
    "During a secret rotation the previous secret is accepted until its grace period ends; "
    "a revoked or expired client is refused with `invalid_client`. `authorization_code`: "
    "`code`, `redirect_uri` (the one of the authorization request) and the PKCE "
    "`code_verifier`; a public client sends its `client_id` alone. `refresh_token`: "
    "returns a new refresh token each time; presenting a used one revokes its grant.",
    responses={
        400: {
            "description": "RFC 6749 error: invalid_request, invalid_grant, "
            "unauthorized_client, unsupported_grant_type, invalid_scope"
        },
        401: {"description": "RFC 6749 error: invalid_client"},
    },
    dependencies=[Depends(limit_issued_tokens(_client_of), scope="function")],
)
async def issue_token(
    request: Request,
    tenant: str,
    runtime: RuntimeDep,
    grant_type: Annotated[str, Form(max_length=64)],
    scope: Annotated[str | None, Form(max_length=1000)] = None,
    client_id: Annotated[str | None, Form(max_length=255)] = None,
    client_secret: Annotated[str | None, Form(max_length=255)] = None,
    # The authorization_code and refresh_token parameters, declared for the API description
    # and its limits; Authlib reads them from the form.
    code: Annotated[str | None, Form(max_length=255)] = None,
    redirect_uri: Annotated[str | None, Form(max_length=2000)] = None,
    code_verifier: Annotated[str | None, Form(max_length=255)] = None,
    refresh_token: Annotated[str | None, Form(max_length=255)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    if grant_type in AUTHLIB_GRANTS:
        return await _authlib(request, runtime, tenant, "token")
    if grant_type != "client_credentials":
        raise Invalid(f"grant_type {grant_type!r} is not supported", code="unsupported_grant_type")
    basic = _basic_credentials(authorization)
    if basic is not None and (client_id or client_secret):
        raise Invalid("send client credentials either with HTTP Basic or in the body, not both")
    cid, secret = basic or (client_id, client_secret)
    if not cid or not secret:
        presented = from_authorization(authorization) if basic is None else None
        raise Unauthenticated(NEED.refusal(presented))
    credentials = (cid, secret)
    return await in_unit_of_work(
        runtime,
        WorkKind.POINT_READ,
        lambda session: _client_credentials(runtime, session, tenant, credentials, scope),
    )


def _client_credentials(
    runtime: Runtime,
    session: Session,
    tenant: str,
    credentials: tuple[str, str],
    scope: str | None,
) -> JSONResponse:
    cid, secret = credentials
    try:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        client = clients_service.authenticate(session, tenant_row, cid, secret, runtime.hmac_key)
    except (NotFound, Unauthenticated) as exc:
        if (
            isinstance(exc, Unauthenticated)
            and exc.message != clients_service.AUTHENTICATION_FAILED
        ):
            raise  # the secret was right: its holder may know the client is revoked or expired
        # An unknown tenant answers as a wrong secret does: the caller cannot tell them apart.
        presented = identify(secret)
        if presented.kind is Kind.UNKNOWN:  # a wrong secret, or one made before the prefix
            presented = Presented(Kind.CLIENT_SECRET)
        raise Unauthenticated(NEED_SECRET.refusal(presented)) from exc
    scopes = clients_service.grant_scopes(client, scope)
    if clients_service.is_stale(client):
        # Noted, at most once a minute per client, and written beside the request
        # (rosterd.lifecycle.last_uses): issuing tokens is a read.
        runtime.last_uses.note(type(client), client.id)
    tenant_id, slug, subject = tenant_row.id, tenant_row.slug, client.client_id
    ttl = runtime.settings.access_token_ttl_seconds
    token = runtime.signer.issue(
        issuer=runtime.issuer(slug),
        tenant_id=tenant_id,
        subject=subject,
        scopes=scopes,
        ttl=ttl,
    )
    return JSONResponse(
        {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(scopes),
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


async def _authlib(request: Request, runtime: Runtime, tenant: str, endpoint: str) -> Response:
    """Run Authlib's token or revocation endpoint in a write transaction of its own, which
    commits whatever the answer (a refusal writes nothing but the revocation of a grant
    whose code or refresh token was replayed); a refusal is then raised as the DomainError
    ``render`` answers with."""
    form = await request.form()
    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    authlib_request = oauth_server.Request(request.method, str(request.url), request.headers, items)

    def tenant_id() -> uuid.UUID:
        with runtime.db.reader() as session:
            return tenants_service.get_tenant_by_slug(session, tenant).id

    try:
        found = await run_in_threadpool(tenant_id)
    except NotFound as exc:
        raise Unauthenticated("unknown tenant or client") from exc
    # A tenant's first signing key is made in a transaction of its own: before the write.
    await run_in_threadpool(runtime.signer.ensure_signing_key, found)

    def run(session: Session) -> Response:
        row = tenants_service.get_tenant_by_slug(session, tenant)
        ctx = oauth_server.Context(
            runtime=runtime,
            session=session,
            tenant=row,
            actor=Actor(tenant_id=row.id, actor="rosterd", surface="oauth"),
        )
        server = oauth_server.Server(ctx)
        if endpoint == "token":
            response: Response = server.create_token_response(authlib_request)
        else:
            response = server.create_endpoint_response("revocation", authlib_request)
        return response

    response = await in_unit_of_work(runtime, WorkKind.WRITE, run)
    if response.status_code >= 400:
        # Refused (and committed: a replay's revocation stands). Raised, so the refusal
        # takes this surface's one error path and is not counted as an issued token.
        raise _refusal(response)
    return response


def _refusal(response: Response) -> DomainError:
    body = json.loads(bytes(response.body))
    message = str(body.get("error_description") or body.get("error") or "refused")
    if response.status_code == 401:
        return Unauthenticated(message)
    return Invalid(message, code=str(body.get("error", "invalid_request")))


@router.post(
    "/{tenant}/connect/revoke",
    operation_id="revokeToken",
    summary="Revoke a refresh token or access token (RFC 7009)",
    description="Form-encoded `token` (and optional `token_type_hint`); the client "
    "authenticates as at the token endpoint (a public client by `client_id`). Revoking a "
    "refresh token, or an access token of the authorization code flow, ends the whole "
    "grant: every token issued from it. An unknown token is answered 200 as well.",
    responses={401: {"description": "RFC 6749 error: invalid_client"}},
)
async def revoke_token(
    request: Request,
    tenant: str,
    runtime: RuntimeDep,
    token: Annotated[str, Form(max_length=4000)],
    token_type_hint: Annotated[str | None, Form(max_length=64)] = None,
    client_id: Annotated[str | None, Form(max_length=255)] = None,
    client_secret: Annotated[str | None, Form(max_length=255)] = None,
) -> Response:
    return await _authlib(request, runtime, tenant, "revocation")


@router.get(
    "/{tenant}/.well-known/jwks.json",
    operation_id="getJwks",
    summary="Public keys that verify access tokens (JWKS)",
    description="This tenant's keys only: the key that signs its tokens now, and retired "
    "keys until the tokens they signed have expired.",
)
def jwks(tenant: str, runtime: RuntimeDep, session: ReadSession) -> dict[str, Any]:
    row = tenants_service.get_tenant_by_slug(session, tenant)
    return signing_keys.jwks(session, row.id, runtime.keys.grace)


@router.get(
    "/{tenant}/.well-known/oauth-authorization-server",
    operation_id="getAuthorizationServerMetadata",
    summary="OAuth 2.0 authorization server metadata (RFC 8414)",
)
def metadata(tenant: str, runtime: RuntimeDep, session: ReadSession) -> dict[str, Any]:
    row = tenants_service.get_tenant_by_slug(session, tenant)
    issuer = runtime.issuer(row.slug)
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/connect/token",
        "revocation_endpoint": f"{issuer}/connect/revoke",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(clients_service.GRANT_TYPES),
        "code_challenge_methods_supported": [oauth_server.CODE_CHALLENGE_METHOD],
        "token_endpoint_auth_methods_supported": oauth_server.CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": oauth_server.CLIENT_AUTH_METHODS,
        "scopes_supported": list(ALL_SCOPES),
    }
