"""Where a request's database work runs, and how its unit of work ends.

A route declares what its work is by the session it asks for (``rosterd.api.deps``): a
point read (a few rows by index), a slow read (searches, big pages) or a write. Each
store runs them where they cost least:

- SQLite: point reads run on the event loop itself. sqlite3 answers them in microseconds,
  less than the hand-off to a worker thread and back (the profile of a GET by id showed the
  hop, and the GIL contention of a 40-thread pool under 16 connections, costing more than
  the query). Slow reads go to a small bounded executor so they cannot stall the loop.
  Writes go to the one writer thread (``GroupCommitWriter``), which owns SQLite's single
  write connection and commits the requests that arrive together in one transaction.
- PostgreSQL: every request keeps its own transaction, run in an executor with as many
  threads as the pool has connections for them, so no request waits on a thread holding
  none, and none makes the pool open (and PostgreSQL fork) a connection beyond its size.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from rosterd.db.point_reads import AsyncpgPointReads, PointRead, SqlitePointReads, T

log = logging.getLogger(__name__)

# Session.info keys: what work the session was given for, and who runs it.
KIND = "rosterd.work.kind"
RUNNER = "rosterd.work.runner"


class Kind(enum.Enum):
    POINT_READ = "point read"
    SLOW_READ = "slow read"
    WRITE = "write"


def kind_of(sessions: Sequence[Session]) -> Kind:
    """The heaviest kind among the sessions a request was given."""
    kinds = {session.info.get(KIND, Kind.POINT_READ) for session in sessions}
    for kind in (Kind.WRITE, Kind.SLOW_READ):
        if kind in kinds:
            return kind
    return Kind.POINT_READ


class Runner(Protocol):
    async def run(self, kind: Kind, sessions: Sequence[Session], call: Callable[[], Any]) -> Any:
        """``call()``'s result, its sessions committed; on error they are rolled back."""

    async def read_point(self, read: PointRead[T]) -> T:
        """``read``'s result, run on a point-read connection in autocommit, on the event loop
        (rosterd.db.point_reads): for a few rows by index, in one statement or a few that
        need not see one snapshot (a GET by id)."""

    async def aclose(self) -> None:
        """Release what the runner holds on the running event loop (before it stops)."""

    def close(self) -> None: ...


def _rollback(sessions: Sequence[Session]) -> None:
    for session in sessions:
        session.rollback()
        session.close()


def in_own_transaction(
    sessions: Sequence[Session], call: Callable[[], Any], *, retry_dead_connection: bool = False
) -> Any:
    """Run ``call`` and commit its sessions; roll back (here, so the connection is free at
    once) if either fails.

    With ``retry_dead_connection``, a call that failed because its connection turned out to
    be dead (the pool does not ping before handing one out; SQLAlchemy then invalidates the
    pool's older connections) runs once more on a fresh one: nothing of it was committed.
    A failed COMMIT is never retried, as it may have committed.
    """
    attempts = 2 if retry_dead_connection else 1
    for attempt in range(attempts):
        try:
            result = call()
        except DBAPIError as exc:
            if exc.connection_invalidated and attempt + 1 < attempts:
                for session in sessions:
                    session.rollback()
                continue
            _rollback(sessions)
            raise
        except BaseException:
            _rollback(sessions)
            raise
        break
    try:
        for session in sessions:
            session.commit()
    except BaseException:
        _rollback(sessions)
        raise
    return result


async def settled(future: asyncio.Future[Any]) -> Any:
    """``future``'s result, awaited to the end even if this task is cancelled meanwhile (a
    client that hangs up): the work still holds the request's sessions, which the session
    dependency closes as soon as this returns. The cancellation is raised afterwards."""
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(future)
        except asyncio.CancelledError:
            if future.done():
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError
        return result


async def _in_executor(executor: ThreadPoolExecutor, call: Callable[[], Any]) -> Any:
    context = contextvars.copy_context()
    return await settled(asyncio.wrap_future(executor.submit(context.run, call)))


class PooledRunner:
    """Per-request transactions in a bounded executor (PostgreSQL)."""

    def __init__(self, threads: int, point_reads: AsyncpgPointReads) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="rosterd-db")
        self._point_reads = point_reads

    async def read_point(self, read: PointRead[T]) -> T:
        return await self._point_reads.run(read)

    async def aclose(self) -> None:
        await self._point_reads.aclose()

    async def run(self, kind: Kind, sessions: Sequence[Session], call: Callable[[], Any]) -> Any:
        return await _in_executor(
            self._executor,
            lambda: in_own_transaction(sessions, call, retry_dead_connection=True),
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class SqliteRunner:
    """Point reads on the loop, slow reads on a small executor, writes to the one writer."""

    def __init__(
        self, read_engine: Engine, write_engine: Engine, *, slow_read_threads: int, max_group: int
    ) -> None:
        self._point_reads = SqlitePointReads(read_engine)
        self._slow = ThreadPoolExecutor(slow_read_threads, thread_name_prefix="rosterd-read")
        self.writer = GroupCommitWriter(write_engine, max_group=max_group)

    async def read_point(self, read: PointRead[T]) -> T:
        return await self._point_reads.run(read)

    async def aclose(self) -> None:
        """Nothing of the runner's belongs to the event loop on SQLite."""

    async def run(self, kind: Kind, sessions: Sequence[Session], call: Callable[[], Any]) -> Any:
        if kind is Kind.POINT_READ:
            return in_own_transaction(sessions, call)
        if kind is Kind.SLOW_READ:
            return await _in_executor(self._slow, lambda: in_own_transaction(sessions, call))
        return await self.writer.submit(sessions, call)

    def close(self) -> None:
        self.writer.close()
        self._slow.shutdown(wait=True)
        self._point_reads.close()


@dataclass
class _Job:
    sessions: Sequence[Session]
    call: Callable[[], Any]
    context: contextvars.Context
    done: Future[Any] = field(default_factory=Future)


class GroupCommitError(RuntimeError):
    """The transaction of a group of writes did not commit: none of them took effect."""


# The savepoint a write of a group runs in (GroupCommitWriter._run).
_SAVEPOINT, _ROLLBACK_TO, _RELEASE = (
    "SAVEPOINT rosterd_write",
    "ROLLBACK TO SAVEPOINT rosterd_write",
    "RELEASE SAVEPOINT rosterd_write",
)


class GroupCommitWriter:
    """The only writer of an SQLite store in this process: one thread, one connection.

    It takes the writes waiting for it (up to ``max_group``) as one group, runs each in a
    SAVEPOINT of one transaction, and commits once. A write that fails rolls back to its
    savepoint only, so it gets its own error (a 409, a 404) and its neighbours are kept.
    Every write's answer waits for the COMMIT; if that fails, every write of the group
    fails with it. A group forms by itself under load: writes that arrive while one group
    runs make up the next, so a lone write commits at once and waits for nobody (in a
    transaction of its own, without a savepoint).

    The connection is taken from the write engine's one-connection pool per group and given
    back after it, so code outside requests that writes through ``Database.writer`` (the
    scheduler, token issuance, the CLI) takes its turn between groups.
    """

    def __init__(self, engine: Engine, *, max_group: int) -> None:
        self._engine = engine
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="rosterd-writer", daemon=True)
        self._thread.start()

    async def submit(self, sessions: Sequence[Session], call: Callable[[], Any]) -> Any:
        job = _Job(sessions, call, contextvars.copy_context())
        self._queue.put(job)
        return await settled(asyncio.wrap_future(job.done))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _serve(self) -> None:
        while (job := self._queue.get()) is not None:
            group = [job]
            while len(group) < self._max_group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                group.append(more)
            self._commit(group)

    def _commit(self, group: list[_Job]) -> None:
        if len(group) == 1:
            self._commit_alone(group[0])
            return
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._engine.connect() as conn:
                conn.begin()
                for job in group:
                    self._check_open(conn)
                    outcomes.append(job.context.run(self._run, conn, job))
                self._check_open(conn)
                conn.commit()
        except Exception as exc:
            log.error("a group of %d writes failed to commit", len(group), exc_info=exc)
            outcomes = [outcome if not outcome[0] else (False, exc) for outcome in outcomes] + [
                (False, exc)
            ] * (len(group) - len(outcomes))
        for job, (ok, value) in zip(group, outcomes, strict=True):
            for session in job.sessions:
                session.close()
            if ok:
                job.done.set_result(value)
            else:
                job.done.set_exception(value)

    @staticmethod
    def _commit_alone(job: _Job) -> None:
        """A write with no neighbours runs in a transaction of its own, without the SAVEPOINT
        and RELEASE that set it apart from them (two statements of a one-attribute PATCH's
        five)."""
        try:
            result = job.context.run(in_own_transaction, job.sessions, job.call)
        except Exception as exc:
            job.done.set_exception(exc)
        else:
            job.done.set_result(result)

    @staticmethod
    def _check_open(conn: Connection) -> None:
        """Fail the group if its transaction is gone: SQLite rolls the whole transaction back
        on some errors (disk full, I/O), after which sqlite3's commit() is a silent no-op and
        the next write's SAVEPOINT would start, and commit, a transaction of its own."""
        if not conn.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
            raise GroupCommitError("the group's transaction was rolled back")

    @staticmethod
    def _run(conn: Connection, job: _Job) -> tuple[bool, Any]:
        """Run one write in a SAVEPOINT of the group's transaction; its outcome.

        The SAVEPOINT is the writer's, on the driver's connection: SQLAlchemy's nested
        transactions (a session joining with ``create_savepoint``) cost a tenth of the
        writer's time in their bookkeeping, for two statements. The write's sessions join the
        group's transaction as ``rollback_only``: their commit flushes and ends their own
        transaction only, and they are never rolled back here (that would end the group's):
        a failed write's sessions are closed, then the write is undone with ROLLBACK TO its
        savepoint.
        """
        driver = conn.connection.driver_connection
        assert driver is not None
        writes = [s for s in job.sessions if s.info.get(KIND) is Kind.WRITE]
        for session in writes:
            session.bind = conn
            session.join_transaction_mode = "rollback_only"
        driver.execute(_SAVEPOINT)
        try:
            result = job.call()
            for session in writes:
                session.commit()
            driver.execute(_RELEASE)
        except Exception as exc:
            # The sessions first (closing one ends any SAVEPOINT of its own still open, inside
            # the writer's), then back to the savepoint; if that fails, the transaction is lost
            # and the group fails. Already lost (the write ended it), it fails at the next check.
            for session in job.sessions:
                if session in writes:
                    session.close()
                else:
                    session.rollback()
            if driver.in_transaction:
                driver.execute(_ROLLBACK_TO)
                driver.execute(_RELEASE)
            return False, exc
        for session in job.sessions:
            if session not in writes:
                session.commit()
        return True, result
