"""The authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636), refresh token rotation
and revocation (RFC 7009), through the real pages and endpoints.

Tokens are checked as a resource server would: verified with PyJWT against the keys the
tenant publishes; what they allow is checked by calling /integration/v2 with them.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from rosterd.auth.tokens import AUDIENCE
from rosterd.models import AuditEvent, OAuthGrant, OAuthRefreshToken
from rosterd.models.base import utcnow
from rosterd.repositories import admins as admins_repo
from rosterd.runtime import Runtime
from rosterd.services import admins as admins_service
from rosterd.services.client_gate import TTL
from tests.api.oauth.flow import (
    App,
    Browser,
    consent,
    make_admin,
    pkce,
    redeem,
    redirected_to,
    refresh,
    register_app,
    request_params,
    token_request,
)
from tests.factories import V2, TenantHandle


@pytest.fixture
def browser(runtime: Runtime, http: TestClient, tenant: TenantHandle) -> Browser:
    signed = Browser(TestClient(http.app), tenant.slug, make_admin(runtime, tenant.slug))
    assert signed.sign_in().status_code == 303
    return signed


@pytest.fixture
def app(runtime: Runtime, tenant: TenantHandle) -> App:
    return register_app(runtime, tenant.slug)


def _claims(http: TestClient, slug: str, token: str) -> dict[str, Any]:
    keys = http.get(f"/tenants/{slug}/.well-known/jwks.json").json()
    jwk_set = jwt.PyJWKSet.from_dict(keys)
    kid = jwt.get_unverified_header(token)["kid"]
    claims: dict[str, Any] = jwt.decode(
        token, jwk_set[kid].key, algorithms=["RS256"], audience=AUDIENCE
    )
    return claims


def _users(http: TestClient, token: str) -> int:
    return http.get(f"{V2}/users", headers={"Authorization": f"Bearer {token}"}).status_code


def _refused_soon(http: TestClient, token: str) -> bool:
    """Whether /integration/v2 refuses the token once every node has seen its grant end
    (each reads a grant's state at most every TTL seconds)."""
    deadline = time.monotonic() + TTL + 3
    while _users(http, token) != 401:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _grants(runtime: Runtime, tenant: TenantHandle) -> int:
    with runtime.db.reader() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OAuthGrant)
                .where(OAuthGrant.tenant_id == tenant.id)
            )
            or 0
        )


def _tokens(
    http: TestClient, tenant: TenantHandle, browser: Browser, app: App, **params: str
) -> dict[str, Any]:
    verifier, challenge = pkce()
    query = consent(browser, app, challenge, **params)
    r = redeem(http, tenant.slug, app, query["code"], verifier)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _oauth_error(r: Any, status: int, error: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"] == error, r.json()
    assert "no-store" in r.headers["cache-control"]


# ---- the whole flow -----------------------------------------------------------------------


def test_a_public_app_gets_tokens_for_the_admin_who_consented(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, browser: Browser, app: App
) -> None:
    verifier, challenge = pkce()
    page = browser.authorize(request_params(app, challenge, scope="user:read user:write"))
    assert page.status_code == 200, page.text
    # The consent page names the app, the admin and each scope in words.
    assert "Roster Sync" in page.text and browser.username in page.text
    assert "See the users of the directory" in page.text
    assert "Create, change and delete users" in page.text
    assert page.headers["x-frame-options"] == "DENY"

    target, query = redirected_to(browser.answer("allow"))
    assert target == app.redirect_uri
    assert query["state"] == "st-123"
    assert query["code"].startswith("rac_")

    r = redeem(http, tenant.slug, app, query["code"], verifier)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "user:read user:write"
    assert body["refresh_token"].startswith("rrt_")
    claims = _claims(http, tenant.slug, body["access_token"])
    with runtime.db.reader() as session:
        admin = admins_repo.find_by_username(session, browser.username)
        assert admin is not None
        assert claims["sub"] == str(admin.id)
    assert claims["client_id"] == claims["azp"] == app.client_id
    assert claims["scope"] == "user:read user:write"
    assert _users(http, body["access_token"]) == 200

    # A write with the token is audited with both the admin and the app as actor.
    created = http.post(
        f"{V2}/users",
        json={"email": f"{uuid.uuid4().hex[:8]}@example.com", "firstName": "A", "lastName": "B"},
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert created.status_code == 201, created.text
    with runtime.db.reader() as session:
        actors = set(
            session.scalars(
                select(AuditEvent.actor).where(
                    AuditEvent.tenant_id == tenant.id, AuditEvent.action.like("user.%")
                )
            )
        )
        consented = session.execute(
            select(AuditEvent.actor, AuditEvent.after).where(
                AuditEvent.tenant_id == tenant.id, AuditEvent.action == "oauth_grant.created"
            )
        ).one()
    assert actors == {f"admin:{browser.username} via client:{app.client_id}"}
    # The consent itself is audited as the admin's, on the console.
    assert consented.actor == f"admin:{browser.username}"
    assert consented.after == {"client_id": app.client_id, "scopes": ["user:read", "user:write"]}

    # Refreshing rotates: a new refresh token, and a new access token that works.
    again = refresh(http, tenant.slug, app, body["refresh_token"])
    assert again.status_code == 200, again.text
    renewed = again.json()
    assert renewed["refresh_token"] != body["refresh_token"]
    assert renewed["scope"] == "user:read user:write"
    assert _users(http, renewed["access_token"]) == 200


def test_a_confidential_app_authenticates_with_its_secret(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, browser: Browser
) -> None:
    app = register_app(runtime, tenant.slug, public=False)
    assert app.client_secret is not None
    verifier, challenge = pkce()
    query = consent(browser, app, challenge)
    without_secret = App(app.client_id, None, app.redirect_uri)
    _oauth_error(
        redeem(http, tenant.slug, without_secret, query["code"], verifier), 401, "invalid_client"
    )
    wrong = App(app.client_id, "rcs_wrong", app.redirect_uri)
    _oauth_error(redeem(http, tenant.slug, wrong, query["code"], verifier), 401, "invalid_client")
    assert redeem(http, tenant.slug, app, query["code"], verifier).status_code == 200


def test_signing_in_on_the_way_comes_back_to_the_request(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, app: App
) -> None:
    person = Browser(TestClient(http.app), tenant.slug, make_admin(runtime, tenant.slug))
    _, challenge = pkce()
    r = person.authorize(request_params(app, challenge))
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/sign-in?next=")
    form = person.http.get(r.headers["location"])
    # The sign-in form names the tenant the app asks for.
    assert f'value="{tenant.slug}"' in form.text
    back = person.sign_in(next_page=parse_qs(urlsplit(r.headers["location"]).query)["next"][0])
    assert back.status_code == 303
    assert back.headers["location"].startswith(f"/tenants/{tenant.slug}/authorize?")


@pytest.mark.parametrize(
    "elsewhere",
    [
        "https://evil.example/tenants/x/authorize?client_id=a",
        "//evil.example/tenants/x/authorize",
        "/tenants/x/authorize-not",
        "/tenants/x/users",
    ],
)
def test_signing_in_goes_back_to_the_authorization_endpoint_only(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, elsewhere: str
) -> None:
    person = Browser(TestClient(http.app), tenant.slug, make_admin(runtime, tenant.slug))
    back = person.sign_in(next_page=elsewhere)
    assert back.status_code == 303 and back.headers["location"] == "/admin/"


def test_denying_sends_access_denied_back(browser: Browser, app: App) -> None:
    _, challenge = pkce()
    assert browser.authorize(request_params(app, challenge)).status_code == 200
    target, query = redirected_to(browser.answer("deny"))
    assert target == app.redirect_uri
    assert query["error"] == "access_denied" and query["state"] == "st-123"
    assert "code" not in query


# ---- refused: shown to the person, never redirected ---------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"redirect_uri": "https://app.example/callbacK"},
        {"redirect_uri": "https://app.example/callback/"},
        {"redirect_uri": "https://evil.example/callback"},
        {"client_id": "rcl_nobody"},
        {"redirect_uri": ""},
    ],
)
def test_a_bad_client_or_redirect_uri_is_shown_not_redirected(
    runtime: Runtime, tenant: TenantHandle, browser: Browser, app: App, change: dict[str, str]
) -> None:
    _, challenge = pkce()
    params = {**request_params(app, challenge), **change}
    r = browser.authorize({k: v for k, v in params.items() if v})
    assert r.status_code == 400, r.text
    assert "location" not in r.headers
    assert "not valid" in r.text
    assert _grants(runtime, tenant) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "bogus", "redirect_uri": "https://evil.example/cb"},
        {"redirect_uri": "https://evil.example/cb"},
        {"redirect_uri": ""},
    ],
)
def test_a_bad_client_or_redirect_uri_is_shown_before_any_sign_in(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, app: App, change: dict[str, str]
) -> None:
    person = Browser(TestClient(http.app), tenant.slug, make_admin(runtime, tenant.slug))
    _, challenge = pkce()
    params = {**request_params(app, challenge), **change}
    r = person.authorize({k: v for k, v in params.items() if v})
    assert r.status_code == 400, r.text
    assert "location" not in r.headers
    assert "not valid" in r.text and "csrf_token" not in r.text  # no sign-in form
    # Nor is a tenant nobody has.
    r = person.authorize(request_params(app, challenge), slug="no-such-tenant")
    assert r.status_code == 404 and "location" not in r.headers
    # A good client's request still asks the person to sign in first.
    r = person.authorize(request_params(app, challenge, scope="no-such-scope"))
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/sign-in?next=")
    assert _grants(runtime, tenant) == 0


def test_another_tenants_client_is_refused_on_the_page(
    runtime: Runtime,
    http: TestClient,
    tenant: TenantHandle,
    other_tenant: TenantHandle,
    browser: Browser,
) -> None:
    foreign = register_app(runtime, other_tenant.slug)
    _, challenge = pkce()
    stranger = Browser(TestClient(http.app), tenant.slug, "nobody")
    r = stranger.authorize(request_params(foreign, challenge))
    assert r.status_code == 400 and "location" not in r.headers  # before any sign-in
    r = browser.authorize(request_params(foreign, challenge))
    assert r.status_code == 400 and "location" not in r.headers
    # Nor may an admin of one tenant consent on another tenant's authorization endpoint.
    r = browser.authorize(request_params(foreign, challenge), slug=other_tenant.slug)
    assert r.status_code == 403 and "location" not in r.headers
    assert _grants(runtime, tenant) == 0 and _grants(runtime, other_tenant) == 0


def test_a_consent_post_without_the_sessions_csrf_token_is_refused(
    runtime: Runtime, tenant: TenantHandle, browser: Browser, app: App
) -> None:
    _, challenge = pkce()
    assert browser.authorize(request_params(app, challenge)).status_code == 200
    r = browser.http.post(
        f"/tenants/{tenant.slug}/authorize",
        params=request_params(app, challenge),
        data={"decision": "allow", "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "location" not in r.headers
    assert _grants(runtime, tenant) == 0


# ---- refused: back to the app with an error -----------------------------------------------


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "user:read no:such"}, "invalid_scope"),
    ],
)
def test_a_bad_request_goes_back_to_the_app_with_its_error(
    runtime: Runtime,
    tenant: TenantHandle,
    browser: Browser,
    app: App,
    change: dict[str, str],
    error: str,
) -> None:
    _, challenge = pkce()
    params = {**request_params(app, challenge), **change}
    target, query = redirected_to(browser.authorize({k: v for k, v in params.items() if v}))
    assert target == app.redirect_uri
    assert query["error"] == error and query["state"] == "st-123"
    assert _grants(runtime, tenant) == 0


def test_a_scope_the_admin_does_not_hold_is_refused(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, app: App
) -> None:
    reader = Browser(
        TestClient(http.app), tenant.slug, make_admin(runtime, tenant.slug, ["user:read"])
    )
    assert reader.sign_in().status_code == 303
    _, challenge = pkce()
    target, query = redirected_to(
        reader.authorize(request_params(app, challenge, scope="user:read user:write"))
    )
    assert target == app.redirect_uri
    assert query["error"] == "invalid_scope" and "user:write" in query["error_description"]
    # Without a scope, the app is offered what both it and the admin hold, and no more.
    verifier, challenge = pkce()
    params = request_params(app, challenge)
    del params["scope"]
    page = reader.authorize(params)
    assert page.status_code == 200 and "user:write" not in page.text
    _, query = redirected_to(reader.answer())
    body = redeem(http, tenant.slug, app, query["code"], verifier).json()
    assert body["scope"] == "user:read"


def test_a_scope_the_app_does_not_hold_is_refused(
    runtime: Runtime, tenant: TenantHandle, browser: Browser
) -> None:
    app = register_app(runtime, tenant.slug, scopes=["user:read"])
    _, challenge = pkce()
    _, query = redirected_to(browser.authorize(request_params(app, challenge, scope="user:write")))
    assert query["error"] == "invalid_scope"
    assert _grants(runtime, tenant) == 0


# ---- the token endpoint -------------------------------------------------------------------


def test_the_code_verifier_must_match(
    http: TestClient, tenant: TenantHandle, browser: Browser, app: App
) -> None:
    verifier, challenge = pkce()
    code = consent(browser, app, challenge)["code"]
    missing = token_request(
        http,
        tenant.slug,
        app,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri},
    )
    _oauth_error(missing, 400, "invalid_request")
    other_verifier, _ = pkce()
    _oauth_error(redeem(http, tenant.slug, app, code, other_verifier), 400, "invalid_grant")
    _oauth_error(redeem(http, tenant.slug, app, code, "short"), 400, "invalid_request")
    # Nothing was issued, and the code is still good for the one who holds the verifier.
    assert redeem(http, tenant.slug, app, code, verifier).status_code == 200


def test_the_redirect_uri_must_be_the_requests_own(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, browser: Browser
) -> None:
    app = register_app(
        runtime,
        tenant.slug,
        redirect_uris=["https://app.example/callback", "https://app.example/other"],
    )
    verifier, challenge = pkce()
    code = consent(browser, app, challenge)["code"]
    for uri in ("https://app.example/other", "https://app.example/callbacK", ""):
        data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
        r = token_request(http, tenant.slug, app, {**data, "redirect_uri": uri} if uri else data)
        _oauth_error(r, 400, "invalid_grant")


def test_a_code_used_twice_revokes_what_it_issued(
    http: TestClient, tenant: TenantHandle, browser: Browser, app: App
) -> None:
    verifier, challenge = pkce()
    code = consent(browser, app, challenge)["code"]
    first = redeem(http, tenant.slug, app, code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert _users(http, tokens["access_token"]) == 200

    _oauth_error(redeem(http, tenant.slug, app, code, verifier), 400, "invalid_grant")
    assert _refused_soon(http, tokens["access_token"])
    _oauth_error(refresh(http, tenant.slug, app, tokens["refresh_token"]), 400, "invalid_grant")


def test_an_expired_code_is_refused(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, browser: Browser, app: App
) -> None:
    verifier, challenge = pkce()
    code = consent(browser, app, challenge)["code"]
    with runtime.db.writer.begin() as session:
        session.execute(
            update(OAuthGrant)
            .where(OAuthGrant.tenant_id == tenant.id)
            .values(code_expires_at=utcnow() - timedelta(seconds=1))
        )
    _oauth_error(redeem(http, tenant.slug, app, code, verifier), 400, "invalid_grant")


def test_a_code_is_the_apps_own(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, browser: Browser, app: App
) -> None:
    other = register_app(runtime, tenant.slug, redirect_uris=[app.redirect_uri])
    verifier, challenge = pkce()
    code = consent(browser, app, challenge)["code"]
    _oauth_error(redeem(http, tenant.slug, other, code, verifier), 400, "invalid_grant")
    assert redeem(http, tenant.slug, app, code, verifier).status_code == 200


def test_a_replayed_refresh_token_revokes_the_whole_family(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, browser: Browser, app: App
) -> None:
    first = _tokens(http, tenant, browser, app)
    second = refresh(http, tenant.slug, app, first["refresh_token"]).json()
    third = refresh(http, tenant.slug, app, second["refresh_token"]).json()
    assert _users(http, third["access_token"]) == 200

    # The first refresh token was rotated away: presented again, it ends everything.
    _oauth_error(refresh(http, tenant.slug, app, first["refresh_token"]), 400, "invalid_grant")
    _oauth_error(refresh(http, tenant.slug, app, third["refresh_token"]), 400, "invalid_grant")
    for tokens in (first, second, third):
        assert _refused_soon(http, tokens["access_token"])
    with runtime.db.reader() as session:
        live = session.scalar(
            select(func.count())
            .select_from(OAuthRefreshToken)
            .join(OAuthGrant, OAuthGrant.id == OAuthRefreshToken.grant_id)
            .where(OAuthGrant.tenant_id == tenant.id, OAuthGrant.revoked_at.is_(None))
        )
    assert live == 0


def test_a_refresh_cannot_widen_the_scope(
    http: TestClient, tenant: TenantHandle, browser: Browser, app: App
) -> None:
    first = _tokens(http, tenant, browser, app, scope="user:read")
    r = token_request(
        http,
        tenant.slug,
        app,
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "admin"},
    )
    _oauth_error(r, 400, "invalid_scope")


def test_only_the_codes_and_tokens_hmacs_are_stored(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, browser: Browser, app: App
) -> None:
    tokens = _tokens(http, tenant, browser, app)
    with runtime.db.reader() as session:
        stored = [
            *session.scalars(select(OAuthGrant.code_hash).where(OAuthGrant.tenant_id == tenant.id)),
            *session.scalars(
                select(OAuthRefreshToken.token_hash).where(OAuthRefreshToken.tenant_id == tenant.id)
            ),
        ]
    assert stored and all(len(h) == 64 and not h.startswith("r") for h in stored)
    assert tokens["refresh_token"] not in stored


def test_an_admin_ending_their_sessions_ends_the_apps_tokens(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, browser: Browser, app: App
) -> None:
    tokens = _tokens(http, tenant, browser, app)
    assert _users(http, tokens["access_token"]) == 200
    with runtime.db.writer.begin() as session:  # logout everywhere, as /api/v1 offers
        admin = admins_repo.find_by_username(session, browser.username)
        assert admin is not None
        admins_service.logout(session, admin)
    assert _refused_soon(http, tokens["access_token"])
    _oauth_error(refresh(http, tenant.slug, app, tokens["refresh_token"]), 400, "invalid_grant")


# ---- revocation (RFC 7009) ----------------------------------------------------------------


@pytest.mark.parametrize("which", ["refresh_token", "access_token"])
def test_revoking_a_token_ends_its_grant(
    http: TestClient, tenant: TenantHandle, browser: Browser, app: App, which: str
) -> None:
    tokens = _tokens(http, tenant, browser, app)
    r = http.post(
        f"/tenants/{tenant.slug}/connect/revoke",
        data={"token": tokens[which], "token_type_hint": which, "client_id": app.client_id},
    )
    assert r.status_code == 200, r.text
    assert _refused_soon(http, tokens["access_token"])
    _oauth_error(refresh(http, tenant.slug, app, tokens["refresh_token"]), 400, "invalid_grant")


def test_revoking_needs_the_client_and_its_own_token(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, browser: Browser, app: App
) -> None:
    tokens = _tokens(http, tenant, browser, app)
    url = f"/tenants/{tenant.slug}/connect/revoke"
    # An unknown token is answered 200, as RFC 7009 §2.2 says.
    assert (
        http.post(url, data={"token": "rrt_nothing", "client_id": app.client_id}).status_code == 200
    )
    _oauth_error(http.post(url, data={"token": tokens["refresh_token"]}), 401, "invalid_client")
    other = register_app(runtime, tenant.slug)
    r = http.post(url, data={"token": tokens["refresh_token"], "client_id": other.client_id})
    assert r.status_code == 400, r.text
    assert _users(http, tokens["access_token"]) == 200
