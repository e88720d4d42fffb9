from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Literal, TypeAlias, cast

from sqlalchemy import (
    ColumnElement,
    Dialect,
    Integer,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    inspect,
    literal,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.instrumentation import ClassManager
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.util import ClauseAdapter

from rosterd.db.prepared import PointReader, Prepared, PreparedWrite
from rosterd.models import GroupMembership, Role, Team, User, UserStatus
from rosterd.models.base import utcnow
from rosterd.repositories import user_search, user_tallies
from rosterd.repositories._sql import contains_ci, count, page_total
from rosterd.repositories.scim_filter import KeyLookup
from rosterd.repositories.text_columns import plain_text, utc_text, uuid_text
from rosterd.repositories.user_search import FULL_NAME, ID_HEX

SortKey = Literal["name", "email", "createdAt", "lastLoginAt", "username"]
# Where a query reads user columns by attribute name: User, an alias of it over a subquery,
# or that subquery's column collection (see _page).
Users: TypeAlias = Any
ListingRow: TypeAlias = "Row[*tuple[Any, ...]]"


@dataclass(frozen=True)
class UserQuery:
    search: str | None = None
    group_id: uuid.UUID | None = None
    role_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    status: UserStatus | None = None
    # The boolean view of status: True is active, False is any other status.
    is_active: bool | None = None
    # Exact matches, by the folded keys (rosterd.domain.rules.fold of what was asked for).
    email: str | None = None
    username: str | None = None
    # The tenant lets no two users share an address (the email is then found through the
    # unique index).
    unique_emails: bool = False
    last_login_before: datetime | None = None
    # Signed in at or after this time (users who never signed in do not match).
    last_login_after: datetime | None = None
    # Created before / at or after.
    created_before: datetime | None = None
    created_after: datetime | None = None
    sort_by: SortKey = "name"
    descending: bool = False
    offset: int = 0
    limit: int = 25
    # Keyset paging in any order: the page continues after the user of this keyset (the
    # values of sort_by's columns, then the id; see keyset_of), whatever changed before it.
    after: tuple[Any, ...] | None = None
    # Count the matches of a search exactly up to this many; above it, estimate the total
    # (see Total). None, or no search: always exact.
    count_up_to: int | None = None


@dataclass(frozen=True)
class Total:
    """How many users a query matches. ``estimated``: more than the query's ``count_up_to``,
    so counting stopped there and ``value`` is an estimate (``_estimate``), never below what
    was counted or shown."""

    value: int
    estimated: bool = False


# How many of the tenant's users an estimate looks at: a share of 5% is then known to about
# +-10% (100 hits), for the price of that many lookups by id.
ESTIMATE_SAMPLE = 2_000


def _with_refs(stmt: Select[User], u: Users = User) -> Select[User]:
    return stmt.options(joinedload(u.role), joinedload(u.team))


# Built once: constructing the statement cost about a third of a lookup by id.
_BY_ID = _with_refs(select(User)).where(
    User.tenant_id == bindparam("tenant_id"), User.id == bindparam("user_id")
)


def get(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    return session.scalar(_BY_ID, {"tenant_id": tenant_id, "user_id": user_id})


_EXISTS = select(User.id).where(
    User.tenant_id == bindparam("tenant_id"), User.id == bindparam("user_id")
)


def exists(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return session.scalar(_EXISTS, {"tenant_id": tenant_id, "user_id": user_id}) is not None


# Locks the user's row only (not its role's or team's, on the nullable side of the joins) and
# overwrites whatever the session held: what was read before the lock may be stale. FOR NO
# KEY UPDATE, so that rows referencing the user (memberships) can still be inserted.
_BY_ID_FOR_UPDATE = _BY_ID.with_for_update(of=User, key_share=True).execution_options(
    populate_existing=True
)


class _Loaded:
    """One model's columns in a row of several models' (after ``start`` columns), made the
    entity a load would make (``_entity``)."""

    def __init__(self, model: type[Any], start: int = 0) -> None:
        self.model = model
        self.manager = inspect(model).class_manager
        attributes = [(a.key, a.columns[0]) for a in inspect(model).column_attrs]
        self.columns = [column for _, column in attributes]
        self.keys = [key for key, _ in attributes]
        self.span = slice(start, start + len(attributes))
        self.id_at = start + self.keys.index("id")

    def entity(self, session: Session, row: Sequence[Any]) -> Any:
        """The entity in ``row``, or None where an outer join found none; the one the session
        holds already, if it does."""
        if row[self.id_at] is None:
            return None
        held = session.identity_map.get(identity_key(self.model, row[self.id_at]))
        if held is not None:
            return held
        return _entity(session, self.manager, dict(zip(self.keys, row[self.span], strict=True)))


_LOCKED_USER = _Loaded(User)
_LOCKED_ROLE = _Loaded(Role, len(_LOCKED_USER.columns))
_LOCKED_TEAM = _Loaded(Team, len(_LOCKED_USER.columns) + len(_LOCKED_ROLE.columns))
# The same lock, as one row of the user's, its role's and its team's columns.
_LOCKED = Prepared(
    select(*_LOCKED_USER.columns, *_LOCKED_ROLE.columns, *_LOCKED_TEAM.columns)
    .select_from(User)
    .outerjoin(Role, Role.id == User.role_id)
    .outerjoin(Team, Team.id == User.team_id)
    .where(User.tenant_id == bindparam("tenant_id"), User.id == bindparam("user_id"))
    .with_for_update(of=User, key_share=True),
    name="LockedUser",
)


def get_for_update(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    """The user, its row locked until the transaction ends (PostgreSQL; SQLite writers hold
    the database), so concurrent writers of one user take turns instead of one of them
    failing on a stale version.

    A user the session does not hold yet (every write of one user) is read as one row with
    its role and team and made the entities a load would make (``_Loaded``): the ORM's joined
    load of the same row cost three times as much, a quarter of SQLite's writer on the
    lifecycle. One the session holds is refreshed by that load, as before.
    """
    params = {"tenant_id": tenant_id, "user_id": user_id}
    if identity_key(User, user_id) in session.identity_map:
        return session.scalar(_BY_ID_FOR_UPDATE, params)
    if session.autoflush:
        session.flush()
    rows = _LOCKED.all_in(session.connection(), params)
    if not rows:
        return None
    row = rows[0]
    user: User = _LOCKED_USER.entity(session, row)
    set_committed_value(user, "role", _LOCKED_ROLE.entity(session, row))
    set_committed_value(user, "team", _LOCKED_TEAM.entity(session, row))
    return user


def lock_many(session: Session, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[User]:
    """The users among ``ids``, read fresh and locked in id order (as ``get_for_update``
    locks one; one order for every writer of several users, so two cannot deadlock)."""
    if not ids:
        return []
    return list(
        session.scalars(
            select(User)
            .where(User.tenant_id == tenant_id, User.id.in_(list(ids)))
            .order_by(User.id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
    )


def record_sign_in(
    session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID, at: datetime
) -> bool:
    """Move the user's last sign-in to ``at`` unless a later one is stored; whether it moved.

    One conditional UPDATE, so concurrent sign-ins keep the latest without a lock. A sign-in
    is not a change of the user's attributes: modified_at and the version stay as they are.
    """
    result = session.execute(
        update(User)
        .where(
            User.tenant_id == tenant_id,
            User.id == user_id,
            or_(User.last_login_at.is_(None), User.last_login_at < at),
        )
        .values(last_login_at=at, modified_at=User.modified_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def get_many(session: Session, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[User]:
    if not ids:
        return []
    return list(
        session.scalars(
            _with_refs(select(User)).where(User.tenant_id == tenant_id, User.id.in_(ids))
        ).unique()
    )


def held_key(session: Session, tenant_id: uuid.UUID, values: Mapping[str, Any]) -> str | None:
    """The first of ``values``' unique keys (email, username, identity key) that a user of
    the tenant holds, or None."""
    wanted = [
        ("email_key", email_is(values["email_key"], unique_only=True))
        if values.get("email_key") is not None and values.get("email_unique", True)
        else None,
        ("username_key", User.username_key == values["username_key"])
        if values.get("username_key") is not None
        else None,
        ("identity_key", User.identity_key == values["identity_key"])
        if values.get("identity_key") is not None
        else None,
    ]
    for key, condition in filter(None, wanted):
        if session.scalar(select(User.id).where(User.tenant_id == tenant_id, condition).limit(1)):
            return key
    return None


def email_is(key: str, *, unique_only: bool) -> ColumnElement[bool]:
    """Users with the address ``key``; ``unique_only``: among those held unique, which the
    database finds through uq_users_tenant_email_key (its condition spelled as the index's,
    or SQLite would not use it and walk the tenant instead)."""
    if unique_only:
        return and_(User.email_key == key, User.email_unique == true())
    return User.email_key == key


def first_shared_email(session: Session, tenant_id: uuid.UUID) -> str | None:
    """An address two users of the tenant share, or None."""
    return session.scalar(
        select(User.email_key)
        .where(User.tenant_id == tenant_id, User.email_key.is_not(None))
        .group_by(User.email_key)
        .having(func.count() > 1)
        .limit(1)
    )


def hold_emails_unique(session: Session, tenant_id: uuid.UUID) -> None:
    session.execute(
        update(User)
        .where(User.tenant_id == tenant_id, User.email_unique.is_(False))
        .values(email_unique=True)
        .execution_options(synchronize_session=False)
    )


def _sort_columns(sort_by: SortKey, u: Users = User) -> list[tuple[Any, bool]]:
    """The columns ``sort_by`` orders by, each with whether it may be NULL."""
    match sort_by:
        case "name":
            return [(u.last_name_key, True), (u.first_name_key, True)]
        case "email":
            return [(u.email_key, True)]
        case "createdAt":
            return [(u.created_at, False)]
        case "lastLoginAt":
            return [(u.last_login_at, True)]
        case "username":
            return [(u.username_key, False)]


def _sort_terms(sort_by: SortKey, descending: bool, u: Users = User) -> list[Any]:
    """The terms of ``sort_by``'s order, all sorted in one direction: a nullable column is
    led by whether it is NULL (``IS NULL`` ascending, ``IS NOT NULL`` descending, so that
    rows without a value come last either way), then the id breaks ties. One direction for
    every term lets an index be walked forwards or backwards for the whole order, and lets
    a keyset be one row-value comparison (``_after``)."""
    terms: list[Any] = []
    for column, nullable in _sort_columns(sort_by, u):
        if nullable:
            terms.append(column.is_not(None) if descending else column.is_(None))
        terms.append(column)
    terms.append(u.id)
    return terms


_SEARCHED = [User.first_name, User.last_name, User.display_name, User.email, User.username]


def _matching(tenant_id: uuid.UUID, q: UserQuery, *, indexed: bool = True) -> Select[User]:
    """The tenant's users that pass every filter of ``q``, unordered; the search through
    the trigram index unless not ``indexed`` (for a few rows already chosen otherwise)."""
    stmt = select(User).where(User.tenant_id == tenant_id)
    if q.search and indexed:
        stmt = user_search.where(stmt, user_search.matches((_SEARCHED, q.search)))
    elif q.search:
        stmt = stmt.where(contains_ci(_SEARCHED, q.search))
    if q.group_id is not None:
        stmt = stmt.where(
            User.id.in_(
                select(GroupMembership.user_id).where(
                    GroupMembership.tenant_id == tenant_id,
                    GroupMembership.group_id == q.group_id,
                )
            )
        )
    if q.role_id is not None:
        stmt = stmt.where(User.role_id == q.role_id)
    if q.team_id is not None:
        stmt = stmt.where(User.team_id == q.team_id)
    if q.status is not None:
        stmt = stmt.where(User.status == q.status)
    if q.is_active is not None:
        stmt = stmt.where(
            User.status == UserStatus.active if q.is_active else User.status != UserStatus.active
        )
    if q.email is not None:
        stmt = stmt.where(email_is(q.email, unique_only=q.unique_emails))
    if q.username is not None:
        stmt = stmt.where(User.username_key == q.username)
    if q.last_login_before is not None:
        # Never logged in counts as idle: the users an idle sweep is looking for.
        stmt = stmt.where(
            or_(User.last_login_at.is_(None), User.last_login_at < q.last_login_before)
        )
    if q.last_login_after is not None:
        stmt = stmt.where(User.last_login_at >= q.last_login_after)
    if q.created_before is not None:
        stmt = stmt.where(User.created_at < q.created_before)
    if q.created_after is not None:
        stmt = stmt.where(User.created_at >= q.created_after)
    return stmt


def _total(
    session: Session, tenant_id: uuid.UUID, q: UserQuery, matching: Select[Any], *, shown: int
) -> Total:
    statuses = _statuses_only(q)
    if statuses is not None:
        return Total(
            _paged_total(q, shown, lambda: user_tallies.total(session, tenant_id, statuses))
        )
    up_to = q.count_up_to if q.search else None
    if up_to is None:
        return Total(_paged_total(q, shown, lambda: count(session, matching)))
    estimated = False

    def counted() -> int:
        nonlocal estimated
        capped = count(session, _fenced(session, matching).limit(up_to + 1))
        if capped <= up_to:
            return capped
        estimated = True
        return max(capped, q.offset + shown, _estimate(session, tenant_id, q))

    value = _paged_total(q, shown, counted)
    return Total(value, estimated)


def _paged_total(q: UserQuery, shown: int, counted: Callable[[], int]) -> int:
    """``page_total`` of ``q``'s page; a keyset page (``q.after``) does not know how many
    users came before it, so its total is always counted."""
    if q.after is not None:
        return counted()
    return page_total(shown, q.offset, q.limit, counted)


def _fenced(session: Session, matching: Select[Any]) -> Select[Any]:
    """``matching``, on PostgreSQL planned on its own before a LIMIT applies to it: told
    that a few thousand rows will do, the planner expects them early in a walk of the whole
    tenant (its trigram estimates run high) and seq-scans 200,000 rows to count 10,000 "rtin"
    at a million users. A materialized CTE is planned for all its rows, so through the
    trigram index, and still read only as far as the LIMIT asks."""
    if session.get_bind().dialect.name != "postgresql":
        return matching
    found = matching.with_only_columns(User.id).cte("matching").prefix_with("MATERIALIZED")
    return select(found.c.id)


def _estimate(session: Session, tenant_id: uuid.UUID, q: UserQuery) -> int:
    """How many of the tenant's users match ``q``, estimated: the share of its
    ``ESTIMATE_SAMPLE`` most recently created users that match, times its size (from the
    tallies). Those users are the head of a walk of ix_users_tenant_created_at backwards,
    stored together in creation order: a short read however common the match is."""
    recent = (
        select(User)
        .where(User.tenant_id == tenant_id)
        .order_by(User.created_at.desc())
        .limit(ESTIMATE_SAMPLE)
        .subquery()
    )
    condition = _matching(tenant_id, q, indexed=False).whereclause
    assert condition is not None  # the tenant, at least
    sampled, hits = session.execute(
        select(func.count(), func.count().filter(ClauseAdapter(recent).traverse(condition)))
    ).one()
    size = user_tallies.total(session, tenant_id, set(UserStatus))
    return round(hits * size / max(1, sampled))


def _page(
    session: Session, q: UserQuery, matching: Select[User], *, entities: bool
) -> tuple[Select[Any], Users]:
    """The ``matching`` users of ``q``'s page, in its order, and what to read their columns
    from: User, or on PostgreSQL searches the fenced subquery (as an entity alias when
    ``entities``, else as plain columns, which cost nothing to build per request where an
    alias adapts every attribute it is asked for)."""
    page: Select[Any] = matching
    u: Users = User
    if q.search and session.get_bind().dialect.name == "postgresql":
        # Find the matching users first (through the search index), then order them: the
        # page is sorted from the matching rows themselves. Left to itself, PostgreSQL walks
        # the name index and filters it when a common needle clusters in names ("rtin":
        # Martin, Martinez), tens of thousands of rows per page; OFFSET 0 keeps it from
        # merging the two steps. (Joining the matches back to users by id instead made it
        # walk the whole primary key at a million users: 3 s.) SQLite already searches
        # first, see user_search.where.
        found = matching.offset(0).subquery()
        u = aliased(User, found) if entities else found.c
        page = select(u) if entities else select(found)
    order = _order(q.sort_by, q.descending, u)
    return page.order_by(*order).offset(q.offset).limit(q.limit), u


def _after(q: UserQuery, u: Users, *, split: bool = False) -> list[Any]:
    """The users past ``q.after`` (the values of ``q.sort_by``'s columns, then the id, of
    the last user of the previous page) in ``q``'s order: one row-value comparison over
    the order's terms, which PostgreSQL answers from an index range.

    A column the cursor has as NULL is left out of it: rows that tie with the cursor up to
    that column's NULL flag have it NULL too, so it cannot tell them apart, and leaving it
    in would make the comparison NULL.

    ``split`` (for SQLite): when the order leads with a NULL flag, the same users as
    consecutive parts of the order, to be read one after the other: those with the cursor's
    flag and past it in the rest of the order, then those of the later flag. SQLite uses a
    row value as an index range only from a plain column on, so one comparison led by the
    flag (an expression) walked the index from the tenant's first user; equal to a flag,
    the rest of it is a range again.
    """
    assert q.after is not None
    *values, last_id = q.after
    columns = _sort_columns(q.sort_by, u)
    if len(values) != len(columns):
        raise ValueError(f"a keyset of {q.sort_by} has {len(columns)} value(s)")
    left: list[Any] = []
    right: list[Any] = []
    for (column, nullable), value in zip(columns, values, strict=True):
        if nullable:
            left.append(column.is_not(None) if q.descending else column.is_(None))
            right.append(literal((value is not None) if q.descending else (value is None)))
        elif value is None:
            raise ValueError(f"a keyset of {q.sort_by} has no NULL")
        if value is not None:
            left.append(column)
            right.append(literal(value, type_=column.type))
    left.append(u.id)
    right.append(literal(last_id, type_=u.id.type))

    def past(lhs: list[Any], rhs: list[Any]) -> Any:
        return tuple_(*lhs) < tuple_(*rhs) if q.descending else tuple_(*lhs) > tuple_(*rhs)

    if not (split and columns[0][1]):
        return [past(left, right)]
    flag, cursor_flag = left[0], right[0].value
    # The flag's later value: NULLs (IS NULL true ascending, IS NOT NULL false descending).
    later = not q.descending
    first = and_(flag == literal(cursor_flag), past(left[1:], right[1:]))
    if values[0] is None:
        # Spelled out too, so that SQLite's range starts at the id (IS NULL is an equality
        # to it) instead of at the first user without a value.
        first = and_(first, columns[0][0].is_(None))
    parts = [first]
    if cursor_flag != later:
        parts.append(flag == literal(later))
    return parts


def keyset_of(
    session: Session, tenant_id: uuid.UUID, sort_by: SortKey, user_id: uuid.UUID
) -> tuple[Any, ...] | None:
    """The keyset of user ``user_id`` in ``sort_by``'s order (``UserQuery.after``: the
    values it is sorted by, then its id), or None if there is no such user."""
    row = session.execute(
        select(*(c for c, _ in _sort_columns(sort_by)), User.id).where(
            User.tenant_id == tenant_id, User.id == user_id
        )
    ).first()
    return tuple(row) if row is not None else None


def search(session: Session, tenant_id: uuid.UUID, q: UserQuery) -> tuple[list[User], int]:
    """One page of the tenant's users matching ``q``, as entities with role and team, and
    the exact total (whatever ``q.count_up_to``)."""
    matching = _matching(tenant_id, q)
    page, u = _page(session, q, matching, entities=True)
    if q.after is not None:
        page = page.where(*_after(q, u))
    users = list(session.scalars(_with_refs(page, u)).unique())
    exact = replace(q, count_up_to=None)
    return users, _total(session, tenant_id, exact, matching, shown=len(users)).value


def _listing(u: Users) -> tuple[Any, ...]:
    """What a list page of the REST API shows of each user, by the User attribute names, and
    the names of the user's role and team; ids, times and the status as text
    (rosterd.repositories.text_columns), since these rows only go to a wire."""
    return (
        uuid_text(u.id).label("id"),
        u.email,
        u.first_name,
        u.last_name,
        u.display_name,
        u.title,
        u.department,
        uuid_text(u.role_id).label("role_id"),
        Role.name.label("role_name"),
        uuid_text(u.team_id).label("team_id"),
        Team.name.label("team_name"),
        plain_text(u.status).label("status"),
        utc_text(u.last_login_at).label("last_login_at"),
        utc_text(u.created_at).label("created_at"),
        utc_text(u.modified_at).label("modified_at"),
        u.username,
        u.locale,
        u.version,
        utc_text(u.valid_from).label("valid_from"),
        utc_text(u.expires_at).label("expires_at"),
    )


# The names of a listing row's columns, in order.
LISTING_NAMES = tuple(column.key for column in _listing(User))

# Built once per dialect and run on the driver's connection (rosterd.db.prepared): no ORM
# compilation, identity map or instances for what a GET by id only serialises, and none of
# Core's execution machinery, which cost more than the lookup itself.
_LISTING_BY_ID = Prepared(
    select(*_listing(User))
    .outerjoin(Role, Role.id == User.role_id)
    .outerjoin(Team, Team.id == User.team_id)
    .where(User.tenant_id == bindparam("tenant_id"), User.id == bindparam("user_id")),
    name="Listing",
)


async def get_listing(db: PointReader, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Any | None:
    """The user's listing columns (as ``search_listing`` gives them, by the same names)."""
    return await _LISTING_BY_ID.first(db, {"tenant_id": tenant_id, "user_id": user_id})


# Every column of a user but its password hash: what a SCIM document shows, by the names of
# the model's attributes. One statement per key a ``scim_filter.KeyLookup`` compares. No ORDER
# BY: with one, SQLite would rather walk the tenant's users in creation order than read the
# key's index (the few rows found are sorted in Python).
_KEYED_COLUMNS = [c for c in cast(Table, User.__table__).columns if c.key != "password_hash"]
_BY_KEY = {
    attribute: Prepared(
        select(*_KEYED_COLUMNS).where(
            User.tenant_id == bindparam("tenant_id"), key == bindparam("value")
        ),
        name="KeyedUser",
    )
    for attribute, key in (
        ("username", User.username_key),
        ("id", User.id),
        ("emails", User.email_key),
    )
}


def find_by_key_sql(dialect: Dialect, tenant_id: uuid.UUID, lookup: KeyLookup) -> tuple[str, Any]:
    """The SQL and driver arguments ``find_by_key`` runs (to EXPLAIN it)."""
    return _BY_KEY[lookup.attribute].sql_for(
        dialect, {"tenant_id": tenant_id, "value": lookup.value}
    )


async def find_by_key(db: PointReader, tenant_id: uuid.UUID, lookup: KeyLookup) -> list[Any]:
    """The tenant's users whose ``lookup.attribute`` key is ``lookup.value``, rows of every
    column but the password hash, oldest first. For an address, every user holding it, with
    ``email_unique``: whether that user's copy is the unique one is the caller's to weigh
    (``scim_filter.KeyLookup``)."""
    found = await _BY_KEY[lookup.attribute].all(db, {"tenant_id": tenant_id, "value": lookup.value})
    # The order of a SCIM search without sortBy (created_at is never null).
    return sorted(found, key=lambda row: (row.created_at, row.id))


def search_listing(
    session: Session, tenant_id: uuid.UUID, q: UserQuery
) -> tuple[Sequence[ListingRow], Total]:
    """``search`` as plain rows of the listing columns: a page of 100 users costs about a
    quarter of loading them as entities with their role and team (no identity map, no
    instances, no columns nobody shows)."""
    statuses = _statuses_only(q)
    if q.after is None and statuses is not None and len(statuses) in (1, len(UserStatus)):
        return _listing_by_status(session, tenant_id, q, statuses)
    matching = _matching(tenant_id, q)
    rows = _listing_rows(session, tenant_id, q, matching)
    return rows, _total(session, tenant_id, q, matching, shown=len(rows))


def listing_rows(session: Session, tenant_id: uuid.UUID, q: UserQuery) -> Sequence[ListingRow]:
    """``search_listing``'s page without its total: what a page after the first shows,
    with nothing counted."""
    return _listing_rows(session, tenant_id, q, _matching(tenant_id, q))


def _listing_rows(
    session: Session, tenant_id: uuid.UUID, q: UserQuery, matching: Select[User]
) -> Sequence[ListingRow]:
    page, u = _page(session, q, matching, entities=False)
    if q.after is None:
        return _listed(session, tenant_id, q, page, u)
    led_by_flag = _sort_columns(q.sort_by, u)[0][1]
    split = session.get_bind().dialect.name == "sqlite" and not q.offset and led_by_flag
    parts = _after(q, u, split=split)
    if not split:
        return _listed(session, tenant_id, q, page.where(*parts), u)
    # Each part has one value of the leading flag; ordered by the rest of the terms, SQLite
    # sees that the index delivers the order (by all of them, it sorts the part).
    rest = _order(q.sort_by, q.descending, u)[1:]
    rows: list[ListingRow] = []
    for part in parts:
        stmt = page.where(part).order_by(None).order_by(*rest).limit(q.limit - len(rows))
        rows += _listed(session, tenant_id, q, stmt, u)
        if len(rows) >= q.limit:
            break
    return rows


def _listed(
    session: Session, tenant_id: uuid.UUID, q: UserQuery, page: Select[Any], u: Users
) -> Sequence[ListingRow]:
    """The listing rows of ``page`` (users ordered and limited, read from ``u``), with
    their role and team.

    A search's page is chosen by its sort keys alone, and only its rows are then read in
    full: sorted with every listing column (and joined to its role and team first), each
    of a common needle's thousands of matches was read, joined and carried through the sort
    for the page's 25 (at 100,000 users on PostgreSQL, 40 of a page's 65 ms)."""
    if not q.search:
        return session.execute(
            page.with_only_columns(*_listing(u))
            .outerjoin(Role, Role.id == u.role_id)
            .outerjoin(Team, Team.id == u.team_id)
        ).all()
    chosen = page.with_only_columns(u.id).subquery()
    return session.execute(
        select(*_listing(User))
        .join(chosen, chosen.c.id == User.id)
        .outerjoin(Role, Role.id == User.role_id)
        .outerjoin(Team, Team.id == User.team_id)
        .where(User.tenant_id == tenant_id)
        .order_by(*_order(q.sort_by, q.descending))
    ).all()


def _listing_by_status(
    session: Session, tenant_id: uuid.UUID, q: UserQuery, statuses: set[UserStatus]
) -> tuple[list[Any], Total]:
    """``search_listing`` of a query that filters on one status or none (a plain list page,
    the commonest request), through statements prepared once for each order: building
    and executing the statement through SQLAlchemy cost four times what the database did."""
    one = next(iter(statuses)) if len(statuses) == 1 else None
    params: dict[str, Any] = {"tenant_id": tenant_id, "page_limit": q.limit}
    params["page_offset"] = q.offset
    if one is not None:
        params["one_status"] = one
    connection = session.connection()
    rows = listing_page(q.sort_by, q.descending, by_status=one is not None).all_in(
        connection, params
    )
    total = page_total(
        len(rows), q.offset, q.limit, lambda: user_tallies.total_of(connection, tenant_id, one)
    )
    return rows, Total(total)


_LISTING_PAGES: dict[tuple[SortKey, bool, bool], Prepared] = {}


def listing_page(sort_by: SortKey, descending: bool, *, by_status: bool) -> Prepared:
    """The listing page of a tenant's users (of one status if ``by_status``) in one order,
    prepared on first use."""
    key = (sort_by, descending, by_status)
    prepared = _LISTING_PAGES.get(key)
    if prepared is None:
        stmt = (
            select(*_listing(User))
            .outerjoin(Role, Role.id == User.role_id)
            .outerjoin(Team, Team.id == User.team_id)
            .where(User.tenant_id == bindparam("tenant_id"))
        )
        if by_status:
            stmt = stmt.where(User.status == bindparam("one_status"))
        stmt = (
            stmt.order_by(*_order(sort_by, descending))
            .limit(bindparam("page_limit", type_=Integer))
            .offset(bindparam("page_offset", type_=Integer))
        )
        prepared = _LISTING_PAGES[key] = Prepared(stmt, name="Listing")
    return prepared


# What only orders or pages: the rest of UserQuery filters.
_NOT_FILTERS = frozenset(
    {
        "status",
        "is_active",
        "sort_by",
        "descending",
        "offset",
        "limit",
        "after",
        "unique_emails",
        "count_up_to",
    }
)


def _statuses_only(q: UserQuery) -> set[UserStatus] | None:
    """The statuses ``q`` keeps when the status is all it filters on (its total can then be
    read from the tallies), else None."""
    if any(getattr(q, f.name) != f.default for f in fields(q) if f.name not in _NOT_FILTERS):
        return None
    statuses = set(UserStatus)
    if q.status is not None:
        statuses &= {q.status}
    if q.is_active is not None:
        statuses &= {UserStatus.active} if q.is_active else set(UserStatus) - {UserStatus.active}
    return statuses


def _order(sort_by: SortKey, descending: bool, u: Users = User) -> list[Any]:
    """ORDER BY terms: rows without a value (never logged in, no name) come last in either
    direction, the same on every backend, then ties break on id.

    ``x IS NULL`` is its own leading key rather than ``NULLS LAST``, which SQLite cannot serve
    from an index; ascending name order then walks ix_users_tenant_sort_name (and its status
    variant) and stops after one page instead of sorting every row of the tenant, and the
    other orders have their indexes too (migration 0019).
    """
    terms = _sort_terms(sort_by, descending, u)
    return [t.desc() if descending else t.asc() for t in terms]


_USERS = cast(Table, User.__table__)
# A row another user's unique key refuses is skipped rather than failing the transaction:
# the caller learns that nothing was inserted and can ask which key (``held_key``).
# Prepared (rosterd.db.prepared): through Session.execute, SQLAlchemy's execution of this one
# statement was a fifth of the GIL-held CPU of a SCIM create on SQLite.
_INSERT_USER = {
    "postgresql": PreparedWrite(
        postgresql.insert(_USERS).on_conflict_do_nothing().returning(_USERS.c.id)
    ),
    "sqlite": PreparedWrite(sqlite.insert(_USERS).on_conflict_do_nothing().returning(_USERS.c.id)),
}


def insert_user_write(dialect_name: str) -> PreparedWrite:
    """The INSERT ``add`` runs on that database (for bench.write_floor)."""
    return _INSERT_USER[dialect_name]


# Attribute name → its column, and the columns' Python-side defaults (id, timestamps,
# version, status), generated here rather than by the INSERT so that the row is known whole.
_COLUMNS = {attr.key: attr.columns[0] for attr in inspect(User).column_attrs}
_DEFAULTS = {key: column.default for key, column in _COLUMNS.items() if column.default is not None}
_MANAGER = inspect(User).class_manager


def add(session: Session, values: Mapping[str, Any]) -> User | None:
    """Insert one user row and return it as a loaded entity of the session, without the unit
    of work (a third of a create's CPU) or reading the row back: every column's value is
    known here, given or defaulted in Python. Role and team are left for the caller. None
    when a unique key of the row is another user's (nothing is written)."""
    unknown = values.keys() - _COLUMNS.keys()
    if unknown:
        raise TypeError(f"not columns of users: {sorted(unknown)}")
    row = {key: values.get(key) for key in _COLUMNS}
    for key, default in _DEFAULTS.items():
        if values.get(key) is None:
            row[key] = default.arg(None) if default.is_callable else default.arg
    inserted = _INSERT_USER[session.get_bind().dialect.name].returned(
        session, {_COLUMNS[key].key: value for key, value in row.items()}
    )
    if not inserted:
        return None
    user: User = _entity(session, _MANAGER, row)
    return user


def _entity(session: Session, manager: ClassManager[Any], values: Mapping[str, Any]) -> Any:
    """The entity whose row holds ``values`` (every column, by attribute name) as a load
    would make it, in the session: its state filled in directly, without the constructor's
    attribute events (one per column, a fifth of a create's CPU) or the ORM's loading. Its
    relationships are the caller's to set."""
    entity = manager.new_instance()
    instance_dict(entity).update(values)
    make_transient_to_detached(entity)
    session.add(entity)
    return entity


# The SET clause is the columns a call passes (compiled once per set of them); the row is
# named by id and the version read.
_UPDATE_USER = PreparedWrite(
    update(_USERS).where(
        _USERS.c.id == bindparam("row_id"), _USERS.c.version == bindparam("row_version")
    )
)


def update_row(session: Session, user: User, changes: Mapping[str, Any]) -> None:
    """Write ``changes`` (attribute → value) to ``user``'s row, with a new version and
    modification time, as one UPDATE, and to the entity as its loaded state: the unit of
    work's flush of the same UPDATE cost about half of a one-field change. Like the flush, it
    raises StaleDataError if the row is not at the entity's version."""
    values = {**changes, "modified_at": utcnow(), "version": user.version + 1}
    set_columns = {_COLUMNS[key].key: value for key, value in values.items()}
    written = _UPDATE_USER.run(
        session,
        {**set_columns, "row_id": user.id, "row_version": user.version},
        columns=sorted(set_columns),
    )
    if written != 1:
        raise StaleDataError(f"user {user.id} is no longer at version {user.version}")
    for key, value in values.items():
        set_committed_value(user, key, value)


# ``remove``'s statements, on the tables, built once: the unit of work's DELETE (and
# building these per call) cost more than running them.
_TEAMS = cast(Table, Team.__table__)
# A team losing its manager is modified now (the column's onupdate, which a prepared write
# is given as a value).
_UNMANAGE = PreparedWrite(
    update(_TEAMS)
    .where(_TEAMS.c.tenant_id == bindparam("of_tenant"), _TEAMS.c.manager_id == bindparam("leaver"))
    .values(manager_id=None, modified_at=bindparam("now"))
)
_LEAVE_GROUPS = PreparedWrite(
    delete(cast(Table, GroupMembership.__table__)).where(
        GroupMembership.tenant_id == bindparam("tenant_id"),
        GroupMembership.user_id == bindparam("user_id"),
    )
)
_DELETE_USER = PreparedWrite(
    delete(_USERS).where(
        _USERS.c.tenant_id == bindparam("tenant_id"),
        _USERS.c.id == bindparam("user_id"),
        _USERS.c.version == bindparam("version"),
    )
)


def remove(session: Session, user: User) -> None:
    """Delete the user's row (at the version the entity has), its memberships, and its
    place as a team's manager; the entity leaves the session."""
    params = {"tenant_id": user.tenant_id, "user_id": user.id}
    _UNMANAGE.run(session, {"of_tenant": user.tenant_id, "leaver": user.id, "now": utcnow()})
    _LEAVE_GROUPS.run(session, params)
    if _DELETE_USER.run(session, {**params, "version": user.version}) != 1:
        raise StaleDataError(f"user {user.id} is no longer at version {user.version}")
    session.expunge(user)


def count_with_role(session: Session, tenant_id: uuid.UUID, role_id: uuid.UUID) -> int:
    return int(
        session.scalar(
            select(func.count()).where(User.tenant_id == tenant_id, User.role_id == role_id)
        )
        or 0
    )


def find_by_number(session: Session, tenant_id: uuid.UUID, number: int) -> User | None:
    return session.scalar(
        _with_refs(select(User)).where(User.tenant_id == tenant_id, User.number == number)
    )


def find_by_identity_key(session: Session, tenant_id: uuid.UUID, key: str) -> User | None:
    return session.scalar(select(User).where(User.tenant_id == tenant_id, User.identity_key == key))


def find_by_phone_e164(session: Session, tenant_id: uuid.UUID, phone: str) -> User | None:
    return session.scalar(
        select(User).where(User.tenant_id == tenant_id, User.phone_e164 == phone).limit(1)
    )


# What the user-identities surface shows of a user, by the User attribute names.
IDENTITY_COLUMNS = (
    User.id,
    User.tenant_id,
    User.identity_key,
    User.email,
    User.phone,
    User.username,
    User.display_name,
    User.first_name,
    User.last_name,
    User.created_at,
)


def page_after(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    search: str | None,
    created_before: datetime | None,
    ids: Sequence[uuid.UUID] | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[ListingRow]:
    """A keyset page ordered by (created_at, id): stable while rows come and go, as rows
    of ``IDENTITY_COLUMNS`` (loading a page of 100 users as entities took as long as
    finding them)."""
    stmt = select(*IDENTITY_COLUMNS).where(User.tenant_id == tenant_id)
    if search:
        stmt = user_search.where(
            stmt,
            user_search.matches(
                ([User.first_name, User.last_name, User.email, User.phone, FULL_NAME], search),
                ([ID_HEX], search.replace("-", "")),
            ),
            walk_if_common=session,
        )
    if created_before is not None:
        stmt = stmt.where(User.created_at < created_before)
    if ids is not None:
        stmt = stmt.where(User.id.in_(ids))
    if after is not None:
        created, last_id = after
        stmt = stmt.where(
            or_(User.created_at > created, and_(User.created_at == created, User.id > last_id))
        )
    return session.execute(stmt.order_by(User.created_at, User.id).limit(limit)).all()


# The statuses a user may leave for inactive by its expiry: a range each of
# ix_users_status_expires_at, so users expired long ago are never walked again.
_NOT_INACTIVE = [s for s in UserStatus if s != UserStatus.inactive]


def _claimed(session: Session, stmt: Select[User]) -> list[User]:
    """The users ``stmt`` selects, locked, those another transaction holds skipped
    (PostgreSQL; SQLite's one writer holds them all): several server processes running the
    scheduler on one database never take the same user twice. FOR NO KEY UPDATE, as
    ``get_for_update``, so that memberships of the user can still be inserted meanwhile."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, key_share=True)
    return list(session.scalars(stmt.execution_options(populate_existing=True)))


def due_for_expiry(session: Session, now: datetime, limit: int) -> list[User]:
    """Users whose expiry has come and who are still not inactive, across tenants, claimed
    (``_claimed``)."""
    return _claimed(
        session,
        select(User)
        .where(User.status.in_(_NOT_INACTIVE), User.expires_at <= now)
        .order_by(User.expires_at)
        .limit(limit),
    )


def expiring_page(
    session: Session,
    tenant_id: uuid.UUID,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[User]:
    """A keyset page of the tenant's users with an expiry still to be carried out (not
    inactive yet), soonest first, ordered by (expires_at, id): ranges of
    ix_users_status_expires_at."""
    stmt = select(User).where(
        User.tenant_id == tenant_id,
        User.status.in_(_NOT_INACTIVE),
        User.expires_at.is_not(None),
    )
    if after is not None:
        at, last_id = after
        stmt = stmt.where(or_(User.expires_at > at, and_(User.expires_at == at, User.id > last_id)))
    return list(session.scalars(stmt.order_by(User.expires_at, User.id).limit(limit)))


def due_for_activation(session: Session, now: datetime, limit: int) -> list[User]:
    """Pending users whose validFrom has come, across tenants, claimed (``_claimed``); not
    those whose expiry has come as well (``due_for_expiry`` deactivates them instead)."""
    return _claimed(
        session,
        select(User)
        .where(
            User.status == UserStatus.pending,
            User.valid_from <= now,
            or_(User.expires_at.is_(None), User.expires_at > now),
        )
        .order_by(User.valid_from)
        .limit(limit),
    )


def chunk_in_creation_order(
    session: Session,
    tenant_id: uuid.UUID,
    q: UserQuery,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    offset: int,
    size: int,
) -> list[User]:
    """Up to ``size`` users matching ``q``'s filters, with role and team, in creation order
    (``search``'s order for ``createdAt``): past ``offset`` rows, or after the (created_at,
    id) of the last user of the previous chunk.

    For reading a whole directory a chunk at a time: each chunk takes a bounded number of
    rows and bind parameters, and the keyset keeps a chunk's cost flat however far along it
    is. created_at is NOT NULL, so its IS NULL key is left out of the ORDER BY, which lets
    ix_users_tenant_created_at deliver the order instead of a sort of every row left.
    """
    stmt = _matching(tenant_id, q)
    if after is not None:
        created, last_id = after
        stmt = stmt.where(
            or_(User.created_at > created, and_(User.created_at == created, User.id > last_id))
        )
    stmt = stmt.order_by(User.created_at, User.id).offset(offset).limit(size)
    return list(session.scalars(_with_refs(stmt)).unique())
