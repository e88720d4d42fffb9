"""``rosterd import``: load groups, teams and users from a JSON Lines or CSV file, into a
local store (``--data-dir`` / ``--database-url``) or a running server (``--server``).

Either way the whole file is checked before anything is written (``--dry-run`` checks it
only) and every bad line is reported with its number and field; then the lines are written,
and a re-run after a crash or a ``kill -9`` goes on where the last one stopped:

- locally, batch by batch, each batch one transaction that also writes its entry in the
  store's import journal (rosterd.models.import_journal), so a batch is stored and
  journaled or neither, and a re-run starts after the last journaled line;
- remotely, through the SDK (rosterd.services.remote_imports): every create carries an
  Idempotency-Key made of the import id and the line, so a line sent again is answered from
  the server's idempotency store or found already there, never made twice; a journal file
  in the state directory lets a re-run skip what was done without asking the server.

Progress (a Rich bar with rate and ETA) goes to stderr when it is a terminal; stdout gets
the summary, as one JSON object with ``--json``.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from sqlalchemy.exc import IntegrityError

from rosterd.cli import output, profiles, remote, store
from rosterd.cli.output import ExitCode, err, fail, out
from rosterd.client import Client
from rosterd.db.maintenance import refresh_statistics
from rosterd.models import UserStatus
from rosterd.repositories import bulk as bulk_repo
from rosterd.repositories import deferred_indexes, import_journal, user_tallies
from rosterd.runtime import Runtime, restore_deferred_indexes
from rosterd.services import import_files, remote_imports
from rosterd.services import imports as imports_service
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, DomainError
from rosterd.services.import_checks import FileCheck, KnownNames, Spool, TakenKeys
from rosterd.services.import_files import FileFacts, Format
from rosterd.services.imports import ImportResult, Problem

# Lines between two updates of a progress bar (an update costs more than checking a line).
PROGRESS_EVERY = 500


def import_directory(
    path: Annotated[Path, typer.Argument(help="JSON Lines or CSV file; '-' reads stdin.")],
    tenant: Annotated[
        str | None,
        typer.Option(help="Tenant slug (a local store, or --server); else the profile's."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Lines a local transaction writes.")
    ] = 5000,
    file_format: Annotated[
        Format | None,
        typer.Option("--format", help="The file's format; else its extension's (.csv or not)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the whole file; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    remote: Annotated[
        bool,
        typer.Option(
            "--remote", help="Import into the server of the login profile (see --profile)."
        ),
    ] = False,
    server: Annotated[
        str | None,
        typer.Option(help="Import into the rosterd server at this URL (not a local store)."),
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option(help=f"OAuth client of --server; its secret from ${profiles.SECRET_ENV}."),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=32, help="Requests in flight at once (--server).")
    ] = 4,
) -> None:
    """Bulk-load groups, teams and users from JSON Lines or CSV (README: "Import file
    format"); resumes after a crash; --dry-run reports every bad line and writes nothing."""
    started = time.monotonic()
    with _input(path) as source:
        fmt = file_format or Format.of(path)
        facts = import_files.facts(source, fmt)
        summary: dict[str, Any] = {
            "file": str(path),
            "format": fmt.value,
            "tenant": tenant,
            "import_id": facts.import_id,
            "dry_run": dry_run,
        }
        if remote or server is not None:
            with _remote_client(server, tenant, client_id) as client:
                summary["tenant"] = client.tenant
                ok = _import_remote(client, source, fmt, facts, dry_run, concurrency, summary)
        elif tenant is None:
            fail("--tenant is needed to import into a local store", ExitCode.USAGE)
        else:
            with _collector_paused():
                ok = _import_local(source, fmt, facts, tenant, batch_size, dry_run, summary)
    summary["elapsed_seconds"] = round(time.monotonic() - started, 3)
    _report(summary, as_json)
    if not ok:
        raise typer.Exit(1)


@contextmanager
def _remote_client(
    server: str | None, tenant: str | None, client_id: str | None
) -> Iterator[Client]:
    """The SDK client of a remote import: ``--server`` and ``--client-id`` with the secret
    from the environment, else the login profile's; SDK errors end the command with their
    exit code."""
    if server is None:
        with remote.connect() as client:
            if tenant is not None and tenant != client.tenant:
                fail(f"--tenant {tenant} is not the profile's tenant ({client.tenant})")
            yield client
        return
    secret = os.environ.get(profiles.SECRET_ENV)
    if not client_id or not secret or tenant is None:
        fail(
            f"--server needs --tenant, --client-id and the client's secret in "
            f"${profiles.SECRET_ENV} (or use --remote with a login profile)",
            ExitCode.USAGE,
        )
    with remote.make_client(server, tenant, client_id, secret) as client, output.reporting():
        yield client


@contextmanager
def _input(path: Path) -> Iterator[Path]:
    """The file to read, twice: stdin is first copied to a private temporary file."""
    if str(path) != "-":
        if not path.is_file():
            fail(f"{path}: no such file")
        yield path
        return
    with tempfile.NamedTemporaryFile(prefix="rosterd-import-") as spooled:
        shutil.copyfileobj(sys.stdin.buffer, spooled)
        spooled.flush()
        yield Path(spooled.name)


def _import_local(
    path: Path,
    fmt: Format,
    facts: FileFacts,
    tenant: str,
    batch_size: int,
    dry_run: bool,
    summary: dict[str, Any],
) -> bool:
    with store.runtime() as runtime:
        # Those a load killed before its end set aside.
        restore_deferred_indexes(runtime.db)
        with runtime.db.reader() as session:
            tenant_id = tenants_service.get_tenant_by_slug(session, tenant).id
            names = imports_service.Names.load(session, tenant_id)
            done_through = import_journal.last_line(session, tenant_id, facts.import_id)
            earlier = [
                ImportResult.of_counts(b.counts)
                for b in import_journal.batches(session, tenant_id, facts.import_id)
            ]

        check = FileCheck(
            KnownNames(set(names.groups), set(names.teams), set(names.roles)),
            shared_emails=names.shared_emails,
            taken=_taken_keys(runtime, tenant_id, facts.lines),
        )
        summary["resumed_after_line"] = done_through
        with Spool(batch_size) as spool:
            with output.progress() as bar:
                task = bar.add_task("checking", total=facts.lines)
                for raw in import_files.read(path, fmt):
                    item = check.add(raw)
                    if item is not None and raw.line > done_through:
                        spool.add(item)
                    if raw.line % PROGRESS_EVERY == 0:
                        bar.update(task, completed=raw.line)
                bar.update(task, completed=facts.lines)
            problems = check.finish()
            _note_problems(summary, problems)
            if problems or dry_run:
                summary["would_do"] = check.expected.counts()
                return not problems
            total = ImportResult()
            before = ImportResult()
            for result in earlier:
                before.add(result)
            summary["earlier_runs"] = before.counts()
            batches = _LocalBatches(
                runtime, store.cli_actor(tenant_id), names, check.expected.existing_users > 0
            )
            try:
                with output.progress() as bar, _indexes_deferred(runtime, spool.items):
                    task = bar.add_task("importing", total=spool.items)
                    for batch, entry, done in batches.write(spool.read(), facts.import_id):
                        total.add(done)
                        summary["done_through_line"] = entry.last_line
                        bar.advance(task, len(batch))
            except (DomainError, IntegrityError) as exc:
                message = exc.message if isinstance(exc, DomainError) else _integrity(exc)
                summary["stopped"] = message
                return False
            finally:
                summary["result"] = total.counts()
            refresh_statistics(runtime.db)
    return True


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The block without Python's cyclic garbage collector (reference counting still frees
    everything else); a full collection after it.

    A local load allocates a few containers per field of every line (parsed records, checked
    items, row dicts and tuples), none of them in a reference cycle; the collector's
    generation-0 passes, triggered every 700 allocations, traversed them again and again:
    10% of a 100,000-user load's CPU (py-spy). The cycles a load does make (SQLAlchemy's
    per-transaction objects, a few per batch) wait for the collection at the end.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


# A local load of at least this many records, and of no fewer than the store has users,
# sets the non-unique indexes of users and memberships aside while it writes
# (rosterd.repositories.deferred_indexes). A smaller one would spend more building them
# again, over every user of the store, than it saves.
DEFER_INDEXES_FROM = 20_000


@contextmanager
def _indexes_deferred(runtime: Runtime, records: int) -> Iterator[None]:
    """The block with the indexes set aside when the load is large enough (SQLite), and
    built again after it, whether it ended well or not."""
    deferred = 0
    if runtime.db.is_sqlite and records >= DEFER_INDEXES_FROM:
        with runtime.db.writer.begin() as session:
            if records >= user_tallies.store_total(session):
                deferred = deferred_indexes.defer(session.connection())
    try:
        yield
    finally:
        if deferred:
            restore_deferred_indexes(runtime.db)


# A batch of a local import, and the journal entry it is written with.
_Batch = list[imports_service.Checked]
_Entry = imports_service.JournalEntry


class _LocalBatches:
    """Writes the batches of a local import, each in a transaction of its own with its
    journal entry, and copes with another run of the same import (or another writer) at
    the same time: a batch refused because what it writes appeared meanwhile is looked at
    again, and passed over once the other run's journal has it.

    On PostgreSQL, batches of new users are written ``AT_ONCE`` at a time, each on its own
    connection: most of a load's time is the database maintaining the users' indexes for
    each COPY, which one backend does on one core (two halves of a 100,000-user file
    imported at once took 28 s against 53 s one after the other). A batch still commits
    only after the one before it, so the journal always holds a prefix of the file and a
    re-run goes on after its last line, as with one batch at a time; a batch whose
    predecessor failed fails too. Nothing a batch does while it waits may wait on the
    batch before it: their users' numbers are reserved before either starts (no lock on
    the tenant's row), and the statistics they keep skip a table being analyzed. A batch
    that fails is written again alone (``store``, with its retries), and so is every batch
    with groups or teams (later batches refer to them) and every batch of an import that
    must look for users already there.
    """

    # Tries of one batch while another run keeps storing what it writes.
    TRIES = 3
    # Batches written at once on PostgreSQL.
    AT_ONCE = 2

    def __init__(
        self, runtime: Runtime, actor: Actor, names: imports_service.Names, existing: bool
    ) -> None:
        self._runtime = runtime
        self._actor = actor
        self._names = names
        self._look_up_existing = existing

    def write(
        self, batches: Iterable[_Batch], import_id: str
    ) -> Iterator[tuple[_Batch, _Entry, ImportResult]]:
        """Write ``batches`` in file order; each with its journal entry and what this run
        did, in file order, as they commit."""
        at_once = 1 if self._runtime.db.is_sqlite else self.AT_ONCE
        pending: deque[tuple[_Batch, _Entry, Future[ImportResult]]] = deque()
        # The first batch of users is written alone: its statistics (kept as the tables grow
        # from empty) are those the next batches' foreign key checks are planned with.
        first_users = True
        with ThreadPoolExecutor(at_once, thread_name_prefix="rosterd-import") as pool:
            for batch in batches:
                entry = imports_service.JournalEntry(import_id, batch[0].line, batch[-1].line)
                users_only = _users_only(batch)
                if at_once == 1 or self._look_up_existing or not users_only or first_users:
                    while pending:
                        yield self._committed(*pending.popleft())
                    yield batch, entry, self.store(batch, entry)
                    first_users = first_users and not users_only
                    continue
                before = pending[-1][2] if pending else None
                numbers = self._reserve_numbers(batch)
                pending.append(
                    (batch, entry, pool.submit(self._write_after, batch, entry, numbers, before))
                )
                if len(pending) == at_once:
                    yield self._committed(*pending.popleft())
            while pending:
                yield self._committed(*pending.popleft())

    def _committed(
        self, batch: _Batch, entry: _Entry, written: Future[ImportResult]
    ) -> tuple[_Batch, _Entry, ImportResult]:
        """A batch written alongside others once it committed; written again alone when it
        (or the batch before it) was refused for what another writer stored meanwhile."""
        try:
            return batch, entry, written.result()
        except (Conflict, IntegrityError):
            return batch, entry, self.store(batch, entry)

    def _reserve_numbers(self, batch: _Batch) -> int:
        with self._runtime.db.writer.begin() as session:
            return imports_service.reserve_user_numbers(session, self._actor, batch)

    def _write_after(
        self, batch: _Batch, entry: _Entry, numbers: int, before: Future[ImportResult] | None
    ) -> ImportResult:
        """``batch`` written in a transaction that commits once ``before`` has, and fails
        (so rolls back) with it."""
        with self._runtime.db.writer.begin() as session:
            done = imports_service.write_batch(
                session,
                self._actor,
                self._names,
                batch,
                entry,
                look_up_existing=False,
                numbered_from=numbers,
            )
            if before is not None:
                before.result()
            return done

    def store(self, batch: _Batch, entry: _Entry) -> ImportResult:
        """Write ``batch``; what this run did (nothing when another run did it); raises what
        the last try was refused with."""
        tries_left = self.TRIES
        while True:
            try:
                return self._write(batch, entry)
            except (Conflict, IntegrityError):
                tries_left -= 1
                tenant_id = self._actor.tenant_id
                with self._runtime.db.reader() as session:
                    # The failed transaction may have noted names it never stored, and the
                    # other run made names the next batches use.
                    self._names = imports_service.Names.load(session, tenant_id)
                    if import_journal.has_batch(
                        session, tenant_id, entry.import_id, entry.first_line
                    ):
                        return ImportResult()
                if not tries_left:
                    raise
                self._look_up_existing = True

    def _write(self, batch: _Batch, entry: _Entry) -> ImportResult:
        with self._runtime.db.writer.begin() as session:
            return imports_service.write_batch(
                session,
                self._actor,
                self._names,
                batch,
                entry,
                look_up_existing=self._look_up_existing,
            )


def _users_only(batch: _Batch) -> bool:
    return all(isinstance(item, imports_service.CheckedUser) for item in batch)


def _taken_keys(runtime: Any, tenant_id: uuid.UUID, lines: int) -> TakenKeys:
    """How the check finds the file's users the tenant has: from all of the tenant's keys,
    read at once, when it has no more users than the file has lines (a new tenant, or one
    an earlier run of this import filled); else by looking the file's keys up."""
    with runtime.db.reader() as session:
        present = user_tallies.total(session, tenant_id, list(UserStatus))
        if present <= lines:
            usernames, emails = bulk_repo.user_keys(session, tenant_id)
            return lambda u, e: (usernames.intersection(u), emails.intersection(e))

    def look_up(usernames: list[str], emails: list[str]) -> tuple[set[str], set[str]]:
        with runtime.db.reader() as session:
            return bulk_repo.taken_user_keys(session, tenant_id, usernames, emails)

    return look_up


def _integrity(exc: IntegrityError) -> str:
    return (
        "another run of this import, or another writer, stored these lines meanwhile "
        f"({exc.orig}); run the import again to go on"
    )


def _import_remote(
    client: Client,
    path: Path,
    fmt: Format,
    facts: FileFacts,
    dry_run: bool,
    concurrency: int,
    summary: dict[str, Any],
) -> bool:
    importer = remote_imports.RemoteImport(client, facts.import_id, concurrency=concurrency)
    check = importer.file_check()
    journal = remote_imports.Journal.of(client.base_url, client.tenant, facts.import_id)
    done_through = journal.last_line()
    summary["journal"] = str(journal.path)
    summary["resumed_after_line"] = done_through
    with output.progress() as bar:
        task = bar.add_task("checking", total=facts.lines)
        for raw in import_files.read(path, fmt):
            check.add(raw)
            if raw.line % PROGRESS_EVERY == 0:
                bar.update(task, completed=raw.line)
        bar.update(task, completed=facts.lines)
    problems = check.finish()
    _note_problems(summary, problems)
    if problems or dry_run:
        summary["would_do"] = check.expected.counts()
        return not problems
    items = (
        imports_service.check(raw.line, record)
        for raw in import_files.read(path, fmt)
        if raw.line > done_through
        for record in [imports_service.parse_raw(raw)]
        if not isinstance(record, list)
    )
    with output.progress() as bar:
        task = bar.add_task("importing", total=max(facts.lines - done_through, 0))
        outcome = importer.run(
            items, journal, lambda line: bar.update(task, completed=line - done_through)
        )
    summary["result"] = outcome.result.counts()
    summary["done_through_line"] = outcome.done_through
    _note_problems(summary, outcome.refused, key="refused_lines")
    if outcome.stopped is not None:
        summary["stopped"] = outcome.stopped
    return outcome.stopped is None and not outcome.refused


def _note_problems(
    summary: dict[str, Any], problems: list[Problem], key: str = "bad_lines"
) -> None:
    summary[key] = [{"line": p.line, "field": p.field, "message": p.text} for p in problems]


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(summary))
        return
    for key in ("bad_lines", "refused_lines"):
        for problem in summary.get(key, []):
            err.print(f"[red]error:[/red] line {problem['line']}: {escape(problem['message'])}")
    if summary.get("bad_lines"):
        count = len({p["line"] for p in summary["bad_lines"]})
        err.print(f"[red]error:[/red] {count} bad line{'s' * (count != 1)}; nothing was written")
    if "would_do" in summary:
        if not summary.get("bad_lines"):
            would = summary["would_do"]
            out.print(
                f"{summary['file']} is fine: it would import {would['users']} users, "
                f"{would['groups']} groups, {would['teams']} teams, "
                f"{would['memberships']} memberships; already there: "
                f"{_existing(would)} (nothing written)"
            )
        return
    done = summary.get("result", {})
    if summary.get("resumed_after_line"):
        out.print(f"resumed after line {summary['resumed_after_line']} (done by an earlier run)")
    if done:
        out.print(
            f"imported {done['users']} users, {done['groups']} groups, {done['teams']} teams, "
            f"{done['memberships']} memberships in {summary['elapsed_seconds']:.1f}s; "
            f"already there: {_existing(done)}"
        )
    if "stopped" in summary:
        through = summary.get("done_through_line") or summary.get("resumed_after_line", 0)
        err.print(
            f"[red]error:[/red] {escape(summary['stopped'])}\n"
            f"stopped after line {through}; run the same command again to go on from there"
        )


def _existing(counts: dict[str, Any]) -> str:
    return (
        f"{counts['existing_users']} users, {counts['existing_groups']} groups, "
        f"{counts['existing_teams']} teams"
    )
