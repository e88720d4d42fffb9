"""The ``rosterd`` command: first start, tenants, OAuth clients and migrations.

Each test gets a store of its own (a SQLite file under tmp_path, or a throwaway PostgreSQL
schema) and a data directory of its own, made by ``rosterd migrate`` (``fresh_cli``: not
made yet). Commands run in-process through Typer's CliRunner; the first-start test runs the
installed console script as a real process.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from rosterd.api.app import create_app
from rosterd.auth.scopes import ALL_SCOPES
from rosterd.auth.secrets import API_KEY_PREFIX, CLIENT_SECRET_PREFIX, SCIM_TOKEN_PREFIX
from rosterd.cli.main import app
from rosterd.config import Settings, get_settings
from rosterd.db.migrate import alembic_config
from rosterd.models import AuditEvent, OAuthClient, ScimToken, Tenant
from rosterd.runtime import BOOTSTRAP_FILE, open_runtime
from tests.backends import postgres_url, sqlite_url

ROSTERD = Path(sys.executable).with_name("rosterd")

# Output goes to pipes, not a terminal: no colours, and Rich's default width of 80 columns
# (the width a log collector or `2>file` gets).
_UNSET_FOR_OUTPUT = ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


@dataclass
class Cli:
    data_dir: Path
    database_url: str

    @property
    def bootstrap_file(self) -> Path:
        return self.data_dir / BOOTSTRAP_FILE

    def env(self) -> dict[str, str]:
        return {
            "ROSTERD_DATA_DIR": str(self.data_dir),
            "ROSTERD_DATABASE_URL": self.database_url,
            "NO_COLOR": "1",
        }

    def run(self, *args: str) -> Result:
        """One ``rosterd`` invocation, in-process, with settings read afresh."""
        get_settings.cache_clear()
        try:
            env: dict[str, str | None] = {**self.env(), "COLUMNS": "80"}
            return CliRunner().invoke(app, list(args), env=env)
        finally:
            get_settings.cache_clear()

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    def fails(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
        # A clean message, not a crash.
        assert isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        assert "error" in result.stderr.lower(), result.stderr
        return result

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir, database_url=self.database_url)

    def subprocess_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ROSTERD_") and k not in _UNSET_FOR_OUTPUT
        }
        return {**env, **self.env()}


def _clear_rosterd_env(monkeypatch: pytest.MonkeyPatch, cwd: Path) -> None:
    for key in list(os.environ):
        if key.startswith("ROSTERD_"):
            monkeypatch.delenv(key)
    # Settings also read ./.env: run where there is none.
    monkeypatch.chdir(cwd)


@pytest.fixture
def fresh_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """The command line over a store that does not exist yet."""
    _clear_rosterd_env(monkeypatch, tmp_path)
    get_settings.cache_clear()
    with sqlite_url(tmp_path) as url:
        yield Cli(data_dir=tmp_path / "data", database_url=url)
    get_settings.cache_clear()


@pytest.fixture
def cli(fresh_cli: Cli) -> Cli:
    """The command line over a store made by `rosterd migrate`, as an operator starts."""
    fresh_cli.ok("migrate")
    return fresh_cli


@contextmanager
def served(cli: Cli) -> Iterator[TestClient]:
    """The HTTP API over the CLI's store, as `rosterd serve` would run it."""
    runtime = open_runtime(cli.settings())
    try:
        with TestClient(create_app(runtime)) as http:
            yield http
    finally:
        runtime.close()


def _rows(url: str, stmt: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(stmt))
    finally:
        engine.dispose()


def _tenant_slugs(url: str) -> list[str]:
    return sorted(row.slug for row in _rows(url, select(Tenant.slug)))


def _client_count(url: str) -> int:
    return int(_rows(url, select(func.count()).select_from(OAuthClient))[0][0])


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def _head(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def _squeezed(text: str) -> str:
    """Text with all whitespace removed, so a value wrapped across lines is still found."""
    return "".join(text.split())


SECRET_PREFIXES = (CLIENT_SECRET_PREFIX, SCIM_TOKEN_PREFIX, API_KEY_PREFIX)


def _assert_not_leaked(secret: str, *outputs: str) -> None:
    """Neither the secret nor its random part (after a typed prefix such as `rcs_`, if it has
    one; a password has none) appears in any output, even wrapped across lines."""
    typed = [p for p in SECRET_PREFIXES if secret.startswith(p)]
    random_part = secret.removeprefix(typed[0]) if typed else secret
    for output in outputs:
        assert secret not in output
        assert random_part not in _squeezed(output)


def _token(http: TestClient, slug: str, client_id: str, secret: str, **extra: str) -> Any:
    r = http.post(
        f"/tenants/{slug}/connect/token",
        data={"grant_type": "client_credentials", **extra},
        auth=(client_id, secret),
    )
    assert r.status_code == 200, r.text
    return r.json()


# ---- first start ---------------------------------------------------------------------------


def test_first_start_of_the_installed_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real `rosterd migrate` on no store makes one and bootstraps it once, and says where
    the credentials are, not what they are; other commands refuse to make a store."""
    _clear_rosterd_env(monkeypatch, tmp_path)
    with sqlite_url(tmp_path) as url:
        cli = Cli(data_dir=tmp_path / "data", database_url=url)

    def rosterd(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(ROSTERD), *args],
            env=cli.subprocess_env(),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
        return proc

    assert ROSTERD.exists(), f"console script not installed at {ROSTERD}"
    refused = subprocess.run(
        [str(ROSTERD), "tenants", "list"],
        env=cli.subprocess_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode != 0
    assert str(tmp_path / "rosterd.db") in refused.stderr, refused.stderr
    assert not (tmp_path / "rosterd.db").exists()
    assert not cli.data_dir.exists()

    first = rosterd("migrate")

    path = cli.bootstrap_file
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = json.loads(path.read_text())
    assert creds["tenant"] == "default"
    assert creds["client_id"].startswith("rcl_")
    assert creds["client_secret"].startswith("rcs_")
    assert creds["scopes"] == ["admin"]
    assert creds["token_url"].endswith("/tenants/default/connect/token")

    # The path is on stderr in one piece (a log line must be copy-pasteable), the secret nowhere.
    assert str(path) in first.stderr, first.stderr
    assert "up to date" in first.stdout
    assert "default" in rosterd("tenants", "list").stdout
    _assert_not_leaked(creds["client_secret"], first.stdout, first.stderr)
    # ... and the console's first admin account, whose password is nowhere else either.
    console = creds["console"]
    assert (console["tenant"], console["username"]) == ("default", "admin")
    assert console["url"].endswith("/admin/")
    _assert_not_leaked(console["password"], first.stdout, first.stderr)

    # A second start finds the store bootstrapped: no new tenant, client or file.
    content = path.read_bytes()
    second = rosterd("tenants", "list")
    assert str(path) not in second.stderr
    assert BOOTSTRAP_FILE not in _squeezed(second.stderr)
    assert path.read_bytes() == content
    assert _tenant_slugs(url) == ["default"]
    assert _client_count(url) == 1

    # Once the operator has stored and deleted the file, it does not come back.
    path.unlink()
    rosterd("migrate")
    assert not path.exists()
    assert _client_count(url) == 1

    # The credentials it handed out work.
    with served(cli) as http:
        body = _token(http, "default", creds["client_id"], creds["client_secret"])
        assert body["scope"] == "admin"
        login = {"username": console["username"], "password": console["password"]}
        assert http.post("/api/v1/authentication/login", json=login).status_code == 200


def test_bootstrap_keeps_stdout_clean(fresh_cli: Cli) -> None:
    """The start that bootstraps says so on stderr: stdout holds only the command's output."""
    cli = fresh_cli
    assert not cli.bootstrap_file.exists()
    result = cli.ok("migrate")
    assert result.stdout.strip().endswith("is up to date"), result.stdout
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout

    creds = json.loads(cli.bootstrap_file.read_text())
    assert stat.S_IMODE(cli.bootstrap_file.stat().st_mode) == 0o600
    assert str(cli.bootstrap_file) in result.stderr, result.stderr
    _assert_not_leaked(creds["client_secret"], result.stdout, result.stderr)

    made = cli.ok("clients", "create", "--tenant", "default", "--scopes", "user:read", "--json")
    assert set(json.loads(made.stdout)) == {"client_id", "client_secret", "grant_types"}
    again = cli.ok("tenants", "list")
    assert BOOTSTRAP_FILE not in _squeezed(again.stderr)
    assert json.loads(cli.bootstrap_file.read_text()) == creds
    assert _tenant_slugs(cli.database_url) == ["default"]
    assert _client_count(cli.database_url) == 2  # the bootstrap admin and the one made above


# ---- tenants -------------------------------------------------------------------------------


def test_tenants_create_and_list(cli: Cli) -> None:
    result = cli.ok("tenants", "create", "acme", "--name", "Acme Inc.")
    assert "created tenant acme" in result.stdout
    listed = cli.ok("tenants", "list")
    assert "acme" in listed.stdout
    assert "Acme Inc." in listed.stdout
    assert _tenant_slugs(cli.database_url) == ["acme", "default"]
    # Ids are printed whole (the output goes to a pipe of 80 columns here).
    for tenant_id in _rows(cli.database_url, select(Tenant.id)):
        assert str(tenant_id[0]) in listed.stdout, listed.stdout


def test_scim_tokens_list_shows_whole_ids_but_never_tokens(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    token = json.loads(
        cli.ok(
            "scim-tokens", "create", "--tenant", "acme", "--name", "okta production", "--json"
        ).stdout
    )["token"]
    listed = cli.ok("scim-tokens", "list", "--tenant", "acme")
    (token_id,) = (row[0] for row in _rows(cli.database_url, select(ScimToken.id)))
    assert str(token_id) in listed.stdout, listed.stdout
    _assert_not_leaked(token, listed.stdout, listed.stderr)
    # The id from the listing is what revoke takes.
    assert "revoked" in cli.ok("scim-tokens", "revoke", str(token_id), "--tenant", "acme").stdout


def test_tenants_create_twice_is_an_error(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    result = cli.fails("tenants", "create", "acme")
    assert "acme" in result.stderr
    assert "already exists" in result.stderr
    assert result.stdout == ""
    assert _tenant_slugs(cli.database_url) == ["acme", "default"]


@pytest.mark.parametrize(
    "slug", ["Bad Slug", "ACME", "acme_inc", "-acme", "acme-", "a" * 64, "acme.example"]
)
def test_tenants_create_bad_slug_is_an_error(cli: Cli, slug: str) -> None:
    result = cli.fails("tenants", "create", "--", slug)
    assert "slug" in result.stderr
    assert _tenant_slugs(cli.database_url) == ["default"]


def test_tenants_configure_gives_a_tenant_its_own_rate_limits(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    result = cli.ok(
        "tenants",
        "configure",
        "acme",
        "--rate-limit-per-credential",
        "2/second;5/minute",
        "--rate-limit-per-tenant",
        "20/minute",
    )
    assert '"rate_limits": {"credential": "2/second;5/minute", "tenant": "20/minute"}' in (
        result.stdout
    )
    token = json.loads(
        cli.ok("scim-tokens", "create", "--tenant", "acme", "--name", "okta", "--json").stdout
    )["token"]
    with served(cli) as http:
        r = http.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.headers["RateLimit-Policy"] == (
        '"credential-1s";q=2;w=1, "credential-60s";q=5;w=60, "tenant";q=20;w=60'
    )

    result = cli.ok("tenants", "configure", "acme", "--rate-limit-per-credential", "default")
    assert '"rate_limits": {"tenant": "20/minute"}' in result.stdout


@pytest.mark.parametrize("limit", ["fast", "0/minute", "10/fortnight", "10/minute;"])
def test_tenants_configure_refuses_a_rate_limit_it_cannot_read(cli: Cli, limit: str) -> None:
    cli.ok("tenants", "create", "acme")
    result = cli.fails("tenants", "configure", "acme", "--rate-limit-per-tenant", limit)
    assert "is not a rate limit" in result.stderr and "3000/minute" in result.stderr
    assert "rate_limits" not in cli.ok("tenants", "configure", "acme").stdout


# ---- clients -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scope_args",
    [
        ["--scopes", "user:read,user:write"],
        ["--scopes", "user:read user:write"],
        ["--scopes", "user:read", "--scopes", "user:write"],
    ],
    ids=["comma", "space", "repeated"],
)
def test_clients_create_json_credentials_get_a_token(cli: Cli, scope_args: list[str]) -> None:
    cli.ok("tenants", "create", "acme")
    result = cli.ok("clients", "create", "--tenant", "acme", *scope_args, "--json")

    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    printed = json.loads(result.stdout)
    assert set(printed) == {"client_id", "client_secret", "grant_types"}
    assert printed["grant_types"] == ["client_credentials"]
    assert printed["client_id"].startswith("rcl_")
    assert printed["client_secret"].startswith("rcs_")
    assert printed["client_secret"] not in result.stderr

    with served(cli) as http:
        body = _token(http, "acme", printed["client_id"], printed["client_secret"])
        assert sorted(body["scope"].split()) == ["user:read", "user:write"]
        narrowed = _token(
            http, "acme", printed["client_id"], printed["client_secret"], scope="user:read"
        )
        assert narrowed["scope"] == "user:read"
        r = http.get(
            "/integration/v2/users",
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )
        assert r.status_code == 200, r.text
        # A client of acme is not a client of the default tenant.
        r = http.post(
            "/tenants/default/connect/token",
            data={"grant_type": "client_credentials"},
            auth=(printed["client_id"], printed["client_secret"]),
        )
        assert r.status_code == 401, r.text


def test_clients_create_human_output(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    result = cli.ok("clients", "create", "--tenant", "acme", "--scopes", "team:read")
    assert "client_id:" in result.stdout
    assert "client_secret:" in result.stdout
    assert "shown only now" in result.stdout


@pytest.mark.parametrize(
    "scopes", ["user:read,no-such-scope", "superuser", "user:read,user:write,users:read"]
)
def test_clients_create_unknown_scope_is_an_error(cli: Cli, scopes: str) -> None:
    cli.ok("tenants", "create", "acme")
    result = cli.fails("clients", "create", "--tenant", "acme", "--scopes", scopes, "--json")
    unknown = [s for s in scopes.split(",") if s not in ("user:read", "user:write")]
    for s in unknown:
        assert s in result.stderr
    assert result.stdout == ""
    assert _client_count(cli.database_url) == 1  # only the bootstrap admin


def test_clients_create_for_unknown_tenant_is_an_error(cli: Cli) -> None:
    result = cli.fails("clients", "create", "--tenant", "nope", "--scopes", "user:read")
    assert "nope" in result.stderr
    assert result.stdout == ""
    assert _client_count(cli.database_url) == 1


def test_clients_list_shows_clients_but_never_secrets(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    made = []
    every_scope = ",".join(s for s in ALL_SCOPES if s != "admin")
    for scopes, name in (
        ("user:read,user:write", "hr-sync"),
        ("admin", "ops"),
        # A long label and many scopes squeeze the table; the client id still shows in full.
        (every_scope, "nightly export to the finance data warehouse"),
    ):
        args = ["--tenant", "acme", "--scopes", scopes, "--name", name, "--json"]
        made.append(json.loads(cli.ok("clients", "create", *args).stdout))
    result = cli.ok("clients", "list", "--tenant", "acme")
    for client in made:
        assert client["client_id"] in result.stdout, result.stdout
        _assert_not_leaked(client["client_secret"], result.stdout, result.stderr)
    assert "hr-sync" in result.stdout
    assert "ops" in result.stdout
    assert "user:write" in result.stdout
    # Another tenant's clients are not listed.
    default = cli.ok("clients", "list", "--tenant", "default")
    for client in made:
        assert client["client_id"] not in default.stdout


def test_clients_list_for_unknown_tenant_is_an_error(cli: Cli) -> None:
    result = cli.fails("clients", "list", "--tenant", "nope")
    assert "nope" in result.stderr


# ---- migrate -------------------------------------------------------------------------------


def test_migrate_sqlite(fresh_cli: Cli) -> None:
    cli = fresh_cli
    result = cli.ok("migrate")
    assert "up to date" in result.stdout
    assert _revision(cli.database_url) == _head(cli.database_url) is not None
    # Again on an up-to-date store: nothing to do, still fine.
    cli.ok("migrate")
    assert _revision(cli.database_url) == _head(cli.database_url)


def test_migrate_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_rosterd_env(monkeypatch, tmp_path)
    with postgres_url() as url:
        cli = Cli(data_dir=tmp_path / "data", database_url=url)
        assert _revision(url) is None
        result = cli.ok("migrate")
        assert "up to date" in result.stdout
        assert _revision(url) == _head(url) is not None
        assert _tenant_slugs(url) == ["default"]
        cli.ok("migrate")
        assert _revision(url) == _head(url)
        # The migrated store serves tokens.
        printed = json.loads(
            cli.ok("clients", "create", "--tenant", "default", "--scopes", "admin", "--json").stdout
        )
        with served(cli) as http:
            _token(http, "default", printed["client_id"], printed["client_secret"])


def test_import_loads_a_directory_and_names_the_field_a_duplicate_takes(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok("tenants", "create", "acme")
    first = tmp_path / "first.jsonl"
    first.write_text(
        '{"type": "group", "name": "Sales"}\n'
        '{"type": "user", "email": "Jane@Corp.Local", "first_name": "Jane", "groups": ["Sales"],'
        ' "phone": "(425) 555-0100"}\n'
    )
    result = cli.ok("import", str(first), "--tenant", "acme")
    assert "imported 1 users, 1 groups" in result.stdout

    again = tmp_path / "again.jsonl"
    again.write_text(
        '{"type": "user", "username": "other", "email": "jane@corp.local"}\n'
        '{"type": "user", "username": "fine", "email": "fine@corp.local"}\n'
    )
    failed = cli.fails("import", str(again), "--tenant", "acme")
    assert "line 1: email: 'jane@corp.local' is another user's address" in failed.stderr
    rows = _rows(cli.database_url, text("SELECT username, email, phone FROM users"))
    # The checked file wrote nothing; the first file's user is stored as the domain has it.
    assert [tuple(r) for r in rows] == [("Jane@corp.local", "Jane@corp.local", "(425) 555-0100")]


def test_tenants_configure_sets_the_idle_sweep_guard(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    result = cli.ok("tenants", "configure", "acme", "--idle-sweep-guard-percent", "25")
    assert '"idle_sweep_guard": {"percent": 25.0}' in result.stdout
    result = cli.ok("tenants", "configure", "acme", "--idle-sweep-guard-users", "50")
    assert '"idle_sweep_guard": {"percent": 25.0, "users": 50}' in result.stdout
    result = cli.fails("tenants", "configure", "acme", "--idle-sweep-guard-percent", "150")
    assert "percent" in result.stderr


def test_tenants_configure_is_audited_once_per_change(cli: Cli) -> None:
    """Each change is one audit event by the CLI with only what changed; a refused change
    and a no-op record nothing."""
    cli.ok("tenants", "create", "acme")
    cli.ok("tenants", "configure", "acme", "--scim-delete", "deactivate", "--sso-only")
    cli.ok("tenants", "configure", "acme", "--scim-delete", "deactivate")
    cli.fails("tenants", "configure", "acme", "--idle-sweep-guard-users", "-1")
    cli.ok("tenants", "configure", "acme", "--no-sso-only")
    events = _rows(
        cli.database_url,
        select(AuditEvent.actor, AuditEvent.surface, AuditEvent.before, AuditEvent.after)
        .where(AuditEvent.action == "tenant.settings_changed")
        .order_by(AuditEvent.id),
    )
    assert [(e.actor, e.surface) for e in events] == [("cli", "cli")] * 2
    assert events[0].before == {"scim_delete": None, "sso_only": None}
    assert events[0].after == {"scim_delete": "deactivate", "sso_only": True}
    assert (events[1].before, events[1].after) == ({"sso_only": True}, {"sso_only": False})
