"""/scim/v2/Users (RFC 7643 §4.1, RFC 7644 §3): every operation, list parameters, ETags,
the error format, and bad input that must be refused without changing anything.

Each test has a tenant of its own, so listings only ever see the users the test made.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update

from rosterd.models import User
from rosterd.repositories import tenants as tenants_repo
from tests.api.scim.support import (
    ENTERPRISE,
    LIST_SCHEMA,
    MISSING_ID,
    PATCH_SCHEMA,
    SCIM,
    SCIM_JSON,
    USER_SCHEMA,
    patch_op,
    scim_error,
)
from tests.factories import TenantHandle, stored_user

ALIAS = "/api/scim/v2"
USERS = f"{SCIM}/Users"


# ---- helpers -------------------------------------------------------------------------------


def _user_body(user_name: str | None = None, **attrs: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [USER_SCHEMA]}
    if user_name is not None:
        body["userName"] = user_name
    body.update(attrs)
    return body


def _create(
    http: TestClient, tenant: TenantHandle, user_name: str | None = None, **attrs: Any
) -> dict[str, Any]:
    name = user_name or f"user-{secrets.token_hex(4)}@example.com"
    r = http.post(USERS, json=_user_body(name, **attrs), headers=tenant.scim_headers())
    assert r.status_code == 201, r.text
    return dict(r.json())


def _full_user(user_name: str, **overrides: Any) -> dict[str, Any]:
    n = secrets.token_hex(3)
    attrs: dict[str, Any] = {
        "externalId": f"ext-{n}",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "displayName": "Ada Lovelace",
        "title": "Analyst",
        "locale": "en-GB",
        "active": True,
        "emails": [{"value": f"ada-{n}@example.com", "type": "work", "primary": True}],
        "phoneNumbers": [
            {"value": f"+4420794{int(n, 16) % 100000:05d}", "type": "work", "primary": True}
        ],
        ENTERPRISE: {
            "employeeNumber": "42",
            "department": "Engines",
            "division": "Analytical",
            "organization": "Babbage & Co",
            "costCenter": "CC-7",
        },
    }
    attrs.update(overrides)
    return _user_body(user_name, **attrs)


def _get(http: TestClient, tenant: TenantHandle, user_id: str, **params: Any) -> dict[str, Any]:
    r = http.get(f"{USERS}/{user_id}", params=params, headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def _list(http: TestClient, tenant: TenantHandle, **params: Any) -> dict[str, Any]:
    r = http.get(USERS, params=params, headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(SCIM_JSON)
    body = r.json()
    assert body["schemas"] == [LIST_SCHEMA]
    for key in ("totalResults", "itemsPerPage", "startIndex"):
        if key in body:
            assert type(body[key]) is int, (key, body[key])
    assert "totalResults" in body
    return dict(body)


def _ids(page: dict[str, Any]) -> list[str]:
    return [u["id"] for u in page.get("Resources", [])]


def _patch(
    http: TestClient,
    tenant: TenantHandle,
    user_id: str,
    *operations: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Response:
    return http.patch(
        f"{USERS}/{user_id}",
        json=patch_op(*operations),
        headers={**tenant.scim_headers(), **(headers or {})},
    )


def _patched(
    http: TestClient, tenant: TenantHandle, user_id: str, *operations: dict[str, Any]
) -> dict[str, Any]:
    r = _patch(http, tenant, user_id, *operations)
    assert r.status_code == 200, r.text
    body = dict(r.json())
    assert r.headers["ETag"] == body["meta"]["version"]
    assert _get(http, tenant, user_id) == body
    return body


def _seed(tenant: TenantHandle, n: int) -> None:
    """``n`` users written straight to the store, all created at the same instant."""
    same_instant = datetime(2024, 1, 1, tzinfo=UTC)
    with tenant.runtime.db.writer.begin() as session:
        first = tenants_repo.allocate_user_numbers(session, tenant.id, n)
        session.add_all(
            [
                stored_user(
                    tenant_id=tenant.id,
                    number=first + i,
                    username=f"seed-{i:05d}@example.com",
                    created_at=same_instant,
                    modified_at=same_instant,
                )
                for i in range(n)
            ]
        )


def _max_results(http: TestClient, tenant: TenantHandle) -> int:
    r = http.get(f"{SCIM}/ServiceProviderConfig", headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    return int(r.json()["filter"]["maxResults"])


# ---- create and read -----------------------------------------------------------------------


def test_create_returns_201_with_location_etag_and_meta(
    http: TestClient, tenant: TenantHandle
) -> None:
    body = _full_user("Ada@Example.com")
    r = http.post(USERS, json=body, headers=tenant.scim_headers())
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith(SCIM_JSON)
    user = r.json()
    uuid.UUID(user["id"])
    meta = user["meta"]
    assert meta["resourceType"] == "User"
    assert meta["location"] == f"http://testserver{USERS}/{user['id']}"
    assert r.headers["Location"] == meta["location"]
    assert r.headers["ETag"] == meta["version"]
    assert meta["version"].startswith('W/"')
    created = datetime.fromisoformat(meta["created"])
    assert created.tzinfo is not None
    assert datetime.fromisoformat(meta["lastModified"]) >= created
    assert set(user["schemas"]) == {USER_SCHEMA, ENTERPRISE}
    assert user["userName"] == "Ada@Example.com"
    assert user["externalId"] == body["externalId"]
    assert user["name"]["givenName"] == "Ada"
    assert user["name"]["familyName"] == "Lovelace"
    assert user["displayName"] == "Ada Lovelace"
    assert user["title"] == "Analyst"
    assert user["locale"] == "en-GB"
    assert user["active"] is True
    assert [e["value"] for e in user["emails"]] == [body["emails"][0]["value"]]
    assert [p["value"] for p in user["phoneNumbers"]] == [body["phoneNumbers"][0]["value"]]
    assert user[ENTERPRISE] == body[ENTERPRISE]
    assert "password" not in user

    r = http.get(f"{USERS}/{user['id']}", headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(SCIM_JSON)
    assert r.headers["ETag"] == meta["version"]
    assert r.json() == user


def test_create_minimal_user(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "minimal")
    assert user["userName"] == "minimal"
    assert user["active"] is True
    for absent in ("name", "emails", "phoneNumbers", "title", "externalId", ENTERPRISE, "groups"):
        assert absent not in user, absent
    assert user["schemas"] == [USER_SCHEMA]


def test_create_inactive_user(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "sleeper", active=False)
    assert user["active"] is False
    assert _get(http, tenant, user["id"])["active"] is False


def test_external_id_is_stored_and_returned(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "ext", externalId="00uAbC123")
    assert user["externalId"] == "00uAbC123"
    assert _get(http, tenant, user["id"])["externalId"] == "00uAbC123"
    page = _list(http, tenant, filter='externalId eq "00uAbC123"')
    assert _ids(page) == [user["id"]]
    replaced = http.put(
        f"{USERS}/{user['id']}",
        json=_user_body("ext", externalId="00uXyZ789"),
        headers=tenant.scim_headers(),
    )
    assert replaced.status_code == 200, replaced.text
    assert _get(http, tenant, user["id"])["externalId"] == "00uXyZ789"


def test_manager_reference(http: TestClient, tenant: TenantHandle) -> None:
    boss = _create(http, tenant, "boss")
    worker = _create(http, tenant, "worker", **{ENTERPRISE: {"manager": {"value": boss["id"]}}})
    manager = worker[ENTERPRISE]["manager"]
    assert manager["value"] == boss["id"]
    assert manager["$ref"].endswith(f"/Users/{boss['id']}")


# ---- PUT -----------------------------------------------------------------------------------


def test_put_replaces_the_whole_user(http: TestClient, tenant: TenantHandle) -> None:
    boss = _create(http, tenant, "boss")
    body = _full_user("ada", **{ENTERPRISE: {"department": "Engines", "manager": boss["id"]}})
    user = _create(http, tenant, **{k: v for k, v in body.items() if k != "schemas"})
    assert user[ENTERPRISE]["manager"]["value"] == boss["id"]
    r = http.put(
        f"{USERS}/{user['id']}",
        json=_user_body("ada.renamed", name={"givenName": "Augusta"}),
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == r.json()["meta"]["version"]
    assert r.json()["meta"]["version"] != user["meta"]["version"]
    replaced = _get(http, tenant, user["id"])
    assert replaced == r.json()
    assert replaced["id"] == user["id"]
    assert replaced["meta"]["created"] == user["meta"]["created"]
    assert replaced["userName"] == "ada.renamed"
    assert replaced["name"] == {"givenName": "Augusta", "formatted": "Augusta"}
    # everything the PUT left out is gone (RFC 7644 §3.5.1)
    for cleared in (
        "externalId",
        "displayName",
        "title",
        "locale",
        "emails",
        "phoneNumbers",
        ENTERPRISE,
    ):
        assert cleared not in replaced, cleared
    assert replaced["schemas"] == [USER_SCHEMA]
    assert replaced["active"] is True


def test_put_sets_active_false_and_back(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "toggle")
    for active in (False, True, False):
        r = http.put(
            f"{USERS}/{user['id']}",
            json=_user_body("toggle", active=active),
            headers=tenant.scim_headers(),
        )
        assert r.status_code == 200, r.text
        assert r.json()["active"] is active
        assert _get(http, tenant, user["id"])["active"] is active


def test_put_to_a_taken_user_name_is_a_conflict(http: TestClient, tenant: TenantHandle) -> None:
    _create(http, tenant, "Taken@Example.com")
    user = _create(http, tenant, "free", title="Keep")
    before = _get(http, tenant, user["id"])
    r = http.put(
        f"{USERS}/{user['id']}",
        json=_user_body("taken@example.com"),
        headers=tenant.scim_headers(),
    )
    scim_error(r, 409, "uniqueness")
    assert _get(http, tenant, user["id"]) == before


# ---- PATCH ---------------------------------------------------------------------------------


def test_patch_replace_family_name_keeps_the_rest(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "ada", name={"givenName": "Ada", "familyName": "Byron"})
    patched = _patched(
        http, tenant, user["id"], {"op": "replace", "path": "name.familyName", "value": "King"}
    )
    assert patched["name"]["givenName"] == "Ada"
    assert patched["name"]["familyName"] == "King"
    assert patched["userName"] == "ada"
    assert patched["meta"]["version"] != user["meta"]["version"]


def test_patch_add_and_remove_simple_attributes(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "ada")
    patched = _patched(
        http,
        tenant,
        user["id"],
        {"op": "add", "path": "title", "value": "Countess"},
        {"op": "add", "path": "name.givenName", "value": "Ada"},
        {"op": "replace", "path": "displayName", "value": "Lady Ada"},
    )
    assert patched["title"] == "Countess"
    assert patched["name"]["givenName"] == "Ada"
    assert patched["displayName"] == "Lady Ada"
    removed = _patched(
        http,
        tenant,
        user["id"],
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": "displayName"},
    )
    assert "title" not in removed
    assert "displayName" not in removed
    assert removed["name"]["givenName"] == "Ada"


def test_patch_work_email_through_a_value_filter(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(
        http,
        tenant,
        "ada",
        emails=[{"value": "ada@old.example", "type": "work", "primary": True}],
    )
    patched = _patched(
        http,
        tenant,
        user["id"],
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ada@new.example"},
    )
    assert [e["value"] for e in patched["emails"]] == ["ada@new.example"]
    # Entra ID adds the work email of a user who has none through the same path
    bare = _create(http, tenant, "bare")
    added = _patched(
        http,
        tenant,
        bare["id"],
        {"op": "add", "path": 'emails[type eq "work"].value', "value": "bare@example.com"},
    )
    assert [(e["value"], e["type"]) for e in added["emails"]] == [("bare@example.com", "work")]
    removed = _patched(http, tenant, bare["id"], {"op": "remove", "path": "emails"})
    assert "emails" not in removed


def test_patch_enterprise_attributes(http: TestClient, tenant: TenantHandle) -> None:
    boss = _create(http, tenant, "boss")
    user = _create(http, tenant, "ada")
    patched = _patched(
        http,
        tenant,
        user["id"],
        {"op": "add", "path": f"{ENTERPRISE}:department", "value": "Engines"},
        {"op": "replace", "path": f"{ENTERPRISE}:costCenter", "value": "CC-1"},
        {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": boss["id"]}},
    )
    assert patched[ENTERPRISE]["department"] == "Engines"
    assert patched[ENTERPRISE]["costCenter"] == "CC-1"
    assert patched[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert ENTERPRISE in patched["schemas"]
    # Entra ID's form: the attribute without its URN, the manager as a bare id
    entra = _patched(
        http,
        tenant,
        user["id"],
        {"op": "replace", "path": "department", "value": "Looms"},
    )
    assert entra[ENTERPRISE]["department"] == "Looms"
    removed = _patched(
        http,
        tenant,
        user["id"],
        {"op": "remove", "path": f"{ENTERPRISE}:department"},
        {"op": "remove", "path": f"{ENTERPRISE}:manager"},
    )
    assert removed[ENTERPRISE] == {"costCenter": "CC-1"}


def test_patch_without_path_replaces_the_named_attributes(
    http: TestClient, tenant: TenantHandle
) -> None:
    user = _create(http, tenant, "ada", title="Analyst")
    patched = _patched(
        http, tenant, user["id"], {"op": "replace", "value": {"active": False, "title": "Lead"}}
    )
    assert patched["active"] is False
    assert patched["title"] == "Lead"
    reactivated = _patched(http, tenant, user["id"], {"op": "replace", "value": {"active": True}})
    assert reactivated["active"] is True
    assert reactivated["title"] == "Lead"


def test_patch_is_atomic(http: TestClient, tenant: TenantHandle) -> None:
    """RFC 7644 §3.5.2: if one operation fails, none of them is applied."""
    user = _create(http, tenant, "ada", title="Analyst")
    before = _get(http, tenant, user["id"])
    r = _patch(
        http,
        tenant,
        user["id"],
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "replace", "path": "nosuch", "value": "x"},
    )
    scim_error(r, 400, "invalidPath")
    assert _get(http, tenant, user["id"]) == before


def test_patch_user_name_case_is_kept(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "ada@example.com")
    patched = _patched(
        http, tenant, user["id"], {"op": "replace", "path": "userName", "value": "Ada@Example.com"}
    )
    assert patched["userName"] == "Ada@Example.com"


# ---- DELETE --------------------------------------------------------------------------------


def test_delete(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "gone")
    keep = _create(http, tenant, "kept")
    r = http.delete(f"{USERS}/{user['id']}", headers=tenant.scim_headers())
    assert r.status_code == 204, r.text
    assert r.content == b""
    scim_error(http.get(f"{USERS}/{user['id']}", headers=tenant.scim_headers()), 404)
    scim_error(http.delete(f"{USERS}/{user['id']}", headers=tenant.scim_headers()), 404)
    page = _list(http, tenant)
    assert _ids(page) == [keep["id"]]
    # the userName is free again
    _create(http, tenant, "gone")


# ---- attributes and excludedAttributes (RFC 7644 §3.4.2.5) -------------------------------


def test_attributes_on_get(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, **_full_user("ada"))
    only = _get(http, tenant, user["id"], attributes="userName,name.familyName")
    assert only["id"] == user["id"]  # returned "always"
    assert only["userName"] == "ada"
    assert only["name"] == {"familyName": "Lovelace"}
    for absent in ("emails", "title", "phoneNumbers", "displayName", ENTERPRISE, "active"):
        assert absent not in only, absent

    ext = _get(http, tenant, user["id"], attributes=f"{ENTERPRISE}:department")
    assert ext[ENTERPRISE] == {"department": "Engines"}
    assert "userName" not in ext


def test_excluded_attributes_on_get(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, **_full_user("ada"))
    less = _get(http, tenant, user["id"], excludedAttributes="emails,title,name.givenName")
    assert "emails" not in less
    assert "title" not in less
    assert less["name"]["familyName"] == "Lovelace"
    assert "givenName" not in less["name"]
    assert less["userName"] == "ada"
    assert less["phoneNumbers"] == user["phoneNumbers"]
    # "id" is returned always and cannot be excluded
    assert _get(http, tenant, user["id"], excludedAttributes="id")["id"] == user["id"]


def test_attributes_on_list(http: TestClient, tenant: TenantHandle) -> None:
    _create(http, tenant, **_full_user("ada"))
    _create(http, tenant, **_full_user("bea"))
    page = _list(http, tenant, attributes="userName", sortBy="userName")
    assert [u["userName"] for u in page["Resources"]] == ["ada", "bea"]
    for user in page["Resources"]:
        assert set(user) <= {"schemas", "id", "userName"}, user
    page = _list(http, tenant, excludedAttributes="emails,phoneNumbers", sortBy="userName")
    for user in page["Resources"]:
        assert "emails" not in user and "phoneNumbers" not in user
        assert user["title"] == "Analyst"


# ---- sorting (RFC 7644 §3.4.2.3) -----------------------------------------------------------


def test_sort_by_and_sort_order(http: TestClient, tenant: TenantHandle) -> None:
    made = {
        "carol": _create(http, tenant, "carol", name={"familyName": "Adams"}, title="b"),
        "alice": _create(http, tenant, "Alice", name={"familyName": "Crane"}),
        "bob": _create(http, tenant, "bob", name={"familyName": "bloggs"}, title="A"),
    }
    names = {u["id"]: short for short, u in made.items()}

    def order(**params: Any) -> list[str]:
        return [names[i] for i in _ids(_list(http, tenant, **params))]

    assert order(sortBy="userName") == ["alice", "bob", "carol"]
    assert order(sortBy="userName", sortOrder="ascending") == ["alice", "bob", "carol"]
    assert order(sortBy="userName", sortOrder="descending") == ["carol", "bob", "alice"]
    assert order(sortBy="name.familyName") == ["carol", "bob", "alice"]
    assert order(sortBy="name.familyName", sortOrder="descending") == ["alice", "bob", "carol"]
    # no value: last when ascending, first when descending
    assert order(sortBy="title") == ["bob", "carol", "alice"]
    assert order(sortBy="title", sortOrder="descending") == ["alice", "carol", "bob"]
    assert order(sortBy="meta.created") == ["carol", "alice", "bob"]
    assert order(sortBy="meta.created", sortOrder="descending") == ["bob", "alice", "carol"]


def test_bad_sort_order_is_refused(http: TestClient, tenant: TenantHandle) -> None:
    r = http.get(USERS, params={"sortOrder": "sideways"}, headers=tenant.scim_headers())
    scim_error(r, 400, "invalidValue")


# ---- paging (RFC 7644 §3.4.2.4) ------------------------------------------------------------


def test_paging_is_complete_and_stable(http: TestClient, tenant: TenantHandle) -> None:
    # every user created at the same instant: the order must still be total and repeatable
    _seed(tenant, 7)
    everyone = _list(http, tenant, count=100)
    assert everyone["totalResults"] == 7
    all_ids = _ids(everyone)
    assert len(set(all_ids)) == 7
    assert _ids(_list(http, tenant, count=100)) == all_ids

    pages = []
    for start in (1, 4, 7):
        page = _list(http, tenant, startIndex=start, count=3)
        assert page["totalResults"] == 7
        assert page["startIndex"] == start
        assert page["itemsPerPage"] == len(page["Resources"])
        pages.append(_ids(page))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == all_ids
    # the same page twice is the same page
    assert _ids(_list(http, tenant, startIndex=4, count=3)) == pages[1]

    beyond = _list(http, tenant, startIndex=8, count=3)
    assert beyond["totalResults"] == 7
    assert beyond.get("Resources", []) == []
    assert beyond.get("itemsPerPage", 0) == 0


def test_count_zero_returns_only_the_total(http: TestClient, tenant: TenantHandle) -> None:
    _seed(tenant, 3)
    for count in (0, -5):  # a negative count is read as 0 (RFC 7644 §3.4.2.4)
        page = _list(http, tenant, count=count)
        assert page["totalResults"] == 3
        assert page.get("Resources", []) == []
        assert page.get("itemsPerPage", 0) == 0


@pytest.mark.parametrize("start", [0, -1, -100])
def test_start_index_below_one_reads_as_one(
    http: TestClient, tenant: TenantHandle, start: int
) -> None:
    _seed(tenant, 3)
    first = _list(http, tenant, startIndex=1, count=2)
    page = _list(http, tenant, startIndex=start, count=2)
    assert page["startIndex"] == 1
    assert _ids(page) == _ids(first)
    assert page["totalResults"] == 3


def test_huge_count_is_capped_at_max_results(http: TestClient, tenant: TenantHandle) -> None:
    limit = _max_results(http, tenant)
    _seed(tenant, limit + 5)
    page = _list(http, tenant, count=10**9, attributes="userName")
    assert page["totalResults"] == limit + 5
    assert page["itemsPerPage"] == limit
    assert len(page["Resources"]) == limit
    rest = _list(http, tenant, startIndex=limit + 1, count=10**9, attributes="userName")
    assert rest["itemsPerPage"] == 5
    assert set(_ids(page)).isdisjoint(_ids(rest))


def test_default_page_is_bounded_too(http: TestClient, tenant: TenantHandle) -> None:
    limit = _max_results(http, tenant)
    _seed(tenant, limit + 1)
    page = _list(http, tenant, attributes="userName")
    assert page["totalResults"] == limit + 1
    assert len(page["Resources"]) <= limit


# ---- ETags (RFC 7644 §3.14) ----------------------------------------------------------------


def test_if_match_with_the_current_version(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "ada")
    current = user["meta"]["version"]
    r = http.put(
        f"{USERS}/{user['id']}",
        json=_user_body("ada", title="One"),
        headers={**tenant.scim_headers(), "If-Match": current},
    )
    assert r.status_code == 200, r.text
    newer = r.headers["ETag"]
    assert newer != current
    r = _patch(
        http,
        tenant,
        user["id"],
        {"op": "replace", "path": "title", "value": "Two"},
        headers={"If-Match": newer},
    )
    assert r.status_code == 200, r.text
    r = _patch(
        http,
        tenant,
        user["id"],
        {"op": "replace", "path": "title", "value": "Three"},
        headers={"If-Match": "*"},
    )
    assert r.status_code == 200, r.text
    latest = r.headers["ETag"]
    r = http.delete(f"{USERS}/{user['id']}", headers={**tenant.scim_headers(), "If-Match": latest})
    assert r.status_code == 204, r.text


def test_stale_if_match_is_refused_and_changes_nothing(
    http: TestClient, tenant: TenantHandle
) -> None:
    user = _create(http, tenant, "ada", title="First")
    stale = user["meta"]["version"]
    _patched(http, tenant, user["id"], {"op": "replace", "path": "title", "value": "Second"})
    before = _get(http, tenant, user["id"])
    headers = {**tenant.scim_headers(), "If-Match": stale}

    scim_error(
        http.put(f"{USERS}/{user['id']}", json=_user_body("ada", title="X"), headers=headers), 412
    )
    scim_error(
        _patch(
            http,
            tenant,
            user["id"],
            {"op": "replace", "path": "title", "value": "X"},
            headers={"If-Match": stale},
        ),
        412,
    )
    scim_error(http.delete(f"{USERS}/{user['id']}", headers=headers), 412)
    assert _get(http, tenant, user["id"]) == before


def test_if_none_match(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "ada")
    current = user["meta"]["version"]
    r = http.get(
        f"{USERS}/{user['id']}", headers={**tenant.scim_headers(), "If-None-Match": current}
    )
    assert r.status_code == 304, r.text
    assert r.content == b""
    assert r.headers["ETag"] == current
    _patched(http, tenant, user["id"], {"op": "replace", "path": "title", "value": "New"})
    r = http.get(
        f"{USERS}/{user['id']}", headers={**tenant.scim_headers(), "If-None-Match": current}
    )
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "New"
    assert r.headers["ETag"] != current


def test_every_change_bumps_the_version(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "ada")
    seen = {user["meta"]["version"]}
    for title in ("a", "b", "c"):
        patched = _patched(
            http, tenant, user["id"], {"op": "replace", "path": "title", "value": title}
        )
        assert patched["meta"]["version"] not in seen
        seen.add(patched["meta"]["version"])


# ---- uniqueness ----------------------------------------------------------------------------


def test_duplicate_user_name_is_a_conflict_whatever_the_case(
    http: TestClient, tenant: TenantHandle
) -> None:
    _create(http, tenant, "Ada@Example.com")
    for name in ("Ada@Example.com", "ada@example.com", "ADA@EXAMPLE.COM"):
        r = http.post(USERS, json=_user_body(name), headers=tenant.scim_headers())
        body = scim_error(r, 409, "uniqueness")
        assert "ada@example.com" in body["detail"].lower()
    assert _list(http, tenant)["totalResults"] == 1


def test_patch_to_a_taken_user_name_is_a_conflict(http: TestClient, tenant: TenantHandle) -> None:
    _create(http, tenant, "taken")
    user = _create(http, tenant, "free")
    before = _get(http, tenant, user["id"])
    r = _patch(http, tenant, user["id"], {"op": "replace", "path": "userName", "value": "TAKEN"})
    scim_error(r, 409, "uniqueness")
    assert _get(http, tenant, user["id"]) == before


# ---- bad input: refused with the RFC's status and scimType, nothing changed ----------------


def _bad_bodies() -> list[Any]:
    """(id, raw body or JSON, status, scimType, word the detail must contain)."""
    return [
        pytest.param(b'{"schemas": [', 400, "invalidSyntax", "json", id="malformed-json"),
        pytest.param(b"[1, 2]", 400, "invalidSyntax", "", id="json-array"),
        pytest.param(b'"user"', 400, "invalidSyntax", "", id="json-string"),
        pytest.param(
            {"schemas": ["urn:example:unknown:2.0:User"], "userName": "x"},
            400,
            "invalidSyntax",
            "schema",
            id="unknown-schema",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA, "urn:example:unknown:1.0"], "userName": "x"},
            400,
            "invalidSyntax",
            "urn:example:unknown:1.0",
            id="unknown-extension-schema",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA], "userName": "x", "nickName2": "y"},
            400,
            "invalidSyntax",
            "nickName2",
            id="unknown-attribute",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA], "name": {"givenName": "x"}},
            400,
            "invalidValue",
            "userName",
            id="missing-userName",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA], "userName": ""},
            400,
            "invalidValue",
            "userName",
            id="empty-userName",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA], "userName": 42},
            400,
            "invalidValue",
            "userName",
            id="userName-not-a-string",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA], "userName": "x", "active": "maybe"},
            400,
            "invalidValue",
            "active",
            id="active-maybe",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA], "userName": "x", "emails": "x@example.com"},
            400,
            "invalidValue",
            "emails",
            id="emails-not-a-list",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA], "userName": "x", "name": "Ada"},
            400,
            "invalidValue",
            "name",
            id="name-not-an-object",
        ),
        pytest.param(
            {
                "schemas": [USER_SCHEMA],
                "userName": "x",
                "emails": [{"value": "not-an-email", "type": "work"}],
            },
            400,
            "invalidValue",
            "email",
            id="invalid-email",
        ),
        pytest.param(
            {
                "schemas": [USER_SCHEMA],
                "userName": "x",
                "phoneNumbers": [{"value": "555\u00001234", "type": "work"}],
            },
            400,
            "invalidValue",
            "NUL",
            id="phone-with-nul",
        ),
        pytest.param(
            {
                "schemas": [USER_SCHEMA],
                "userName": "x",
                ENTERPRISE: {"manager": {"value": MISSING_ID}},
            },
            400,
            "invalidValue",
            "manager",
            id="manager-does-not-exist",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA], "userName": "x", ENTERPRISE: {"manager": "not-an-id"}},
            400,
            "invalidValue",
            "manager",
            id="manager-not-an-id",
        ),
    ]


def _send(http: TestClient, method: str, url: str, body: Any, headers: dict[str, str]) -> Response:
    if isinstance(body, bytes):
        return http.request(method, url, content=body, headers=headers)
    return http.request(method, url, json=body, headers=headers)


@pytest.mark.parametrize(("body", "status", "scim_type", "word"), _bad_bodies())
def test_bad_create_is_refused_and_creates_nothing(
    http: TestClient, tenant: TenantHandle, body: Any, status: int, scim_type: str, word: str
) -> None:
    existing = _create(http, tenant, "existing")
    r = _send(http, "POST", USERS, body, tenant.scim_headers())
    err = scim_error(r, status, scim_type)
    assert word.lower() in err["detail"].lower(), err
    page = _list(http, tenant)
    assert _ids(page) == [existing["id"]]


@pytest.mark.parametrize(("body", "status", "scim_type", "word"), _bad_bodies())
def test_bad_replace_is_refused_and_changes_nothing(
    http: TestClient, tenant: TenantHandle, body: Any, status: int, scim_type: str, word: str
) -> None:
    user = _create(http, tenant, **_full_user("ada"))
    before = _get(http, tenant, user["id"])
    r = _send(http, "PUT", f"{USERS}/{user['id']}", body, tenant.scim_headers())
    err = scim_error(r, status, scim_type)
    assert word.lower() in err["detail"].lower(), err
    assert _get(http, tenant, user["id"]) == before


def _bad_patches() -> list[Any]:
    """(operations or raw body, status, scimType(s), word the detail must contain)."""
    return [
        pytest.param(b'{"schemas": ["', 400, {"invalidSyntax"}, "json", id="malformed-json"),
        pytest.param(b"[]", 400, {"invalidSyntax"}, "", id="json-array"),
        pytest.param(
            {"schemas": ["urn:example:PatchOp"], "Operations": []},
            400,
            {"invalidSyntax"},
            PATCH_SCHEMA,
            id="wrong-schema",
        ),
        pytest.param(
            {"schemas": [PATCH_SCHEMA]}, 400, {"invalidValue"}, "operations", id="no-operations"
        ),
        pytest.param(
            [{"op": "replace", "path": "id", "value": MISSING_ID}],
            400,
            {"mutability"},
            "id",
            id="read-only-id",
        ),
        pytest.param(
            [{"op": "replace", "path": "meta", "value": {"version": 'W/"9"'}}],
            400,
            {"mutability"},
            "meta",
            id="read-only-meta",
        ),
        pytest.param(
            [{"op": "add", "path": "groups", "value": [{"value": MISSING_ID}]}],
            400,
            {"mutability"},
            "groups",
            id="read-only-groups",
        ),
        pytest.param(
            [{"op": "replace", "path": "nosuch", "value": "x"}],
            400,
            {"invalidPath"},
            "nosuch",
            id="unknown-attribute",
        ),
        pytest.param(
            [{"op": "replace", "path": "emails[type eq", "value": "x"}],
            400,
            {"invalidPath"},
            "",
            id="unparsable-path",
        ),
        # RFC 7644 leaves the scimType of an unknown op open: invalidValue (scim2-models) and
        # invalidSyntax both describe it.
        pytest.param(
            [{"op": "frobnicate", "path": "title", "value": "x"}],
            400,
            {"invalidValue", "invalidSyntax"},
            "frobnicate",
            id="unknown-op",
        ),
        pytest.param([{"op": "remove"}], 400, {"noTarget"}, "path", id="remove-without-path"),
        pytest.param(
            [{"op": "replace", "path": "userName", "value": ""}],
            400,
            {"invalidValue"},
            "userName",
            id="empty-userName",
        ),
        pytest.param(
            [{"op": "replace", "path": "active", "value": "maybe"}],
            400,
            {"invalidValue"},
            "active",
            id="active-maybe",
        ),
        pytest.param(
            [{"op": "replace", "path": "emails", "value": [{"value": "nope", "type": "work"}]}],
            400,
            {"invalidValue"},
            "email",
            id="invalid-email",
        ),
        pytest.param(
            [
                {
                    "op": "replace",
                    "path": "phoneNumbers",
                    "value": [{"value": "12\u0000345", "type": "work"}],
                }
            ],
            400,
            {"invalidValue"},
            "NUL",
            id="phone-with-nul",
        ),
        pytest.param(
            [{"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": MISSING_ID}}],
            400,
            {"invalidValue"},
            "manager",
            id="manager-does-not-exist",
        ),
    ]


@pytest.mark.parametrize(("operations", "status", "scim_types", "word"), _bad_patches())
def test_bad_patch_is_refused_and_changes_nothing(
    http: TestClient,
    tenant: TenantHandle,
    operations: Any,
    status: int,
    scim_types: set[str],
    word: str,
) -> None:
    user = _create(http, tenant, **_full_user("ada"))
    before = _get(http, tenant, user["id"])
    if isinstance(operations, list):
        body: Any = {"schemas": [PATCH_SCHEMA], "Operations": operations}
    else:
        body = operations
    r = _send(http, "PATCH", f"{USERS}/{user['id']}", body, tenant.scim_headers())
    err = scim_error(r, status)
    assert err.get("scimType") in scim_types, err
    assert word.lower() in err["detail"].lower(), err
    assert _get(http, tenant, user["id"]) == before


def test_a_user_cannot_manage_themselves(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "ada")
    before = _get(http, tenant, user["id"])
    r = _patch(
        http,
        tenant,
        user["id"],
        {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": {"value": user["id"]}},
    )
    scim_error(r, 400, "invalidValue")
    assert _get(http, tenant, user["id"]) == before


@pytest.mark.parametrize("user_id", [MISSING_ID, "not-a-uuid", "12345"])
def test_unknown_id_is_404_on_every_method(
    http: TestClient, tenant: TenantHandle, user_id: str
) -> None:
    headers = tenant.scim_headers()
    url = f"{USERS}/{user_id}"
    for r in (
        http.get(url, headers=headers),
        http.put(url, json=_user_body("x"), headers=headers),
        http.patch(
            url,
            json={"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove", "path": "title"}]},
            headers=headers,
        ),
        http.delete(url, headers=headers),
    ):
        body = scim_error(r, 404)
        assert "scimType" not in body or body["scimType"] is None
    assert _list(http, tenant)["totalResults"] == 0


def test_another_tenants_user_is_not_found(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = _create(http, other_tenant, "theirs", title="Theirs")
    url = f"{USERS}/{theirs['id']}"
    scim_error(http.get(url, headers=tenant.scim_headers()), 404)
    scim_error(http.put(url, json=_user_body("mine"), headers=tenant.scim_headers()), 404)
    scim_error(http.delete(url, headers=tenant.scim_headers()), 404)
    assert _get(http, other_tenant, theirs["id"]) == theirs


# ---- the /api/scim/v2 alias ----------------------------------------------------------------


def test_alias_serves_the_same_users(http: TestClient, tenant: TenantHandle) -> None:
    headers = tenant.scim_headers()
    r = http.post(f"{ALIAS}/Users", json=_user_body("aliased", title="A"), headers=headers)
    assert r.status_code == 201, r.text
    user = r.json()
    assert r.headers["Location"] == f"http://testserver{ALIAS}/Users/{user['id']}"
    assert user["meta"]["location"] == r.headers["Location"]

    via_main = _get(http, tenant, user["id"])
    assert via_main["meta"]["location"] == f"http://testserver{USERS}/{user['id']}"
    assert {k: v for k, v in via_main.items() if k != "meta"} == {
        k: v for k, v in user.items() if k != "meta"
    }

    r = http.patch(
        f"{ALIAS}/Users/{user['id']}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "path": "title", "value": "B"}],
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert _get(http, tenant, user["id"])["title"] == "B"

    r = http.get(f"{ALIAS}/Users", params={"filter": 'userName eq "ALIASED"'}, headers=headers)
    assert r.status_code == 200, r.text
    assert [u["id"] for u in r.json()["Resources"]] == [user["id"]]

    scim_error(
        http.post(f"{ALIAS}/Users", json=_user_body("Aliased"), headers=headers), 409, "uniqueness"
    )
    scim_error(http.post(f"{ALIAS}/Users", content=b"{", headers=headers), 400, "invalidSyntax")
    scim_error(http.get(f"{ALIAS}/Users/{MISSING_ID}", headers=headers), 404)
    scim_error(
        http.get(f"{ALIAS}/Users", params={"filter": "x eq"}, headers=headers), 400, "invalidFilter"
    )

    r = http.delete(f"{ALIAS}/Users/{user['id']}", headers=headers)
    assert r.status_code == 204, r.text
    scim_error(http.get(f"{USERS}/{user['id']}", headers=headers), 404)


def test_time_fields_are_utc_iso(http: TestClient, tenant: TenantHandle) -> None:
    user = _create(http, tenant, "ada")
    with tenant.runtime.db.writer.begin() as session:
        session.execute(
            update(User)
            .where(User.id == uuid.UUID(user["id"]))
            .values(
                created_at=datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC),
                modified_at=datetime(2022, 3, 4, 5, 6, 7, tzinfo=UTC),
            )
        )
    meta = _get(http, tenant, user["id"])["meta"]
    assert datetime.fromisoformat(meta["created"]) == datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert datetime.fromisoformat(meta["lastModified"]) == datetime(2022, 3, 4, 5, 6, 7, tzinfo=UTC)
