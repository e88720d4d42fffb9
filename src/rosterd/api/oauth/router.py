"""OAuth 2.0 token endpoint (client_credentials, RFC 6749 §4.4), JWKS and server metadata."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import Depends, Form, Header, Request
from fastapi.responses import JSONResponse, Response

from rosterd.api.deps import ReadSession, RuntimeDep, WriteSession
from rosterd.api.ratelimit.dependencies import limit_issued_tokens
from rosterd.api.routing import api_router
from rosterd.auth.scopes import ALL_SCOPES
from rosterd.services import clients as clients_service
from rosterd.services import tenants as tenants_service
from rosterd.services.errors import DomainError, Invalid, NotFound, Unauthenticated

PREFIX = "/tenants"

router = api_router(prefix=PREFIX, tags=["OAuth 2.0"])

_OAUTH_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}


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
    summary="Issue an access token (client_credentials)",
    description="Form-encoded; the client authenticates with HTTP Basic or with `client_id` and "
    "`client_secret` in the body. Returns a signed JWT access token.",
    responses={
        400: {
            "description": "RFC 6749 error: invalid_request, unsupported_grant_type, invalid_scope"
        },
        401: {"description": "RFC 6749 error: invalid_client"},
    },
    dependencies=[Depends(limit_issued_tokens(_client_of), scope="function")],
)
def issue_token(
    tenant: str,
    runtime: RuntimeDep,
    session: WriteSession,
    grant_type: Annotated[str, Form(max_length=64)],
    scope: Annotated[str | None, Form(max_length=1000)] = None,
    client_id: Annotated[str | None, Form(max_length=255)] = None,
    client_secret: Annotated[str | None, Form(max_length=255)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> JSONResponse:
    if grant_type != "client_credentials":
        raise Invalid(f"grant_type {grant_type!r} is not supported", code="unsupported_grant_type")
    basic = _basic_credentials(authorization)
    if basic is not None and (client_id or client_secret):
        raise Invalid("send client credentials either with HTTP Basic or in the body, not both")
    cid, secret = basic or (client_id, client_secret)
    if not cid or not secret:
        raise Unauthenticated("client authentication is required")
    try:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
    except NotFound as exc:
        raise Unauthenticated("client authentication failed") from exc
    client = clients_service.authenticate(session, tenant_row, cid, secret, runtime.hmac_key)
    scopes = clients_service.grant_scopes(client, scope)
    ttl = runtime.settings.access_token_ttl_seconds
    token = runtime.signer.issue(
        issuer=runtime.issuer(tenant_row.slug),
        tenant_id=tenant_row.id,
        subject=client.client_id,
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


@router.get(
    "/{tenant}/.well-known/jwks.json",
    operation_id="getJwks",
    summary="Public keys that verify access tokens (JWKS)",
)
def jwks(tenant: str, runtime: RuntimeDep, session: ReadSession) -> dict[str, Any]:
    tenants_service.get_tenant_by_slug(session, tenant)
    return runtime.signer.jwks()


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
        "token_endpoint": f"{issuer}/connect/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": list(ALL_SCOPES),
    }
