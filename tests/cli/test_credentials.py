"""The command line's credential commands (OAuth clients, SCIM tokens, API keys: create with
an expiry, list, rotate, revoke) and its store options (--data-dir, --database-url), which
never make a second store by accident."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.engine import make_url

from rosterd.cli import output as cli_output
from rosterd.config import get_settings
from rosterd.models import ApiKey, AuditEvent, OAuthClient, ScimToken
from tests.backends import postgres_url, sqlite_url
from tests.cli.test_cli import (
    Cli,
    _assert_not_leaked,
    _clear_rosterd_env,
    _rows,
    served,
)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    _clear_rosterd_env(monkeypatch, tmp_path)
    # A wide console keeps each table cell on one line (test_cli.py checks narrow ones).
    monkeypatch.setattr(cli_output, "out", Console(width=250))
    get_settings.cache_clear()
    with sqlite_url(tmp_path) as url:
        made = Cli(data_dir=tmp_path / "data", database_url=url)
        made.ok("migrate")
        yield made
    get_settings.cache_clear()


def _json(result: Any) -> dict[str, Any]:
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    return dict(json.loads(result.stdout))


def _token_status(http: Any, client_id: str, secret: str, slug: str = "default") -> int:
    r = http.post(
        f"/tenants/{slug}/connect/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    return int(r.status_code)


def _about(when: str, expected: datetime) -> bool:
    return abs(datetime.fromisoformat(when) - expected) < timedelta(minutes=1)


# ---- OAuth clients -------------------------------------------------------------------------


def test_the_bootstrap_client_can_be_revoked(cli: Cli) -> None:
    creds = json.loads(cli.bootstrap_file.read_text())
    cid, secret = creds["client_id"], creds["client_secret"]
    with served(cli) as http:
        assert _token_status(http, cid, secret) == 200
    result = cli.ok("clients", "revoke", cid, "--tenant", "default")
    assert f"revoked {cid}" in result.stdout
    with served(cli) as http:
        assert _token_status(http, cid, secret) == 401
    listed = cli.ok("clients", "list", "--tenant", "default").stdout
    assert "revoked" in listed
    (revoked_at,) = _rows(
        cli.database_url, select(OAuthClient.revoked_at).where(OAuthClient.client_id == cid)
    )[0]
    assert revoked_at is not None


def test_clients_create_for_the_authorization_code_flow(cli: Cli) -> None:
    public = _json(
        cli.ok(
            "clients", "create", "--tenant", "default", "--scopes", "user:read",
            "--grant", "authorization_code", "--grant", "refresh_token",
            "--redirect-uri", "http://127.0.0.1/callback", "--public", "--json",
        )
    )  # fmt: skip
    assert "client_secret" not in public
    assert public["grant_types"] == ["authorization_code", "refresh_token"]
    assert public["redirect_uris"] == ["http://127.0.0.1/callback"]
    # A public client has no secret: it cannot use client_credentials, nor be rotated.
    assert "no secret" in cli.ok(
        "clients", "create", "--tenant", "default", "--scopes", "user:read",
        "--redirect-uri", "https://app.example/cb", "--public",
    ).stdout  # fmt: skip
    assert (
        "public client"
        in cli.fails("clients", "rotate", public["client_id"], "--tenant", "default").stderr
    )
    confidential = _json(
        cli.ok(
            "clients", "create", "--tenant", "default", "--scopes", "user:read",
            "--grant", "authorization_code", "--redirect-uri", "https://app.example/cb", "--json",
        )
    )  # fmt: skip
    assert confidential["client_secret"].startswith("rcs_")
    listed = cli.ok("clients", "list", "--tenant", "default").stdout
    assert "authorization code, refresh token (public)" in listed
    assert "https://app.example/cb" in listed

    for bad, says in [
        (["--grant", "authorization_code"], "redirect_uris"),
        (["--redirect-uri", "http://app.example/cb"], "loopback"),
        (["--redirect-uri", "https://app.example/cb#frag"], "fragment"),
        (["--grant", "client_credentials", "--public"], "public client"),
        (["--grant", "password"], "grant_types"),
    ]:
        failed = cli.fails(
            "clients", "create", "--tenant", "default", "--scopes", "user:read", *bad
        )
        assert says in failed.stderr, (bad, failed.stderr)


def test_clients_rotate_keeps_the_old_secret_for_the_grace(cli: Cli) -> None:
    made = _json(cli.ok("clients", "create", "--tenant", "default", "--scopes", "admin", "--json"))
    cid, old = made["client_id"], made["client_secret"]

    rotated = _json(
        cli.ok("clients", "rotate", cid, "--tenant", "default", "--grace", "2h", "--json")
    )
    assert set(rotated) == {"client_id", "client_secret", "previous_secret_expires_at"}
    assert rotated["client_id"] == cid
    assert _about(rotated["previous_secret_expires_at"], datetime.now(UTC) + timedelta(hours=2))
    _assert_not_leaked(old, json.dumps(rotated))
    listed = cli.ok("clients", "list", "--tenant", "default").stdout
    assert "old secret until" in listed
    _assert_not_leaked(rotated["client_secret"], listed)
    with served(cli) as http:
        assert _token_status(http, cid, old) == 200
        assert _token_status(http, cid, rotated["client_secret"]) == 200

    again = _json(cli.ok("clients", "rotate", cid, "--tenant", "default", "--grace", "0", "--json"))
    assert again["previous_secret_expires_at"] is None
    with served(cli) as http:
        assert _token_status(http, cid, rotated["client_secret"]) == 401
        assert _token_status(http, cid, again["client_secret"]) == 200

    human = cli.ok("clients", "rotate", cid, "--tenant", "default")
    assert "client_secret:" in human.stdout
    assert "previous secret works until" in human.stdout


def test_clients_create_with_an_expiry(cli: Cli) -> None:
    made = _json(
        cli.ok(
            "clients", "create", "--tenant", "default", "--scopes", "user:read",
            "--expires-in", "90d", "--json",
        )
    )  # fmt: skip
    assert _about(made["expires_at"], datetime.now(UTC) + timedelta(days=90))
    at = _json(
        cli.ok(
            "clients", "create", "--tenant", "default", "--scopes", "user:read",
            "--expires-at", "2031-02-03T04:05:06+01:00", "--json",
        )
    )  # fmt: skip
    assert datetime.fromisoformat(at["expires_at"]) == datetime(2031, 2, 3, 3, 5, 6, tzinfo=UTC)
    listed = cli.ok("clients", "list", "--tenant", "default").stdout
    assert "expires 2031-02-03T03:05:06Z" in listed


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--expires-in", "soon"], "not a duration"),
        (["--expires-in", "90x"], "not a duration"),
        (["--expires-at", "2031-02-03"], "time zone"),
        (["--expires-at", "yesterday"], "ISO 8601"),
        (["--expires-in", "1d", "--expires-at", "2031-02-03T00:00:00Z"], "not both"),
    ],
)
def test_bad_expiry_options_are_refused_and_make_nothing(
    cli: Cli, args: list[str], says: str
) -> None:
    for command in (
        ["clients", "create", "--scopes", "user:read"],
        ["scim-tokens", "create"],
        ["api-keys", "create"],
    ):
        result = cli.run(*command, "--tenant", "default", *args, "--json")
        assert result.exit_code == 2, (result.stdout, result.stderr)
        assert says in " ".join(result.stderr.split()), result.stderr
        assert result.stdout == ""
    assert len(_rows(cli.database_url, select(OAuthClient.id))) == 1  # the bootstrap client
    assert _rows(cli.database_url, select(ScimToken.id)) == []
    assert _rows(cli.database_url, select(ApiKey.id)) == []


def test_an_expiry_in_the_past_is_an_error(cli: Cli) -> None:
    result = cli.fails(
        "api-keys", "create", "--tenant", "default", "--expires-at", "2020-01-01T00:00:00Z"
    )
    assert "future" in result.stderr
    assert _rows(cli.database_url, select(ApiKey.id)) == []


def test_rotating_or_revoking_an_unknown_client_is_an_error(cli: Cli) -> None:
    assert "not found" in cli.fails("clients", "rotate", "rcl_nosuch", "--tenant", "default").stderr
    assert "not found" in cli.fails("clients", "revoke", "rcl_nosuch", "--tenant", "default").stderr


# ---- SCIM tokens and API keys --------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "field", "model"),
    [("scim-tokens", "token", ScimToken), ("api-keys", "api_key", ApiKey)],
)
def test_secrets_with_an_expiry_are_listed_with_it_and_revocable(
    cli: Cli, group: str, field: str, model: type[ScimToken] | type[ApiKey]
) -> None:
    made = _json(cli.ok(group, "create", "--tenant", "default", "--expires-in", "1w", "--json"))
    assert set(made) == {field, "expires_at"}
    assert _about(made["expires_at"], datetime.now(UTC) + timedelta(weeks=1))
    plain = _json(cli.ok(group, "create", "--tenant", "default", "--json"))
    assert set(plain) == {field}

    listed = cli.ok(group, "list", "--tenant", "default").stdout
    assert made["expires_at"] in listed
    _assert_not_leaked(made[field], listed)
    (record_id,) = _rows(cli.database_url, select(model.id).where(model.expires_at.is_not(None)))[0]
    assert "revoked" in cli.ok(group, "revoke", str(record_id), "--tenant", "default").stdout


def test_cli_operations_are_audited_as_the_cli_without_secrets(cli: Cli) -> None:
    client = _json(
        cli.ok("clients", "create", "--tenant", "default", "--scopes", "admin", "--json")
    )
    rotated = _json(
        cli.ok("clients", "rotate", client["client_id"], "--tenant", "default", "--json")
    )
    cli.ok("clients", "revoke", client["client_id"], "--tenant", "default")
    token = _json(cli.ok("scim-tokens", "create", "--tenant", "default", "--json"))
    key = _json(cli.ok("api-keys", "create", "--tenant", "default", "--json"))
    rows = _rows(
        cli.database_url,
        select(AuditEvent.action, AuditEvent.actor, AuditEvent.surface, AuditEvent.after).where(
            AuditEvent.surface == "cli"
        ),
    )
    assert sorted(r.action for r in rows) == [
        "api_key.created",
        "oauth_client.created",
        "oauth_client.revoked",
        "oauth_client.rotated",
        "scim_token.created",
    ]
    assert {r.actor for r in rows} == {"cli"}
    dumped = json.dumps([r.after for r in rows])
    for secret in (
        client["client_secret"],
        rotated["client_secret"],
        token["token"],
        key["api_key"],
    ):
        _assert_not_leaked(secret, dumped)
    # The bootstrap client's creation is on the record too.
    (bootstrap,) = _rows(
        cli.database_url,
        select(AuditEvent.actor, AuditEvent.surface).where(
            AuditEvent.action == "oauth_client.created", AuditEvent.surface != "cli"
        ),
    )
    assert tuple(bootstrap) == ("rosterd", "bootstrap")


# ---- the store options ---------------------------------------------------------------------


def test_a_command_elsewhere_refuses_to_make_a_store_and_names_it(cli: Cli, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    for args in (
        ["--data-dir", str(elsewhere), "scim-tokens", "create", "--tenant", "default"],
        ["scim-tokens", "create", "--tenant", "default", "--data-dir", str(elsewhere)],
        ["tenants", "list", f"--data-dir={elsewhere}"],
    ):
        # The environment names a data directory; the option names another, and wins.
        result = _run_without_url(cli, *args)
        assert result.exit_code == 1, (result.stdout, result.stderr)
        message = " ".join(result.stderr.split())
        assert str(elsewhere / "rosterd.db") in message
        assert "--data-dir" in message and "rosterd migrate" in message
        assert "token" not in result.stdout
        assert not elsewhere.exists()


def _run_without_url(cli: Cli, *args: str) -> Any:
    """``rosterd ARGS`` with only ROSTERD_DATA_DIR set, as an operator's shell has it."""
    bare = Cli(data_dir=cli.data_dir, database_url="")
    return bare.run(*args)


def test_migrate_with_a_data_dir_makes_that_store_and_commands_use_it(
    cli: Cli, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    made = _run_without_url(cli, "migrate", "--data-dir", str(other))
    assert made.exit_code == 0, made.stderr
    assert (other / "rosterd.db").is_file()
    assert str(other / "bootstrap-credentials.json") in " ".join(made.stderr.split())

    token = _run_without_url(
        cli, "scim-tokens", "create", "--tenant", "default", "--json", "--data-dir", str(other)
    )
    assert token.exit_code == 0, token.stderr
    listed = _run_without_url(
        cli, "--data-dir", str(other), "scim-tokens", "list", "--tenant", "default"
    )
    assert listed.exit_code == 0 and "scim" in listed.stdout
    # The environment's store did not get it.
    assert _rows(cli.database_url, select(ScimToken.id)) == []


def test_database_url_option_overrides_the_environment(cli: Cli, tmp_path: Path) -> None:
    with sqlite_url(tmp_path / "second") as url:
        (tmp_path / "second").mkdir()
        assert cli.run("tenants", "list", "--database-url", url).exit_code == 1
        cli.ok("migrate", "--database-url", url)
        cli.ok("tenants", "create", "beta", "--database-url", url)
        assert "beta" in cli.ok("--database-url", url, "tenants", "list").stdout
        assert "beta" not in cli.ok("tenants", "list").stdout


def test_postgresql_store_is_named_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_rosterd_env(monkeypatch, tmp_path)
    with postgres_url() as plain:
        url = make_url(plain).set(password="hunter2").render_as_string(hide_password=False)
        pg = Cli(data_dir=tmp_path / "data", database_url=url)
        refused = pg.fails("tenants", "list")
        message = " ".join(refused.stderr.split())
        assert "hunter2" not in message
        assert re.search(r"PostgreSQL database postgresql\+psycopg://postgres:\*\*\*@", message)
        pg.ok("migrate")
        assert "default" in pg.ok("tenants", "list").stdout

        # The store exists, but this data directory lacks its secret key: refused too, as
        # secrets made here would be hashed with another key than the server's.
        lost = Cli(data_dir=tmp_path / "not-the-servers", database_url=url)
        refused = lost.fails("scim-tokens", "create", "--tenant", "default")
        assert "secret key" in refused.stderr
        assert not (tmp_path / "not-the-servers").exists()
