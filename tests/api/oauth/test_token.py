"""OAuth 2.0 client credentials (RFC 6749 §4.4): the token endpoint, JWKS and metadata.

Every token is checked the way an outside resource server would: verified with PyJWT against
the keys the tenant publishes, not with rosterd's own signer.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

import jwt
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, text

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.auth.secrets import token_hash
from rosterd.auth.tokens import AUDIENCE
from rosterd.models import OAuthClient
from rosterd.runtime import Runtime
from tests.factories import V2, TenantHandle, eventually

GRANT = {"grant_type": "client_credentials"}


# ---- helpers -------------------------------------------------------------------------------


def _token_url(slug: str) -> str:
    return f"/tenants/{slug}/connect/token"


def _issuer(slug: str) -> str:
    # conftest's settings serve as http://testserver, the TestClient's own base URL.
    return f"http://testserver/tenants/{slug}"


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _form_basic(client_id: str, secret: str) -> dict[str, str]:
    """HTTP Basic as RFC 6749 §2.3.1 has it: each part form-urlencoded first."""
    return _basic(quote_plus(client_id, safe=""), quote_plus(secret, safe=""))


def _post_token(
    http: TestClient,
    slug: str,
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return http.post(_token_url(slug), data=data if data is not None else {}, headers=headers)


def _body_token(http: TestClient, slug: str, client_id: str, secret: str, **extra: str) -> Response:
    data = {**GRANT, "client_id": client_id, "client_secret": secret, **extra}
    return _post_token(http, slug, data)


def _ok(r: Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "no-store" in r.headers["cache-control"]
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}, body
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert isinstance(body["access_token"], str) and body["access_token"]
    return dict(body)


def _oauth_error(r: Response, status: int, error: str) -> dict[str, Any]:
    """RFC 6749 §5.2: ``{"error", "error_description"}``, never cached."""
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error, body
    assert set(body) <= {"error", "error_description", "error_uri"}, body
    assert isinstance(body.get("error_description", ""), str)
    assert "no-store" in r.headers["cache-control"]
    if status == 401:
        assert r.headers["www-authenticate"].lower().startswith("basic"), r.headers
        assert "access_token" not in body
    return dict(body)


def _jwks(http: TestClient, slug: str) -> dict[str, jwt.PyJWK]:
    r = http.get(f"/tenants/{slug}/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    keys = r.json()["keys"]
    assert keys
    out = {}
    for jwk in keys:
        assert jwk["kty"] == "RSA"
        assert "d" not in jwk and "p" not in jwk, "the JWKS must not publish private key parts"
        out[jwk["kid"]] = jwt.PyJWK(jwk)
    return out


def _verify(http: TestClient, slug: str, token: str) -> dict[str, Any]:
    """The token's claims, verified against the tenant's published JWKS only."""
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    keys = _jwks(http, slug)
    assert header["kid"] in keys, (header, list(keys))
    claims = jwt.decode(
        token,
        keys[header["kid"]],
        algorithms=["RS256"],
        audience=AUDIENCE,
        issuer=_issuer(slug),
        options={"require": ["iss", "aud", "sub", "exp", "iat"]},
    )
    return dict(claims)


# ---- issuing tokens ------------------------------------------------------------------------


def test_secret_in_body_issues_a_verifiable_token(http: TestClient, tenant: TenantHandle) -> None:
    cid, secret = tenant.client_credentials(["user:read", "group:read"])
    body = _ok(_body_token(http, tenant.slug, cid, secret))
    assert body["scope"].split() == ["group:read", "user:read"]

    claims = _verify(http, tenant.slug, body["access_token"])
    assert claims["iss"] == f"http://testserver/tenants/{tenant.slug}"
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == cid
    assert claims["tid"] == str(tenant.id)
    assert sorted(claims["scope"].split()) == ["group:read", "user:read"]
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert jwt.get_unverified_header(body["access_token"]).get("typ") == "at+jwt"


def test_expires_in_is_the_configured_lifetime(
    http: TestClient, tenant: TenantHandle, runtime: Runtime
) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    body = _ok(_body_token(http, tenant.slug, cid, secret))
    assert body["expires_in"] == runtime.settings.access_token_ttl_seconds


def test_http_basic_issues_a_token(http: TestClient, tenant: TenantHandle) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    body = _ok(_post_token(http, tenant.slug, GRANT, headers=_basic(cid, secret)))
    claims = _verify(http, tenant.slug, body["access_token"])
    assert claims["sub"] == cid
    assert claims["scope"] == "user:read"


def test_http_basic_parts_are_form_urldecoded(http: TestClient, tenant: TenantHandle) -> None:
    """RFC 6749 §2.3.1: percent-encoded parts are decoded, even where encoding was optional."""
    cid, secret = tenant.client_credentials(["user:read"])

    def encode_all(s: str) -> str:
        return "".join(f"%{b:02X}" for b in s.encode())

    body = _ok(
        _post_token(http, tenant.slug, GRANT, headers=_basic(encode_all(cid), encode_all(secret)))
    )
    assert _verify(http, tenant.slug, body["access_token"])["sub"] == cid


def test_http_basic_decodes_reserved_characters(
    http: TestClient, tenant: TenantHandle, runtime: Runtime
) -> None:
    """A client id and secret with ':', '+', '%' and spaces survive §2.3.1 encoding.

    Generated credentials never hold these, so this client is written to the store directly.
    """
    cid = f"legacy client:{secrets.token_hex(4)}+x"
    secret = "s3cr:t with spaces+plus%25"
    with runtime.db.writer.begin() as session:
        session.add(
            OAuthClient(
                tenant_id=tenant.id,
                client_id=cid,
                secret_hash=token_hash(runtime.hmac_key, secret),
                name="legacy",
                scopes=["user:read"],
            )
        )
    body = _ok(_post_token(http, tenant.slug, GRANT, headers=_form_basic(cid, secret)))
    assert _verify(http, tenant.slug, body["access_token"])["sub"] == cid
    # The same credentials in the form body are decoded by the form parser.
    assert _ok(_body_token(http, tenant.slug, cid, secret))["scope"] == "user:read"
    # Sent unencoded, the ':' inside the client id splits it in the wrong place.
    _oauth_error(
        _post_token(http, tenant.slug, GRANT, headers=_basic(cid, secret)), 401, "invalid_client"
    )


def test_each_token_is_distinct(http: TestClient, tenant: TenantHandle) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    first = _ok(_body_token(http, tenant.slug, cid, secret))["access_token"]
    second = _ok(_body_token(http, tenant.slug, cid, secret))["access_token"]
    assert first != second
    assert _verify(http, tenant.slug, first)["jti"] != _verify(http, tenant.slug, second)["jti"]


def test_tampered_token_fails_verification_with_the_jwks(
    http: TestClient, tenant: TenantHandle
) -> None:
    """The JWKS check above can fail: a token whose claims were edited does not verify."""
    cid, secret = tenant.client_credentials(["user:read"])
    token = _ok(_body_token(http, tenant.slug, cid, secret))["access_token"]
    head, _payload, sig = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["scope"] = "admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        _verify(http, tenant.slug, f"{head}.{forged_payload}.{sig}")
    # And rosterd itself refuses it.
    r = http.get(f"{V2}/users", headers={"Authorization": f"Bearer {head}.{forged_payload}.{sig}"})
    assert r.status_code == 401, r.text


def test_last_used_at_is_recorded(http: TestClient, tenant: TenantHandle, runtime: Runtime) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    with runtime.db.reader() as session:
        client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == cid))
        assert client is not None and client.last_used_at is None
    _ok(_body_token(http, tenant.slug, cid, secret))

    def last_use() -> datetime | None:
        with runtime.db.reader() as session:
            return session.scalar(
                select(OAuthClient.last_used_at).where(OAuthClient.client_id == cid)
            )

    eventually(last_use)


# ---- scopes --------------------------------------------------------------------------------


def test_requesting_a_subset_narrows_the_token(http: TestClient, tenant: TenantHandle) -> None:
    cid, secret = tenant.client_credentials(["user:read", "user:write", "group:read"])
    body = _ok(_body_token(http, tenant.slug, cid, secret, scope="user:read"))
    assert body["scope"] == "user:read"
    claims = _verify(http, tenant.slug, body["access_token"])
    assert claims["scope"] == "user:read"

    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert http.get(f"{V2}/users", headers=bearer).status_code == 200
    r = http.post(
        f"{V2}/users",
        json={"email": f"n-{secrets.token_hex(4)}@example.com", "firstName": "N", "lastName": "N"},
        headers=bearer,
    )
    assert r.status_code == 403, r.text
    assert http.get(f"{V2}/groups", headers=bearer).status_code == 403


def test_requesting_several_scopes_space_separated(http: TestClient, tenant: TenantHandle) -> None:
    cid, secret = tenant.client_credentials(["user:read", "user:write", "group:read"])
    body = _ok(_body_token(http, tenant.slug, cid, secret, scope="user:write  group:read"))
    assert sorted(body["scope"].split()) == ["group:read", "user:write"]
    claims = _verify(http, tenant.slug, body["access_token"])
    assert sorted(claims["scope"].split()) == ["group:read", "user:write"]


def test_admin_client_may_ask_for_any_single_scope(http: TestClient, tenant: TenantHandle) -> None:
    cid, secret = tenant.client_credentials(["admin"])
    body = _ok(_body_token(http, tenant.slug, cid, secret, scope="team:read"))
    assert body["scope"] == "team:read"
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert http.get(f"{V2}/teams", headers=bearer).status_code == 200
    assert http.get(f"{V2}/users", headers=bearer).status_code == 403


def test_no_scope_parameter_grants_everything_the_client_holds(
    http: TestClient, tenant: TenantHandle
) -> None:
    cid, secret = tenant.client_credentials(list(ALL_SCOPES))
    body = _ok(_body_token(http, tenant.slug, cid, secret))
    assert sorted(body["scope"].split()) == sorted(ALL_SCOPES)


@pytest.mark.parametrize(
    "requested",
    ["user:write", "user:read user:write", "admin", "no-such-scope", "user:read no-such-scope"],
)
def test_scope_the_client_lacks_is_invalid_scope(
    http: TestClient, tenant: TenantHandle, requested: str
) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    _oauth_error(_body_token(http, tenant.slug, cid, secret, scope=requested), 400, "invalid_scope")


def test_unknown_scope_is_invalid_scope_even_for_admin(
    http: TestClient, tenant: TenantHandle
) -> None:
    cid, secret = tenant.client_credentials(["admin"])
    _oauth_error(
        _body_token(http, tenant.slug, cid, secret, scope="no-such-scope"), 400, "invalid_scope"
    )


# ---- client authentication failures --------------------------------------------------------


def test_wrong_secret_is_invalid_client(http: TestClient, tenant: TenantHandle) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    _oauth_error(_body_token(http, tenant.slug, cid, secret + "x"), 401, "invalid_client")
    _oauth_error(
        _post_token(http, tenant.slug, GRANT, headers=_basic(cid, "rcs_wrong")),
        401,
        "invalid_client",
    )


def test_another_clients_secret_is_invalid_client(http: TestClient, tenant: TenantHandle) -> None:
    cid, _ = tenant.client_credentials(["user:read"])
    _, other_secret = tenant.client_credentials(["user:read"])
    _oauth_error(_body_token(http, tenant.slug, cid, other_secret), 401, "invalid_client")


def test_unknown_client_is_invalid_client(http: TestClient, tenant: TenantHandle) -> None:
    _, secret = tenant.client_credentials(["user:read"])
    r = _body_token(http, tenant.slug, "rcl_" + secrets.token_urlsafe(12), secret)
    _oauth_error(r, 401, "invalid_client")


def test_unknown_tenant_is_invalid_client(http: TestClient, tenant: TenantHandle) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    for slug in (f"nope-{secrets.token_hex(4)}", "Not A Slug"):
        _oauth_error(_body_token(http, quote(slug), cid, secret), 401, "invalid_client")
        _oauth_error(
            _post_token(http, quote(slug), GRANT, headers=_basic(cid, secret)),
            401,
            "invalid_client",
        )


def test_client_of_another_tenant_is_invalid_client(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    cid, secret = other_tenant.client_credentials(["admin"])
    _oauth_error(_body_token(http, tenant.slug, cid, secret), 401, "invalid_client")
    _oauth_error(
        _post_token(http, tenant.slug, GRANT, headers=_basic(cid, secret)), 401, "invalid_client"
    )
    # On its own tenant the same credentials work.
    _ok(_body_token(http, other_tenant.slug, cid, secret))


def test_revoked_client_is_invalid_client(
    http: TestClient, tenant: TenantHandle, runtime: Runtime
) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    _ok(_body_token(http, tenant.slug, cid, secret))
    with runtime.db.writer.begin() as session:
        client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == cid))
        assert client is not None
        client.revoked_at = datetime.now(UTC)
    _oauth_error(_body_token(http, tenant.slug, cid, secret), 401, "invalid_client")


@pytest.mark.parametrize(
    "data",
    [
        {"client_id": "__cid__"},
        {"client_secret": "__secret__"},
        {"client_id": "__cid__", "client_secret": ""},
        {},
    ],
    ids=["no-secret", "no-client-id", "empty-secret", "no-credentials"],
)
def test_missing_client_credentials_are_invalid_client(
    http: TestClient, tenant: TenantHandle, data: dict[str, str]
) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    form = {k: v.replace("__cid__", cid).replace("__secret__", secret) for k, v in data.items()}
    _oauth_error(_post_token(http, tenant.slug, {**GRANT, **form}), 401, "invalid_client")


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xfd").decode(),
        "Basic ",
    ],
    ids=["not-base64", "no-colon", "not-utf8", "empty"],
)
def test_malformed_basic_is_invalid_client(
    http: TestClient, tenant: TenantHandle, authorization: str
) -> None:
    r = _post_token(http, tenant.slug, GRANT, headers={"Authorization": authorization})
    _oauth_error(r, 401, "invalid_client")


def test_basic_and_body_credentials_together_are_refused(
    http: TestClient, tenant: TenantHandle
) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    for extra in (
        {"client_id": cid, "client_secret": secret},
        {"client_secret": secret},
        {"client_id": cid},
    ):
        r = _post_token(http, tenant.slug, {**GRANT, **extra}, headers=_basic(cid, secret))
        _oauth_error(r, 400, "invalid_request")


# ---- malformed requests --------------------------------------------------------------------


@pytest.mark.parametrize("grant_type", ["password", "implicit", "x"])
def test_other_grant_types_are_unsupported(
    http: TestClient, tenant: TenantHandle, grant_type: str
) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    r = _post_token(
        http,
        tenant.slug,
        {
            "grant_type": grant_type,
            "client_id": cid,
            "client_secret": secret,
            "username": "u",
            "password": "p",
        },
    )
    _oauth_error(r, 400, "unsupported_grant_type")


@pytest.mark.parametrize("grant_type", ["authorization_code", "refresh_token"])
def test_a_client_credentials_client_may_not_use_the_other_grants(
    http: TestClient, tenant: TenantHandle, grant_type: str
) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    data = {"grant_type": grant_type, "code": "rac_x", "refresh_token": "rrt_x"}
    _oauth_error(
        _post_token(http, tenant.slug, data, _basic(cid, secret)), 400, "unauthorized_client"
    )


def test_missing_grant_type_is_invalid_request(http: TestClient, tenant: TenantHandle) -> None:
    cid, secret = tenant.client_credentials(["user:read"])
    body = _oauth_error(
        _post_token(http, tenant.slug, {"client_id": cid, "client_secret": secret}),
        400,
        "invalid_request",
    )
    assert "grant_type" in body["error_description"]
    _oauth_error(
        _post_token(http, tenant.slug, {}, headers=_basic(cid, secret)), 400, "invalid_request"
    )


def test_json_body_is_invalid_request(http: TestClient, tenant: TenantHandle) -> None:
    """The token endpoint takes application/x-www-form-urlencoded only (RFC 6749 §4.4.2)."""
    cid, secret = tenant.client_credentials(["user:read"])
    r = http.post(
        _token_url(tenant.slug),
        json={**GRANT, "client_id": cid, "client_secret": secret},
    )
    _oauth_error(r, 400, "invalid_request")


# ---- tenant isolation through the token ----------------------------------------------------


def test_token_only_sees_its_own_tenants_users(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine = {tenant.user()["id"] for _ in range(2)}
    theirs = other_tenant.user()

    cid, secret = tenant.client_credentials(["user:read", "user:write"])
    token = _ok(_body_token(http, tenant.slug, cid, secret))["access_token"]
    assert _verify(http, tenant.slug, token)["tid"] == str(tenant.id)
    bearer = {"Authorization": f"Bearer {token}"}

    r = http.get(f"{V2}/users", params={"limit": 100}, headers=bearer)
    assert r.status_code == 200, r.text
    page = r.json()
    assert {u["id"] for u in page["items"]} == mine
    assert page["totalCount"] == len(mine)
    r = http.get(f"{V2}/users", params={"email": theirs["email"]}, headers=bearer)
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []

    assert http.get(f"{V2}/users/{theirs['id']}", headers=bearer).status_code == 404
    r = http.patch(f"{V2}/users/{theirs['id']}", json={"firstName": "Mallory"}, headers=bearer)
    assert r.status_code == 404, r.text
    assert http.delete(f"{V2}/users/{theirs['id']}", headers=bearer).status_code == 404

    # The other tenant's user is untouched.
    r = http.get(f"{V2}/users/{theirs['id']}", headers=other_tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["firstName"] == theirs["firstName"]

    # A user made with this token lands in this tenant only.
    r = http.post(
        f"{V2}/users",
        json={"email": f"n-{secrets.token_hex(4)}@example.com", "firstName": "N", "lastName": "N"},
        headers=bearer,
    )
    assert r.status_code == 201, r.text
    created = r.json()["id"]
    assert http.get(f"{V2}/users/{created}", headers=other_tenant.headers()).status_code == 404


# ---- keys and metadata ---------------------------------------------------------------------


def test_jwks_of_unknown_tenant_is_404(http: TestClient) -> None:
    r = http.get(f"/tenants/nope-{secrets.token_hex(4)}/.well-known/jwks.json")
    assert r.status_code == 404, r.text


def test_jwks_keys_are_public_rsa_signing_keys(http: TestClient, tenant: TenantHandle) -> None:
    r = http.get(f"/tenants/{tenant.slug}/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    for jwk in r.json()["keys"]:
        assert jwk["kty"] == "RSA"
        assert jwk["use"] == "sig"
        assert jwk["alg"] == "RS256"
        assert jwk["kid"]
        assert {"n", "e"} <= set(jwk)
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_authorization_server_metadata(http: TestClient, tenant: TenantHandle) -> None:
    r = http.get(f"/tenants/{tenant.slug}/.well-known/oauth-authorization-server")
    assert r.status_code == 200, r.text
    meta = r.json()
    issuer = f"http://testserver/tenants/{tenant.slug}"
    assert meta["issuer"] == issuer
    assert meta["token_endpoint"] == f"{issuer}/connect/token"
    assert meta["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert set(meta["grant_types_supported"]) == {
        "client_credentials",
        "authorization_code",
        "refresh_token",
    }
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_endpoint"] == f"{issuer}/authorize"
    assert meta["revocation_endpoint"] == f"{issuer}/connect/revoke"
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert set(meta["scopes_supported"]) == set(ALL_SCOPES)

    # The advertised endpoints are the ones that work, and the issuer is the tokens' iss.
    base = str(http.base_url).rstrip("/")
    jwks = http.get(meta["jwks_uri"].removeprefix(base))
    assert jwks.status_code == 200, jwks.text
    cid, secret = tenant.client_credentials(["user:read"])
    r = http.post(
        meta["token_endpoint"].removeprefix(base),
        data={**GRANT, "client_id": cid, "client_secret": secret},
    )
    token = _ok(r)["access_token"]
    assert _verify(http, tenant.slug, token)["iss"] == meta["issuer"]


def test_metadata_of_unknown_tenant_is_404(http: TestClient) -> None:
    r = http.get(f"/tenants/nope-{secrets.token_hex(4)}/.well-known/oauth-authorization-server")
    assert r.status_code == 404, r.text


# ---- secrets at rest -----------------------------------------------------------------------


def test_client_secret_is_stored_only_as_a_hash(tenant: TenantHandle, runtime: Runtime) -> None:
    cid, secret = tenant.client_credentials(["user:read", "user:write"])
    random_part = secret.split("_", 1)[1]
    with runtime.db.reader() as session:
        row = session.execute(
            text("SELECT * FROM oauth_clients WHERE client_id = :cid"), {"cid": cid}
        ).one()
    values = row._asdict()
    for column, value in values.items():
        rendered = value.hex() if isinstance(value, bytes | bytearray) else str(value)
        assert secret not in rendered, f"column {column} holds the client secret"
        assert random_part not in rendered, f"column {column} holds the client secret"
    # What is kept is the keyed hash, which alone cannot be turned back into a token request.
    assert values["secret_hash"] == token_hash(runtime.hmac_key, secret)
    assert values["secret_hash"] != token_hash(b"another key", secret)
