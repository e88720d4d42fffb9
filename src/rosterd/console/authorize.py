"""The OAuth 2.0 authorization endpoint, /tenants/{tenant}/authorize (RFC 6749 §4.1, PKCE).

A person meets it in a browser, so it is a console page: the admin signs in with the
console's sign-in (same accounts, throttles and session; ``SignedInAdmin`` sends them to
the sign-in page and back here), then sees a consent page naming the app and, in words,
each scope it asks for. Allowing posts the form back (CSRF-checked like every console
form) and the browser goes to the app's redirect URI with a single-use code.

Errors follow RFC 6749 §4.1.2.1: an unknown client or a redirect URI that is not one of
the client's (exactly) is shown to the person and never redirected, so the endpoint can
never send a browser to an address an attacker chose; this is checked before anything else
(``KnownClient``), so nobody is asked to sign in for such a link. Any other error goes back
to the client's redirect URI with ``error`` and ``state``. The protocol checks are Authlib's
(rosterd.api.oauth.server); the scopes an admin may grant are rosterd's rule
(rosterd.services.oauth_grants).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from authlib.oauth2.rfc6749 import InvalidScopeError, OAuth2Error
from fastapi import Depends, Form, Request, Response
from sqlalchemy.orm import Session

from rosterd.api.deps import RuntimeDep, in_unit_of_work
from rosterd.api.errors import Renderer
from rosterd.api.oauth import server as oauth_server
from rosterd.api.routing import api_router
from rosterd.auth.scopes import SCOPE_WORDS
from rosterd.console.pages import page, render_error
from rosterd.console.session import SURFACE, ConsoleAdmin, FormAdmin, SignedInAdmin
from rosterd.db.work import Kind
from rosterd.models import AdminUser
from rosterd.runtime import Runtime
from rosterd.services import oauth_grants
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import DomainError, Forbidden, Invalid

PREFIX = "/tenants"
PATH = "/{tenant}/authorize"

router = api_router(prefix=PREFIX, include_in_schema=False)


def is_authorize_path(path: str) -> bool:
    return path.startswith(f"{PREFIX}/") and path.rstrip("/").endswith("/authorize")


def errors_beside(tenant_routes: Renderer) -> Renderer:
    """The renderer of /tenants paths: the authorization endpoint's errors are console
    pages (no session: the sign-in page), the other endpoints' ``tenant_routes``."""

    def render(request: Request, exc: DomainError, status: int) -> Response:
        if is_authorize_path(request.url.path):
            return render_error(request, exc, status)
        return tenant_routes(request, exc, status)

    return render


def _authlib_request(request: Request) -> oauth_server.Request:
    return oauth_server.Request(
        request.method, str(request.url), request.headers, request.query_params.multi_items()
    )


def _refused(request: Request, message: str, status: int = 400) -> Response:
    """An error shown to the person, never redirected."""
    return page(request, "error.html", None, status_code=status, status=status, message=message)


def _check_tenant(admin: ConsoleAdmin, tenant: str) -> None:
    if admin.tenant_slug != tenant:
        raise Forbidden(
            f"You are signed in to tenant {admin.tenant_slug!r}, but this app asks for access "
            f"to tenant {tenant!r}. Sign out, then sign in as an admin of {tenant!r}."
        )


async def _with_server(
    runtime: Runtime,
    tenant: str,
    admin: ConsoleAdmin,
    kind: Kind,
    work: Callable[[oauth_server.Server, AdminUser], Response],
) -> Response:
    def run(session: Session) -> Response:
        row = tenants_service.get_tenant_by_slug(session, tenant)
        admin_row = oauth_grants.admin_of(session, row.id, admin.username)
        ctx = oauth_server.Context(
            runtime=runtime, session=session, tenant=row, actor=admin.actor, grantor=admin_row
        )
        return work(oauth_server.Server(ctx), admin_row)

    return await in_unit_of_work(runtime, kind, run)


def _not_valid(error: OAuth2Error) -> str:
    return f"This sign-in link is not valid: {error.get_error_description() or error.error}"


def _error(request: Request, server: oauth_server.Server, error: OAuth2Error) -> Response:
    """Back to the client when its redirect URI is known good, else shown here."""
    if error.redirect_uri:
        response: Response = server.handle_error_response(None, error)
        return response
    return _refused(request, _not_valid(error))


async def known_client(request: Request, tenant: str, runtime: RuntimeDep) -> None:
    """Invalid (shown as an error page) when the authorization request names no live client
    of the tenant or a redirect URI that is not the client's: errors that may not go back to
    the app. Checked before the sign-in, by Authlib's checks of the whole request; whatever
    else they find waits for the admin (their rights decide the scopes asked for)."""
    authlib_request = _authlib_request(request)

    def check(session: Session) -> None:
        row = tenants_service.get_tenant_by_slug(session, tenant)
        actor = Actor(tenant_id=row.id, actor="anonymous", surface=SURFACE)
        ctx = oauth_server.Context(runtime=runtime, session=session, tenant=row, actor=actor)
        try:
            oauth_server.Server(ctx).get_consent_grant(authlib_request, end_user=None)
        except OAuth2Error as error:
            if not error.redirect_uri:
                raise Invalid(_not_valid(error)) from error

    await in_unit_of_work(runtime, Kind.POINT_READ, check)


# A route dependency: FastAPI resolves those before the endpoint's own (the admin).
KnownClient = Depends(known_client)


@router.get(PATH, dependencies=[KnownClient])
async def authorize(
    request: Request, tenant: str, runtime: RuntimeDep, admin: SignedInAdmin
) -> Response:
    _check_tenant(admin, tenant)
    authlib_request = _authlib_request(request)

    def consent(server: oauth_server.Server, admin_row: AdminUser) -> Response:
        try:
            grant = server.get_consent_grant(authlib_request, end_user=admin_row)
            scopes = (authlib_request.scope or "").split()
            try:
                oauth_grants.grantable(scopes, admin_row)
            except Invalid as exc:
                raise InvalidScopeError(
                    description=exc.message,
                    redirect_uri=grant.redirect_uri,
                    state=authlib_request.payload.state,
                ) from exc
        except OAuth2Error as error:
            return _error(request, server, error)
        client: oauth_server.Client = grant.client
        return _consent_page(request, admin, client, scopes, grant.redirect_uri)

    return await _with_server(runtime, tenant, admin, Kind.POINT_READ, consent)


def _consent_page(
    request: Request,
    admin: ConsoleAdmin,
    client: oauth_server.Client,
    scopes: list[str],
    redirect_uri: str,
) -> Response:
    shown: dict[str, Any] = {
        "client": client.row,
        "scopes": [(s, SCOPE_WORDS.get(s, s)) for s in scopes],
        "redirect_uri": redirect_uri,
        "action": request.url.path + "?" + request.url.query,
    }
    response = page(request, "authorize.html", admin, **shown)
    # Consent must be given on rosterd's own page, never inside another site's frame.
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


@router.post(PATH)
async def decide(
    request: Request,
    tenant: str,
    runtime: RuntimeDep,
    admin: FormAdmin,
    decision: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    _check_tenant(admin, tenant)
    authlib_request = _authlib_request(request)

    def answer(server: oauth_server.Server, admin_row: AdminUser) -> Response:
        try:
            grant = server.get_consent_grant(authlib_request, end_user=admin_row)
        except OAuth2Error as error:
            return _error(request, server, error)
        user = admin_row if decision == "allow" else None
        response: Response = server.create_authorization_response(
            authlib_request, grant_user=user, grant=grant
        )
        # A 303: the browser follows the POST's answer with a GET.
        if response.status_code == 302:
            response.status_code = 303
        return response

    return await _with_server(runtime, tenant, admin, Kind.WRITE, answer)
