"""Substring search over users through the trigram index, on SQLite and PostgreSQL.

Each search is compared with the plain ``lower(col) LIKE '%x%'`` scan it replaced (the
oracle, run in the same database, so both backends are held to their own LIKE semantics),
and the query plans are checked to use the index. Every test has tenants of its own; the
needles carry a random token so that rows of other tests never match.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from cachetools import TTLCache
from scim2_models import ScimFilter
from sqlalchemy import ColumnElement, Engine, String, event, func, literal, or_, select, text
from sqlalchemy.orm import Session

from rosterd.lifecycle.search_indexer import SearchIndexer
from rosterd.models import User, UserStatus
from rosterd.models.base import utcnow
from rosterd.repositories import bulk as bulk_repo
from rosterd.repositories import scim_filter, user_search
from rosterd.repositories import users as users_repo
from rosterd.repositories._sql import like_pattern
from rosterd.runtime import Runtime
from tests.factories import bare_tenant, stored_user

V2_COLUMNS = [User.first_name, User.last_name, User.display_name, User.email, User.username]
IDENTITY_COLUMNS = [User.first_name, User.last_name, User.email, User.phone]
SEARCHED_NAMES = (
    "first_name",
    "last_name",
    "display_name",
    "email",
    "username",
    "phone",
    "full_name",
    "id",
)
# What the user-identities search compared before the index (users.page_after).
OLD_FULL_NAME = func.trim(
    func.coalesce(User.first_name, "") + " " + func.coalesce(User.last_name, "")
)


# ---- helpers -------------------------------------------------------------------------------


def _users(runtime: Runtime, tenant_id: uuid.UUID, *people: dict[str, Any]) -> list[uuid.UUID]:
    """Users from field dicts; a username is made up when not given."""
    with runtime.db.writer.begin() as session:
        users = [
            stored_user(
                tenant_id=tenant_id,
                number=n,
                **{"username": f"user-{secrets.token_hex(6)}", **fields},
            )
            for n, fields in enumerate(people, start=1)
        ]
        session.add_all(users)
        session.flush()
        return [u.id for u in users]


def _bulk_users(
    runtime: Runtime, tenant_id: uuid.UUID, people: list[dict[str, Any]], first: int = 1
) -> list[Any]:
    """Users written the way ``rosterd import`` writes them (multi-row INSERTs), numbered
    from ``first``, created a microsecond apart in list order (two rows stamped in the same
    microsecond would order by their random ids)."""
    start = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "number": n,
            "username": (name := f"bulk-{secrets.token_hex(6)}"),
            "username_key": name,
            "created_at": start + timedelta(microseconds=n),
            **fields,
        }
        for n, fields in enumerate(people, start=first)
    ]
    with runtime.db.writer.begin() as session:
        bulk_repo.insert_users(session, rows)
    return [row["id"] for row in rows]


def _v2(runtime: Runtime, tenant_id: uuid.UUID, needle: str) -> set[uuid.UUID]:
    with runtime.db.reader() as session:
        rows, total = users_repo.search(
            session, tenant_id, users_repo.UserQuery(search=needle, limit=1000)
        )
    assert total == len(rows)
    return {u.id for u in rows}


def _identities(runtime: Runtime, tenant_id: uuid.UUID, needle: str) -> set[uuid.UUID]:
    with runtime.db.reader() as session:
        rows = users_repo.page_after(
            session, tenant_id, search=needle, created_before=None, ids=None, after=None, limit=1000
        )
    return {u.id for u in rows}


def _scim(runtime: Runtime, tenant_id: uuid.UUID, filter_: str) -> set[uuid.UUID]:
    with runtime.db.reader() as session:
        rows, total = scim_filter.search(
            session,
            User,
            tenant_id,
            ScimFilter(filter_).ast,
            sort_by=None,
            descending=False,
            offset=0,
            limit=1000,
        )
    assert total == len(rows)
    return {u.id for u in rows}


def _scan(runtime: Runtime, tenant_id: uuid.UUID, condition: ColumnElement[bool]) -> set[uuid.UUID]:
    """The oracle: the users a condition selects, without any index."""
    with runtime.db.reader() as session:
        return set(session.scalars(select(User.id).where(User.tenant_id == tenant_id, condition)))


def _old_contains(columns: list[Any], needle: str) -> ColumnElement[bool]:
    """``lower(col) LIKE '%' || lower(needle) || '%'`` over ``columns``, as spelled before
    the index, on every backend (``_sql.contains_ci`` spells it otherwise on SQLite)."""
    pattern = like_pattern(func.lower(literal(needle)))
    return or_(*(func.lower(c).like(pattern, escape="\\") for c in columns))


def _old_v2(needle: str) -> ColumnElement[bool]:
    return _old_contains(V2_COLUMNS, needle)


def _old_identities(needle: str) -> ColumnElement[bool]:
    id_hex = func.replace(func.cast(User.id, String), "-", "")
    return (
        _old_contains(IDENTITY_COLUMNS, needle)
        | _old_contains([OLD_FULL_NAME], needle)
        | _old_contains([id_hex], needle.replace("-", ""))
    )


def _old_scim(column: Any, needle: str, head: str, tail: str) -> ColumnElement[bool]:
    pattern = like_pattern(func.lower(literal(needle)), head=head, tail=tail)
    return column.is_not(None) & func.lower(column).like(pattern, escape="\\")


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (and parameters) run on ``engine`` inside the block."""
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", grab)


# ---- same results as the scan --------------------------------------------------------------


@pytest.fixture
def directory(runtime: Runtime) -> tuple[uuid.UUID, str, list[uuid.UUID]]:
    """A tenant with users whose searched fields share a random token, and that token."""
    tenant_id = bare_tenant(runtime)
    tok = secrets.token_hex(3)
    ids = _users(
        runtime,
        tenant_id,
        {"first_name": "Martin", "last_name": f"Wright{tok}", "email": f"mw{tok}@example.com"},
        {"first_name": f"Kar{tok}en", "last_name": "Martinez", "phone": "+15550001234"},
        {"first_name": "Éric", "last_name": f"ÉTIENNE{tok}", "display_name": "Ric"},
        {"username": f"Ann_Smith{tok}", "first_name": " Ann", "last_name": "Smith "},
        {"username": f"annXsmith{tok}", "display_name": f"50%off{tok}"},
        {"username": f"plain{tok}", "email": f"PLAIN{tok}@EXAMPLE.ORG"},
        {"username": f"nobody{tok}"},
    )
    return tenant_id, tok, ids


def _needles(tok: str, ids: list[uuid.UUID]) -> list[str]:
    dashed = str(ids[0])
    return [
        tok,
        tok.upper(),
        f"tin wright{tok}",  # across first and last name: the full name only
        f"rtin{tok[:1]}",
        "RTIN",
        f"{tok}@example",
        "n_s",  # a literal underscore, not "any character"
        "0%o",  # a literal percent
        "%",
        "_",
        "ar",
        "é",
        "éri",
        "ÉTIENNE",
        "tienne",
        "n s",
        " ann",
        "h ",
        "5550001",
        dashed[6:18],  # an id with its dashes: matched without them
        dashed.replace("-", "")[3:11].upper(),
        '"quoted"',
        "z",
    ]


def test_v2_search_finds_what_the_scan_finds(
    runtime: Runtime, directory: tuple[uuid.UUID, str, list[uuid.UUID]]
) -> None:
    tenant_id, tok, ids = directory
    for needle in _needles(tok, ids):
        assert _v2(runtime, tenant_id, needle) == _scan(runtime, tenant_id, _old_v2(needle)), needle
    assert _v2(runtime, tenant_id, tok) == set(ids)
    assert _v2(runtime, tenant_id, tok.upper()) == set(ids)
    assert _v2(runtime, tenant_id, "n_s") == {ids[3]}
    assert _v2(runtime, tenant_id, "0%o") == {ids[4]}
    assert _v2(runtime, tenant_id, f"tin wright{tok}") == set()


def test_user_identities_search_finds_what_the_scan_finds(
    runtime: Runtime, directory: tuple[uuid.UUID, str, list[uuid.UUID]]
) -> None:
    tenant_id, tok, ids = directory
    for needle in _needles(tok, ids):
        expected = _scan(runtime, tenant_id, _old_identities(needle))
        assert _identities(runtime, tenant_id, needle) == expected, needle
    # "first last" matches across the two names; an id matches with or without its dashes.
    assert _identities(runtime, tenant_id, f"TIN WRIGHT{tok}") == {ids[0]}
    assert _identities(runtime, tenant_id, "n s") == {ids[3]}
    assert ids[0] in _identities(runtime, tenant_id, str(ids[0])[4:20])
    assert ids[0] in _identities(runtime, tenant_id, ids[0].hex[4:20].upper())


@pytest.mark.parametrize(
    ("attribute", "column"),
    [
        ("userName", User.username),
        ("displayName", User.display_name),
        ("name.givenName", User.first_name),
        ("name.familyName", User.last_name),
        ("name.formatted", OLD_FULL_NAME),
        ("emails.value", User.email),
        ('emails[type eq "work"].value', User.email),
        ("phoneNumbers.value", User.phone),
    ],
)
def test_scim_co_sw_ew_find_what_the_scan_finds(
    runtime: Runtime,
    directory: tuple[uuid.UUID, str, list[uuid.UUID]],
    attribute: str,
    column: Any,
) -> None:
    tenant_id, tok, ids = directory
    for needle in _needles(tok, ids):
        quoted = needle.replace("\\", "\\\\").replace('"', '\\"')
        for op, head, tail in (("co", "%", "%"), ("sw", "", "%"), ("ew", "%", "")):
            found = _scim(runtime, tenant_id, f'{attribute} {op} "{quoted}"')
            expected = _scan(runtime, tenant_id, _old_scim(column, needle, head, tail))
            assert found == expected, (op, needle)


def test_scim_substring_filters_combine(
    runtime: Runtime, directory: tuple[uuid.UUID, str, list[uuid.UUID]]
) -> None:
    tenant_id, tok, ids = directory
    assert _scim(runtime, tenant_id, f'userName co "{tok}" and not (userName sw "plain")') == (
        set(ids) - {ids[0], ids[1], ids[2], ids[5]}
    )
    assert _scim(runtime, tenant_id, f'name.familyName co "{tok}" or emails co "{tok}"') == {
        ids[0],
        ids[2],
        ids[5],
    }
    assert _scim(runtime, tenant_id, f'not (name.familyName co "{tok}")') == set(ids) - {
        ids[0],
        ids[2],
    }


# ---- the index follows the table -----------------------------------------------------------


def _fts_rows(runtime: Runtime, needle: str) -> int:
    """Rows of users_fts (all tenants) matching a phrase; the index itself, not the LIKE."""
    with runtime.db.reader() as session:
        return int(
            session.execute(
                text("SELECT count(*) FROM users_fts WHERE users_fts MATCH :q"),
                {"q": f'"{needle}"'},
            ).scalar_one()
        )


def test_search_follows_updates_and_deletes(runtime: Runtime, backend: str) -> None:
    tenant_id = bare_tenant(runtime)
    old, new = f"old{secrets.token_hex(4)}", f"new{secrets.token_hex(4)}"
    (user_id,) = _users(runtime, tenant_id, {"first_name": "Ada", "last_name": old})
    assert _v2(runtime, tenant_id, old) == {user_id}

    with runtime.db.writer.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.last_name = new
    assert _v2(runtime, tenant_id, old) == set()
    assert _v2(runtime, tenant_id, new.upper()) == {user_id}
    assert _identities(runtime, tenant_id, f"ada {new}") == {user_id}
    if backend == "sqlite":
        SearchIndexer(runtime.db).run_once()
        assert (_fts_rows(runtime, old), _fts_rows(runtime, new)) == (0, 1)

    # A column the index does not cover changes without disturbing it.
    with runtime.db.writer.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.title = "Engineer"
    assert _v2(runtime, tenant_id, new) == {user_id}

    with runtime.db.writer.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        users_repo.remove(session, user)
    assert _v2(runtime, tenant_id, new) == set()
    assert _identities(runtime, tenant_id, new) == set()
    if backend == "sqlite":
        SearchIndexer(runtime.db).run_once()
        assert _fts_rows(runtime, new) == 0


def test_other_tenants_users_never_match(runtime: Runtime) -> None:
    mine, theirs = bare_tenant(runtime), bare_tenant(runtime)
    tok = secrets.token_hex(4)
    (my_user,) = _users(runtime, mine, {"first_name": "Zed", "last_name": f"Same{tok}"})
    _users(runtime, theirs, {"first_name": "Zed", "last_name": f"Same{tok}"})
    for needle in (f"same{tok}", "ze"):
        assert _v2(runtime, mine, needle) == {my_user}
        assert _identities(runtime, mine, needle) == {my_user}
        assert _scim(runtime, mine, f'name.formatted co "{needle}"') == {my_user}


# ---- the index is used ---------------------------------------------------------------------


def _run_searches(runtime: Runtime, tenant_id: uuid.UUID, needle: str) -> None:
    """The three searches, each page query and each count (a page with room left is its own
    total and skips the count, so v2 asks for a page of one, and SCIM for none, then one);
    v2 both as entities and as its list page's rows, counting up to a limit."""
    with runtime.db.reader() as session:
        users_repo.search(session, tenant_id, users_repo.UserQuery(search=needle, limit=1))
        # v2's list page, whose count stops at count_up_to.
        users_repo.search_listing(
            session, tenant_id, users_repo.UserQuery(search=needle, limit=1, count_up_to=1)
        )
        for limit in (0, 1):
            scim_filter.search(
                session,
                User,
                tenant_id,
                ScimFilter(f'userName co "{needle}"').ast,
                sort_by=None,
                descending=False,
                offset=0,
                limit=limit,
            )
    _identities(runtime, tenant_id, needle)


def _user_queries(runtime: Runtime, tenant_id: uuid.UUID, needle: str) -> list[tuple[str, Any]]:
    """The SELECTs over users that the three searches run for ``needle``."""
    with _statements(runtime.db.engine) as seen:
        _run_searches(runtime, tenant_id, needle)
    # Not the probes of users_fts alone (user_search.common).
    queries = [(sql, params) for sql, params in seen if re.search(r"FROM users\b", sql)]
    # v2: count and page, twice; identities: page; SCIM: both
    assert len(queries) == 7, queries
    return queries


def _sqlite_plan(session: Session, sql: str, params: Any) -> str:
    rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
    return "\n".join(str(row[3]) for row in rows)


def _pg_plan(session: Session, sql: str, params: Any) -> str:
    rows = session.connection().exec_driver_sql(f"EXPLAIN {sql}", params)
    return "\n".join(str(row[0]) for row in rows)


# An index condition on the tenant alone, as EXPLAIN prints it under a Bitmap Index Scan.
_TENANT_ONLY = re.compile(r"Index Cond: \(tenant_id = '[0-9a-f-]+'::uuid\)$")


def test_searches_of_three_or_more_characters_use_the_index(runtime: Runtime, backend: str) -> None:
    tenant_id = bare_tenant(runtime)
    # Enough users in the tenant that walking it costs more than the index, for PostgreSQL's
    # planner; a needle of letters that no id (hex) contains, of few trigrams.
    needle = "q" + "".join(secrets.choice("ghjkmnpqrtvwxyz") for _ in range(4))
    people = [{"first_name": "Pat", "last_name": f"Filler{n}"} for n in range(4000)]
    people.append({"first_name": "Martin", "last_name": f"Wright{needle}"})
    *_, wright = _bulk_users(runtime, tenant_id, people)
    if backend == "postgresql":
        # Statistics, and the GIN pending lists merged, as autovacuum would leave them.
        with runtime.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE users"))
    queries = _user_queries(runtime, tenant_id, needle)
    assert _v2(runtime, tenant_id, needle) == {wright}
    with runtime.db.reader() as session:
        if backend == "sqlite":
            for sql, params in queries:
                plan = _sqlite_plan(session, sql, params)
                # users_fts leads; users rows are then fetched by rowid, one per match.
                assert "SCAN users_fts VIRTUAL TABLE" in plan, plan
                assert "SEARCH users USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
            return
        # The full name and the id are searched for needles they can hold (a space; hex
        # digits only): the user identities list, by part of the name and of the id (six
        # digits, which another id may hold too).
        for extra in ("tin W", wright.hex[5:11]):
            with _statements(runtime.db.engine) as seen:
                assert wright in _identities(runtime, tenant_id, extra)
            queries += [(sql, params) for sql, params in seen if re.search(r"FROM users\b", sql)]
        session.execute(text("SET LOCAL enable_seqscan = off"))
        used = set()
        for sql, params in queries:
            plan = _pg_plan(session, sql, params)
            lines = plan.splitlines()
            scans = [i for i, line in enumerate(lines) if "Bitmap Index Scan on" in line]
            trigram = [lines[i] for i in scans if "ix_users_trgm_" in lines[i]]
            # The LIKEs are answered by the trigram indexes. The planner may AND the tenant's
            # rows to them from another index (its statistics decide); no other condition.
            others = [lines[i + 1] for i in scans if "ix_users_trgm_" not in lines[i]]
            assert trigram, plan
            assert all(_TENANT_ONLY.search(cond) for cond in others), plan
            used |= {line.split(" on ")[1].split()[0] for line in trigram}
    # Every searched expression has its index, and the full name and the id match theirs.
    assert used == {f"ix_users_trgm_{name}" for name in SEARCHED_NAMES}


def test_shorter_needles_scan_and_still_match(runtime: Runtime, backend: str) -> None:
    """No trigram in one or two characters: the plain LIKE, with the same results."""
    tenant_id = bare_tenant(runtime)
    (user_id,) = _users(runtime, tenant_id, {"first_name": "Qy", "last_name": "Xo"})
    assert _v2(runtime, tenant_id, "QY") == {user_id}
    assert _identities(runtime, tenant_id, "y ") == {user_id}  # in "Qy Xo", the full name
    assert _scim(runtime, tenant_id, 'name.familyName ew "o"') == {user_id}
    if backend == "sqlite":
        with _statements(runtime.db.engine) as seen:
            _run_searches(runtime, tenant_id, "qy")
        assert seen
        assert not any(user_search.FTS_TABLE in sql for sql, _ in seen)


# ---- v2 totals: exact up to a limit, estimated above it --------------------------------------


def _listing(
    runtime: Runtime, tenant_id: uuid.UUID, **query: Any
) -> tuple[list[uuid.UUID], users_repo.Total]:
    with runtime.db.reader() as session:
        rows, total = users_repo.search_listing(session, tenant_id, users_repo.UserQuery(**query))
    return [uuid.UUID(row.id) for row in rows], total


def test_a_search_total_is_exact_up_to_the_limit_and_estimated_above(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    tok = secrets.token_hex(3)
    people = [{"first_name": f"P{n:02}", "last_name": f"Zed{tok}"} for n in range(30)]
    people += [{"first_name": "Q", "last_name": f"Other{n}"} for n in range(10)]
    _bulk_users(runtime, tenant_id, people)
    exact_page, exact = _listing(runtime, tenant_id, search=tok, limit=5)
    assert exact == users_repo.Total(30)
    for up_to, expected in ((30, users_repo.Total(30)), (100, users_repo.Total(30))):
        page, total = _listing(runtime, tenant_id, search=tok, limit=5, count_up_to=up_to)
        assert (page, total) == (exact_page, expected)
    # Above the limit: flagged, and (the sample holding every user of so small a tenant)
    # the share of matches times the tenant's size is the count itself.
    page, total = _listing(runtime, tenant_id, search=tok, limit=5, count_up_to=29)
    assert (page, total) == (exact_page, users_repo.Total(30, estimated=True))
    # A page the end is on needs no count.
    _, total = _listing(runtime, tenant_id, search=tok, limit=5, offset=28, count_up_to=1)
    assert total == users_repo.Total(30)


def test_an_estimate_is_never_below_what_was_counted(runtime: Runtime) -> None:
    """Matches the sample misses (the sample is the most recently created users) still
    count: the estimate is at least the count it stopped at, and at least the page's end."""
    tenant_id = bare_tenant(runtime)
    tok = secrets.token_hex(3)
    people = [{"first_name": f"P{n:02}", "last_name": f"Zed{tok}"} for n in range(12)]
    # Created after them: the sample holds none of tok.
    people += [{"first_name": "Q", "last_name": "Other"}] * users_repo.ESTIMATE_SAMPLE
    _bulk_users(runtime, tenant_id, people)
    _, total = _listing(runtime, tenant_id, search=tok, limit=2, count_up_to=5)
    assert total == users_repo.Total(6, estimated=True)
    _, total = _listing(runtime, tenant_id, search=tok, limit=2, offset=8, count_up_to=5)
    assert total == users_repo.Total(10, estimated=True)


# ---- the status and name list walks its index ----------------------------------------------


def test_a_status_page_in_name_order_walks_the_status_name_index(
    runtime: Runtime, backend: str
) -> None:
    """v2's `status=active&sortBy=name` reads its page off ix_users_tenant_status_sort_name,
    stopping after one page, instead of sorting the tenant's active users."""
    tenant_id = bare_tenant(runtime)
    people = [
        {"first_name": f"F{n % 97}", "last_name": f"L{n % 89}", "status": status}
        for n in range(3000)
        for status in ["active" if n % 3 else "suspended"]
    ]
    _bulk_users(runtime, tenant_id, people)
    if backend == "postgresql":
        with runtime.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE users"))
    query = {"status": UserStatus.active, "sort_by": "name", "limit": 100}
    ids, total = _listing(runtime, tenant_id, **query)
    assert len(ids) == 100 and total == users_repo.Total(2000)
    # The page is a statement prepared once per order (its run skips SQLAlchemy's events).
    page_sql, params = users_repo.listing_page("name", False, by_status=True).sql_for(
        runtime.db.engine.dialect,
        {
            "tenant_id": tenant_id,
            "one_status": UserStatus.active,
            "page_limit": 100,
            "page_offset": 0,
        },
    )
    with runtime.db.reader() as session:
        if backend == "sqlite":
            plan = _sqlite_plan(session, page_sql, params)
            assert "USING INDEX ix_users_tenant_status_sort_name" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
            return
        plan = _pg_plan(session, page_sql, params)
        # Or the name index, filtered, where the planner finds that cheaper.
        assert "Index Scan using ix_users_tenant_status_sort_name" in plan or (
            "Index Scan using ix_users_tenant_sort_name" in plan
        ), plan
        assert "Sort Key" not in plan, plan


# ---- a common needle's page in creation order walks the creation-order index ----------------


def test_a_common_needle_pages_in_creation_order_by_walking_the_tenant(
    runtime: Runtime, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More users_fts matches than user_search.COMMON (lowered here): the user-identities page
    and SCIM's page in creation order walk ix_users_tenant_created_at, filtered, instead of
    fetching every match to sort them, with the same users in the same order."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL's planner makes this choice from its statistics")
    tenant_id = bare_tenant(runtime)
    # Letters no id (hex) contains: the identities search looks in ids too, and an id of
    # any tenant holding a hex needle would push its matches past COMMON.
    tok = "".join(secrets.choice("ghjkmnpqrtvwxyz") for _ in range(6))
    people = [
        {"first_name": "Pat", "last_name": f"Wright{tok}" if n % 4 == 0 else f"Filler{n}"}
        for n in range(200)
    ]
    ids = _bulk_users(runtime, tenant_id, people)
    expected = [ids[n] for n in range(0, 200, 4)]  # creation order
    scim_expected = expected[:10]
    for needle in (tok, "ler1"):
        assert _identities(runtime, tenant_id, needle) == _scan(
            runtime, tenant_id, _old_identities(needle)
        )
    monkeypatch.setattr(user_search, "COMMON", 20)
    with _statements(runtime.db.engine) as seen, runtime.db.reader() as session:
        identities = users_repo.page_after(
            session, tenant_id, search=tok, created_before=None, ids=None, after=None, limit=60
        )
        scim_page, scim_total = scim_filter.search(
            session,
            User,
            tenant_id,
            ScimFilter(f'name.familyName co "{tok}"').ast,
            sort_by=None,
            descending=False,
            offset=0,
            limit=10,
        )
    assert [u.id for u in identities] == expected
    assert ([u.id for u in scim_page], scim_total) == (scim_expected, 50)
    pages = [(sql, p) for sql, p in seen if re.search(r"FROM users\b", sql) and "LIMIT" in sql]
    assert len(pages) == 2, pages
    with runtime.db.reader() as session:
        for sql, params in pages:
            plan = _sqlite_plan(session, sql, params)
            assert "USING INDEX ix_users_tenant_created_at" in plan, plan
            assert "users_fts" not in plan, plan
        # Below the threshold, users_fts leads as before.
        monkeypatch.setattr(user_search, "COMMON", 50)
        with _statements(runtime.db.engine) as seen:
            users_repo.page_after(
                session, tenant_id, search=tok, created_before=None, ids=None, after=None, limit=60
            )
        (sql, params), *_ = [(s, p) for s, p in seen if re.search(r"FROM users\b", s)]
        assert "SCAN users_fts VIRTUAL TABLE" in _sqlite_plan(session, sql, params)


def test_a_needles_count_of_matches_is_remembered_for_a_while(
    runtime: Runtime, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paging through one needle counts its users_fts matches (its commonness) once per
    ``COMMON_TTL``; once that has passed it is counted again and the plan follows the store.
    Either plan finds every match."""
    if backend != "sqlite":
        pytest.skip("only SQLite's users_fts is probed")
    tenant_id = bare_tenant(runtime)
    tok = "".join(secrets.choice("ghjkmnpqrtvwxyz") for _ in range(6))

    def add(first: int) -> None:
        people = [{"first_name": "Pat", "last_name": f"W{tok}{n}"} for n in range(30)]
        _bulk_users(runtime, tenant_id, people, first)
        SearchIndexer(runtime.db).run_once()

    def search() -> tuple[int, bool]:
        """How many times users_fts was counted, and whether the page was read through it."""
        with _statements(runtime.db.engine) as seen:
            found = _identities(runtime, tenant_id, tok)
        assert found == _scan(runtime, tenant_id, _old_identities(tok))
        page = [sql for sql, _ in seen if re.search(r"FROM users\b", sql)]
        counts = [sql for sql, _ in seen if "users_fts MATCH" in sql and sql not in page]
        return len(counts), "users_fts" in page[0]

    add(1)
    monkeypatch.setattr(user_search, "COMMON", 40)
    now = [0.0]
    remembered: TTLCache[tuple[str, int], int] = TTLCache(16, ttl=60, timer=lambda: now[0])
    monkeypatch.setattr(user_search, "_match_counts", remembered)

    assert search() == (1, True)  # 30 matches: through users_fts
    add(31)
    now[0] = 59
    assert search() == (0, True)  # remembered, though there are 60 now
    now[0] = 61
    assert search() == (1, False)  # counted again: common, a walk of the tenant
