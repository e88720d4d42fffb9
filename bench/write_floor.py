"""The database's share of a user create, without the service around it.

A SCIM POST ends in two rows: the user (``rosterd.repositories.users``' INSERT, with every
index and trigger of users behind it) and its audit event. This runs those two statements,
compiled from the models as the product compiles them, straight on the driver, and commits
every ``batch`` creates as the SQLite writer's group commit does; on SQLite it then indexes
the new users for search as the server's indexer does, on the same single writer. It times
only the driver's calls, the transactions and the indexing (the rows' values are built
beforehand), so what it reports is a floor under any create path: no HTTP, validation, ORM
or Python of rosterd's in it. On PostgreSQL the backend's own CPU (``/proc``) is added to
the client's.

``python -m bench.write_floor --database-url URL`` prints it for a store ``rosterd import``
made (the default tenant), so the figure can be taken at the size the bench runs.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select, text, update

from rosterd.db.engine import make_database
from rosterd.db.prepared import PreparedWrite
from rosterd.lifecycle.search_indexer import BATCH as INDEX_BATCH
from rosterd.models import AuditEvent, Tenant, User, UserStatus
from rosterd.repositories import search_queue
from rosterd.repositories.users import insert_user_write
from rosterd.services import audit

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Floor:
    creates: int
    batch: int
    cpu_ms: float  # per create: the driver's calls and commits, plus PostgreSQL's backend
    wall_ms: float  # per create, over the same calls
    written_kb: float  # per create: what the process (and the backend) handed to write(2)


def _written(pid: int) -> int:
    """The bytes process ``pid`` has passed to write(2) and its kin (``wchar``)."""
    with open(f"/proc/{pid}/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("wchar:"))


def _process_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime + stime


def _user(tenant_id: uuid.UUID, number: int, nonce: str, now: datetime) -> dict[str, Any]:
    """A row as a SCIM create of the bench's payload makes it (scim_post.lua)."""
    name = f"floor-{nonce}-{number}@example.com"
    row: dict[str, Any] = {column.key: None for column in cast(Table, User.__table__).columns}
    row |= {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "number": number,
        "username": name,
        "email": name,
        "username_key": name,
        "email_key": name,
        "email_unique": True,
        "emails": [{"value": name, "type": "work", "primary": True}],
        "first_name": "Bench",
        "last_name": "User",
        "first_name_key": "bench",
        "last_name_key": "user",
        "status": UserStatus.active,
        "created_at": now,
        "modified_at": now,
        "version": 1,
    }
    return row


def _audit(user: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "tenant_id": user["tenant_id"],
        "occurred_at": now,
        "actor": "scim:bench",
        "surface": "scim",
        "action": "user.created",
        "resource_type": "user",
        "resource_id": str(user["id"]),
        "before": None,
        # What services.users.create_user records: the audited fields of the new user.
        "after": audit.snapshot(User(**user)),
        "request_id": uuid.uuid4().hex,
    }


def measure(url: str, *, tenant: str = "default", creates: int = 3000, batch: int = 16) -> Floor:
    """Insert ``creates`` users (and their audit rows) into ``tenant`` of the store at ``url``,
    committing every ``batch``; the rows stay (their userNames are unique to this call).

    It runs on the connection the server writes with (``make_database``'s write engine: on
    SQLite each transaction is a BEGIN IMMEDIATE under a busy timeout, so it waits for a
    running server's writer rather than failing)."""
    database = make_database(url, pool_size=1)
    try:
        with database.write_engine.connect() as connection:
            dialect = connection.dialect
            with connection.begin():
                tenant_id, last = connection.execute(
                    select(Tenant.id, Tenant.last_user_number).where(Tenant.slug == tenant)
                ).one()
                # The numbers the creates take, handed out as tenants.user_number would.
                connection.execute(
                    update(Tenant)
                    .where(Tenant.id == tenant_id)
                    .values(last_user_number=last + creates)
                )
            backend = None
            if dialect.name == "postgresql":
                backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                connection.commit()
            else:
                # Whatever waited to be indexed before is not this measurement's.
                _index_pending(connection)
            users = insert_user_write(dialect.name)
            audits = PreparedWrite(insert(cast(Table, AuditEvent.__table__)))
            now = datetime.now(UTC)
            nonce = uuid.uuid4().hex[:8]
            calls = []
            for number in range(last + 1, last + creates + 1):
                row = _user(tenant_id, number, nonce, now)
                audit = _audit(row, now)
                calls.append(
                    (
                        users.driver_call(dialect, row, columns=tuple(row)),
                        audits.driver_call(dialect, audit, columns=tuple(audit)),
                    )
                )
            raw = connection.connection.dbapi_connection
            assert raw is not None
            cursor = raw.cursor()
            backend_start = _process_cpu_s(backend) if backend is not None else 0.0
            writers = [os.getpid(), *([backend] if backend is not None else [])]
            written = -sum(_written(pid) for pid in writers)
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            for first in range(0, creates, batch):
                with connection.begin():
                    for user_call, audit_call in calls[first : first + batch]:
                        cursor.execute(*user_call)
                        cursor.fetchall()
                        cursor.execute(*audit_call)
            cursor.close()
            if dialect.name == "sqlite":
                # The same single writer indexes the new users for search (the server's
                # SearchIndexer, in batches): part of what each create costs it.
                _index_pending(connection)
            cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
            written += sum(_written(pid) for pid in writers)
            if backend is not None:
                cpu += _process_cpu_s(backend) - backend_start
    finally:
        database.dispose()
    return Floor(
        creates, batch, 1000 * cpu / creates, 1000 * wall / creates, written / 1024 / creates
    )


def _index_pending(connection: Connection) -> None:
    while True:
        with connection.begin():
            if not search_queue.drain(connection, INDEX_BATCH):
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--creates", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    floor = measure(args.database_url, tenant=args.tenant, creates=args.creates, batch=args.batch)
    print(
        f"{floor.creates} creates, commits of {floor.batch}: "
        f"{floor.cpu_ms:.3f} ms of CPU, {floor.wall_ms:.3f} ms of wall time and "
        f"{floor.written_kb:.0f} KB written per create"
    )


if __name__ == "__main__":
    main()
