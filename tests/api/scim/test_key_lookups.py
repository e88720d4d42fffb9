"""SCIM lookups by a unique key (``userName eq``, ``id eq``, the ``emails`` forms), the
requests Okta and Entra ID send before every create: served as point reads of rows
(``users_service.find_by_key``), with the very answer the general filter search gives.

``GET /Users?filter=`` takes the point reads; ``POST /Users/.search`` with the same filter
goes through the general search (the SQL that ``scim_filter.user_condition`` compiles), so
each case compares the two bodies whole.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from rosterd.db.work import Kind
from rosterd.models import User
from rosterd.repositories import tenants as tenants_repo
from rosterd.runtime import Runtime
from rosterd.services import tenants as tenants_service
from tests.api.scim.support import SCIM, USER_SCHEMA
from tests.factories import TenantHandle, make_tenant

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


class Lookups:
    """A tenant's users by short name, and the two ways of asking for them."""

    def __init__(self, http: TestClient, tenant: TenantHandle) -> None:
        self.http = http
        self.tenant = tenant
        self.ids: dict[str, str] = {}
        self.created_order: list[str] = []

    def add(self, short: str, **attrs: Any) -> None:
        r = self.http.post(
            f"{SCIM}/Users",
            json={"schemas": [USER_SCHEMA], **attrs},
            headers=self.tenant.scim_headers(),
        )
        assert r.status_code == 201, r.text
        self.ids[short] = r.json()["id"]

    def get(self, filter_: str, **params: Any) -> dict[str, Any]:
        r = self.http.get(
            f"{SCIM}/Users",
            params={"filter": filter_, **params},
            headers=self.tenant.scim_headers(),
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def searched(self, filter_: str, **params: Any) -> dict[str, Any]:
        r = self.http.post(
            f"{SCIM}/Users/.search",
            json={"schemas": [SEARCH_REQUEST], "filter": filter_, **params},
            headers=self.tenant.scim_headers(),
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def names(self, body: dict[str, Any]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[u["id"]] for u in body.get("Resources", [])]


def _group(http: TestClient, tenant: TenantHandle, name: str, members: list[str]) -> None:
    r = http.post(
        f"{SCIM}/Groups",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": [{"value": m} for m in members],
        },
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 201, r.text


def _share_emails(tenant: TenantHandle, value: bool) -> None:
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_repo.get(session, tenant.id)
        assert row is not None
        tenants_service.set_shared_emails(session, row, value)


@pytest.fixture(scope="module")
def unique(runtime: Runtime, http: TestClient) -> Lookups:
    """A tenant whose addresses are unique (the default), users in two groups."""
    d = Lookups(http, make_tenant(runtime, http))
    d.add(
        "alice",
        userName="Alice.Smith@Example.com",
        name={"givenName": "Alice", "familyName": "Smith"},
        emails=[{"value": "Alice@Example.com", "type": "work", "primary": True}],
        externalId="ext-alice",
        title="Engineer",
    )
    d.add("bob", userName="bob", emails=[{"value": "bob@x.io", "type": "work", "primary": True}])
    d.add("dave", userName="dávé")
    _group(http, d.tenant, "Zeta", [d.ids["alice"]])
    _group(http, d.tenant, "Alpha", [d.ids["alice"], d.ids["bob"]])
    return d


@pytest.fixture(scope="module")
def shared(runtime: Runtime, http: TestClient) -> Lookups:
    """A tenant whose users may share an address: three hold one."""
    d = Lookups(http, make_tenant(runtime, http))
    _share_emails(d.tenant, True)
    for short in ("first", "second", "third"):
        d.add(short, userName=short, emails=[{"value": "Team@Corp.io", "type": "work"}])
    d.add("solo", userName="solo", emails=[{"value": "solo@corp.io", "type": "work"}])
    # Made first, created last: an order neither the rows' nor the ids' order gives.
    when = {"first": 3, "second": 1, "third": 2}
    ordered = sorted(d.ids[short] for short in when)
    if [when[d.names({"Resources": [{"id": i}]})[0]] for i in ordered] == [1, 2, 3]:
        when = {"first": 3, "second": 2, "third": 1}
    with runtime.db.writer.begin() as session:
        for short, day in when.items():
            session.execute(
                update(User)
                .where(User.tenant_id == d.tenant.id, User.id == uuid.UUID(d.ids[short]))
                .values(created_at=datetime(2024, 1, day, tzinfo=UTC))
            )
    d.created_order = sorted(when, key=when.__getitem__)
    return d


KEY_FILTERS = [
    'userName eq "alice.smith@example.com"',
    'userName eq "ALICE.SMITH@EXAMPLE.COM"',
    'USERNAME eq "bob"',
    f'{USER_SCHEMA}:userName eq "bob"',
    'userName eq "DÁVÉ"',
    'userName eq "nobody"',
    'emails eq "alice@example.com"',
    'emails.value eq "BOB@X.IO"',
    'emails[type eq "work"].value eq "Alice@Example.com"',
    'emails[type eq "WORK"].value eq "bob@x.io"',
    'emails[value eq "bob@x.io" and type eq "work"]',
    'emails[value eq "bob@x.io"]',
    'emails[type eq "work"].value eq "nobody@x.io"',
]


@pytest.mark.parametrize("filter_", KEY_FILTERS)
def test_a_key_lookup_answers_as_the_search_does(unique: Lookups, filter_: str) -> None:
    assert unique.get(filter_) == unique.searched(filter_)


def test_a_lookup_by_id_answers_as_the_search_does(unique: Lookups) -> None:
    for user_id in (unique.ids["alice"], unique.ids["bob"].upper(), str(uuid.uuid4())):
        filter_ = f'id eq "{user_id}"'
        assert unique.get(filter_) == unique.searched(filter_)
    body = unique.get(f'id eq "{unique.ids["alice"]}"')
    (alice,) = body["Resources"]
    # The whole document: name, groups in name order, meta, as a GET by id shows it.
    assert alice["name"]["formatted"] == "Alice Smith"
    assert [g["display"] for g in alice["groups"]] == ["Alpha", "Zeta"]
    r = unique.http.get(f"{SCIM}/Users/{alice['id']}", headers=unique.tenant.scim_headers())
    assert r.json() == alice


def test_a_user_of_another_tenant_is_not_found(unique: Lookups, shared: Lookups) -> None:
    assert unique.get(f'id eq "{shared.ids["solo"]}"')["totalResults"] == 0
    assert unique.get('userName eq "solo"')["totalResults"] == 0
    assert unique.get('emails eq "team@corp.io"')["totalResults"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"startIndex": 2, "count": 1},
        {"startIndex": 3},
        {"startIndex": 9},
        {"count": 0},
        {"attributes": "userName"},
        {"excludedAttributes": "emails,groups"},
    ],
)
def test_an_address_several_users_share_pages_as_the_search_does(
    shared: Lookups, params: dict[str, Any]
) -> None:
    filter_ = 'emails[type eq "work"].value eq "team@corp.io"'
    got = shared.get(filter_, **params)
    assert got == shared.searched(filter_, **params)
    assert got["totalResults"] == 3
    if not params:
        assert shared.names(got) == shared.created_order


def test_a_copy_held_as_not_unique_counts_only_where_addresses_are_shared(
    runtime: Runtime, http: TestClient
) -> None:
    """A user whose address is flagged as not the unique copy (as a tenant that shared
    addresses leaves it) in a tenant holding them unique: the search's unique-address
    condition leaves it out, and so does the lookup."""
    d = Lookups(http, make_tenant(runtime, http))
    d.add("kept", userName="kept", emails=[{"value": "kept@corp.io", "type": "work"}])
    with runtime.db.writer.begin() as session:
        session.execute(
            update(User)
            .where(User.tenant_id == d.tenant.id, User.id == uuid.UUID(d.ids["kept"]))
            .values(email_unique=False)
        )
    filter_ = 'emails eq "kept@corp.io"'
    assert d.get(filter_) == d.searched(filter_)
    assert d.get(filter_)["totalResults"] == 0
    assert d.get('userName eq "kept"')["totalResults"] == 1


def test_key_lookups_take_no_session(
    unique: Lookups, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookups are point reads on the driver's connection, not units of work; a filter
    that is more than a key (or sorted) still runs as a search."""
    runs: list[Kind] = []
    points: list[object] = []
    run, read_point = runtime.work.run, runtime.work.read_point

    async def recorded_run(kind: Kind, sessions: Any, call: Any) -> Any:
        runs.append(kind)
        return await run(kind, sessions, call)

    async def recorded_point(read: Any) -> Any:
        points.append(read)
        return await read_point(read)

    monkeypatch.setattr(runtime.work, "run", recorded_run)
    monkeypatch.setattr(runtime.work, "read_point", recorded_point)
    for filter_ in KEY_FILTERS:
        unique.get(filter_)
    assert runs == []
    assert len(points) == len(KEY_FILTERS)
    points.clear()
    unique.get('userName eq "bob" and title eq "x"')
    unique.get('userName eq "bob"', sortBy="title")
    unique.get('emails[type eq "home"].value eq "bob@x.io"')
    assert points == []
    assert len(runs) == 3


class _Recording:
    """A point reader that notes the SQL and arguments it runs."""

    def __init__(self, db: Any, statements: list[tuple[str, Any]]) -> None:
        self._db = db
        self._statements = statements

    @property
    def dialect(self) -> Any:
        return self._db.dialect

    async def fetch(self, sql: str, arguments: Any) -> Any:
        self._statements.append((" ".join(sql.lower().split()), arguments))
        return await self._db.fetch(sql, arguments)


def test_a_lookup_reads_the_key_it_compares(
    unique: Lookups, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One statement on users by the tenant and the folded key (an index's columns), then the
    groups of the user found; nothing else."""
    statements: list[tuple[str, Any]] = []
    read_point = runtime.work.read_point

    async def recording(read: Any) -> Any:
        return await read_point(lambda db: read(_Recording(db, statements)))

    monkeypatch.setattr(runtime.work, "read_point", recording)
    for filter_, key, value in (
        ('userName eq "ALICE.Smith@example.com"', "users.username_key", "alice.smith@example.com"),
        ('emails[type eq "work"].value eq "BOB@x.io"', "users.email_key", "bob@x.io"),
    ):
        statements.clear()
        assert unique.get(filter_)["totalResults"] == 1
        (on_users, on_groups) = statements
        where = on_users[0].partition(" where ")[2]
        assert where.startswith("users.tenant_id = "), on_users
        assert f"{key} = " in where and " or " not in where, on_users
        assert value in list(on_users[1]) or value in dict(on_users[1]).values()
        assert "from groups" in on_groups[0]
