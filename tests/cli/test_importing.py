"""``rosterd import``: the whole file checked first, CSV, what is already there reused, and
a re-run after a failure or a ``kill -9`` going on where the last run stopped, with every
record stored once, on SQLite and PostgreSQL, locally and against a real ``rosterd serve``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.cli import importing
from rosterd.cli.main import app
from rosterd.cli.output import ExitCode
from rosterd.client import Client
from rosterd.config import get_settings
from rosterd.models import (
    AuditEvent,
    DeferredIndex,
    Group,
    GroupMembership,
    ImportBatch,
    Team,
    User,
)
from rosterd.repositories import deferred_indexes, import_journal
from rosterd.services import imports as imports_service
from tests.backends import database_url
from tests.conftest import LiveServer

ROSTERD = Path(sys.executable).with_name("rosterd")


@dataclass
class Store:
    data_dir: Path
    url: str

    def env(self) -> dict[str, str]:
        return {
            "ROSTERD_DATA_DIR": str(self.data_dir),
            "ROSTERD_DATABASE_URL": self.url,
            "NO_COLOR": "1",
        }

    def run(self, *args: str) -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(args), env={**self.env(), "COLUMNS": "200"})
        finally:
            get_settings.cache_clear()

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    def fails(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
        assert isinstance(result.exception, SystemExit), result.exception
        return result

    def rows(self, stmt: Any) -> list[Any]:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(stmt))
        finally:
            engine.dispose()

    def count(self, model: Any) -> int:
        return int(self.rows(select(func.count()).select_from(model))[0][0])

    def usernames(self) -> list[str]:
        return sorted(r[0] for r in self.rows(select(User.username)))

    def subprocess_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTERD_")}
        return {**env, **self.env(), "ROSTERD_LOG_LEVEL": "warning"}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """A migrated store of its own with a tenant ``acme``, on each backend."""
    for key in list(os.environ):
        if key.startswith("ROSTERD_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    with database_url(request.param, tmp_path) as url:
        made = Store(tmp_path / "data", url)
        made.ok("migrate")
        made.ok("tenants", "create", "acme")
        yield made


def _lines(users: int, *, groups: int = 3, email: bool = True) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = [{"type": "group", "name": f"G{g}"} for g in range(groups)]
    lines.append({"type": "team", "name": "Crew"})
    for n in range(users):
        user: dict[str, Any] = {
            "type": "user",
            "username": f"user{n:05d}",
            "first_name": "First",
            "last_name": f"Last{n}",
            "team": "crew",
            "groups": [f"g{n % groups}"],
        }
        if email:
            user["email"] = f"user{n:05d}@corp.example"
        lines.append(user)
    return lines


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _every_record_once(store: Store, users: int, groups: int = 3) -> None:
    assert store.usernames() == [f"user{n:05d}" for n in range(users)]
    assert store.count(Group) == groups
    assert store.count(Team) == 1
    assert store.count(GroupMembership) == users
    created = store.rows(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user.created")
    )
    assert created[0][0] == users
    # A number is never handed out twice (a failed batch's may be skipped).
    numbers = store.rows(select(func.count(func.distinct(User.number)), func.count()))
    assert numbers[0][0] == numbers[0][1] == users


def test_postgresql_writes_two_batches_at_once_and_numbers_users_in_file_order(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL batches of new users are written two at a time (on SQLite, the one
    writer, one); either way every batch is journaled, in file order, and users are
    numbered in the order of the file."""
    users = 396  # 400 lines, 8 batches; the first two (groups, then the first users) alone
    data = _write(tmp_path / "people.jsonl", _lines(users))
    write_batch = imports_service.write_batch
    lock = threading.Lock()
    at_once = widest = 0

    def overlapping(*args: Any, **kwargs: Any) -> Any:
        nonlocal at_once, widest
        with lock:
            at_once += 1
            widest = max(widest, at_once)
        try:
            time.sleep(0.05)  # long enough for the next batch to start meanwhile
            return write_batch(*args, **kwargs)
        finally:
            with lock:
                at_once -= 1

    monkeypatch.setattr(imports_service, "write_batch", overlapping)
    report = json.loads(
        store.ok("import", str(data), "--tenant", "acme", "--batch-size", "50", "--json").stdout
    )
    assert report["result"]["users"] == users
    assert widest == (1 if store.url.startswith("sqlite") else 2)
    _every_record_once(store, users)
    in_file_order = [r[0] for r in store.rows(select(User.number).order_by(User.username))]
    assert in_file_order == sorted(in_file_order)
    journaled = store.rows(select(ImportBatch.first_line, ImportBatch.last_line))
    assert sorted(journaled) == [(first, first + 49) for first in range(1, 400, 50)]


def _journal_fails_in_batch(
    batch: int, monkeypatch: pytest.MonkeyPatch, *, batch_size: int = 10
) -> Any:
    """Make the journal entry of the run's ``batch``-th batch (of ``batch_size`` lines, from
    the file's first) fail, as if the process died in it; the real
    ``import_journal.record``, to put back. Told by its first line, not by the order of
    the calls: on PostgreSQL two batches are written at once."""
    record = import_journal.record
    first_line = (batch - 1) * batch_size + 1

    def fails(*args: Any, **kwargs: Any) -> None:
        if args[3] == first_line:
            raise RuntimeError(f"injected: the process dies in batch {batch}")
        record(*args, **kwargs)

    monkeypatch.setattr(import_journal, "record", fails)
    return record


def test_a_rerun_after_a_failed_batch_goes_on_after_the_last_committed_one(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _write(tmp_path / "people.jsonl", _lines(46))  # 50 lines: 5 batches of 10
    record = _journal_fails_in_batch(3, monkeypatch)
    died = store.run("import", str(data), "--tenant", "acme", "--batch-size", "10")
    assert isinstance(died.exception, RuntimeError)
    # Batch 3 wrote its rows before its journal entry failed: its transaction took them back.
    assert store.count(ImportBatch) == 2
    assert store.usernames() == [f"user{n:05d}" for n in range(16)]  # lines 1-20

    monkeypatch.setattr(import_journal, "record", record)
    again = json.loads(
        store.ok("import", str(data), "--tenant", "acme", "--batch-size", "10", "--json").stdout
    )
    assert again["resumed_after_line"] == 20
    assert again["earlier_runs"]["users"] == 16
    assert again["result"]["users"] == 30
    assert again["result"]["existing_users"] == 0
    _every_record_once(store, 46)
    assert sorted(r[0] for r in store.rows(select(ImportBatch.first_line))) == [1, 11, 21, 31, 41]

    # Once done, the same file again is a no-op, whatever it is named.
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(data.read_bytes())
    third = json.loads(store.ok("import", str(copy), "--tenant", "acme", "--json").stdout)
    assert third["resumed_after_line"] == 50
    assert third["result"]["users"] == 0
    _every_record_once(store, 46)


def test_dry_run_reports_every_bad_line_and_writes_nothing(store: Store, tmp_path: Path) -> None:
    lines = [
        '{"type": "group", "name": "Sales"}',
        '{"type": "user", "username": "ann", "email": "not-an-address"}',
        "",
        '{"type": "user", "username": "bob", "groups": ["Nope"], "team": "Sales"}',
        '{"type": "user", "username": "cy", "email": "cy@corp.example"}',
        '{"type": "user", "username": "CY"}',
        "this is not JSON",
        '{"type": "group", "name": "sales"}',
        '{"type": "user", "username": "dee", "email": "cy@corp.example", "status": "gone"}',
        '{"type": "user", "username": "fine", "groups": ["sales"]}',
        '{"type": "robot", "name": "r2"}',
    ]
    data = tmp_path / "bad.jsonl"
    data.write_text("\n".join(lines) + "\n")
    for extra in (["--dry-run"], []):
        result = store.fails("import", str(data), "--tenant", "acme", "--json", *extra)
        report = json.loads(result.stdout)
        found = [(p["line"], p["field"]) for p in report["bad_lines"]]
        assert found == [
            (2, "email"),
            (4, "team"),
            (4, "groups"),
            (6, "username"),
            (7, "record"),
            (8, "name"),
            (9, "status"),
            (11, "record"),
        ]
        assert store.count(User) == 0
        assert store.count(Group) == 0
        assert store.count(ImportBatch) == 0

    people = store.fails("import", str(data), "--tenant", "acme")
    assert "line 6: username: 'cy' is also on line 5" in people.stderr
    assert "line 8: name: group 'sales' is also defined on line 1" in people.stderr
    assert "7 bad lines; nothing was written" in people.stderr

    # A fine file's dry run says what it would do, and does not.
    good = _write(tmp_path / "good.jsonl", _lines(5))
    said = store.ok("import", str(good), "--tenant", "acme", "--dry-run").stdout
    assert "it would import 5 users, 3 groups, 1 teams, 5 memberships" in said
    assert store.count(User) == 0
    assert store.count(ImportBatch) == 0


def test_csv_users_with_their_groups(store: Store, tmp_path: Path) -> None:
    _write(tmp_path / "groups.jsonl", [{"type": "group", "name": n} for n in ("Sales", "Eng")])
    store.ok("import", str(tmp_path / "groups.jsonl"), "--tenant", "acme")
    data = tmp_path / "people.csv"
    data.write_text(
        "username,email,first_name,last_name,groups,status,last_login_at\n"
        "ann,Ann@Corp.example,Ann,Lee,Sales;eng,,2026-01-31T09:00:00Z\n"
        '"bob",bob@corp.example,"Bob, Jr.",Ray,,suspended,\n'
        "\n"
        "cy,,Cy,,Sales,,\n"
    )
    report = json.loads(store.ok("import", str(data), "--tenant", "acme", "--json").stdout)
    assert report["format"] == "csv"
    assert report["result"]["users"] == 3
    assert report["result"]["memberships"] == 3
    rows = store.rows(select(User.username, User.email, User.first_name, User.status))
    assert sorted((r[0], r[1], r[2], r[3].value) for r in rows) == [
        ("ann", "Ann@corp.example", "Ann", "active"),
        ("bob", "bob@corp.example", "Bob, Jr.", "suspended"),
        ("cy", None, "Cy", "active"),
    ]

    bad = tmp_path / "bad.csv"
    bad.write_text("username,mail\nx,x@corp.example\n")
    report = json.loads(store.fails("import", str(bad), "--tenant", "acme", "--json").stdout)
    assert [(p["line"], p["field"]) for p in report["bad_lines"]] == [(1, "header")]
    assert "unknown column 'mail'" in report["bad_lines"][0]["message"]

    # --format overrides the extension; line numbers count the header.
    other = tmp_path / "people.txt"
    other.write_text("username,email\ndee,dee@corp.example\neve,not-an-address\n")
    report = json.loads(
        store.fails("import", str(other), "--tenant", "acme", "--format", "csv", "--json").stdout
    )
    assert [(p["line"], p["field"]) for p in report["bad_lines"]] == [(3, "email")]


def test_what_is_already_there_is_reused(store: Store, tmp_path: Path) -> None:
    first = [
        {"type": "group", "name": "Sales", "description": "kept"},
        {"type": "team", "name": "Crew"},
        {"type": "user", "username": "ann", "email": "ann@corp.example", "groups": ["Sales"]},
    ]
    store.ok("import", str(_write(tmp_path / "first.jsonl", first)), "--tenant", "acme")
    overlapping = [
        {"type": "group", "name": "SALES", "description": "not applied"},
        {"type": "group", "name": "Eng", "parent": "sales"},
        {"type": "team", "name": "crew"},
        {"type": "user", "username": "ANN", "email": "other@corp.example", "groups": ["Eng"]},
        {"type": "user", "username": "bob", "groups": ["Sales", "Eng"], "team": "Crew"},
    ]
    data = _write(tmp_path / "second.jsonl", overlapping)
    would = json.loads(
        store.ok("import", str(data), "--tenant", "acme", "--dry-run", "--json").stdout
    )["would_do"]
    assert (would["existing_groups"], would["existing_teams"], would["existing_users"]) == (
        1,
        1,
        1,
    )
    assert (would["groups"], would["users"]) == (1, 1)
    done = json.loads(store.ok("import", str(data), "--tenant", "acme", "--json").stdout)
    assert done["result"] == {
        "groups": 1,
        "teams": 0,
        "users": 1,
        "memberships": 2,
        "existing_groups": 1,
        "existing_teams": 1,
        "existing_users": 1,
    }
    assert store.rows(select(Group.name, Group.description).order_by(Group.name)) == [
        ("Eng", None),
        ("Sales", "kept"),
    ]
    # The existing user is left as it was: its address and memberships unchanged.
    assert store.rows(select(User.email).where(User.username == "ann")) == [("ann@corp.example",)]
    assert store.count(GroupMembership) == 3

    # A new user whose address another user has is a bad line, not an existing user.
    clash = _write(
        tmp_path / "clash.jsonl", [{"type": "user", "username": "cy", "email": "ANN@corp.example"}]
    )
    result = store.fails("import", str(clash), "--tenant", "acme")
    assert "line 1: email: 'ann@corp.example' is another user's address" in result.stderr


def _poll(condition: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    """Wait until ``condition`` holds while ``proc`` runs (the import's own progress, read
    from the store or its journal: the event awaited, polled)."""
    deadline = time.monotonic() + 300
    while not condition():
        assert proc.poll() is None, f"the import ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within 300 s"
        time.sleep(0.02)


def test_kill_9_at_half_then_a_rerun_stores_every_record_once(store: Store, tmp_path: Path) -> None:
    users = 1996  # 2,000 lines, 40 batches
    data = _write(tmp_path / "people.jsonl", _lines(users))
    command = [str(ROSTERD), "import", str(data), "--tenant", "acme", "--batch-size", "50"]
    proc = subprocess.Popen(command, env=store.subprocess_env(), stdout=subprocess.DEVNULL)
    try:
        _poll(lambda: store.count(ImportBatch) >= 20, proc, "half of the batches")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stored = store.count(User)
    assert 0 < stored < users
    rerun = subprocess.run(
        [*command, "--json"], env=store.subprocess_env(), capture_output=True, check=True
    )
    report = json.loads(rerun.stdout)
    assert report["resumed_after_line"] >= 1000
    assert report["earlier_runs"]["users"] + report["result"]["users"] == users
    _every_record_once(store, users)


def test_two_runs_of_one_import_at_once_store_every_record_once(
    store: Store, tmp_path: Path
) -> None:
    """Two operators (or a retrying script) start the same import together: both finish,
    each passing over the batches the other stored (never a traceback, never a conflict on
    a name the other run made), and every record is stored once."""
    users = 996  # 1,000 lines, 20 batches
    data = _write(tmp_path / "people.jsonl", _lines(users))
    command = [str(ROSTERD), "import", str(data), "--tenant", "acme", "--batch-size", "50"]
    runs = [
        subprocess.Popen(
            [*command, "--json"],
            env=store.subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert b"Traceback" not in err, err.decode()
        report = json.loads(out)
        assert run.returncode == ExitCode.OK, report.get("stopped")
        assert "stopped" not in report
    final = subprocess.run(
        [*command, "--json"], env=store.subprocess_env(), capture_output=True, check=True
    )
    report = json.loads(final.stdout)
    assert report["earlier_runs"]["users"] + report["result"]["users"] == users
    _every_record_once(store, users)


# ---- remote ---------------------------------------------------------------------------------


def test_remote_import_killed_at_half_then_rerun_creates_every_user_once(
    live_server: LiveServer, tmp_path: Path
) -> None:
    tenant = live_server.tenant()
    client_id, secret = tenant.client_credentials(list(ALL_SCOPES))
    users = 496  # 500 lines: windows of 200
    data = _write(tmp_path / "people.jsonl", _lines(users))
    with Client(
        live_server.base_url, tenant=tenant.slug, client_id=client_id, client_secret=secret
    ) as client:
        # The file's last user is there before the import, made another way: its create is
        # a 409, and the user found by its username counts as already there.
        last = f"user{users - 1:05d}"
        client.users.create(
            email=f"{last}@corp.example", first_name="Pre", last_name="X", username=last
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ROSTERD_")},
            "ROSTERD_CLIENT_SECRET": secret,
            "XDG_STATE_HOME": str(tmp_path / "state"),
        }
        command = [
            str(ROSTERD),
            "import",
            str(data),
            "--tenant",
            tenant.slug,
            "--server",
            live_server.base_url,
            "--client-id",
            client_id,
        ]
        state = tmp_path / "state" / "rosterd" / "imports"

        def journaled() -> int:
            files = list(state.glob("*.json")) if state.is_dir() else []
            return max((json.loads(f.read_text())["last_line"] for f in files), default=0)

        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        try:
            _poll(lambda: journaled() >= 200, proc, "the first window")
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert journaled() < users + 4
        rerun = subprocess.run(
            [*command, "--json"], env=env, capture_output=True, text=True, check=False
        )
        assert rerun.returncode == 0, rerun.stderr
        report = json.loads(rerun.stdout)
        assert report["resumed_after_line"] >= 200
        assert report["bad_lines"] == report["refused_lines"] == []
        assert report["result"]["existing_users"] == 1
        names = sorted(u.username for u in client.users.list())
        assert names == [f"user{n:05d}" for n in range(users)]
        assert sorted(g.name for g in client.groups.list()) == ["G0", "G1", "G2"]
        assert [t.name for t in client.teams.list()] == ["Crew"]
        assert sum(g.member_count for g in client.groups.list()) == users - 1


def test_a_remote_import_without_credentials_or_server_says_so(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each with the exit code scripts branch on (rosterd.cli.output): usage, unreachable,
    and no login profile for --remote."""
    data = _write(tmp_path / "people.jsonl", _lines(1))
    remote = ("import", str(data), "--tenant", "acme", "--server", "http://127.0.0.1:9")
    unsaid = store.run(*remote, "--client-id", "cl_x")
    assert unsaid.exit_code == ExitCode.USAGE, unsaid.output
    assert "ROSTERD_CLIENT_SECRET" in unsaid.stderr
    monkeypatch.setenv("ROSTERD_CLIENT_SECRET", "not-it")
    refused = store.run(*remote, "--client-id", "cl_x")
    assert refused.exit_code == ExitCode.UNREACHABLE, refused.output
    assert "http://127.0.0.1:9" in refused.stderr
    assert "Traceback" not in refused.output
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    no_profile = store.run("import", str(data), "--remote")
    assert no_profile.exit_code == ExitCode.AUTH, no_profile.output
    assert "rosterd login" in no_profile.stderr
    assert "Traceback" not in no_profile.output


# ---- large loads on SQLite set the non-unique indexes aside (deferred_indexes) -------------


def _indexes(store: Store) -> dict[str, str]:
    """Every index of the store, by name: its statement on SQLite, its definition elsewhere."""
    if store.url.startswith("sqlite"):
        query = "SELECT name, coalesce(sql, '') FROM sqlite_master WHERE type = 'index'"
    else:
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    return dict(store.rows(text(query)))


@pytest.fixture
def deferrals(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many indexes each ``deferred_indexes.defer`` of a load set aside, with any load of
    10 records or more counting as large."""
    monkeypatch.setattr(importing, "DEFER_INDEXES_FROM", 10)
    made: list[int] = []
    defer = deferred_indexes.defer

    def counted(connection: Any) -> int:
        made.append(defer(connection))
        return made[-1]

    monkeypatch.setattr(deferred_indexes, "defer", counted)
    return made


def test_a_large_load_builds_every_index_again(
    store: Store, tmp_path: Path, deferrals: list[int]
) -> None:
    before = _indexes(store)
    data = _write(tmp_path / "people.jsonl", _lines(46))
    store.ok("import", str(data), "--tenant", "acme", "--batch-size", "10")
    _every_record_once(store, 46)
    assert _indexes(store) == before
    assert store.count(DeferredIndex) == 0
    if store.url.startswith("sqlite"):
        # users' 16 non-unique indexes and group_memberships' 2; the unique ones stayed.
        assert deferrals == [18]
    else:
        assert deferrals == []


def test_a_load_of_fewer_records_than_the_store_has_users_keeps_its_indexes(
    store: Store, tmp_path: Path, deferrals: list[int]
) -> None:
    store.ok("import", str(_write(tmp_path / "first.jsonl", _lines(46))), "--tenant", "acme")
    deferrals.clear()
    more = [{"type": "user", "username": f"more{n}", "email": f"m{n}@x.example"} for n in range(20)]
    store.ok("import", str(_write(tmp_path / "more.jsonl", more)), "--tenant", "acme")
    assert deferrals == []
    assert store.count(User) == 66


def test_a_failed_large_load_builds_its_indexes_again(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deferrals: list[int]
) -> None:
    before = _indexes(store)
    _journal_fails_in_batch(3, monkeypatch)
    data = _write(tmp_path / "people.jsonl", _lines(46))
    died = store.run("import", str(data), "--tenant", "acme", "--batch-size", "10")
    assert isinstance(died.exception, RuntimeError)
    assert _indexes(store) == before
    assert store.count(DeferredIndex) == 0


@pytest.mark.parametrize("then", ["migrate", "import"])
def test_indexes_a_killed_load_left_aside_are_built_by_the_next_start(
    store: Store, tmp_path: Path, then: str
) -> None:
    """A load killed between setting its indexes aside and building them leaves them in
    deferred_indexes: ``rosterd serve``/``migrate`` (the same start) or the next import
    builds them."""
    if not store.url.startswith("sqlite"):
        pytest.skip("only SQLite loads set indexes aside")
    before = _indexes(store)
    engine = create_engine(store.url)
    try:
        with engine.begin() as conn:
            assert deferred_indexes.defer(conn) == 18
    finally:
        engine.dispose()
    assert len(_indexes(store)) == len(before) - 18
    assert store.count(DeferredIndex) == 18
    if then == "migrate":
        store.ok("migrate")
    else:
        small = [{"type": "user", "username": "solo", "email": "solo@x.example"}]
        store.ok("import", str(_write(tmp_path / "solo.jsonl", small)), "--tenant", "acme")
    assert _indexes(store) == before
    assert store.count(DeferredIndex) == 0
