"""The installed ``rosterd`` command against a real ``rosterd serve`` on 127.0.0.1, on SQLite
and on PostgreSQL: login, users, groups and members, offboarding, the audit log of those
changes, an idle sweep's dry run, and an export that ``rosterd import`` reads back into
another tenant, whose export is then the same."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.cli.output import ExitCode
from rosterd.services import imports as imports_service
from tests.conftest import LiveServer, server_env

pytestmark = pytest.mark.live

ROSTERD = Path(sys.executable).with_name("rosterd")


class Shell:
    """``rosterd`` as a user runs it: a process of its own, its config in a temporary
    XDG_CONFIG_HOME, no ROSTERD_ variable but those given."""

    def __init__(self, config_home: Path, **env: str) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ROSTERD_")}
        self.env = {**clean, "XDG_CONFIG_HOME": str(config_home), "COLUMNS": "200", **env}

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROSTERD), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)


def _login(shell: Shell, live_server: LiveServer, profile: str) -> str:
    tenant = live_server.tenant()
    client_id, secret = tenant.client_credentials(list(ALL_SCOPES))
    shell.ok(
        "login", "--server", live_server.base_url, "--tenant", tenant.slug,
        "--client-id", client_id, "--profile", profile, stdin=secret + "\n",
    )  # fmt: skip
    return tenant.slug


def _records(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines()
    # Every line is a record `rosterd import` accepts.
    for n, line in enumerate(lines, start=1):
        imports_service.parse(n, line)
    return [json.loads(line) for line in lines]


def _by_email(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    users = sorted((r for r in records if r["type"] == "user"), key=lambda r: str(r["email"]))
    return [r for r in records if r["type"] != "user"] + users


def test_the_remote_commands_against_a_live_server(live_server: LiveServer, tmp_path: Path) -> None:
    shell = Shell(tmp_path / "config")
    _login(shell, live_server, "live")
    shell.env["ROSTERD_PROFILE"] = "live"
    tag = secrets.token_hex(3)

    def create(first: str) -> dict[str, Any]:
        email = f"{first}-{tag}@example.com"
        names = ["--first-name", first.capitalize(), "--last-name", "Live"]
        return dict(shell.json("users", "create", "--email", email, *names, "--title", "Engineer"))

    ada, bob, carl = create("ada"), create("bob"), create("carl")
    listed = shell.json("users", "list")
    assert list(listed) == ["items"]
    assert {u["id"] for u in listed["items"]} == {ada["id"], bob["id"], carl["id"]}

    again = shell.run("users", "create", "--email", ada["email"], "--first-name", "A",
                      "--last-name", "B")  # fmt: skip
    assert again.returncode == ExitCode.CONFLICT, again.stderr
    bad = shell.run("users", "create", "--email", "not an address", "--first-name", "A",
                    "--last-name", "B")  # fmt: skip
    assert bad.returncode == ExitCode.VALIDATION and "email" in bad.stderr
    missing = shell.run("users", "get", f"nobody-{tag}@example.com")
    assert missing.returncode == ExitCode.NOT_FOUND

    assert shell.json("users", "deactivate", ada["email"])["status"] == "inactive"
    assert shell.json("users", "get", ada["id"])["status"] == "inactive"

    eng = shell.json("groups", "create", "Engineering", "--description", "Builders")
    platform = shell.json("groups", "create", "Platform", "--parent", "Engineering")
    assert platform["parentId"] == eng["id"]
    shell.ok("groups", "members", "add", "Engineering", bob["email"], carl["id"])
    members = shell.json("groups", "members", "list", "Engineering")["items"]
    assert {m["id"] for m in members} == {bob["id"], carl["id"]}
    shell.ok("groups", "members", "add", "Platform", carl["email"])
    shell.ok("groups", "members", "remove", "Engineering", carl["email"])
    members = shell.json("groups", "members", "list", "Engineering")["items"]
    assert [m["id"] for m in members] == [bob["id"]]

    offboarded = shell.json("users", "offboard", bob["email"])
    assert offboarded["changed"] and [g["name"] for g in offboarded["groupsRemoved"]] == [
        "Engineering"
    ]
    assert shell.json("groups", "members", "list", "Engineering")["items"] == []

    of_ada = shell.json("audit", "--resource-type", "user", "--resource-id", ada["id"])["items"]
    assert [e["action"] for e in of_ada] == ["user.status_changed", "user.created"]
    of_eng = shell.json("audit", "--resource-type", "group", "--resource-id", eng["id"])
    actions = [e["action"] for e in of_eng["items"]]
    assert actions.count("group.member_added") == 2
    assert actions.count("group.member_removed") == 2  # carl by hand, bob by offboarding
    assert actions[-1] == "group.created"
    limited = shell.json("audit", "--limit", "2")["items"]
    assert len(limited) == 2

    # Nobody has signed in: with never-signed-in users counted, carl (the one active user)
    # is idle; a dry run shows him and changes nothing.
    plan = shell.json("sweep", "idle", "--days", "1", "--never-signed-in", "include", "--dry-run")
    # One of one active users is over the tenant's guard: the plan is held.
    assert plan["sweep"]["state"] == "held"
    assert [p["userId"] for p in plan["items"]] == [carl["id"]]
    assert shell.json("users", "get", carl["id"])["status"] == "active"
    declined = shell.run("sweep", "idle", "--days", "1", "--never-signed-in", "include",
                         stdin="n\n")  # fmt: skip
    assert declined.returncode == ExitCode.ERROR and "Aborted" in declined.stderr
    assert shell.json("users", "get", carl["id"])["status"] == "active"
    applied = shell.json("sweep", "idle", "--days", "1", "--never-signed-in", "include", "--yes")
    assert applied["sweep"]["state"] == "applied"
    assert [p["outcome"] for p in applied["items"]] == ["deactivated"]
    assert shell.json("users", "get", carl["id"])["status"] == "inactive"

    exported = tmp_path / "export.jsonl"
    done = shell.ok("export", "--out", str(exported))
    assert done.stdout == "" and "3 users" in done.stderr
    records = _records(exported)
    assert [r["type"] for r in records] == ["group", "group", "user", "user", "user"]
    assert [r["name"] for r in records[:2]] == ["Engineering", "Platform"]
    assert records[1]["parent"] == "Engineering"
    by_email = {r["email"]: r for r in records[2:]}
    assert by_email[carl["email"]]["groups"] == ["Platform"]
    assert {r["status"] for r in records[2:]} == {"inactive"}
    assert by_email[ada["email"]]["title"] == "Engineer"

    # The export imported over HTTP into the tenant it came from: everything already there.
    again = json.loads(shell.ok("import", str(exported), "--remote", "--json").stdout)
    assert again["result"]["users"] == 0, again
    assert again["result"]["existing_users"] == 3, again
    assert len(shell.json("users", "list")["items"]) == 3

    # Round trip: import the file into another tenant's store, export that tenant again.
    copy_slug = _login(shell, live_server, "copy")
    store_env = server_env(live_server.settings, live_server.base_url)
    local = Shell(
        tmp_path / "config", **{k: v for k, v in store_env.items() if k.startswith("ROSTERD_")}
    )
    local.ok("import", str(exported), "--tenant", copy_slug)
    copied = tmp_path / "copy.jsonl"
    shell.ok("export", "--out", str(copied), "--profile", "copy")
    # The same records; users in creation order, which a bulk import may make the same instant.
    assert _by_email(_records(copied)) == _by_email(records)
