"""SCIM filters (RFC 7644 §3.4.2.2) on /Users and /Groups, and proof that they run in SQL.

Every test has a tenant of its own with a small, known directory, so each filter's result
is compared with the exact set of resources it must select, on both backends.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from rosterd.db.work import Kind
from rosterd.models import User
from rosterd.repositories import tenants as tenants_repo
from rosterd.runtime import Runtime
from tests.api.scim.support import (
    ENTERPRISE,
    ERROR_SCHEMA,
    GROUP_SCHEMA,
    LIST_SCHEMA,
    SCIM,
    USER_SCHEMA,
)
from tests.factories import TenantHandle, make_tenant, stored_user

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


# ---- helpers -------------------------------------------------------------------------------


def _search(
    http: TestClient, tenant: TenantHandle, resource: str, filter_: str, **params: Any
) -> dict[str, Any]:
    r = http.get(
        f"{SCIM}/{resource}",
        params={"filter": filter_, "count": 1000, **params},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, f"{filter_}: {r.text}"
    assert r.headers["content-type"].startswith("application/scim+json")
    body = r.json()
    assert body["schemas"] == [LIST_SCHEMA]
    resources = body.get("Resources", [])
    assert body["totalResults"] == len(resources), body
    return dict(body)


def _invalid_filter(r: Any) -> dict[str, Any]:
    """400 with scimType invalidFilter, as a SCIM Error (and never a list of resources)."""
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/scim+json")
    body = r.json()
    assert body["schemas"] == [ERROR_SCHEMA], body
    assert body["status"] == "400"
    assert body["scimType"] == "invalidFilter"
    assert isinstance(body["detail"], str) and body["detail"].strip()
    assert "Resources" not in body and "totalResults" not in body
    return dict(body)


def _create_user(http: TestClient, tenant: TenantHandle, **attrs: Any) -> dict[str, Any]:
    r = http.post(
        f"{SCIM}/Users", json={"schemas": [USER_SCHEMA], **attrs}, headers=tenant.scim_headers()
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _create_group(
    http: TestClient, tenant: TenantHandle, name: str, members: list[str], **attrs: Any
) -> dict[str, Any]:
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [{"value": m} for m in members],
        **attrs,
    }
    r = http.post(f"{SCIM}/Groups", json=body, headers=tenant.scim_headers())
    assert r.status_code == 201, r.text
    return dict(r.json())


def _set_times(tenant: TenantHandle, user_id: str, created: datetime, modified: datetime) -> None:
    with tenant.runtime.db.writer.begin() as session:
        session.execute(
            update(User)
            .where(User.tenant_id == tenant.id, User.id == uuid.UUID(user_id))
            .values(created_at=created, modified_at=modified)
        )


def _seed_users(tenant: TenantHandle, n: int, prefix: str) -> None:
    """``n`` users written straight to the store (fast), none of them a filter's target."""
    with tenant.runtime.db.writer.begin() as session:
        first = tenants_repo.allocate_user_numbers(session, tenant.id, n)
        session.add_all(
            [
                stored_user(
                    tenant_id=tenant.id,
                    number=first + i,
                    username=f"{prefix}-{i}@filler.example",
                    email=f"{prefix}-{i}@filler.example",
                    first_name="Filler",
                    last_name=f"Number{i}",
                    title="Filler",
                    department="Filler",
                )
                for i in range(n)
            ]
        )


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Directory:
    """Four users and three groups with known attributes; ``names`` maps ids back."""

    def __init__(self, http: TestClient, tenant: TenantHandle) -> None:
        self.http = http
        self.tenant = tenant
        self.ids: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.group_ids: dict[str, str] = {}
        self.group_names: dict[str, str] = {}

    def users(self, filter_: str, **params: Any) -> set[str]:
        body = _search(self.http, self.tenant, "Users", filter_, **params)
        return {self.names[u["id"]] for u in body.get("Resources", [])}

    def groups(self, filter_: str, **params: Any) -> set[str]:
        body = _search(self.http, self.tenant, "Groups", filter_, **params)
        return {self.group_names[g["id"]] for g in body.get("Resources", [])}


@pytest.fixture(scope="module")
def directory(runtime: Runtime, http: TestClient) -> Directory:
    """One tenant per backend for the read-only tests of this module."""
    tenant = make_tenant(runtime, http)
    d = Directory(http, tenant)
    people = {
        "alice": {
            "userName": "Alice.Smith@Example.com",
            "externalId": "EXT-Alice",
            "name": {"givenName": "Alice", "familyName": "Smith"},
            "title": "Engineer",
            "emails": [{"value": "alice@example.com", "type": "work", "primary": True}],
            ENTERPRISE: {"department": "R&D", "employeeNumber": "1001"},
        },
        "bob": {
            "userName": "bob.jones@example.com",
            "externalId": "ext-bob",
            "name": {"givenName": "Bob", "familyName": "Jones"},
            "title": "Manager",
            "emails": [{"value": "bob@x.io", "type": "work", "primary": True}],
            ENTERPRISE: {"department": "Sales"},
        },
        "carol": {
            "userName": "carol@example.org",
            "name": {"givenName": "Carol", "familyName": "Smithers"},
            "title": "Engineer",
            "emails": [{"value": "carol@x.io", "type": "work", "primary": True}],
            "active": False,
            ENTERPRISE: {"department": "r&d"},
        },
        "dave": {"userName": "dave", "name": {"givenName": "Dave"}},
    }
    for short, attrs in people.items():
        created = _create_user(http, tenant, **attrs)
        d.ids[short] = created["id"]
        d.names[created["id"]] = short
    times = {
        "alice": ("2020-01-01T00:00:00", "2020-02-01T00:00:00"),
        "bob": ("2021-06-15T00:00:00", "2022-06-15T00:00:00"),
        "carol": ("2022-12-31T00:00:00", "2023-01-31T00:00:00"),
        "dave": ("2023-05-05T00:00:00", "2023-05-05T00:00:00"),
    }
    for short, (created_at, modified_at) in times.items():
        _set_times(tenant, d.ids[short], _when(created_at), _when(modified_at))
    groups = {
        "engineering": ("Engineering", ["alice", "carol"], "G-Eng"),
        "sales": ("Sales", ["bob"], "g-sales"),
        "empty": ("Empty Group", [], None),
    }
    for short, (name, members, external_id) in groups.items():
        extra = {"externalId": external_id} if external_id else {}
        g = _create_group(http, tenant, name, [d.ids[m] for m in members], **extra)
        d.group_ids[short] = g["id"]
        d.group_names[g["id"]] = short
    return d


ALL = {"alice", "bob", "carol", "dave"}


# ---- comparison operators on users ---------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        # eq, and userName's case-insensitivity (caseExact false), in value and in name
        ('userName eq "alice.smith@example.com"', {"alice"}),
        ('userName eq "ALICE.SMITH@EXAMPLE.COM"', {"alice"}),
        ('USERNAME eq "Alice.Smith@Example.com"', {"alice"}),
        (f'{USER_SCHEMA}:userName eq "dave"', {"dave"}),
        ('userName eq "nobody"', set()),
        # ne
        ('userName ne "dave"', {"alice", "bob", "carol"}),
        ('title ne "engineer"', {"bob", "dave"}),
        # co / sw / ew, case-insensitive
        ('name.givenName co "ar"', {"carol"}),
        ('name.givenName co "A"', {"alice", "carol", "dave"}),
        ('userName sw "BOB"', {"bob"}),
        ('userName ew "@example.com"', {"alice", "bob"}),
        ('name.familyName sw "smith"', {"alice", "carol"}),
        ('name.familyName eq "Smith"', {"alice"}),
        ('title eq "ENGINEER"', {"alice", "carol"}),
        # pr
        ("title pr", {"alice", "bob", "carol"}),
        ("name.familyName pr", {"alice", "bob", "carol"}),
        ("externalId pr", {"alice", "bob"}),
        # gt / ge / lt / le on strings (lexical, case-insensitive)
        ('userName gt "c"', {"carol", "dave"}),
        ('userName ge "carol@example.org"', {"carol", "dave"}),
        ('userName lt "bob"', {"alice"}),
        ('userName le "bob.jones@example.com"', {"alice", "bob"}),
        # externalId is caseExact
        ('externalId eq "EXT-Alice"', {"alice"}),
        ('externalId eq "ext-alice"', set()),
        ('externalId eq "ext-bob"', {"bob"}),
        ('externalId sw "EXT"', {"alice"}),
        ('externalId sw "ext"', {"bob"}),
        ('externalId co "bob"', {"bob"}),
        ('externalId co "BOB"', set()),
        ('externalId ew "Alice"', {"alice"}),
        ('externalId ew "alice"', set()),
        ('externalId ew "EXT-Alice-and-more"', set()),
        # meta.created / meta.lastModified: gt and lt exclusive, ge and le inclusive
        ('meta.created gt "2021-06-15T00:00:00Z"', {"carol", "dave"}),
        ('meta.created ge "2021-06-15T00:00:00Z"', {"bob", "carol", "dave"}),
        ('meta.created lt "2021-06-15T00:00:00Z"', {"alice"}),
        ('meta.created le "2021-06-15T00:00:00Z"', {"alice", "bob"}),
        ('meta.created gt "2021-06-15T01:00:00+02:00"', {"bob", "carol", "dave"}),
        (
            'meta.created gt "2020-06-01T00:00:00Z" and meta.created lt "2023-01-01T00:00:00Z"',
            {"bob", "carol"},
        ),
        ('meta.lastModified gt "2022-06-01T00:00:00Z"', {"bob", "carol", "dave"}),
        ('meta.lastModified lt "2022-06-01T00:00:00Z"', {"alice"}),
        ('meta.lastModified ge "2023-05-05T00:00:00Z"', {"dave"}),
        # emails (multi-valued; value is caseExact false)
        ('emails.value eq "BOB@X.IO"', {"bob"}),
        ('emails co "@x.io"', {"bob", "carol"}),
        ('emails.value ew "example.com"', {"alice"}),
        ("emails pr", {"alice", "bob", "carol"}),
        ('emails.type eq "work"', {"alice", "bob", "carol"}),
        # active
        ("active eq true", {"alice", "bob", "dave"}),
        ("active eq false", {"carol"}),
        ("active ne false", {"alice", "bob", "dave"}),
        # enterprise extension attributes, addressed by their URN
        (f'{ENTERPRISE}:department eq "R&D"', {"alice", "carol"}),
        (f'{ENTERPRISE}:department eq "sales"', {"bob"}),
        (f'{ENTERPRISE}:employeeNumber eq "1001"', {"alice"}),
        (f"{ENTERPRISE}:department pr", {"alice", "bob", "carol"}),
    ],
)
def test_user_filter_operators(directory: Directory, filter_: str, expected: set[str]) -> None:
    assert directory.users(filter_) == expected


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ('title eq "Engineer" and active eq true', {"alice"}),
        ('userName sw "bob" or userName sw "dave"', {"bob", "dave"}),
        ('not (userName sw "a")', {"bob", "carol", "dave"}),
        # not() of a comparison includes users that have no value at all
        ('not (title eq "Engineer")', {"bob", "dave"}),
        ("not (title pr)", {"dave"}),
        # "and" binds tighter than "or" ...
        ('title eq "Manager" or title eq "Engineer" and active eq false', {"bob", "carol"}),
        # ... and parentheses regroup
        ('(title eq "Manager" or title eq "Engineer") and active eq true', {"alice", "bob"}),
        ('title eq "Engineer" and (active eq false or userName sw "alice")', {"alice", "carol"}),
        ('not (title eq "Engineer" or title eq "Manager") and userName pr', {"dave"}),
        ('((userName eq "dave"))', {"dave"}),
        ('userName eq "dave" OR userName eq "bob.jones@example.com"', {"bob", "dave"}),
    ],
)
def test_user_filter_logic_and_grouping(
    directory: Directory, filter_: str, expected: set[str]
) -> None:
    assert directory.users(filter_) == expected


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        # value filters (RFC 7644 §3.4.2.2, "emails[type eq ...]")
        ('emails[type eq "work" and value co "@x"]', {"bob", "carol"}),
        ('emails[type eq "work" and value co "@example"]', {"alice"}),
        ('emails[type eq "home"]', set()),
        ('emails[value ew ".io"] and active eq true', {"bob"}),
        ('emails[primary eq true and value sw "carol"]', {"carol"}),
        # Entra ID's form: a value filter followed by a sub-attribute
        ('emails[type eq "work"].value eq "carol@x.io"', {"carol"}),
        ('emails[type eq "work"].value eq "CAROL@X.IO"', {"carol"}),
        ('emails[type eq "home"].value eq "carol@x.io"', set()),
    ],
)
def test_user_value_filters(directory: Directory, filter_: str, expected: set[str]) -> None:
    assert directory.users(filter_) == expected


def test_user_filter_on_group_membership(directory: Directory) -> None:
    eng = directory.group_ids["engineering"]
    assert directory.users(f'groups[value eq "{eng}"]') == {"alice", "carol"}
    assert directory.users(f'groups.value eq "{eng}"') == {"alice", "carol"}
    assert directory.users("groups pr") == {"alice", "bob", "carol"}
    assert directory.users("not (groups pr)") == {"dave"}


def test_filter_combines_with_paging_and_sorting(directory: Directory) -> None:
    body = _search(
        directory.http,
        directory.tenant,
        "Users",
        "title pr",
        sortBy="userName",
        sortOrder="descending",
    )
    assert [directory.names[u["id"]] for u in body["Resources"]] == ["carol", "bob", "alice"]
    r = directory.http.get(
        f"{SCIM}/Users",
        params={"filter": "title pr", "sortBy": "userName", "startIndex": 2, "count": 1},
        headers=directory.tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["totalResults"] == 3
    assert page["itemsPerPage"] == 1
    assert page["startIndex"] == 2
    assert [directory.names[u["id"]] for u in page["Resources"]] == ["bob"]


def test_post_search_filters_the_same_way(directory: Directory) -> None:
    r = directory.http.post(
        f"{SCIM}/Users/.search",
        json={
            "schemas": [SEARCH_REQUEST],
            "filter": 'emails[type eq "work" and value co "@x"] and active eq true',
            "attributes": ["userName"],
        },
        headers=directory.tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalResults"] == 1
    (user,) = body["Resources"]
    assert user["id"] == directory.ids["bob"]
    assert user["userName"] == "bob.jones@example.com"
    assert "emails" not in user

    bad = directory.http.post(
        f"{SCIM}/Users/.search",
        json={"schemas": [SEARCH_REQUEST], "filter": "nosuch eq 1"},
        headers=directory.tenant.scim_headers(),
    )
    _invalid_filter(bad)


# ---- groups --------------------------------------------------------------------------------


def test_group_filters(directory: Directory) -> None:
    ids = directory.ids
    assert directory.groups('displayName eq "engineering"') == {"engineering"}
    assert directory.groups('displayName eq "Engineering"') == {"engineering"}
    assert directory.groups('displayName sw "S"') == {"sales"}
    assert directory.groups('displayName co "group"') == {"empty"}
    assert directory.groups('displayName ne "Sales"') == {"engineering", "empty"}
    assert directory.groups(f'members[value eq "{ids["alice"]}"]') == {"engineering"}
    assert directory.groups(f'members[value eq "{ids["bob"]}"]') == {"sales"}
    assert directory.groups(f'members[value eq "{ids["dave"]}"]') == set()
    assert directory.groups(f'members.value eq "{ids["carol"]}"') == {"engineering"}
    assert directory.groups(f'members eq "{ids["carol"]}"') == {"engineering"}
    assert directory.groups('members[value eq "not-a-uuid"]') == set()
    assert directory.groups("members pr") == {"engineering", "sales"}
    assert directory.groups("not (members pr)") == {"empty"}
    # externalId is caseExact on groups too
    assert directory.groups('externalId eq "G-Eng"') == {"engineering"}
    assert directory.groups('externalId eq "g-eng"') == set()
    assert directory.groups('externalId eq "g-sales"') == {"sales"}
    assert directory.groups('externalId sw "G"') == {"engineering"}
    assert directory.groups('externalId co "sales"') == {"sales"}
    assert directory.groups('externalId co "SALES"') == set()
    assert directory.groups(f'displayName sw "E" and members[value eq "{ids["alice"]}"]') == {
        "engineering"
    }
    assert directory.groups('displayName eq "Sales" or externalId eq "G-Eng"') == {
        "engineering",
        "sales",
    }


def test_group_filter_excluding_members(directory: Directory) -> None:
    body = _search(
        directory.http,
        directory.tenant,
        "Groups",
        f'members[value eq "{directory.ids["alice"]}"]',
        excludedAttributes="members",
    )
    (group,) = body["Resources"]
    assert group["displayName"] == "Engineering"
    assert "members" not in group


# ---- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filter_",
    [
        'nosuch eq "x"',
        'name.nosuch eq "x"',
        'urn:example:unknown:1.0:User:title eq "x"',
        f'{ENTERPRISE}:nosuch eq "x"',
        'emails[nosuch eq "x"]',
        'title[value eq "x"]',
        'password eq "x"',
        "userName eq",
        'userName xx "a"',
        '(userName eq "a"',
        'userName eq "a" and',
        'userName eq "a" or or title pr',
        'emails[type eq "work"',
        "userName eq unquoted",
        'active eq "maybe"',
        "active gt true",
        "title gt 5",
        'meta.created gt "not a date"',
        'meta.created co "2020"',
        "eq",
        '"x"',
    ],
)
def test_bad_user_filter_is_invalid_filter(
    http: TestClient, directory: Directory, filter_: str
) -> None:
    r = http.get(
        f"{SCIM}/Users", params={"filter": filter_}, headers=directory.tenant.scim_headers()
    )
    _invalid_filter(r)


@pytest.mark.parametrize(
    "filter_",
    ['userName eq "x"', 'nosuch eq "x"', 'members[nosuch eq "x"]', "displayName eq", "(("],
)
def test_bad_group_filter_is_invalid_filter(
    http: TestClient, directory: Directory, filter_: str
) -> None:
    r = http.get(
        f"{SCIM}/Groups", params={"filter": filter_}, headers=directory.tenant.scim_headers()
    )
    _invalid_filter(r)


def test_overlong_filter_is_refused(http: TestClient, tenant: TenantHandle) -> None:
    clause = " or ".join(f'userName eq "user{i}@example.com"' for i in range(300))
    r = http.get(f"{SCIM}/Users", params={"filter": clause}, headers=tenant.scim_headers())
    body = _invalid_filter(r)
    assert "long" in body["detail"]


def test_filter_sees_only_the_callers_tenant(
    http: TestClient, directory: Directory, other_tenant: TenantHandle
) -> None:
    _create_user(http, other_tenant, userName="dave", title="Engineer")
    assert directory.users('userName eq "dave"') == {"dave"}
    theirs = _search(http, other_tenant, "Users", 'title eq "Engineer"')
    assert [u["userName"] for u in theirs["Resources"]] == ["dave"]


# ---- the filter runs in the database -------------------------------------------------------


NEEDLE = "Needle.User@Example.com"


@contextmanager
def _statements(tenant: TenantHandle) -> Iterator[list[tuple[str, list[Any]]]]:
    """Every statement the read engine runs meanwhile (whitespace folded), with parameters."""
    captured: list[tuple[str, list[Any]]] = []
    engine = tenant.runtime.db.engine

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
    ) -> None:
        if isinstance(parameters, dict):
            values = list(parameters.values())
        elif isinstance(parameters, list | tuple):
            values = list(parameters)
        else:
            values = []
        captured.append((" ".join(statement.split()), values))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def _where(statement: str) -> str:
    return statement.lower().partition(" where ")[2]


@pytest.mark.parametrize(
    ("filter_", "in_where", "param"),
    [
        # Case-insensitive equality compares the folded key (the same on both databases).
        # (Alone, these are lookups by a unique key, not compiled: test_key_lookups.py.)
        (
            'userName eq "Needle.User@Example.com" and title pr',
            "users.username_key",
            "needle.user@example.com",
        ),
        (
            'emails[type eq "work"].value eq "needle@x.io" and title pr',
            "users.email",
            "needle@x.io",
        ),
        ('title sw "Needle"', "users.title", "Needle"),
        (f'{ENTERPRISE}:department eq "Needlework"', "users.department", "Needlework"),
        ('externalId eq "needle-ext"', "users.external_id", "needle-ext"),
    ],
)
def test_filter_is_compiled_into_the_sql_where_clause(
    http: TestClient,
    tenant: TenantHandle,
    filter_: str,
    in_where: str,
    param: str,
) -> None:
    _seed_users(tenant, 150, f"filler-{secrets.token_hex(3)}")
    needle = _create_user(
        http,
        tenant,
        userName=NEEDLE,
        externalId="needle-ext",
        title="Needle maker",
        emails=[{"value": "needle@x.io", "type": "work", "primary": True}],
        **{ENTERPRISE: {"department": "Needlework"}},
    )
    with _statements(tenant) as statements:
        r = http.get(f"{SCIM}/Users", params={"filter": filter_}, headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalResults"] == 1
    assert body["itemsPerPage"] == 1
    assert [u["id"] for u in body["Resources"]] == [needle["id"]]

    on_users = [(s, p) for s, p in statements if " from users" in s.lower()]
    # the page, filtered in the database (with room left on it, it is its own total)
    assert on_users, statements
    for statement, params in on_users:
        where = _where(statement)
        assert in_where in where, statement
        assert "users.tenant_id" in where, statement
        # Bound as a parameter: the value, or (a substring test on SQLite) its LIKE pattern.
        values = params.values() if isinstance(params, dict) else params
        bound = {param, f"{param}%", f"%{param}", f"%{param}%"}
        assert any(isinstance(v, str) and v in bound for v in values), (statement, params)
    # the page itself is bounded by the database, not cut in Python
    assert any(" limit " in s.lower() for s, _ in on_users), on_users


def test_group_member_filter_runs_in_sql(http: TestClient, tenant: TenantHandle) -> None:
    alice = _create_user(http, tenant, userName="alice")
    bob = _create_user(http, tenant, userName="bob")
    for i in range(40):
        _create_group(http, tenant, f"filler-{i}", [bob["id"]] if i % 2 else [])
    target = _create_group(http, tenant, "target", [alice["id"], bob["id"]])
    with _statements(tenant) as statements:
        r = http.get(
            f"{SCIM}/Groups",
            params={"filter": f'members[value eq "{alice["id"]}"]'},
            headers=tenant.scim_headers(),
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalResults"] == 1
    assert [g["id"] for g in body["Resources"]] == [target["id"]]
    on_groups = [s for s, _ in statements if " from groups" in s.lower()]
    assert on_groups, statements
    for statement in on_groups:
        where = _where(statement)
        assert "exists" in where and "group_memberships.user_id" in where, statement


def test_nothing_matches_among_many(http: TestClient, tenant: TenantHandle) -> None:
    _seed_users(tenant, 120, "many")
    r = http.get(
        f"{SCIM}/Users",
        params={"filter": 'userName eq "absent@example.com" or title eq "Astronaut"'},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalResults"] == 0
    assert body.get("Resources", []) == []
    everyone = http.get(f"{SCIM}/Users", params={"count": 0}, headers=tenant.scim_headers())
    assert everyone.json()["totalResults"] == 120


def test_lookups_by_an_indexed_key_run_as_point_reads(
    directory: Directory, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter an index answers (an eq on externalId, alone or ANDed) is a point read, run
    on the event loop on SQLite, with the same answers; a substring search stays a search.
    (Lookups by a unique key take no session at all: test_key_lookups.py.)"""
    kinds: list[Kind] = []
    run = runtime.work.run

    async def recorded(kind: Kind, sessions: Any, call: Any) -> Any:
        kinds.append(kind)
        return await run(kind, sessions, call)

    monkeypatch.setattr(runtime.work, "run", recorded)
    assert directory.users('externalId eq "nobody"') == set()
    assert directory.users('externalId eq "ext-bob" and title pr') == {"bob"}
    assert kinds == [Kind.POINT_READ] * 2
    kinds.clear()
    assert directory.users('userName co "smith"') == {"alice"}
    assert kinds == [Kind.SLOW_READ]
