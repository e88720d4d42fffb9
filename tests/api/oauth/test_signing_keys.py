"""Signing keys at rest and between tenants, on the real store (SQLite and PostgreSQL).

- What the store holds cannot sign a token rosterd accepts: private halves are sealed.
- A tenant's key signs for that tenant only, and only that tenant's JWKS publishes it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import text

from rosterd.api.app import create_app
from rosterd.auth.tokens import AUDIENCE, PublicKey
from rosterd.runtime import Runtime, open_runtime
from rosterd.services.context import Actor
from tests.factories import V2, TenantHandle


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _jwks(http: TestClient, slug: str) -> dict[str, Any]:
    r = http.get(f"/tenants/{slug}/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    return {jwk["kid"]: jwk for jwk in r.json()["keys"]}


def _token(kid: str, private: rsa.RSAPrivateKey, tenant_id: Any, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": "http://testserver",
        "aud": AUDIENCE,
        "sub": "forger",
        "tid": str(tenant_id),
        "scope": "admin",
        "iat": now,
        "exp": now + 300,
        **claims,
    }
    return jwt.encode(body, private, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})


# ---- nothing in the store signs ------------------------------------------------------------


def _private_keys_in(value: Any) -> list[rsa.RSAPrivateKey]:
    """Every RSA private key that can be read out of one column value, however it is kept:
    PEM, DER, a JWK with its private members, or any of these base64-encoded."""
    found: list[rsa.RSAPrivateKey] = []

    def try_bytes(data: bytes) -> None:
        for load in (serialization.load_pem_private_key, serialization.load_der_private_key):
            try:
                key = load(data, password=None)
            except (ValueError, TypeError):
                continue
            if isinstance(key, rsa.RSAPrivateKey):
                found.append(key)

    def try_jwk(data: Any) -> None:
        try:
            key = RSAAlgorithm.from_jwk(data)
        except (jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            return
        if isinstance(key, rsa.RSAPrivateKey):
            found.append(key)

    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, dict):
        try_jwk(value)
    elif isinstance(value, bytes):
        try_bytes(value)
        try_bytes(value[1:])  # past a version byte, say
    elif isinstance(value, str):
        try_bytes(value.encode())
        with contextlib.suppress(ValueError):
            try_jwk(json.loads(value))
        with contextlib.suppress(binascii.Error, ValueError):
            try_bytes(base64.b64decode(value, validate=True))
    return found


def test_the_key_finder_finds_keys_kept_in_the_clear() -> None:
    """The check below can fail: a key stored in any usual form is found."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for form in (
        pem.decode(),
        pem,
        der,
        base64.b64encode(der).decode(),
        RSAAlgorithm.to_jwk(private),
        RSAAlgorithm.to_jwk(private, as_dict=True),
    ):
        assert len(_private_keys_in(form)) == 1, type(form)


def test_the_store_holds_no_usable_private_key(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    token = tenant.token()  # the tenant's first key is made now
    assert http.get(f"{V2}/users", headers=tenant.headers()).status_code == 200
    actor = Actor(tenant_id=tenant.id, actor="test", surface="test")
    runtime.rotate_signing_key(tenant.id, actor)  # and a second one

    with runtime.db.reader() as session:
        rows = [r._asdict() for r in session.execute(text("SELECT * FROM signing_keys"))]
    mine = [r for r in rows if str(r["tenant_id"]).replace("-", "") == tenant.id.hex]
    assert len(mine) == 2, mine
    assert _kid(token) in {r["kid"] for r in mine}

    usable = []
    for row in rows:
        for column, value in row.items():
            for private in _private_keys_in(value):
                forged = _token(row["kid"], private, row["tenant_id"] or tenant.id)
                usable.append((row["kid"], column, runtime.signer.verify(forged) is not None))
    assert usable == [], "the store holds private keys in a readable form"
    # What it does hold: the public half in clear, and sealed bytes that are not a key.
    for row in mine:
        jwk = row["public_jwk"]
        jwk = json.loads(jwk) if isinstance(jwk, str) else jwk
        assert {"kty", "n", "e"} <= set(jwk)
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
        assert isinstance(RSAAlgorithm.from_jwk(jwk), rsa.RSAPublicKey)
        assert row["private_key_sealed"]


# ---- one tenant's keys are that tenant's ---------------------------------------------------


def test_a_tenants_token_does_not_verify_with_another_tenants_jwks(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    token = tenant.token("user:read")
    other_tenant.token("user:read")
    mine, theirs = _jwks(http, tenant.slug), _jwks(http, other_tenant.slug)
    assert _kid(token) in mine
    assert _kid(token) not in theirs
    assert not set(mine) & set(theirs)
    for jwk in theirs.values():
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, jwt.PyJWK(jwk), algorithms=["RS256"], audience=AUDIENCE)


def test_a_token_naming_another_tenant_is_refused_whatever_key_signed_it(
    http: TestClient, runtime: Runtime, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    """A forgery with tenant A's own private key (its kid, a valid signature) naming tenant
    B: B's data stays out of reach."""
    other_tenant.user()
    mine = tenant.token()
    kid = _kid(mine)
    private = runtime.keys.private_key(_public_key(runtime, kid))
    # Each names a live client of the tenant it claims, so only the key can refuse it.
    genuine = _token(kid, private, tenant.id, sub=_subject(mine))
    assert http.get(f"{V2}/users", headers=_bearer(genuine)).status_code == 200
    forged = _token(kid, private, other_tenant.id, sub=_subject(other_tenant.token()))
    r = http.get(f"{V2}/users", headers=_bearer(forged))
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthorized"


def _subject(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def _public_key(runtime: Runtime, kid: str) -> PublicKey:
    found = runtime.keys.keys_beside(kid)
    assert found is not None
    return next(k for k in found[1] if k.kid == kid)


def test_a_tenant_that_never_signed_has_no_key_yet(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    """Keys are made when a tenant first signs, not with the tenant."""
    assert runtime.keys.tenant_keys(tenant.id) == []
    legacy = {k.kid for k in runtime.keys.tenant_keys(None)}
    assert set(_jwks(http, tenant.slug)) == legacy
    kid = _kid(tenant.token("user:read"))
    assert set(_jwks(http, tenant.slug)) == {kid} | legacy


# ---- another server secret -----------------------------------------------------------------


def test_with_another_server_secret_signing_fails_loudly_until_a_rotation(
    runtime: Runtime, tenant: TenantHandle, caplog: pytest.LogCaptureFixture
) -> None:
    before = tenant.token("user:read")  # signed by a key sealed with the usual secret
    changed = open_runtime(runtime.settings.model_copy(update={"secret_key": "another secret"}))
    try:
        with TestClient(create_app(changed), raise_server_exceptions=False) as http:
            moved = TenantHandle(runtime=changed, http=http, slug=tenant.slug, id=tenant.id)
            client_id, secret = moved.client_credentials(["user:read"])

            def token() -> Any:
                return http.post(
                    f"/tenants/{tenant.slug}/connect/token",
                    data={"grant_type": "client_credentials"},
                    auth=(client_id, secret),
                )

            with caplog.at_level(logging.ERROR, logger="rosterd.api"):
                r = token()
            assert r.status_code == 500, r.text
            assert r.json()["error"] == "server_error"
            assert "secret" not in r.text  # the details are for the operator
            logged = "\n".join(
                str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info is not None
            )
            assert _kid(before) in logged and "rosterd keys rotate" in logged, logged
            # Tokens signed earlier still verify: verification needs only the public half.
            assert http.get(f"{V2}/users", headers=_bearer(before)).status_code == 200

            changed.rotate_signing_key(tenant.id, Actor(tenant.id, "test", "test"))
            r = token()
            assert r.status_code == 200, r.text
            after = r.json()["access_token"]
            assert http.get(f"{V2}/users", headers=_bearer(after)).status_code == 200
    finally:
        changed.close()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
