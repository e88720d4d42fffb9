from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, select, update
from sqlalchemy.exc import NoResultFound, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from rosterd.db.engine import AUTONOMOUS
from rosterd.db.prepared import PointReader, Prepared, PreparedWrite
from rosterd.models import Tenant


def get(session: Session, tenant_id: uuid.UUID) -> Tenant | None:
    return session.get(Tenant, tenant_id)


_SETTINGS = Prepared(select(Tenant.settings).where(Tenant.id == bindparam("tenant_id")))


async def settings_of(db: PointReader, tenant_id: uuid.UUID) -> dict[str, Any]:
    """The tenant's settings, as a point read; empty for a tenant that is not there."""
    row = await _SETTINGS.first(db, {"tenant_id": tenant_id})
    return dict(row.settings or {}) if row is not None else {}


def get_by_slug(session: Session, slug: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.slug == slug))


def list_all(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.slug)))


def add(session: Session, tenant: Tenant) -> Tenant:
    session.add(tenant)
    session.flush()
    return tenant


log = logging.getLogger(__name__)

# PostgreSQL's SQLSTATE for a lock_timeout that ran out.
LOCK_NOT_AVAILABLE = "55P03"

_TENANTS = cast(Table, Tenant.__table__)
# Built once and on the table (no ORM session synchronisation: nothing reads a tenant's
# last_user_number from an entity), which took most of the statement's CPU.
_NEXT_USER_NUMBERS = PreparedWrite(
    update(_TENANTS)
    .where(_TENANTS.c.id == bindparam("tenant_id"))
    .values(last_user_number=_TENANTS.c.last_user_number + bindparam("n"))
    .returning(_TENANTS.c.last_user_number, _TENANTS.c.settings)
)
# A number given back: only while it is still the last one handed out.
_GIVE_BACK = PreparedWrite(
    update(_TENANTS)
    .where(
        _TENANTS.c.id == bindparam("tenant_id"),
        _TENANTS.c.last_user_number == bindparam("number"),
    )
    .values(last_user_number=bindparam("number") - 1)
)


def allocate_user_numbers(session: Session, tenant_id: uuid.UUID, n: int = 1) -> int:
    """Reserve ``n`` consecutive user numbers and return the first (as
    ``user_number``, but not given back if the caller fails)."""
    last, _, _ = _allocate(session, tenant_id, n)
    return last - n + 1


@contextmanager
def user_number(session: Session, tenant_id: uuid.UUID) -> Iterator[tuple[int, dict[str, Any]]]:
    """Reserve one user number for a create in the block; yields it with the tenant's
    settings, which a create reads too (one statement instead of a SELECT more).

    An UPDATE ... RETURNING of the tenant's counter takes its row lock, so concurrent
    creators never share a number. On PostgreSQL it runs on the store's autonomous
    connection (``rosterd.db.engine.Database``) and commits at once, as a sequence's
    ``nextval`` does: the lock is held for that statement alone, not until the creator's
    transaction ends (which queued every create of a tenant behind the one before). A
    number is never handed out twice. When the block fails, the number is given back if no
    one has taken one since (so a refused create changes nothing); otherwise it stays
    unused, and numbers increase but skip it. Where the autonomous connection cannot serve
    (SQLite, whose one writer serialises creates anyway; a tenant created in the caller's
    own transaction, which no other connection sees yet; the row lock held by the caller's
    transaction itself), the counter moves in the caller's transaction, as it did before,
    and goes back with it.
    """
    last, settings, committed = _allocate(session, tenant_id, 1)
    try:
        yield last, settings
    except BaseException:
        if committed:
            _give_back(session, tenant_id, last)
        raise


def _give_back(session: Session, tenant_id: uuid.UUID, number: int) -> None:
    """Best effort: a number that cannot be given back (the store unreachable meanwhile) is
    a gap, and the create's own error is the one to report."""
    autonomous: Engine = session.info[AUTONOMOUS]
    try:
        with autonomous.connect() as connection:
            _GIVE_BACK.run_on(connection, {"tenant_id": tenant_id, "number": number})
    except SQLAlchemyError:
        log.warning("user number %d of tenant %s not given back", number, tenant_id, exc_info=True)


def _allocate(session: Session, tenant_id: uuid.UUID, n: int) -> tuple[int, dict[str, Any], bool]:
    """The counter moved by ``n``: its new value, the tenant's settings, and whether that
    was committed already (on the autonomous connection)."""
    params = {"tenant_id": tenant_id, "n": n}
    autonomous: Engine | None = session.info.get(AUTONOMOUS)
    if autonomous is not None:
        try:
            with autonomous.connect() as connection:
                rows = _NEXT_USER_NUMBERS.returned_on(connection, params)
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
        else:
            if rows:
                last, settings = rows[0]
                return int(last), dict(settings), True
    rows = _NEXT_USER_NUMBERS.returned(session, params)
    if len(rows) != 1:
        raise NoResultFound(f"tenant {tenant_id} not found")
    last, settings = rows[0]
    return int(last), dict(settings), False
