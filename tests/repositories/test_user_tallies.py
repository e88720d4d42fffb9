"""Per-status user tallies (migration 0006's triggers) against the rows they count.

Every kind of write a user row sees (an ORM insert, a multi-row bulk INSERT, a status
change of one row or of many in one statement, other updates, deletes, a tenant's cascade)
must leave ``user_tallies`` equal to ``count(*)`` grouped by status; and the totals the list
endpoints report from it must equal what counting finds.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update

from rosterd.lifecycle.scheduler import Scheduler
from rosterd.models import Tenant, User, UserStatus, UserTally
from rosterd.repositories import bulk as bulk_repo
from rosterd.repositories import scim_filter
from rosterd.repositories import users as users_repo
from rosterd.repositories._sql import count
from rosterd.runtime import Runtime
from rosterd.services import users as users_service
from tests.factories import bare_tenant, stored_user


def _counted(runtime: Runtime, tenant_id: uuid.UUID) -> dict[str, int]:
    with runtime.db.reader() as session:
        rows = session.execute(
            select(User.status, func.count())
            .where(User.tenant_id == tenant_id)
            .group_by(User.status)
        )
        return {str(status): n for status, n in rows}


def _tallied(runtime: Runtime, tenant_id: uuid.UUID) -> dict[str, int]:
    """Each status's tally: the sum of its slots."""
    with runtime.db.reader() as session:
        rows = session.execute(
            select(UserTally.status, func.sum(UserTally.users))
            .where(UserTally.tenant_id == tenant_id)
            .group_by(UserTally.status)
        )
        return {str(status): n for status, n in rows if n}


def _assert_in_step(runtime: Runtime, tenant_id: uuid.UUID) -> dict[str, int]:
    counted = _counted(runtime, tenant_id)
    assert _tallied(runtime, tenant_id) == counted
    return counted


def _bulk(
    runtime: Runtime, tenant_id: uuid.UUID, statuses: list[UserStatus], first: int = 1
) -> list[Any]:
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "number": n,
            "username": (name := f"bulk-{secrets.token_hex(6)}"),
            "username_key": name,
            "status": status,
        }
        for n, status in enumerate(statuses, start=first)
    ]
    with runtime.db.writer.begin() as session:
        bulk_repo.insert_users(session, rows)
    return [row["id"] for row in rows]


def test_every_kind_of_write_keeps_the_tallies_exact(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    bystander = bare_tenant(runtime)
    _bulk(runtime, bystander, [UserStatus.active] * 3)
    assert _tallied(runtime, tenant_id) == {}

    ids = _bulk(runtime, tenant_id, [UserStatus.active] * 5 + [UserStatus.pending] * 2)
    assert _assert_in_step(runtime, tenant_id) == {"active": 5, "pending": 2}

    with runtime.db.writer.begin() as session:
        session.add(
            stored_user(tenant_id=tenant_id, number=100, username=f"orm-{secrets.token_hex(4)}")
        )
    assert _assert_in_step(runtime, tenant_id) == {"active": 6, "pending": 2}

    with runtime.db.writer.begin() as session:
        user = session.get_one(User, ids[0])
        user.status = UserStatus.suspended
        user.title = "Moved on"
    assert _assert_in_step(runtime, tenant_id) == {"active": 5, "pending": 2, "suspended": 1}

    # Updates that leave the status alone, including one that writes the same status.
    with runtime.db.writer.begin() as session:
        session.execute(
            update(User)
            .where(User.tenant_id == tenant_id)
            .values(title="Everyone", status=User.status)
        )
    assert _assert_in_step(runtime, tenant_id) == {"active": 5, "pending": 2, "suspended": 1}

    # One statement moving rows out of several statuses at once.
    with runtime.db.writer.begin() as session:
        session.execute(
            update(User)
            .where(User.tenant_id == tenant_id, User.status != UserStatus.active)
            .values(status=UserStatus.inactive)
        )
    assert _assert_in_step(runtime, tenant_id) == {"active": 5, "inactive": 3}

    with runtime.db.writer.begin() as session:
        session.execute(delete(User).where(User.id.in_(ids[1:3])))
        session.delete(session.get_one(User, ids[0]))
    assert _assert_in_step(runtime, tenant_id) == {"active": 3, "inactive": 2}

    # The bystander tenant never moved.
    assert _assert_in_step(runtime, bystander) == {"active": 3}


def test_a_rolled_back_write_leaves_the_tallies_alone(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    _bulk(runtime, tenant_id, [UserStatus.active] * 2)
    with runtime.db.writer() as session:
        session.execute(update(User).where(User.tenant_id == tenant_id).values(status="inactive"))
        assert _tallied(runtime, tenant_id) == {"active": 2}  # not yet visible to others
        session.rollback()
    assert _assert_in_step(runtime, tenant_id) == {"active": 2}


def test_deleting_a_tenant_takes_its_tallies_and_users_with_it(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    _bulk(runtime, tenant_id, [UserStatus.active, UserStatus.inactive])
    with runtime.db.writer.begin() as session:
        session.execute(delete(Tenant).where(Tenant.id == tenant_id))
    assert _counted(runtime, tenant_id) == {}
    with runtime.db.reader() as session:
        left = session.scalar(
            select(func.count()).select_from(UserTally).where(UserTally.tenant_id == tenant_id)
        )
    assert left == 0


def test_concurrent_writers_in_one_tenant_neither_deadlock_nor_drift(runtime: Runtime) -> None:
    """Four writers side by side (on PostgreSQL really at once), each transaction moving
    several tallies; odd workers touch them in the opposite order to even ones."""
    tenant_id = bare_tenant(runtime)
    active = _bulk(runtime, tenant_id, [UserStatus.active] * 40)
    inactive = _bulk(runtime, tenant_id, [UserStatus.inactive] * 40, first=41)
    errors: list[Exception] = []

    def work(worker: int) -> None:
        try:
            for step in range(10):
                n = worker * 10 + step
                with runtime.db.writer.begin() as session:
                    if worker % 2:
                        session.execute(delete(User).where(User.id == inactive[n]))
                        moved_to = UserStatus.inactive
                    else:
                        moved_to = UserStatus.suspended
                    session.execute(
                        update(User).where(User.id == active[n]).values(status=moved_to)
                    )
                    session.add(
                        stored_user(
                            tenant_id=tenant_id,
                            number=1000 + n,
                            username=f"c-{secrets.token_hex(6)}",
                        )
                    )
        except Exception as exc:  # collected, asserted empty below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _assert_in_step(runtime, tenant_id) == {"active": 40, "suspended": 20, "inactive": 40}


@pytest.mark.parametrize(
    ("status", "is_active", "expected"),
    [
        (None, None, 7),
        (UserStatus.active, None, 4),
        (UserStatus.inactive, None, 2),
        (None, True, 4),
        (None, False, 3),
        (UserStatus.active, False, 0),
        (UserStatus.pending, False, 1),
    ],
)
def test_status_only_pages_report_the_tallied_total(
    runtime: Runtime, status: UserStatus | None, is_active: bool | None, expected: int
) -> None:
    tenant_id = bare_tenant(runtime)
    _bulk(
        runtime,
        tenant_id,
        [UserStatus.active] * 4 + [UserStatus.inactive] * 2 + [UserStatus.pending],
    )
    q = users_repo.UserQuery(status=status, is_active=is_active, limit=2)
    with runtime.db.reader() as session:
        rows, total = users_repo.search(session, tenant_id, q)
        # The oracle: what counting the rows finds.
        stmt = select(User).where(User.tenant_id == tenant_id)
        if status is not None:
            stmt = stmt.where(User.status == status)
        if is_active is not None:
            stmt = stmt.where((User.status == UserStatus.active) == is_active)
        assert total == count(session, stmt) == expected
        assert len(rows) == min(2, expected)
        _, scim_total = scim_filter.search(
            session, User, tenant_id, None, sort_by=None, descending=False, offset=0, limit=1
        )
        assert scim_total == 7


def test_a_page_with_any_other_filter_still_counts_its_rows(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    ids = _bulk(runtime, tenant_id, [UserStatus.active] * 3)
    with runtime.db.writer.begin() as session:
        session.execute(update(User).where(User.id == ids[0]).values(title="x", department="Ops"))
        username = session.get_one(User, ids[1]).username
    for q in (
        users_repo.UserQuery(status=UserStatus.active, username=username),
        users_repo.UserQuery(search=username),
        users_repo.UserQuery(is_active=True, email="nobody@example.com"),
    ):
        with runtime.db.reader() as session:
            rows, total = users_repo.search(session, tenant_id, q)
        assert total == len(rows) <= 1


def _slots(runtime: Runtime, tenant_id: uuid.UUID) -> list[tuple[str, int]]:
    with runtime.db.reader() as session:
        rows = session.execute(
            select(UserTally.status, UserTally.slot)
            .where(UserTally.tenant_id == tenant_id)
            .order_by(UserTally.status, UserTally.slot)
        )
        return [(str(status), slot) for status, slot in rows]


def test_writers_in_one_tenant_do_not_wait_for_each_others_tallies(runtime: Runtime) -> None:
    """Creating, deleting and moving users of one tenant while another transaction of that
    tenant, which moved a status, is still open: on PostgreSQL each backend adds to its own
    slot, so nothing waits (a lock_timeout of a second would fail the second writer)."""
    if runtime.db.is_sqlite:
        pytest.skip("SQLite has one writer: its transactions take turns")
    tenant_id = bare_tenant(runtime)
    ids = _bulk(runtime, tenant_id, [UserStatus.active] * 4)
    with runtime.db.writer() as first:
        first.execute(update(User).where(User.id == ids[0]).values(status="suspended"))
        with runtime.db.writer() as second:
            second.execute(text("SET LOCAL lock_timeout = '1s'"))
            second.execute(update(User).where(User.id == ids[1]).values(status="suspended"))
            second.execute(delete(User).where(User.id == ids[2]))
            second.add(stored_user(tenant_id=tenant_id, number=10, username="late"))
            second.commit()
        first.commit()
    assert _assert_in_step(runtime, tenant_id) == {"active": 2, "suspended": 2}


def test_a_fold_gathers_the_slots_and_keeps_every_tally(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    ids = _bulk(runtime, tenant_id, [UserStatus.active] * 6)
    # Two transactions at once: on PostgreSQL two backends, so two slots.
    with runtime.db.writer() as first, runtime.db.writer() as second:
        first.execute(update(User).where(User.id == ids[0]).values(status="inactive"))
        if not runtime.db.is_sqlite:
            second.execute(delete(User).where(User.id == ids[1]))
        first.commit()
        second.commit()
    before = _assert_in_step(runtime, tenant_id)
    slotted = _slots(runtime, tenant_id)
    if runtime.db.is_sqlite:
        assert slotted == [("active", 0), ("inactive", 0)]
    else:
        assert len(slotted) > len(before)
    Scheduler(runtime.db).tick()  # the scheduler folds them on each of its rounds
    assert _assert_in_step(runtime, tenant_id) == before
    assert _slots(runtime, tenant_id) == [(status, 0) for status in sorted(before)]


def test_a_fold_skips_the_slot_of_a_transaction_still_open(runtime: Runtime) -> None:
    """The fold neither waits for a writer (a lock_timeout of a second would fail it) nor
    loses what that writer adds once it commits."""
    if runtime.db.is_sqlite:
        pytest.skip("SQLite keeps every tally in slot 0: there is nothing to fold")
    tenant_id = bare_tenant(runtime)
    ids = _bulk(runtime, tenant_id, [UserStatus.active] * 3)
    with runtime.db.writer() as writer:
        writer.execute(update(User).where(User.id == ids[0]).values(status="inactive"))
        with runtime.db.writer() as folder:
            folder.execute(text("SET LOCAL lock_timeout = '1s'"))
            users_service.fold_tallies(folder)
            folder.commit()
        writer.execute(update(User).where(User.id == ids[1]).values(status="inactive"))
        writer.commit()
    assert _assert_in_step(runtime, tenant_id) == {"active": 1, "inactive": 2}
    with runtime.db.writer.begin() as session:
        users_service.fold_tallies(session)
    assert _assert_in_step(runtime, tenant_id) == {"active": 1, "inactive": 2}
    assert _slots(runtime, tenant_id) == [("active", 0), ("inactive", 0)]
