"""Migration 0008: the deployment-wide plaintext key becomes a verify-only legacy key.

Tokens signed before the upgrade keep working until they expire; the plaintext private key
is gone from the store (on SQLite, from the file itself).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import Column, MetaData, String, Table, Text, inspect, select, text, update

from rosterd.api.app import create_app
from rosterd.auth.tokens import AUDIENCE
from rosterd.config import Settings
from rosterd.db.engine import make_database
from rosterd.db.migrate import upgrade
from rosterd.models import SigningKey
from rosterd.models.base import UTCDateTime
from rosterd.runtime import Runtime, open_runtime
from tests.api.oauth.test_signing_keys import _private_keys_in
from tests.backends import database_url, sqlite_url
from tests.db.test_migrations import _downgrade
from tests.factories import V2, make_tenant

LEGACY_KID = "0123456789abcdef"

_keys_0007 = Table(
    "signing_keys",
    MetaData(),
    Column("kid", String),
    Column("private_key_pem", Text),
    Column("created_at", UTCDateTime()),
)


@pytest.fixture
def url(backend: str, tmp_path: Path) -> Iterator[str]:
    with database_url(backend, tmp_path) as url:
        yield url


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=url,
        data_dir=tmp_path / "data",
        secret_key="test-secret-key",
        public_url="http://testserver",
    )


def _pem() -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _store_at_0007_with_a_plaintext_key(url: str) -> str:
    """A store as 0007 left it, holding one plaintext PEM; returns the PEM."""
    pem = _pem()
    db = make_database(url, pool_size=2)
    try:
        upgrade(db.write_engine, "0007")
        with db.write_engine.begin() as conn:
            conn.execute(
                _keys_0007.insert().values(
                    kid=LEGACY_KID, private_key_pem=pem, created_at=datetime.now(UTC)
                )
            )
    finally:
        db.dispose()
    return pem


def _old_token(pem: str, tenant_id: Any, client_id: str) -> str:
    """A token as rosterd signed them before the upgrade, for a client that still exists."""
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    now = int(time.time())
    claims = {
        "iss": "http://testserver/tenants/default",
        "aud": AUDIENCE,
        "sub": client_id,
        "tid": str(tenant_id),
        "scope": "admin",
        "iat": now - 60,
        "exp": now + 3000,
        "jti": "old",
    }
    return jwt.encode(
        claims, private, algorithm="RS256", headers={"kid": LEGACY_KID, "typ": "at+jwt"}
    )


def _rows(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.db.reader() as session:
        return [r._asdict() for r in session.execute(text("SELECT * FROM signing_keys"))]


def _jwks_kids(http: TestClient, slug: str) -> list[str]:
    r = http.get(f"/tenants/{slug}/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    return [k["kid"] for k in r.json()["keys"]]


def test_0008_keeps_only_the_public_half_and_old_tokens_verify_until_they_expire(
    url: str, tmp_path: Path
) -> None:
    pem = _store_at_0007_with_a_plaintext_key(url)
    public = serialization.load_pem_private_key(pem.encode(), password=None).public_key()

    runtime = open_runtime(_settings(url, tmp_path))  # upgrades, as a new release would
    try:
        rows = _rows(runtime)
        assert [r["kid"] for r in rows] == [LEGACY_KID]
        row = rows[0]
        assert "private_key_pem" not in row
        assert row["tenant_id"] is None and row["private_key_sealed"] is None
        assert row["retired_at"] is not None
        for value in row.values():
            assert _private_keys_in(value) == []
            assert "PRIVATE KEY" not in str(value)
        with runtime.db.reader() as session:
            key = session.get(SigningKey, LEGACY_KID)
            assert key is not None
            kept = RSAAlgorithm.from_jwk(key.public_jwk)
            assert isinstance(kept, rsa.RSAPublicKey)
            assert kept.public_numbers() == public.public_numbers()

        with TestClient(create_app(runtime)) as http:
            tenant = make_tenant(runtime, http)
            client_id, _ = tenant.client_credentials(["admin"])
            old = _old_token(pem, tenant.id, client_id)
            headers = {"Authorization": f"Bearer {old}"}
            assert http.get(f"{V2}/users", headers=headers).status_code == 200
            # Published for every tenant (it signed every tenant's tokens), never used to sign.
            assert LEGACY_KID in _jwks_kids(http, tenant.slug)
            assert LEGACY_KID in _jwks_kids(http, "default")
            new = tenant.token("user:read")
            assert jwt.get_unverified_header(new)["kid"] != LEGACY_KID

            # Once the longest token lifetime has passed, it verifies nothing.
            with runtime.db.writer.begin() as session:
                session.execute(
                    update(SigningKey)
                    .where(SigningKey.kid == LEGACY_KID)
                    .values(retired_at=datetime.now(UTC) - runtime.keys.grace)
                )
            runtime.signer.refresh()
            assert http.get(f"{V2}/users", headers=headers).status_code == 401
            assert LEGACY_KID not in _jwks_kids(http, tenant.slug)
            assert http.get(f"{V2}/users", headers=tenant.headers("user:read")).status_code == 200
    finally:
        runtime.close()


def test_0008_leaves_no_trace_of_the_plaintext_key_in_the_sqlite_file(tmp_path: Path) -> None:
    """SQLite only: PostgreSQL's files are the server's, and its dead rows go with VACUUM."""
    with sqlite_url(tmp_path) as url:
        pem = _store_at_0007_with_a_plaintext_key(url)
        body = "".join(pem.splitlines()[1:-1])
        needles = [body[i : i + 48].encode() for i in range(0, len(body) - 48, 300)]
        path = Path(url.removeprefix("sqlite:///"))
        assert any(n in path.read_bytes() + _wal(path) for n in needles)  # the check can fail

        open_runtime(_settings(url, tmp_path)).close()
        on_disk = path.read_bytes() + _wal(path)
        assert not [n for n in needles if n in on_disk]


def _wal(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_0008_downgrade_deletes_every_key(url: str, tmp_path: Path) -> None:
    runtime = open_runtime(_settings(url, tmp_path))
    try:
        with TestClient(create_app(runtime)) as http:
            make_tenant(runtime, http).token("user:read")
        assert len(_rows(runtime)) == 1
        _downgrade(runtime.db.write_engine, "0007")
        columns = {c["name"] for c in inspect(runtime.db.write_engine).get_columns("signing_keys")}
        assert columns == {"kid", "private_key_pem", "created_at"}
        with runtime.db.write_engine.connect() as conn:
            assert conn.execute(select(_keys_0007.c.kid)).all() == []
        upgrade(runtime.db.write_engine)
        assert _rows(runtime) == []
    finally:
        runtime.close()
