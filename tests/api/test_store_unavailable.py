"""A PostgreSQL server refusing connections (its connection limit) is answered 503 with
Retry-After on every surface, by the point reads (asyncpg) and the rest (psycopg) alike,
not 500; and the service comes back by itself once connections are admitted again."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from rosterd.api.app import create_app
from rosterd.config import Settings
from rosterd.runtime import Runtime, open_runtime
from tests.backends import POSTGRES_URL, postgres_url
from tests.factories import V2, make_tenant

SECRET = "store-unavailable-test-secret"


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[Runtime, Runtime, str]]:
    """A store migrated by the superuser, and a runtime on it as a role of its own whose
    connection limit the test sets."""
    role = f"rosterd_limited_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with postgres_url() as url:
        owner = open_runtime(Settings(database_url=url, data_dir=tmp_path / "a", secret_key=SECRET))
        schema = make_url(url).query["options"].removeprefix("-csearch_path=")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
            conn.execute(text(f'GRANT ALL ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"'))
            conn.execute(text(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"'))
        as_role = make_url(url).set(username=role).render_as_string(hide_password=False)
        runtime = open_runtime(
            Settings(database_url=as_role, data_dir=tmp_path / "b", secret_key=SECRET),
            create=False,
        )
        try:
            yield owner, runtime, role
        finally:
            runtime.close()
            owner.close()
            with admin.connect() as conn:
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))
    admin.dispose()


def _limit(role: str, connections: int) -> None:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER ROLE "{role}" CONNECTION LIMIT {connections}'))
    admin.dispose()


def test_a_store_at_its_connection_limit_answers_503_then_recovers(
    limited: tuple[Runtime, Runtime, str],
) -> None:
    owner, runtime, role = limited
    with TestClient(create_app(owner)) as owner_http:
        tenant = make_tenant(owner, owner_http)
        token = tenant.token()
        auth = {"Authorization": f"Bearer {token}"}
        scim = tenant.scim_headers()
        created = owner_http.post(
            f"{V2}/users",
            json={"email": "ada@example.com", "firstName": "Ada", "lastName": "L"},
            headers=auth,
        )
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]

    # No connection kept from opening; none admitted from now on.
    runtime.db.dispose()
    _limit(role, 0)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as http:
        for method, path in [
            ("GET", f"{V2}/users/{user_id}"),  # a point read, on asyncpg
            ("GET", f"{V2}/users?limit=5"),  # a listing, on psycopg
            ("PATCH", f"{V2}/users/{user_id}"),  # a write
        ]:
            body = {"title": "Countess"} if method == "PATCH" else None
            r = http.request(method, path, headers=auth, json=body)
            assert r.status_code == 503, (method, path, r.status_code, r.text)
            assert r.json()["error"]["code"] == "unavailable", r.text
            assert int(r.headers["Retry-After"]) >= 1
        r = http.get(f"/scim/v2/Users/{user_id}", headers=scim)
        assert r.status_code == 503, r.text
        assert r.json()["status"] == "503", r.text
        assert int(r.headers["Retry-After"]) >= 1

        _limit(role, -1)
        r = http.get(f"{V2}/users/{user_id}", headers=auth)
        assert r.status_code == 200, r.text
        r = http.patch(f"{V2}/users/{user_id}", headers=auth, json={"title": "Countess"})
        assert r.status_code == 200, r.text
        assert http.get(f"/scim/v2/Users/{user_id}", headers=scim).status_code == 200
