"""A user write shows in every partial-match search at once, before the search index has
caught up with it and after.

On SQLite the trigram index is brought up to date in the background (the search indexer,
rosterd.lifecycle.search_indexer); a search must not wait for it: a created or renamed user
is found by its new name, a renamed or deleted one no longer by its old, through the v2
``query``, the user-identities ``search`` and SCIM ``co``. The SQLite tests run on a store of
their own, where no indexer runs unless the test runs it (a `rosterd serve` of the suite's
shared store would index its rows in the background), and count the index's own matches to
show which state each search met. PostgreSQL maintains its indexes in the transaction; the
same searches must hold there too.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from rosterd.api.app import create_app
from rosterd.config import Settings
from rosterd.lifecycle.search_indexer import SearchIndexer
from rosterd.runtime import Runtime
from tests.api.identities.test_identities_http import issue_api_key
from tests.factories import V2, TenantHandle, make_tenant, own_sqlite_runtime

SCIM_USERS = "/scim/v2/Users"
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture(scope="module")
def store(
    request: pytest.FixtureRequest,
    backend: str,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Runtime, TestClient]]:
    """The runtime and app the tests write and search through: on SQLite, a store of their
    own with no indexer running; on PostgreSQL, the suite's."""
    if backend != "sqlite":
        yield request.getfixturevalue("runtime"), request.getfixturevalue("http")
        return
    with (
        own_sqlite_runtime(settings, tmp_path_factory.mktemp("search-freshness")) as runtime,
        TestClient(create_app(runtime)) as http,
    ):
        yield runtime, http


@dataclass
class Searches:
    runtime: Runtime
    http: TestClient
    tenant: TenantHandle
    api_key: str

    def v2(self, needle: str) -> set[str]:
        r = self.http.get(
            f"{V2}/users", params={"query": needle, "limit": 100}, headers=self.tenant.headers()
        )
        assert r.status_code == 200, r.text
        assert r.json()["totalCount"] == len(r.json()["items"])
        return {u["id"] for u in r.json()["items"]}

    def identities(self, needle: str) -> set[str]:
        r = self.http.get(
            "/user_identities/list",
            params={"search": needle},
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        assert r.status_code == 200, r.text
        return {i["user_identity_id"] for i in r.json()["user_identities"]}

    def scim(self, needle: str) -> set[str]:
        r = self.http.get(
            SCIM_USERS,
            params={"filter": f'name.familyName co "{needle}"'},
            headers=self.tenant.scim_headers(),
        )
        assert r.status_code == 200, r.text
        assert r.json()["totalResults"] == len(r.json().get("Resources", []))
        return {u["id"] for u in r.json().get("Resources", [])}

    def everywhere(self, needle: str) -> set[str]:
        """What the three searches find for ``needle``, which must be the same."""
        found = self.v2(needle)
        assert self.identities(needle) == found, needle
        assert self.scim(needle) == found, needle
        return found

    def indexed(self, needle: str) -> int | None:
        """How many rows users_fts itself matches for ``needle`` (None off SQLite)."""
        if not self.runtime.db.is_sqlite:
            return None
        with self.runtime.db.reader() as session:
            return int(
                session.execute(
                    text("SELECT count(*) FROM users_fts WHERE users_fts MATCH :q"),
                    {"q": f'"{needle}"'},
                ).scalar_one()
            )

    def index(self) -> None:
        if self.runtime.db.is_sqlite:
            SearchIndexer(self.runtime.db).run_once()


@pytest.fixture
def searches(store: tuple[Runtime, TestClient]) -> Searches:
    runtime, http = store
    tenant = make_tenant(runtime, http)
    return Searches(runtime, http, tenant, issue_api_key(tenant)[0])


def test_a_v2_write_shows_in_every_search_before_and_after_indexing(
    searches: Searches, backend: str
) -> None:
    sqlite = backend == "sqlite"
    old, new = f"old{secrets.token_hex(4)}", f"new{secrets.token_hex(4)}"
    user = searches.tenant.user(firstName="Ada", lastName=f"Wright{old}")["id"]
    # Not in the index yet, found all the same.
    assert searches.indexed(old) == (0 if sqlite else None)
    assert searches.everywhere(old) == {user}
    searches.index()
    assert searches.indexed(old) == (1 if sqlite else None)
    assert searches.everywhere(old.upper()) == {user}

    r = searches.http.patch(
        f"{V2}/users/{user}", json={"lastName": f"Wright{new}"}, headers=searches.tenant.headers()
    )
    assert r.status_code == 200, r.text
    # The index still has the old name and not the new one: the searches do not.
    assert (searches.indexed(old), searches.indexed(new)) == ((1, 0) if sqlite else (None, None))
    assert searches.everywhere(old) == set()
    assert searches.everywhere(new) == {user}
    searches.index()
    assert (searches.indexed(old), searches.indexed(new)) == ((0, 1) if sqlite else (None, None))
    assert searches.everywhere(old) == set()
    assert searches.everywhere(new) == {user}

    r = searches.http.delete(f"{V2}/users/{user}", headers=searches.tenant.headers())
    assert r.status_code == 204, r.text
    assert searches.indexed(new) == (1 if sqlite else None)
    assert searches.everywhere(new) == set()
    searches.index()
    assert searches.indexed(new) == (0 if sqlite else None)
    assert searches.everywhere(new) == set()


def test_a_scim_write_shows_in_every_search_before_indexing(searches: Searches) -> None:
    """Several writes to one user before the indexer runs: each search sees the last."""
    names = [f"n{n}{secrets.token_hex(4)}" for n in range(3)]
    headers = searches.tenant.scim_headers()
    body = {"schemas": [SCIM_USER], "userName": f"u{secrets.token_hex(4)}"}
    r = searches.http.post(
        SCIM_USERS, json={**body, "name": {"familyName": names[0]}}, headers=headers
    )
    assert r.status_code == 201, r.text
    user = r.json()["id"]
    assert searches.everywhere(names[0]) == {user}
    for before, after in itertools.pairwise(names):
        r = searches.http.put(
            f"{SCIM_USERS}/{user}", json={**body, "name": {"familyName": after}}, headers=headers
        )
        assert r.status_code == 200, r.text
        assert searches.everywhere(before) == set()
        assert searches.everywhere(after) == {user}
    searches.index()
    assert [searches.everywhere(name) for name in names] == [set(), set(), {user}]
    r = searches.http.delete(f"{SCIM_USERS}/{user}", headers=headers)
    assert r.status_code == 204, r.text
    assert searches.everywhere(names[-1]) == set()
    searches.index()
    assert searches.everywhere(names[-1]) == set()
