"""``rosterd keys``: rotating and listing the tenants' signing keys from the command line."""

from __future__ import annotations

import json
import re

import jwt
from fastapi.testclient import TestClient
from sqlalchemy import select

from rosterd.models import AuditEvent, SigningKey
from tests.cli.test_cli import Cli, _rows, cli, fresh_cli, served

__all__ = ["cli", "fresh_cli"]  # the fixtures, shared with test_cli

V2_USERS = "/integration/v2/users"


def _client(cli: Cli, tenant: str) -> tuple[str, str]:
    made = json.loads(
        cli.ok("clients", "create", "--tenant", tenant, "--scopes", "user:read", "--json").stdout
    )
    return made["client_id"], made["client_secret"]


def _token(http: TestClient, tenant: str, client: tuple[str, str]) -> str:
    r = http.post(
        f"/tenants/{tenant}/connect/token",
        data={"grant_type": "client_credentials"},
        auth=client,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_keys_rotate_keeps_earlier_tokens_and_signs_new_ones_with_the_new_key(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    client = _client(cli, "acme")
    with served(cli) as http:
        before = _token(http, "acme", client)
    old_kid = _kid(before)

    rotated = cli.ok("keys", "rotate", "--tenant", "acme").stdout
    match = re.search(r"acme: key ([0-9a-f]+) signs from now on", rotated)
    assert match, rotated
    new_kid = match.group(1)
    assert f"{old_kid} verifies until" in rotated

    with served(cli) as http:
        assert http.get(V2_USERS, headers={"Authorization": f"Bearer {before}"}).status_code == 200
        after = _token(http, "acme", client)
        assert _kid(after) == new_kid
        jwks = http.get("/tenants/acme/.well-known/jwks.json").json()["keys"]

    listed = cli.ok("keys", "list", "--tenant", "acme").stdout
    lines = [line for line in listed.splitlines() if old_kid in line or new_kid in line]
    assert len(lines) == 2, listed
    assert new_kid in lines[0] and "signing" in lines[0]
    assert old_kid in lines[1] and "verifying" in lines[1]
    # Never key material: not even the public modulus.
    for jwk in jwks:
        assert jwk["n"][:40] not in listed
    assert "PRIVATE" not in listed

    with served(cli) as http:
        runtime = http.app.state.runtime  # type: ignore[attr-defined]
        with runtime.db.reader() as session:
            events = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "signing_key.rotated")
            ).all()
    assert [(e.actor, e.surface, e.resource_id) for e in events] == [("cli", "cli", new_kid)]


def test_keys_rotate_all_gives_every_tenant_a_new_key(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    cli.ok("tenants", "create", "globex")
    out = cli.ok("keys", "rotate", "--all").stdout
    for slug in ("acme", "default", "globex"):
        assert re.search(rf"^{slug}: key [0-9a-f]+ signs from now on$", out, re.M), out
    signing = _rows(cli.database_url, select(SigningKey.tenant_id, SigningKey.retired_at))
    assert len(signing) == 3
    assert len({tenant for tenant, _ in signing}) == 3
    assert all(retired is None for _, retired in signing)


def test_keys_rotate_names_one_tenant_or_all(cli: Cli) -> None:
    assert "--tenant" in cli.fails("keys", "rotate").stderr
    assert "--all" in cli.fails("keys", "rotate", "--tenant", "default", "--all").stderr
    assert "nope" in cli.fails("keys", "rotate", "--tenant", "nope").stderr
    assert "nope" in cli.fails("keys", "list", "--tenant", "nope").stderr
    assert _rows(cli.database_url, select(SigningKey.kid)) == []
