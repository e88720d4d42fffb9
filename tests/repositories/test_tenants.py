"""User numbers (``tenants.user_number``): taken without holding up the tenant's other
creates on PostgreSQL, given back by a create that fails when no one took one since."""

from __future__ import annotations

import secrets
import threading
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from rosterd.domain.commands import NewUser
from rosterd.models import Tenant
from rosterd.repositories import tenants as tenants_repo
from rosterd.runtime import Runtime
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict
from tests.factories import bare_tenant

postgresql_only = pytest.mark.usefixtures("postgresql_store")


@pytest.fixture
def postgresql_store(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer: its creates take turns whatever the numbers do")


def _counter(runtime: Runtime, tenant_id: uuid.UUID) -> int:
    with runtime.db.reader() as session:
        return int(
            session.scalar(select(Tenant.last_user_number).where(Tenant.id == tenant_id)) or 0
        )


def _create(session: Session, tenant_id: uuid.UUID, email: str) -> int:
    actor = Actor(tenant_id=tenant_id, actor="test", surface="test")
    return users_service.create_user(session, actor, NewUser(email=email)).number


def _email() -> str:
    return f"u-{secrets.token_hex(5)}@example.com"


def _with_lock_timeout(session: Session) -> None:
    """Make ``session`` fail at once (rather than wait) on a lock another transaction holds."""
    session.execute(text("SET LOCAL lock_timeout = '1s'"))


@postgresql_only
def test_a_create_does_not_wait_for_another_create_of_the_tenant_to_commit(
    runtime: Runtime,
) -> None:
    tenant_id = bare_tenant(runtime)
    with runtime.db.writer() as first:
        held = _create(first, tenant_id, _email())  # its transaction stays open
        with runtime.db.writer() as second:
            _with_lock_timeout(second)
            other = _create(second, tenant_id, _email())
            second.commit()
        first.commit()
    assert {held, other} == {1, 2}
    assert _counter(runtime, tenant_id) == 2


def test_a_refused_create_gives_its_number_back(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    email = _email()
    with runtime.db.writer.begin() as session:
        assert _create(session, tenant_id, email) == 1
    with runtime.db.writer() as session, pytest.raises(Conflict):
        _create(session, tenant_id, email)
    assert _counter(runtime, tenant_id) == 1
    with runtime.db.writer.begin() as session:
        assert _create(session, tenant_id, _email()) == 2


@postgresql_only
def test_a_number_taken_after_a_failed_creates_own_stays_and_the_failed_one_is_skipped(
    runtime: Runtime,
) -> None:
    tenant_id = bare_tenant(runtime)
    others: list[int] = []

    def fails_after_another_takes_one(first: Session, second: Session) -> int:
        with tenants_repo.user_number(first, tenant_id) as (failed, _):
            with tenants_repo.user_number(second, tenant_id) as (number, _):
                others.append(number)
            raise RuntimeError(failed)

    with (
        runtime.db.writer() as first,
        runtime.db.writer() as second,
        pytest.raises(RuntimeError) as caught,
    ):
        fails_after_another_takes_one(first, second)
    failed = caught.value.args[0]
    (taken,) = others
    assert (failed, taken) == (1, 2)
    assert _counter(runtime, tenant_id) == 2


def test_a_tenant_made_in_the_same_transaction_numbers_its_users(runtime: Runtime) -> None:
    with runtime.db.writer() as session:
        tenant = Tenant(slug=f"t-{secrets.token_hex(5)}", name="t", settings={"a": 1})
        session.add(tenant)
        session.flush()
        with tenants_repo.user_number(session, tenant.id) as (number, settings):
            assert (number, settings) == (1, {"a": 1})
        session.commit()
    assert _counter(runtime, tenant.id) == 1


def test_a_transaction_holding_its_tenants_row_still_gets_a_number(runtime: Runtime) -> None:
    """The autonomous statement would wait for the caller itself: after its lock timeout
    the counter moves in the caller's transaction instead."""
    tenant_id = bare_tenant(runtime)
    with runtime.db.writer() as session:
        session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())
        with tenants_repo.user_number(session, tenant_id) as (number, _):
            assert number == 1
        session.commit()
    assert _counter(runtime, tenant_id) == 1


@postgresql_only
def test_concurrent_creates_in_one_tenant_get_distinct_numbers(runtime: Runtime) -> None:
    """Six writers at once, half of them also trying an address another holds (refused,
    its number given back or skipped): no errors, no number twice."""
    tenant_id = bare_tenant(runtime)
    numbers: list[int] = []
    errors: list[Exception] = []
    refused: list[int] = []

    def work(collides: bool) -> None:
        try:
            for _ in range(5):
                for email in (_email(), "same@example.com") if collides else (_email(),):
                    with runtime.db.writer() as session:
                        try:
                            numbers.append(_create(session, tenant_id, email))
                            session.commit()
                        except Conflict:
                            refused.append(1)
        except Exception as exc:  # collected, asserted empty below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n % 2 == 0,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(refused) == 14  # 15 tries of the shared address, one of which got it
    assert len(numbers) == len(set(numbers)) == 31
    assert max(numbers) <= _counter(runtime, tenant_id)
