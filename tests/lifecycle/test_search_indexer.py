"""The background search indexer of `rosterd serve` on SQLite: it catches up soon after
writes, by itself, and leaves users_fts exact however writes and searches interleave with it.

Each test has a SQLite store of its own (see tests.repositories.test_search_queue, whose
checks compare the index with a scan of every users row).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from rosterd.config import Settings
from rosterd.db.engine import make_database
from rosterd.lifecycle.search_indexer import SearchIndexer
from rosterd.models import User
from rosterd.repositories import users as users_repo
from rosterd.repositories._sql import contains_ci
from rosterd.runtime import Runtime
from tests.factories import bare_tenant, own_sqlite_runtime
from tests.repositories.test_search_queue import (
    add,
    assert_index_matches_users,
    indexed_rows,
    pending,
    remove,
    set_fields,
)


@pytest.fixture
def runtime(backend: str, settings: Settings, tmp_path: Path) -> Iterator[Runtime]:
    if backend != "sqlite":
        pytest.skip("PostgreSQL maintains its trigram indexes in the writing transaction")
    with own_sqlite_runtime(settings, tmp_path) as own:
        yield own


@pytest.fixture
def indexer(runtime: Runtime) -> Iterator[SearchIndexer]:
    # Polling too rarely to matter: what wakes it is the commits.
    started = SearchIndexer(runtime.db, batch=7, gather_seconds=0.01, poll_seconds=60)
    started.start()
    yield started
    started.stop()


def wait_until_indexed(runtime: Runtime, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while pending(runtime):
        assert time.monotonic() < deadline, f"{pending(runtime)} rows still pending"
        time.sleep(0.02)


def test_it_indexes_a_write_soon_after_its_commit(
    runtime: Runtime,
    indexer: SearchIndexer,
) -> None:
    tenant_id = bare_tenant(runtime)
    start = time.monotonic()
    user_id = add(runtime, tenant_id, username="soon.indexed")
    wait_until_indexed(runtime)
    assert time.monotonic() - start < 5  # woken by the commit: its poll is a minute away
    assert len(indexed_rows(runtime, "soon.indexed")) == 1
    set_fields(runtime, user_id, username="renamed.later")
    wait_until_indexed(runtime)
    assert_index_matches_users(runtime, ["soon", "renamed", "later", "indexed"])

    indexer.stop()
    remove(runtime, user_id)
    time.sleep(0.2)
    assert pending(runtime) == 1  # stopped: left for the next start, and still found


def test_it_finds_writes_of_other_processes_by_polling(
    runtime: Runtime,
) -> None:
    """A CLI command writing the store commits on an engine of its own: no commit here wakes
    the indexer, its poll does."""
    polling = SearchIndexer(runtime.db, gather_seconds=0.01, poll_seconds=0.1)
    polling.start()
    try:
        tenant_id = bare_tenant(runtime)
        wait_until_indexed(runtime)
        other = make_database(runtime.db.url, pool_size=2)
        try:
            with other.writer.begin() as session:
                session.execute(
                    User.__table__.insert().values(
                        id=uuid.uuid4(),
                        tenant_id=tenant_id,
                        number=1,
                        username="from.elsewhere",
                        username_key="from.elsewhere",
                    )
                )
        finally:
            other.dispose()
        wait_until_indexed(runtime, seconds=5)
    finally:
        polling.stop()
    assert len(indexed_rows(runtime, "elsewhere")) == 1


def test_concurrent_writers_and_searches_with_it_running_stay_exact(
    runtime: Runtime,
    indexer: SearchIndexer,
) -> None:
    """Writers create, rename and delete users while the indexer drains in batches of 7 and
    a reader searches; every search, made in one read transaction with its oracle, finds
    what a LIKE scan finds, and once the writers stop the index holds exactly the table."""
    tenant_id = bare_tenant(runtime)
    words = ["amber", "birch", "cedar", "delta", "ember", "fjord"]
    failures: list[BaseException] = []
    searched: list[str] = []
    writing = threading.Event()
    writing.set()

    def write(worker: int) -> None:
        rng = random.Random(worker)
        mine: list[uuid.UUID] = []
        try:
            for n in range(40):
                action = rng.random()
                if not mine or action < 0.5:
                    mine.append(
                        add(
                            runtime,
                            tenant_id,
                            username=f"w{worker}.{n}.{rng.choice(words)}",
                            number=worker * 1000 + n,
                            last_name=rng.choice(words).title(),
                        )
                    )
                elif action < 0.85:
                    set_fields(runtime, rng.choice(mine), last_name=rng.choice(words).title())
                else:
                    remove(runtime, mine.pop(rng.randrange(len(mine))))
        except BaseException as exc:
            failures.append(exc)

    def search() -> None:
        rng = random.Random(99)
        try:
            while writing.is_set():
                needle = rng.choice(words)[1:4]
                with runtime.db.reader() as session:
                    found, _ = users_repo.search(
                        session, tenant_id, users_repo.UserQuery(search=needle, limit=1000)
                    )
                    columns = [User.first_name, User.last_name, User.display_name]
                    columns += [User.email, User.username]
                    expected = set(
                        session.scalars(
                            select(User.id).where(
                                User.tenant_id == tenant_id, contains_ci(columns, needle)
                            )
                        )
                    )
                assert {u.id for u in found} == expected, needle
                searched.append(needle)
        except BaseException as exc:
            failures.append(exc)

    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    reader = threading.Thread(target=search)
    for thread in (*writers, reader):
        thread.start()
    for thread in writers:
        thread.join()
    writing.clear()
    reader.join()
    assert failures == []
    assert searched
    wait_until_indexed(runtime)
    with runtime.db.reader() as session:
        users = session.execute(text("SELECT count(*) FROM users")).scalar_one()
    assert users > 40
    assert_index_matches_users(runtime, [*words, *(w[1:4] for w in words), "w0.", "w3.1", ".3."])
