"""Where requests' database work runs: SQLite's group-committing writer, and the
per-request transactions of the pooled runner (rosterd.db.work)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rosterd.db.engine import Database, make_database
from rosterd.db.work import KIND, GroupCommitError, GroupCommitWriter, Kind, in_own_transaction


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    db = make_database(f"sqlite:///{tmp_path / 'w.db'}")
    with db.writer.begin() as session:
        session.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    yield db
    db.dispose()


def stored(db: Database) -> set[int]:
    with db.reader() as session:
        return set(session.scalars(text("SELECT n FROM t")))


def write_session(db: Database) -> Session:
    session = db.writer()
    session.info[KIND] = Kind.WRITE
    return session


def insert(session: Session, *values: int) -> Callable[[], list[int]]:
    def call() -> list[int]:
        for n in values:
            session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        return list(values)

    return call


def commits_of(db: Database) -> list[int]:
    """A list that grows by one at each COMMIT of the write engine."""
    commits: list[int] = []
    event.listen(db.write_engine, "commit", lambda _conn: commits.append(1))
    return commits


async def held_writer(
    writer: GroupCommitWriter, db: Database, calls: list[Callable[[Session], Callable[[], Any]]]
) -> list[Any]:
    """Submit a first write that holds the writer until every one of ``calls`` is queued,
    so they form one group; their outcomes (result or exception), in order."""
    queued = threading.Event()
    blocker = write_session(db)

    def wait_for_the_rest() -> None:
        assert queued.wait(10)

    first = asyncio.ensure_future(writer.submit([blocker], wait_for_the_rest))
    await asyncio.sleep(0.05)
    sessions = [write_session(db) for _ in calls]
    rest = [
        asyncio.ensure_future(writer.submit([s], make(s)))
        for s, make in zip(sessions, calls, strict=True)
    ]
    await asyncio.sleep(0.05)
    queued.set()
    await first
    return list(await asyncio.gather(*rest, return_exceptions=True))


def test_concurrent_writes_commit_together_each_with_its_own_outcome(db: Database) -> None:
    writer = GroupCommitWriter(db.write_engine, max_group=64)
    commits = commits_of(db)
    calls: list[Callable[[Session], Callable[[], Any]]] = [
        (lambda s, n=n: insert(s, n)) for n in range(1, 11)
    ]
    # One write conflicts with another's row after inserting one of its own: it fails, and
    # its own row goes with it, but nothing of its neighbours'.
    calls.insert(5, lambda s: insert(s, 100, 3))

    outcomes = asyncio.run(held_writer(writer, db, calls))
    writer.close()

    assert [o for i, o in enumerate(outcomes) if i != 5] == [[n] for n in range(1, 11)]
    assert isinstance(outcomes[5], IntegrityError)
    assert stored(db) == set(range(1, 11))
    # One COMMIT for the eleven queued behind the blocker (which wrote nothing).
    assert len(commits) == 1


def test_a_write_with_savepoints_of_its_own_keeps_or_loses_them_with_itself(
    db: Database,
) -> None:
    """Writes that use SAVEPOINTs of their own (``Session.begin_nested``) inside the one
    each write of a group runs in: what they release stays with their write, and a write
    that fails with one still open loses it and nothing of its neighbours'."""
    writer = GroupCommitWriter(db.write_engine, max_group=64)

    def nested_then_more(s: Session) -> Callable[[], list[int]]:
        def call() -> list[int]:
            with s.begin_nested():
                s.execute(text("INSERT INTO t VALUES (20)"))
            s.execute(text("INSERT INTO t VALUES (21)"))
            return [20, 21]

        return call

    def fails_inside_its_savepoint(s: Session) -> Callable[[], None]:
        def call() -> None:
            nested = s.begin_nested()
            s.execute(text("INSERT INTO t VALUES (30)"))
            assert nested.is_active
            raise RuntimeError("a write that fails with its savepoint open")

        return call

    def recovers_inside_its_savepoint(s: Session) -> Callable[[], list[int]]:
        def call() -> list[int]:
            try:
                with s.begin_nested():
                    s.execute(text("INSERT INTO t VALUES (40)"))
                    s.execute(text("INSERT INTO t VALUES (1)"))  # taken by the first write
            except IntegrityError:
                pass
            s.execute(text("INSERT INTO t VALUES (41)"))
            return [41]

        return call

    calls: list[Callable[[Session], Callable[[], Any]]] = [
        lambda s: insert(s, 1),
        nested_then_more,
        fails_inside_its_savepoint,
        recovers_inside_its_savepoint,
        lambda s: insert(s, 2),
    ]
    outcomes = asyncio.run(held_writer(writer, db, calls))
    writer.close()

    assert outcomes[:2] == [[1], [20, 21]]
    assert isinstance(outcomes[2], RuntimeError)
    assert outcomes[3:] == [[41], [2]]
    assert stored(db) == {1, 2, 20, 21, 41}


def test_a_group_whose_transaction_is_lost_fails_every_write(db: Database) -> None:
    writer = GroupCommitWriter(db.write_engine, max_group=64)

    def lose_the_transaction(s: Session) -> Callable[[], None]:
        def call() -> None:
            s.connection().exec_driver_sql("ROLLBACK")

        return call

    calls: list[Callable[[Session], Callable[[], Any]]] = [
        lambda s: insert(s, 1),
        lose_the_transaction,
        lambda s: insert(s, 2),
    ]
    outcomes = asyncio.run(held_writer(writer, db, calls))
    writer.close()

    assert [type(o) for o in outcomes][::2] == [GroupCommitError, GroupCommitError]
    assert isinstance(outcomes[1], Exception)
    assert stored(db) == set()


def test_a_lone_write_commits_at_once_and_later_reads_see_it(db: Database) -> None:
    writer = GroupCommitWriter(db.write_engine, max_group=64)

    session = write_session(db)

    async def main() -> set[int]:
        await writer.submit([session], insert(session, 7))
        return stored(db)

    assert asyncio.run(main()) == {7}
    writer.close()


def test_writes_outside_requests_take_their_turn_between_groups(db: Database) -> None:
    writer = GroupCommitWriter(db.write_engine, max_group=64)
    session = write_session(db)
    asyncio.run(writer.submit([session], insert(session, 1)))
    with db.writer.begin() as other:
        other.execute(text("INSERT INTO t VALUES (2)"))
    writer.close()
    assert stored(db) == {1, 2}


def test_a_failed_request_in_its_own_transaction_leaves_nothing(db: Database) -> None:
    session = write_session(db)
    with pytest.raises(IntegrityError):
        in_own_transaction([session], insert(session, 1, 1))
    assert stored(db) == set()
