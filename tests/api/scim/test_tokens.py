"""SCIM bearer tokens: issued by the CLI or the admin API and shown once, kept only as a
hash, listed without the token, revocable, and confined to their tenant; OAuth access
tokens are not SCIM tokens.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from rich.console import Console
from sqlalchemy import event, select, update
from typer.testing import CliRunner

from rosterd.api.app import create_app
from rosterd.auth.secrets import SCIM_TOKEN_PREFIX
from rosterd.cli import output as cli_output
from rosterd.cli.main import app as cli
from rosterd.config import Settings, get_settings
from rosterd.models import AuditEvent, ScimToken
from rosterd.runtime import Runtime, open_runtime
from tests.api.scim.support import ERROR_SCHEMA, SCIM, USER_SCHEMA
from tests.factories import TenantHandle, eventually

USERS = f"{SCIM}/Users"
ADMIN_TOKENS = "/admin/api/scim-tokens"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _scim_401(r: Response) -> dict[str, Any]:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/scim+json")
    assert r.headers["WWW-Authenticate"].lower().startswith("bearer")
    body = r.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == "401"
    assert isinstance(body["detail"], str) and body["detail"].strip()
    return dict(body)


def _refused_within_bound(http: TestClient, token: str, bound: float) -> dict[str, Any]:
    """The 401 a token gets once it is refused, which must be within ``bound`` seconds (each
    node remembers a token's state for scim_token_cache_seconds, plus a read)."""
    started = time.monotonic()
    while (r := http.get(USERS, headers=_bearer(token))).status_code == 200:
        assert time.monotonic() - started < bound, f"still honoured after {bound} s"
        time.sleep(0.05)
    return _scim_401(r)


def _bound(runtime: Runtime) -> float:
    return runtime.settings.scim_token_cache_seconds + 1.0


def _create_user(http: TestClient, token: str, user_name: str) -> dict[str, Any]:
    r = http.post(
        USERS, json={"schemas": [USER_SCHEMA], "userName": user_name}, headers=_bearer(token)
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _user_names(http: TestClient, token: str, **params: Any) -> set[str]:
    r = http.get(USERS, params=params, headers=_bearer(token))
    assert r.status_code == 200, r.text
    return {u["userName"] for u in r.json().get("Resources", [])}


def _no_column_holds(runtime: Runtime, tenant_id: Any, secret: str) -> None:
    """Neither the scim_tokens rows nor the audit trail of the tenant contain ``secret``."""
    random_part = secret.removeprefix(SCIM_TOKEN_PREFIX)
    with runtime.db.reader() as session:
        tables = [ScimToken.__table__, AuditEvent.__table__]
        rows = [
            dict(row)
            for table in tables
            for row in session.execute(
                select(table).where(table.c.tenant_id == tenant_id)
            ).mappings()
        ]
    assert any("token_hash" in row for row in rows)
    for row in rows:
        for column, value in row.items():
            text = json.dumps(value, default=str)
            assert secret not in text, (column, row)
            assert random_part not in text, (column, row)


# ---- the CLI, on a store of its own --------------------------------------------------------


@dataclass
class CliStore:
    env: dict[str, str]
    settings: Settings
    runner: CliRunner

    def invoke(self, *args: str) -> Any:
        get_settings.cache_clear()
        try:
            result = self.runner.invoke(cli, list(args), env=self.env)
        finally:
            get_settings.cache_clear()
        return result

    def ok(self, *args: str) -> str:
        result = self.invoke(*args)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return str(result.stdout)


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliStore]:
    data = tmp_path / "data"
    url = f"sqlite:///{(tmp_path / 'cli.db').as_posix()}"
    env = {"ROSTERD_DATABASE_URL": url, "ROSTERD_DATA_DIR": str(data)}
    # rich sizes its console when the module is imported (80 columns without a terminal):
    # a wide one keeps table cells whole
    monkeypatch.setattr(cli_output, "out", Console(width=250))
    settings = Settings(database_url=url, data_dir=data, public_url="http://testserver")
    get_settings.cache_clear()
    store = CliStore(env=env, settings=settings, runner=CliRunner())
    store.ok("migrate")
    yield store
    get_settings.cache_clear()


@pytest.fixture
def cli_app(cli_store: CliStore) -> Iterator[tuple[Runtime, TestClient]]:
    """The HTTP app on the CLI's store (same database, same generated secret key)."""
    cli_store.ok("tenants", "create", "acme")
    runtime = open_runtime(cli_store.settings)
    try:
        with TestClient(create_app(runtime)) as client:
            yield runtime, client
    finally:
        runtime.close()


def _token_row(output: str, token_id: str) -> str:
    rows = [line for line in output.splitlines() if token_id in line]
    assert len(rows) == 1, output
    return rows[0]


def test_cli_create_prints_the_token_once_as_json(
    cli_store: CliStore, cli_app: tuple[Runtime, TestClient]
) -> None:
    runtime, http = cli_app
    out = cli_store.ok("scim-tokens", "create", "--tenant", "acme", "--name", "okta", "--json")
    issued = json.loads(out)
    assert set(issued) == {"token"}
    token = issued["token"]
    assert token.startswith(SCIM_TOKEN_PREFIX)
    assert len(token) > len(SCIM_TOKEN_PREFIX) + 30

    user = _create_user(http, token, "via-cli-token")
    assert _user_names(http, token) == {"via-cli-token"}

    with runtime.db.reader() as session:
        record = session.scalars(select(ScimToken).where(ScimToken.name == "okta")).one()
        tenant_id = record.tenant_id
    _no_column_holds(runtime, tenant_id, token)
    assert user["id"]

    # a second token is another token
    other = json.loads(cli_store.ok("scim-tokens", "create", "--tenant", "acme", "--json"))
    assert other["token"] != token


def test_cli_create_for_an_unknown_tenant_fails(cli_store: CliStore) -> None:
    result = cli_store.invoke("scim-tokens", "create", "--tenant", "nosuch", "--json")
    assert result.exit_code != 0
    assert "token" not in result.stdout


def test_cli_list_shows_last_use_and_never_the_token(
    cli_store: CliStore, cli_app: tuple[Runtime, TestClient]
) -> None:
    runtime, http = cli_app
    token = json.loads(
        cli_store.ok("scim-tokens", "create", "--tenant", "acme", "--name", "entra", "--json")
    )["token"]
    with runtime.db.reader() as session:
        token_id = str(session.scalars(select(ScimToken.id)).one())

    before = cli_store.ok("scim-tokens", "list", "--tenant", "acme")
    row = _token_row(before, token_id)
    assert "entra" in row
    assert "never" in row
    assert len(TIMESTAMP.findall(row)) == 1  # created only
    assert token not in before
    assert token.removeprefix(SCIM_TOKEN_PREFIX) not in before

    r = http.get(USERS, headers=_bearer(token))
    assert r.status_code == 200, r.text

    eventually(lambda: _last_use(runtime, token_id))
    after = cli_store.ok("scim-tokens", "list", "--tenant", "acme")
    row = _token_row(after, token_id)
    assert "never" not in row
    assert len(TIMESTAMP.findall(row)) == 2  # created and last used
    assert token not in after
    assert token.removeprefix(SCIM_TOKEN_PREFIX) not in after


def test_cli_revoke(cli_store: CliStore, cli_app: tuple[Runtime, TestClient]) -> None:
    runtime, http = cli_app
    token = json.loads(cli_store.ok("scim-tokens", "create", "--tenant", "acme", "--json"))["token"]
    keep = json.loads(cli_store.ok("scim-tokens", "create", "--tenant", "acme", "--json"))["token"]
    assert http.get(USERS, headers=_bearer(token)).status_code == 200
    with runtime.db.reader() as session:
        records = session.scalars(select(ScimToken).order_by(ScimToken.created_at)).all()
        token_id = str(records[0].id)

    out = cli_store.ok("scim-tokens", "revoke", token_id, "--tenant", "acme")
    assert token_id in out
    _refused_within_bound(http, token, _bound(runtime))
    # the other token of the tenant still works
    assert http.get(USERS, headers=_bearer(keep)).status_code == 200

    listing = cli_store.ok("scim-tokens", "list", "--tenant", "acme")
    assert len(TIMESTAMP.findall(_token_row(listing, token_id))) >= 2  # revoked at

    # revoking again is harmless; a bad id or another tenant's token is an error
    cli_store.ok("scim-tokens", "revoke", token_id, "--tenant", "acme")
    assert cli_store.invoke("scim-tokens", "revoke", "not-an-id", "--tenant", "acme").exit_code
    assert cli_store.invoke(
        "scim-tokens", "revoke", str(uuid.uuid4()), "--tenant", "acme"
    ).exit_code
    cli_store.ok("tenants", "create", "other")
    assert cli_store.invoke("scim-tokens", "revoke", token_id, "--tenant", "other").exit_code


# ---- the admin API -------------------------------------------------------------------------


def _issue(http: TestClient, tenant: TenantHandle, name: str = "okta") -> dict[str, Any]:
    r = http.post(ADMIN_TOKENS, json={"name": name}, headers=tenant.headers("admin"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_admin_api_issues_a_token_once(http: TestClient, tenant: TenantHandle) -> None:
    issued = _issue(http, tenant, "Okta production")
    token = issued["token"]
    assert token.startswith(SCIM_TOKEN_PREFIX)
    assert issued["name"] == "Okta production"
    uuid.UUID(issued["id"])
    assert TIMESTAMP.match(issued["createdAt"])
    assert "revokedAt" not in issued

    _create_user(http, token, "via-admin-token")
    assert _user_names(http, token) == {"via-admin-token"}

    r = http.get(ADMIN_TOKENS, headers=tenant.headers("admin"))
    assert r.status_code == 200, r.text
    assert token not in r.text
    assert token.removeprefix(SCIM_TOKEN_PREFIX) not in r.text
    (listed,) = [t for t in r.json()["items"] if t["id"] == issued["id"]]
    assert "token" not in listed
    assert listed["name"] == "Okta production"

    def last_use() -> str | None:
        items = http.get(ADMIN_TOKENS, headers=tenant.headers("admin")).json()["items"]
        return next(t for t in items if t["id"] == issued["id"]).get("lastUsedAt")

    assert TIMESTAMP.match(eventually(last_use))


def test_admin_api_lists_only_the_tenants_tokens(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine = _issue(http, tenant, "mine")
    theirs = _issue(http, other_tenant, "theirs")
    r = http.get(ADMIN_TOKENS, headers=tenant.headers("admin"))
    assert r.status_code == 200, r.text
    ids = {t["id"] for t in r.json()["items"]}
    assert mine["id"] in ids
    assert theirs["id"] not in ids
    for item in r.json()["items"]:
        assert set(item) <= {"id", "name", "createdAt", "lastUsedAt", "revokedAt"}, item


def test_admin_api_revokes(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    issued = _issue(http, tenant)
    token = issued["token"]
    assert http.get(USERS, headers=_bearer(token)).status_code == 200

    # another tenant's admin cannot revoke it
    r = http.delete(f"{ADMIN_TOKENS}/{issued['id']}", headers=other_tenant.headers("admin"))
    assert r.status_code == 404, r.text
    assert http.get(USERS, headers=_bearer(token)).status_code == 200

    r = http.delete(f"{ADMIN_TOKENS}/{issued['id']}", headers=tenant.headers("admin"))
    assert r.status_code == 200, r.text
    assert TIMESTAMP.match(r.json()["revokedAt"])
    assert "token" not in r.json()
    body = _refused_within_bound(http, token, _bound(runtime))
    assert "revoked" in body["detail"].lower()
    _scim_401(
        http.post(USERS, json={"schemas": [USER_SCHEMA], "userName": "x"}, headers=_bearer(token))
    )
    listed = http.get(ADMIN_TOKENS, headers=tenant.headers("admin")).json()["items"]
    (entry,) = [t for t in listed if t["id"] == issued["id"]]
    assert entry["revokedAt"]

    r = http.delete(f"{ADMIN_TOKENS}/{uuid.uuid4()}", headers=tenant.headers("admin"))
    assert r.status_code == 404, r.text


def test_admin_api_needs_the_admin_scope(http: TestClient, tenant: TenantHandle) -> None:
    narrow = tenant.headers("user:read", "user:write", "group:write")
    r = http.post(ADMIN_TOKENS, json={"name": "x"}, headers=narrow)
    assert r.status_code == 403, r.text
    assert "token" not in r.json()
    assert http.get(ADMIN_TOKENS, headers=narrow).status_code == 403
    issued = _issue(http, tenant)
    r = http.delete(f"{ADMIN_TOKENS}/{issued['id']}", headers=narrow)
    assert r.status_code == 403, r.text
    assert http.get(USERS, headers=_bearer(issued["token"])).status_code == 200

    # neither no token nor a SCIM token will do
    assert http.post(ADMIN_TOKENS, json={"name": "x"}).status_code == 401
    r = http.get(ADMIN_TOKENS, headers=_bearer(issued["token"]))
    assert r.status_code == 401, r.text
    assert "SCIM" in r.text


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 256}, {"name": "x", "y": 1}])
def test_admin_api_refuses_a_bad_name(
    http: TestClient, tenant: TenantHandle, body: dict[str, Any]
) -> None:
    r = http.post(ADMIN_TOKENS, json=body, headers=tenant.headers("admin"))
    assert r.status_code == 400, r.text
    assert http.get(ADMIN_TOKENS, headers=tenant.headers("admin")).json()["items"] == []


def test_token_is_stored_only_as_a_hash(
    http: TestClient, tenant: TenantHandle, runtime: Runtime
) -> None:
    issued = _issue(http, tenant)
    http.get(USERS, headers=_bearer(issued["token"]))
    service_token = tenant.scim_token()
    _no_column_holds(runtime, tenant.id, issued["token"])
    _no_column_holds(runtime, tenant.id, service_token)
    with runtime.db.reader() as session:
        record = session.get(ScimToken, uuid.UUID(issued["id"]))
        assert record is not None
        assert record.token_hash != issued["token"]
        assert re.fullmatch(r"[0-9a-f]{64}", record.token_hash)


# ---- authentication on /scim/v2 ------------------------------------------------------------


def test_tokens_are_confined_to_their_tenant(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    a_token, b_token = tenant.scim_token(), other_tenant.scim_token()
    _create_user(http, a_token, "alice")
    bob = _create_user(http, b_token, "bob")
    # the same userName may exist in both tenants
    _create_user(http, b_token, "alice")

    assert _user_names(http, a_token) == {"alice"}
    assert _user_names(http, b_token) == {"alice", "bob"}
    assert _user_names(http, a_token, filter='userName eq "bob"') == set()

    url = f"{USERS}/{bob['id']}"
    assert http.get(url, headers=_bearer(a_token)).status_code == 404
    r = http.patch(
        url,
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "pwned"}],
        },
        headers=_bearer(a_token),
    )
    assert r.status_code == 404, r.text
    assert http.delete(url, headers=_bearer(a_token)).status_code == 404
    r = http.get(url, headers=_bearer(b_token))
    assert r.status_code == 200, r.text
    assert "title" not in r.json()


def test_oauth_token_on_scim_is_401_about_scim_tokens(
    http: TestClient, tenant: TenantHandle
) -> None:
    for headers in (tenant.headers(), tenant.headers("admin")):
        body = _scim_401(http.get(USERS, headers=headers))
        assert "SCIM token" in body["detail"]
        assert "scim-tokens" in body["detail"]
    _scim_401(http.get(f"{SCIM}/ServiceProviderConfig", headers=tenant.headers("admin")))
    _scim_401(
        http.post(
            USERS,
            json={"schemas": [USER_SCHEMA], "userName": "x"},
            headers=tenant.headers("admin"),
        )
    )
    assert _user_names(http, tenant.scim_token()) == set()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": f"Bearer {SCIM_TOKEN_PREFIX}not-a-real-token"},
        {"Authorization": "Bearer garbage"},
    ],
)
def test_missing_or_unknown_token_is_401(
    http: TestClient, tenant: TenantHandle, headers: dict[str, str]
) -> None:
    _scim_401(http.get(USERS, headers=headers))
    _scim_401(http.get("/api/scim/v2/Users", headers=headers))


# ---- several nodes, one store --------------------------------------------------------------


@pytest.fixture(scope="module")
def second_node(settings: Settings) -> Iterator[TestClient]:
    """Another runtime and app on the suite's store, as a second `rosterd serve` would be."""
    runtime = open_runtime(settings)
    try:
        with TestClient(create_app(runtime)) as client:
            yield client
    finally:
        runtime.close()


def test_a_token_revoked_on_one_node_is_refused_on_another_within_the_bound(
    runtime: Runtime, http: TestClient, second_node: TestClient, tenant: TenantHandle
) -> None:
    issued = _issue(http, tenant)
    token = issued["token"]
    # Both nodes honour the token, and so remember it.
    for node in (http, second_node):
        assert node.get(USERS, headers=_bearer(token)).status_code == 200

    r = http.delete(f"{ADMIN_TOKENS}/{issued['id']}", headers=tenant.headers("admin"))
    assert r.status_code == 200, r.text

    body = _refused_within_bound(second_node, token, _bound(runtime))
    assert "revoked" in body["detail"].lower()
    for node in (http, second_node):
        _scim_401(
            node.post(
                USERS, json={"schemas": [USER_SCHEMA], "userName": "x"}, headers=_bearer(token)
            )
        )


def test_a_token_expired_on_one_node_is_refused_on_another_at_its_expiry(
    runtime: Runtime, http: TestClient, second_node: TestClient, tenant: TenantHandle
) -> None:
    """Expiry dates are compared with the clock on every request, remembered or not."""
    issued = _issue(http, tenant)
    token = issued["token"]
    assert second_node.get(USERS, headers=_bearer(token)).status_code == 200
    with runtime.db.writer.begin() as session:
        session.execute(
            update(ScimToken)
            .where(ScimToken.id == uuid.UUID(issued["id"]))
            .values(expires_at=datetime.now(UTC) + timedelta(seconds=1))
        )
    body = _refused_within_bound(second_node, token, _bound(runtime) + 1)
    assert "expired" in body["detail"]


def test_requests_with_a_known_token_read_and_write_nothing_about_it(
    runtime: Runtime, http: TestClient, tenant: TenantHandle
) -> None:
    """Within scim_token_cache_seconds a token costs no query, and its last use is written
    at most once a minute, not per request."""
    issued = _issue(http, tenant)
    token = issued["token"]
    assert http.get(f"{SCIM}/ServiceProviderConfig", headers=_bearer(token)).status_code == 200
    first_use = eventually(lambda: _last_use(runtime, issued["id"]))

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engines = {runtime.db.engine, runtime.db.write_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            r = http.get(f"{SCIM}/ServiceProviderConfig", headers=_bearer(token))
            assert r.status_code == 200, r.text
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
    # At most one read of the token, should the remembered state have aged out meanwhile.
    assert len([s for s in statements if "scim_tokens" in s]) <= 1, statements
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")], statements
    assert runtime.last_uses.flush(runtime.db.writer.begin) == 0
    assert _last_use(runtime, issued["id"]) == first_use


def _last_use(runtime: Runtime, token_id: str) -> datetime | None:
    with runtime.db.reader() as session:
        return session.scalar(
            select(ScimToken.last_used_at).where(ScimToken.id == uuid.UUID(token_id))
        )
