"""/integration/v2/users: every operation, its filters and paging, its errors, isolation, audit.

Each test has a tenant of its own, so listings only ever see the users the test made.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.models import AuditEvent, User
from rosterd.repositories import audit as audit_repo
from tests.factories import V2, TenantHandle

USERS = f"{V2}/users"


# ---- helpers -------------------------------------------------------------------------------


def _error(r: Response, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert the v2 error envelope with ``status``; with ``field``, that a detail names it."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], list)
    for detail in err["details"]:
        assert set(detail) == {"field", "message"}, detail
        assert isinstance(detail["field"], str) and isinstance(detail["message"], str)
    if field is not None:
        fields = [d["field"] for d in err["details"]]
        assert field in fields, err
    return dict(err)


def _list(http: TestClient, tenant: TenantHandle, **params: Any) -> dict[str, Any]:
    r = http.get(USERS, params=params, headers=tenant.headers("user:read"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _ids(page: dict[str, Any]) -> list[str]:
    return [u["id"] for u in page["items"]]


def _all_users(http: TestClient, tenant: TenantHandle) -> list[dict[str, Any]]:
    page = _list(http, tenant, limit=100)
    assert page["totalCount"] == len(page["items"])
    return list(page["items"])


def _get(http: TestClient, tenant: TenantHandle, user_id: str) -> dict[str, Any]:
    r = http.get(f"{USERS}/{user_id}", headers=tenant.headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def _group_ids_of(http: TestClient, tenant: TenantHandle, user_id: str) -> set[str]:
    r = http.get(f"{USERS}/{user_id}/groups", headers=tenant.headers("group:read"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalCount"] == len(body["items"])
    return {g["id"] for g in body["items"]}


def _audit(tenant: TenantHandle, user_id: str) -> list[AuditEvent]:
    with tenant.runtime.db.reader() as session:
        return audit_repo.for_resource(session, tenant.id, "user", user_id)


def _set_columns(tenant: TenantHandle, user_id: str, **values: Any) -> None:
    """Set columns the API cannot (createdAt, lastLoginAt) straight in the store."""
    with tenant.runtime.db.writer.begin() as session:
        session.execute(
            update(User)
            .where(User.tenant_id == tenant.id, User.id == uuid.UUID(user_id))
            .values(**values)
        )


def _new_client_headers(tenant: TenantHandle, *scopes: str) -> tuple[str, dict[str, str]]:
    """A fresh OAuth client of the tenant and a bearer header for it."""
    client_id, secret = tenant.client_credentials(list(scopes or ALL_SCOPES))
    r = tenant.http.post(
        f"/tenants/{tenant.slug}/connect/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert r.status_code == 200, r.text
    return client_id, {"Authorization": f"Bearer {r.json()['access_token']}"}


def _keys(value: Any) -> set[str]:
    """Every mapping key anywhere inside ``value``."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _email() -> str:
    return f"u-{secrets.token_hex(5)}@example.com"


# ---- create --------------------------------------------------------------------------------


def test_create_get_patch_delete(http: TestClient, tenant: TenantHandle) -> None:
    h = tenant.headers()
    r = http.post(
        f"{V2}/users",
        json={"email": "jane@example.com", "firstName": "Jane", "lastName": "Doe", "title": "AE"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == "jane@example.com"
    assert user["username"] == "jane@example.com"
    assert user["status"] == "active" and user["isActive"] is True

    r = http.get(f"{V2}/users/{user['id']}", headers=h)
    assert r.status_code == 200 and r.json()["title"] == "AE"

    r = http.patch(f"{V2}/users/{user['id']}", json={"department": "Sales"}, headers=h)
    assert r.status_code == 200
    assert r.json()["department"] == "Sales" and r.json()["title"] == "AE"

    r = http.delete(f"{V2}/users/{user['id']}", headers=h)
    assert r.status_code == 204
    assert http.get(f"{V2}/users/{user['id']}", headers=h).status_code == 404


def test_create_returns_the_full_user(http: TestClient, tenant: TenantHandle) -> None:
    r = http.post(
        USERS,
        json={
            "email": "ada@example.com",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "title": "Engineer",
            "department": "R&D",
            "locale": "en-GB",
            "sendInvitation": False,
        },
        headers=tenant.headers("user:write"),
    )
    assert r.status_code == 201, r.text
    user = r.json()
    uuid.UUID(user["id"])
    assert user["email"] == "ada@example.com"
    assert user["username"] == "ada@example.com"
    assert (user["firstName"], user["lastName"]) == ("Ada", "Lovelace")
    assert user["displayName"] == "Ada Lovelace"
    assert (user["title"], user["department"], user["locale"]) == ("Engineer", "R&D", "en-GB")
    assert user["status"] == "active" and user["isActive"] is True
    for absent in ("roleId", "roleName", "teamId", "teamName", "lastLoginAt"):
        assert absent not in user
    for stamp in ("createdAt", "modifiedAt"):
        assert user[stamp].endswith("Z")
        datetime.fromisoformat(user[stamp])
    assert _get(http, tenant, user["id"]) == user
    assert _list(http, tenant)["items"] == [user]


def test_create_with_role_team_and_groups(http: TestClient, tenant: TenantHandle) -> None:
    admin = tenant.role_named("Admin")
    team = tenant.team()
    g1, g2 = tenant.group(), tenant.group()
    user = tenant.user(roleId=admin["id"], teamId=team["id"], groupIds=[g1["id"], g2["id"]])
    assert user["roleId"] == admin["id"] and user["roleName"] == "Admin"
    assert user["teamId"] == team["id"] and user["teamName"] == team["name"]

    assert _group_ids_of(http, tenant, user["id"]) == {g1["id"], g2["id"]}
    r = http.get(f"{V2}/groups/{g1['id']}", headers=tenant.headers())
    assert r.status_code == 200 and r.json()["memberCount"] == 1
    fetched = _get(http, tenant, user["id"])
    assert (fetched["roleId"], fetched["teamId"]) == (admin["id"], team["id"])


def test_get_by_id_answers_as_create_and_list_do(http: TestClient, tenant: TenantHandle) -> None:
    # The GET by id is built from a row and sent without the UserOut model; it must send the
    # same fields (and leave out the same empty ones) as the answers that use the model.
    admin = tenant.role_named("Admin")
    team = tenant.team()
    full = tenant.user(roleId=admin["id"], teamId=team["id"], title="CTO", department="R&D")
    bare = tenant.user()
    for created in (full, bare):
        r = http.get(f"{V2}/users/{created['id']}", headers=tenant.headers())
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        listed = http.get(
            f"{V2}/users", params={"email": created["email"]}, headers=tenant.headers()
        ).json()["items"]
        assert r.json() == created == listed[0]
    assert "roleId" not in bare and "title" not in bare


def test_create_with_duplicate_group_ids_joins_once(http: TestClient, tenant: TenantHandle) -> None:
    g = tenant.group()
    user = tenant.user(groupIds=[g["id"], g["id"]])
    assert _group_ids_of(http, tenant, user["id"]) == {g["id"]}


def test_create_with_explicit_username(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user(email="kim@example.com", username="kim.lee")
    assert user["username"] == "kim.lee" and user["email"] == "kim@example.com"


def test_create_inactive_and_pending(http: TestClient, tenant: TenantHandle) -> None:
    inactive = tenant.user(isActive=False)
    assert inactive["status"] == "inactive" and inactive["isActive"] is False
    pending = tenant.user(status="pending")
    assert pending["status"] == "pending" and pending["isActive"] is False
    active = tenant.user(isActive=True, status="active")
    assert active["status"] == "active" and active["isActive"] is True
    assert _get(http, tenant, inactive["id"])["status"] == "inactive"


def test_create_keeps_names_as_sent(http: TestClient, tenant: TenantHandle) -> None:
    """Names are stored as sent, as on every surface (rosterd.domain.rules)."""
    user = tenant.user(firstName="  Jane ", lastName=" Doe  ")
    assert (user["firstName"], user["lastName"]) == ("  Jane ", " Doe  ")
    assert _get(http, tenant, user["id"])["firstName"] == "  Jane "


def test_create_accepts_255_character_fields(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user(firstName="f" * 255, lastName="l" * 255, title="t" * 255)
    assert len(user["firstName"]) == 255 and len(user["title"]) == 255


def test_same_email_in_two_tenants(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    email = _email()
    a = tenant.user(email=email)
    b = other_tenant.user(email=email)
    assert a["id"] != b["id"]


# ---- duplicates: 409 -----------------------------------------------------------------------


def test_duplicate_email_is_409_case_insensitively(http: TestClient, tenant: TenantHandle) -> None:
    tenant.user(email="Dup.User@example.com")
    r = http.post(
        USERS,
        json={"email": "dup.user@EXAMPLE.com", "firstName": "A", "lastName": "B"},
        headers=tenant.headers(),
    )
    _error(r, 409, "email")
    assert len(_all_users(http, tenant)) == 1


def test_duplicate_username_is_409_case_insensitively(
    http: TestClient, tenant: TenantHandle
) -> None:
    tenant.user(username="jdoe")
    r = http.post(
        USERS,
        json={"email": _email(), "username": "JDoe", "firstName": "A", "lastName": "B"},
        headers=tenant.headers(),
    )
    _error(r, 409, "username")
    assert len(_all_users(http, tenant)) == 1


def test_email_taken_as_default_username_is_409(http: TestClient, tenant: TenantHandle) -> None:
    # The username defaults to the email, so it must be free as a username too.
    tenant.user(email=_email(), username="pat@example.com")
    r = http.post(
        USERS,
        json={"email": "PAT@example.com", "firstName": "A", "lastName": "B"},
        headers=tenant.headers(),
    )
    _error(r, 409, "username")
    assert len(_all_users(http, tenant)) == 1


def test_patch_to_taken_email_or_username_is_409(http: TestClient, tenant: TenantHandle) -> None:
    tenant.user(email="taken@example.com", username="taken")
    user = tenant.user()
    before = _get(http, tenant, user["id"])
    for body, field in (
        ({"email": "TAKEN@example.com"}, "email"),
        ({"username": "Taken"}, "username"),
    ):
        r = http.patch(f"{USERS}/{user['id']}", json=body, headers=tenant.headers())
        _error(r, 409, field)
    assert _get(http, tenant, user["id"]) == before


def test_patch_own_email_in_other_case_is_fine(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user(email="case@example.com", username="case")
    r = http.patch(
        f"{USERS}/{user['id']}",
        json={"email": "Case@example.com", "username": "CASE"},
        headers=tenant.headers(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "Case@example.com" and r.json()["username"] == "CASE"


def test_email_is_free_again_after_delete(http: TestClient, tenant: TenantHandle) -> None:
    email = _email()
    user = tenant.user(email=email)
    assert http.delete(f"{USERS}/{user['id']}", headers=tenant.headers()).status_code == 204
    again = tenant.user(email=email)
    assert again["id"] != user["id"]


# ---- get -----------------------------------------------------------------------------------


def test_get_unknown_user_is_404(http: TestClient, tenant: TenantHandle) -> None:
    tenant.user()
    err = _error(http.get(f"{USERS}/{uuid.uuid4()}", headers=tenant.headers()), 404)
    assert err["code"] == "not_found"


# ---- list: search and filters --------------------------------------------------------------


def test_query_matches_names_email_and_username(http: TestClient, tenant: TenantHandle) -> None:
    alice = tenant.user(
        firstName="Alice", lastName="Smith", email="alice.s@acme-corp.com", username="asmith"
    )
    bob = tenant.user(firstName="Bob", lastName="Jones", email="bob@widgets.com", username="bobbyj")
    carol = tenant.user(
        firstName="Carol", lastName="Smithers", email="c@acme-corp.com", username="cw-login"
    )

    def found(q: str) -> set[str]:
        page = _list(http, tenant, query=q)
        assert page["totalCount"] == len(page["items"])
        return set(_ids(page))

    assert found("ALI") == {alice["id"]}  # first name, case-insensitive
    assert found("smith") == {alice["id"], carol["id"]}  # last name, partial
    assert found("jOnEs") == {bob["id"]}
    assert found("ACME-corp.com") == {alice["id"], carol["id"]}  # email domain
    assert found("bobby") == {bob["id"]}  # username only
    assert found("CW-LOG") == {carol["id"]}
    assert found("nobody-matches-this") == set()
    assert found("") == {alice["id"], bob["id"], carol["id"]}


def test_query_treats_like_wildcards_literally(http: TestClient, tenant: TenantHandle) -> None:
    plain = tenant.user(firstName="Plain", lastName="Name", email="plain@example.com")
    underscore = tenant.user(firstName="Under", lastName="Score", email="under_score@example.com")
    assert _list(http, tenant, query="%")["totalCount"] == 0
    assert _ids(_list(http, tenant, query="_")) == [underscore["id"]]
    assert _ids(_list(http, tenant, query="plain%")) == []
    assert _ids(_list(http, tenant, query="ai_")) == []  # "_" would match the "n" of "plain"
    assert _ids(_list(http, tenant, query="R_S")) == [underscore["id"]]
    assert _ids(_list(http, tenant, query="plain")) == [plain["id"]]


def test_filter_by_group_role_and_team(http: TestClient, tenant: TenantHandle) -> None:
    g1, g2 = tenant.group(), tenant.group()
    role = tenant.role()
    t1, t2 = tenant.team(), tenant.team()
    a = tenant.user(groupIds=[g1["id"]], roleId=role["id"], teamId=t1["id"])
    b = tenant.user(groupIds=[g1["id"], g2["id"]], teamId=t2["id"])
    c = tenant.user()

    assert set(_ids(_list(http, tenant, groupId=g1["id"]))) == {a["id"], b["id"]}
    assert _ids(_list(http, tenant, groupId=g2["id"])) == [b["id"]]
    assert _ids(_list(http, tenant, roleId=role["id"])) == [a["id"]]
    assert _ids(_list(http, tenant, teamId=t1["id"])) == [a["id"]]
    assert _ids(_list(http, tenant, teamId=t2["id"])) == [b["id"]]
    assert _ids(_list(http, tenant, groupId=g1["id"], teamId=t2["id"])) == [b["id"]]
    assert _list(http, tenant, groupId=g2["id"], roleId=role["id"])["totalCount"] == 0
    # ids nobody uses: an empty page, not an error
    for param in ("groupId", "roleId", "teamId"):
        page = _list(http, tenant, **{param: str(uuid.uuid4())})
        assert page["items"] == [] and page["totalCount"] == 0
    assert len(_all_users(http, tenant)) == 3 and c["id"] in _ids(_list(http, tenant))


def test_filter_by_status_and_is_active(http: TestClient, tenant: TenantHandle) -> None:
    active = tenant.user()
    inactive = tenant.user(isActive=False)
    pending = tenant.user(status="pending")
    suspended = tenant.user()
    r = http.patch(
        f"{USERS}/{suspended['id']}", json={"status": "suspended"}, headers=tenant.headers()
    )
    assert r.status_code == 200, r.text

    def found(**params: Any) -> set[str]:
        return set(_ids(_list(http, tenant, **params)))

    assert found(status="active") == {active["id"]}
    assert found(status="inactive") == {inactive["id"]}
    assert found(status="pending") == {pending["id"]}
    assert found(status="suspended") == {suspended["id"]}
    assert found(isActive="true") == {active["id"]}
    # isActive is the boolean view of status: every user whose isActive is false
    assert found(isActive="false") == {inactive["id"], pending["id"], suspended["id"]}
    for user in _list(http, tenant, isActive="false")["items"]:
        assert user["isActive"] is False
    assert found(isActive="true", status="active") == {active["id"]}
    assert found(isActive="false", status="suspended") == {suspended["id"]}


def test_filter_by_email_and_username_exact_case_insensitive(
    http: TestClient, tenant: TenantHandle
) -> None:
    a = tenant.user(email="exact@example.com", username="exact-login")
    tenant.user(email="exactly@example.com", username="exact-login-2")
    assert _ids(_list(http, tenant, email="EXACT@example.com")) == [a["id"]]
    assert _ids(_list(http, tenant, username="Exact-Login")) == [a["id"]]
    assert _list(http, tenant, email="exact@example")["totalCount"] == 0  # no partial match
    assert _list(http, tenant, username="exact")["totalCount"] == 0


# ---- list: sorting -------------------------------------------------------------------------


def test_sort_by_name(http: TestClient, tenant: TenantHandle) -> None:
    people = [
        ("Zoe", "Smith"),
        ("adam", "smith"),  # same last name in another case: first name decides
        ("Carl", "van Dyke"),
        ("Anna", "Baker"),
        ("Bea", "adams"),
    ]
    made = {f"{f} {last}": tenant.user(firstName=f, lastName=last)["id"] for f, last in people}
    expected = [
        made[n] for n in ("Bea adams", "Anna Baker", "adam smith", "Zoe Smith", "Carl van Dyke")
    ]
    assert _ids(_list(http, tenant, sortBy="name")) == expected
    assert _ids(_list(http, tenant, sortBy="name", sortOrder="asc")) == expected
    assert _ids(_list(http, tenant, sortBy="name", sortOrder="desc")) == expected[::-1]
    assert _ids(_list(http, tenant)) == expected  # name ascending is the default


def test_sort_by_email(http: TestClient, tenant: TenantHandle) -> None:
    c = tenant.user(email="carol@example.com", firstName="A", lastName="A")
    a = tenant.user(email="Alice@example.com", firstName="C", lastName="C")
    b = tenant.user(email="bob@example.com", firstName="B", lastName="B")
    expected = [a["id"], b["id"], c["id"]]
    assert _ids(_list(http, tenant, sortBy="email")) == expected
    assert _ids(_list(http, tenant, sortBy="email", sortOrder="desc")) == expected[::-1]


def test_sort_by_created_at(http: TestClient, tenant: TenantHandle) -> None:
    users = [tenant.user()["id"] for _ in range(4)]
    # stored out of creation (and name) order, so only createdAt can explain the result
    days = {users[0]: 3, users[1]: 1, users[2]: 4, users[3]: 2}
    for user_id, day in days.items():
        _set_columns(tenant, user_id, created_at=datetime(2024, 1, day, 12, tzinfo=UTC))
    expected = sorted(users, key=days.__getitem__)
    page = _list(http, tenant, sortBy="createdAt")
    assert _ids(page) == expected
    assert [u["createdAt"] for u in page["items"]] == [
        f"2024-01-0{days[i]}T12:00:00.000Z" for i in expected
    ]
    assert _ids(_list(http, tenant, sortBy="createdAt", sortOrder="desc")) == expected[::-1]


def test_sort_by_last_login_at(http: TestClient, tenant: TenantHandle) -> None:
    never = tenant.user(firstName="A", lastName="A")["id"]
    late = tenant.user(firstName="B", lastName="B")["id"]
    early = tenant.user(firstName="C", lastName="C")["id"]
    middle = tenant.user(firstName="D", lastName="D")["id"]
    _set_columns(tenant, late, last_login_at=datetime(2024, 3, 1, tzinfo=UTC))
    _set_columns(tenant, early, last_login_at=datetime(2024, 1, 1, tzinfo=UTC))
    _set_columns(tenant, middle, last_login_at=datetime(2024, 2, 1, tzinfo=UTC))

    asc = _list(http, tenant, sortBy="lastLoginAt", sortOrder="asc")
    assert asc["items"][1]["lastLoginAt"] == "2024-02-01T00:00:00.000Z"
    assert "lastLoginAt" not in asc["items"][3]
    # Users who never logged in come last in either direction, on every backend.
    assert _ids(asc) == [early, middle, late, never]
    desc = _list(http, tenant, sortBy="lastLoginAt", sortOrder="desc")
    assert _ids(desc) == [late, middle, early, never]


# ---- list: paging --------------------------------------------------------------------------


def test_offset_limit_envelope(http: TestClient, tenant: TenantHandle) -> None:
    ids = [tenant.user(firstName="P", lastName=f"Person{i}")["id"] for i in range(5)]

    first = _list(http, tenant)
    assert set(first) == {"items", "totalCount", "offset", "limit"}
    assert (first["offset"], first["limit"], first["totalCount"]) == (0, 25, 5)
    assert _ids(first) == ids

    pages = [_list(http, tenant, offset=o, limit=2) for o in (0, 2, 4)]
    assert [_ids(p) for p in pages] == [ids[0:2], ids[2:4], ids[4:5]]
    for offset, page in zip((0, 2, 4), pages, strict=True):
        assert set(page) == {"items", "totalCount", "offset", "limit"}
        assert (page["offset"], page["limit"], page["totalCount"]) == (offset, 2, 5)

    past = _list(http, tenant, offset=10, limit=2)
    assert past["items"] == [] and past["totalCount"] == 5
    assert _list(http, tenant, limit=100)["limit"] == 100
    empty = _list(http, tenant, limit=0)
    assert empty["items"] == [] and empty["totalCount"] == 5


def test_default_page_is_25(http: TestClient, tenant: TenantHandle) -> None:
    for _ in range(26):
        tenant.user()
    first = _list(http, tenant)
    assert len(first["items"]) == 25 and first["totalCount"] == 26
    rest = _list(http, tenant, offset=25)
    assert len(rest["items"]) == 1
    assert not set(_ids(first)) & set(_ids(rest))


def test_page_and_page_size_aliases(http: TestClient, tenant: TenantHandle) -> None:
    ids = [tenant.user(firstName="P", lastName=f"Person{i}")["id"] for i in range(5)]

    page2 = _list(http, tenant, page=2, pageSize=2)
    assert set(page2) == {"items", "totalCount", "offset", "limit", "page", "pageSize"}
    assert (page2["page"], page2["pageSize"], page2["offset"], page2["limit"]) == (2, 2, 2, 2)
    assert page2["totalCount"] == 5
    assert _ids(page2) == ids[2:4] == _ids(_list(http, tenant, offset=2, limit=2))
    assert _ids(_list(http, tenant, page=3, pageSize=2)) == ids[4:]

    only_page = _list(http, tenant, page=1)
    assert (only_page["page"], only_page["pageSize"], only_page["offset"]) == (1, 25, 0)
    assert _ids(only_page) == ids
    only_size = _list(http, tenant, pageSize=3)
    assert (only_size["page"], only_size["pageSize"], only_size["limit"]) == (1, 3, 3)
    assert _ids(only_size) == ids[:3]


def test_paging_with_filters_counts_matches_only(http: TestClient, tenant: TenantHandle) -> None:
    for i in range(3):
        tenant.user(firstName="Match", lastName=f"M{i}")
    tenant.user(firstName="Other", lastName="O")
    page = _list(http, tenant, query="match", limit=2)
    assert page["totalCount"] == 3 and len(page["items"]) == 2


# ---- patch ---------------------------------------------------------------------------------


def test_patch_changes_only_sent_fields(http: TestClient, tenant: TenantHandle) -> None:
    team = tenant.team()
    user = tenant.user(
        firstName="Old", lastName="Name", title="T", department="D", locale="en", teamId=team["id"]
    )
    r = http.patch(
        f"{USERS}/{user['id']}",
        json={"title": "Senior Manager", "department": "Sales"},
        headers=tenant.headers("user:write"),
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["title"] == "Senior Manager" and changed["department"] == "Sales"
    for key in set(user) - {"title", "department", "modifiedAt"}:
        assert changed[key] == user[key], key
    assert _get(http, tenant, user["id"]) == changed


def test_patch_every_writable_field(http: TestClient, tenant: TenantHandle) -> None:
    role = tenant.role_named("Admin")
    team = tenant.team()
    user = tenant.user()
    body = {
        "firstName": "New",
        "lastName": "Person",
        "title": "CTO",
        "department": "Tech",
        "roleId": role["id"],
        "teamId": team["id"],
        "email": "new.person@example.com",
        "username": "newperson",
        "displayName": "The New Person",
        "locale": "de-DE",
    }
    r = http.patch(f"{USERS}/{user['id']}", json=body, headers=tenant.headers())
    assert r.status_code == 200, r.text
    got = _get(http, tenant, user["id"])
    for key, value in body.items():
        assert got[key] == value, key
    assert got["roleName"] == "Admin" and got["teamName"] == team["name"]


def test_patch_null_clears_role_team_and_optional_text(
    http: TestClient, tenant: TenantHandle
) -> None:
    user = tenant.user(
        roleId=tenant.role()["id"], teamId=tenant.team()["id"], title="T", department="D"
    )
    r = http.patch(
        f"{USERS}/{user['id']}",
        json={"roleId": None, "teamId": None, "title": None},
        headers=tenant.headers(),
    )
    assert r.status_code == 200, r.text
    got = _get(http, tenant, user["id"])
    for cleared in ("roleId", "roleName", "teamId", "teamName", "title"):
        assert cleared not in got, cleared
    assert got["department"] == "D"


def test_patch_empty_body_changes_nothing(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    r = http.patch(f"{USERS}/{user['id']}", json={}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json() == user
    assert [e.action for e in _audit(tenant, user["id"])] == ["user.created"]


def test_patch_status_transitions(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    url = f"{USERS}/{user['id']}"
    for body, status, active in (
        ({"status": "suspended"}, "suspended", False),
        ({"status": "inactive"}, "inactive", False),
        ({"status": "active"}, "active", True),
        ({"isActive": False}, "inactive", False),
        ({"isActive": True}, "active", True),
        ({"status": "suspended", "isActive": False}, "suspended", False),
        ({"status": "active", "isActive": True}, "active", True),
    ):
        r = http.patch(url, json=body, headers=tenant.headers())
        assert r.status_code == 200, (body, r.text)
        assert (r.json()["status"], r.json()["isActive"]) == (status, active), body
        got = _get(http, tenant, user["id"])
        assert (got["status"], got["isActive"]) == (status, active), body


def test_is_active_false_deactivates_without_dropping_groups(
    http: TestClient, tenant: TenantHandle
) -> None:
    group = tenant.group()
    user = tenant.user(groupIds=[group["id"]])
    r = http.patch(f"{USERS}/{user['id']}", json={"isActive": False}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "inactive" and r.json()["isActive"] is False
    assert _group_ids_of(http, tenant, user["id"]) == {group["id"]}


def test_pending_user_can_be_activated_but_nobody_goes_back_to_pending(
    http: TestClient, tenant: TenantHandle
) -> None:
    pending = tenant.user(status="pending")
    r = http.patch(f"{USERS}/{pending['id']}", json={"status": "active"}, headers=tenant.headers())
    assert r.status_code == 200 and r.json()["status"] == "active"
    r = http.patch(f"{USERS}/{pending['id']}", json={"status": "pending"}, headers=tenant.headers())
    _error(r, 400, "status")
    assert _get(http, tenant, pending["id"])["status"] == "active"


def test_patch_unknown_user_is_404(http: TestClient, tenant: TenantHandle) -> None:
    r = http.patch(f"{USERS}/{uuid.uuid4()}", json={"title": "x"}, headers=tenant.headers())
    _error(r, 404)


# ---- delete --------------------------------------------------------------------------------


def test_delete_removes_user_and_memberships(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    keep = tenant.user(groupIds=[group["id"]])
    gone = tenant.user(groupIds=[group["id"]])
    team = tenant.team(managerId=gone["id"])

    r = http.delete(f"{USERS}/{gone['id']}", headers=tenant.headers("user:write"))
    assert r.status_code == 204 and r.content == b""
    _error(http.get(f"{USERS}/{gone['id']}", headers=tenant.headers()), 404)
    _error(http.get(f"{USERS}/{gone['id']}/groups", headers=tenant.headers()), 404)
    _error(http.delete(f"{USERS}/{gone['id']}", headers=tenant.headers()), 404)
    assert _ids(_list(http, tenant)) == [keep["id"]]

    r = http.get(f"{V2}/groups/{group['id']}", headers=tenant.headers())
    assert r.json()["memberCount"] == 1
    r = http.get(f"{V2}/teams/{team['id']}", headers=tenant.headers())
    assert r.status_code == 200 and "managerId" not in r.json()


def test_delete_reassigns_managed_teams(http: TestClient, tenant: TenantHandle) -> None:
    leaving = tenant.user()
    successor = tenant.user(firstName="Sam", lastName="Successor")
    bystander = tenant.user()
    t1 = tenant.team(managerId=leaving["id"])
    t2 = tenant.team(managerId=leaving["id"])
    t3 = tenant.team(managerId=bystander["id"])

    r = http.delete(
        f"{USERS}/{leaving['id']}",
        params={"reassignTo": successor["id"]},
        headers=tenant.headers(),
    )
    assert r.status_code == 204, r.text
    for team in (t1, t2):
        got = http.get(f"{V2}/teams/{team['id']}", headers=tenant.headers()).json()
        assert got["managerId"] == successor["id"] and got["managerName"] == "Sam Successor"
    got = http.get(f"{V2}/teams/{t3['id']}", headers=tenant.headers()).json()
    assert got["managerId"] == bystander["id"]
    _error(http.get(f"{USERS}/{leaving['id']}", headers=tenant.headers()), 404)


def test_delete_with_bad_reassign_to_deletes_nothing(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    leaving = tenant.user()
    team = tenant.team(managerId=leaving["id"])
    foreign = other_tenant.user()
    for target in (str(uuid.uuid4()), foreign["id"], leaving["id"]):
        r = http.delete(
            f"{USERS}/{leaving['id']}", params={"reassignTo": target}, headers=tenant.headers()
        )
        _error(r, 400, "reassignTo")
    _error(
        http.delete(
            f"{USERS}/{leaving['id']}", params={"reassignTo": "nope"}, headers=tenant.headers()
        ),
        400,
        "reassignTo",
    )
    assert _get(http, tenant, leaving["id"]) == leaving
    got = http.get(f"{V2}/teams/{team['id']}", headers=tenant.headers()).json()
    assert got["managerId"] == leaving["id"]
    assert [e.action for e in _audit(tenant, leaving["id"])] == ["user.created"]
    assert _get(http, other_tenant, foreign["id"]) == foreign


def test_delete_unknown_user_is_404(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    _error(http.delete(f"{USERS}/{uuid.uuid4()}", headers=tenant.headers()), 404)
    assert _ids(_list(http, tenant)) == [user["id"]]


# ---- group memberships ---------------------------------------------------------------------


def test_get_user_groups(http: TestClient, tenant: TenantHandle) -> None:
    g1 = tenant.group(name="alpha", description="first")
    g2 = tenant.group(name="beta")
    tenant.group(name="gamma")
    user = tenant.user(groupIds=[g2["id"], g1["id"]])
    tenant.user(groupIds=[g1["id"]])
    r = http.get(f"{USERS}/{user['id']}/groups", headers=tenant.headers("group:read"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalCount"] == 2
    by_id = {g["id"]: g for g in body["items"]}
    assert set(by_id) == {g1["id"], g2["id"]}
    assert by_id[g1["id"]]["name"] == "alpha" and by_id[g1["id"]]["description"] == "first"
    assert by_id[g1["id"]]["memberCount"] == 2 and by_id[g2["id"]]["memberCount"] == 1

    lonely = tenant.user()
    r = http.get(f"{USERS}/{lonely['id']}/groups", headers=tenant.headers())
    assert r.status_code == 200 and r.json()["items"] == [] and r.json()["totalCount"] == 0


def test_put_user_groups_replaces_the_set(http: TestClient, tenant: TenantHandle) -> None:
    g1, g2, g3 = tenant.group(), tenant.group(), tenant.group()
    user = tenant.user(groupIds=[g1["id"], g2["id"]])
    url = f"{USERS}/{user['id']}/groups"

    r = http.put(
        url, json={"groupIds": [g2["id"], g3["id"]]}, headers=tenant.headers("group:write")
    )
    assert r.status_code == 200, r.text
    assert {g["id"] for g in r.json()["items"]} == {g2["id"], g3["id"]}
    assert _group_ids_of(http, tenant, user["id"]) == {g2["id"], g3["id"]}
    counts = {
        g["id"]: http.get(f"{V2}/groups/{g['id']}", headers=tenant.headers()).json()["memberCount"]
        for g in (g1, g2, g3)
    }
    assert counts == {g1["id"]: 0, g2["id"]: 1, g3["id"]: 1}
    assert set(_ids(_list(http, tenant, groupId=g3["id"]))) == {user["id"]}
    assert _list(http, tenant, groupId=g1["id"])["totalCount"] == 0

    r = http.put(url, json={"groupIds": [g1["id"], g1["id"]]}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert _group_ids_of(http, tenant, user["id"]) == {g1["id"]}

    r = http.put(url, json={"groupIds": []}, headers=tenant.headers())
    assert r.status_code == 200 and r.json()["items"] == []
    assert _group_ids_of(http, tenant, user["id"]) == set()


def test_put_user_groups_with_unknown_group_changes_nothing(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    g1, g2 = tenant.group(), tenant.group()
    foreign = other_tenant.group()
    user = tenant.user(groupIds=[g1["id"]])
    url = f"{USERS}/{user['id']}/groups"
    for ids in ([g2["id"], str(uuid.uuid4())], [foreign["id"]]):
        _error(http.put(url, json={"groupIds": ids}, headers=tenant.headers()), 400, "groupIds")
    assert _group_ids_of(http, tenant, user["id"]) == {g1["id"]}
    assert [e.action for e in _audit(tenant, user["id"])] == ["user.created"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "groupIds"),
        ({"groupIds": "x"}, "groupIds"),
        ({"groupIds": ["not-a-uuid"]}, "groupIds.0"),
        ({"groupIds": [], "extra": 1}, "extra"),
        ([], "body"),
    ],
)
def test_put_user_groups_bad_body(
    http: TestClient, tenant: TenantHandle, body: Any, field: str
) -> None:
    group = tenant.group()
    user = tenant.user(groupIds=[group["id"]])
    r = http.put(f"{USERS}/{user['id']}/groups", json=body, headers=tenant.headers())
    _error(r, 400, field)
    assert _group_ids_of(http, tenant, user["id"]) == {group["id"]}


def test_user_groups_of_unknown_user_is_404(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    url = f"{USERS}/{uuid.uuid4()}/groups"
    _error(http.get(url, headers=tenant.headers()), 404)
    _error(http.put(url, json={"groupIds": [group["id"]]}, headers=tenant.headers()), 404)
    r = http.get(f"{V2}/groups/{group['id']}", headers=tenant.headers())
    assert r.json()["memberCount"] == 0


# ---- authentication: 401 -------------------------------------------------------------------


def _every_operation(user_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    url = f"{USERS}/{user_id}"
    return [
        ("GET", USERS, {}),
        ("POST", USERS, {"json": {"email": _email(), "firstName": "A", "lastName": "B"}}),
        ("GET", url, {}),
        ("PATCH", url, {"json": {"title": "hacked"}}),
        ("DELETE", url, {}),
        ("GET", f"{url}/groups", {}),
        ("PUT", f"{url}/groups", {"json": {"groupIds": []}}),
    ]


def _assert_all_401(
    http: TestClient, tenant: TenantHandle, headers: dict[str, str], user: dict[str, Any]
) -> list[dict[str, Any]]:
    errors = []
    for method, url, kwargs in _every_operation(user["id"]):
        r = http.request(method, url, headers=headers, **kwargs)
        errors.append(_error(r, 401))
        assert r.headers["WWW-Authenticate"].startswith("Bearer"), (method, url)
    assert _get(http, tenant, user["id"]) == user
    assert len(_all_users(http, tenant)) == 1
    return errors


def test_401_without_token(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    _assert_all_401(http, tenant, {}, user)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer garbage",
        "Bearer ",
        "Bearer a.b.c",
        "Basic dXNlcjpwYXNz",
        "garbage",
    ],
)
def test_401_with_garbage_token(http: TestClient, tenant: TenantHandle, authorization: str) -> None:
    user = tenant.user()
    _assert_all_401(http, tenant, {"Authorization": authorization}, user)


def test_401_with_expired_token(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    signer = tenant.runtime.signer
    # A live client's token: only its expiry can be to blame.
    client_id, _ = tenant.client_credentials(list(ALL_SCOPES))

    def token(ttl: int) -> dict[str, str]:
        issued = signer.issue(
            issuer="http://testserver",
            tenant_id=tenant.id,
            subject=client_id,
            scopes=list(ALL_SCOPES),
            ttl=ttl,
        )
        return {"Authorization": f"Bearer {issued}"}

    # the same token with a future expiry works, so only the expiry is to blame
    assert http.get(f"{USERS}/{user['id']}", headers=token(300)).status_code == 200
    errors = _assert_all_401(http, tenant, token(-120), user)
    assert "expired" in errors[0]["message"]


def test_401_with_token_signed_by_another_key(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    kid = jwt.get_unverified_header(tenant.token())["kid"]
    claims = jwt.decode(tenant.token(), options={"verify_signature": False})
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {**claims, "sub": "forger"}, forger, algorithm="RS256", headers={"kid": kid}
    )
    _assert_all_401(http, tenant, {"Authorization": f"Bearer {forged}"}, user)


def test_401_with_scim_token_mentions_scim(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    headers = {"Authorization": f"Bearer rscim_{secrets.token_urlsafe(24)}"}
    for err in _assert_all_401(http, tenant, headers, user):
        assert "SCIM" in err["message"]


# ---- authorization: 403 --------------------------------------------------------------------


def test_403_without_user_read(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    h = tenant.headers("group:read", "group:write", "user:write")
    for r in (http.get(USERS, headers=h), http.get(f"{USERS}/{user['id']}", headers=h)):
        err = _error(r, 403)
        assert err["code"] == "insufficient_scope" and "user:read" in err["message"]


def test_403_without_user_write(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    h = tenant.headers("user:read", "group:write", "group:read")
    body = {"email": _email(), "firstName": "A", "lastName": "B"}
    for r in (
        http.post(USERS, json=body, headers=h),
        http.patch(f"{USERS}/{user['id']}", json={"title": "hacked"}, headers=h),
        http.delete(f"{USERS}/{user['id']}", headers=h),
    ):
        err = _error(r, 403)
        assert err["code"] == "insufficient_scope" and "user:write" in err["message"]
    assert _get(http, tenant, user["id"]) == user
    assert len(_all_users(http, tenant)) == 1


def test_403_on_user_groups_without_group_scopes(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    user = tenant.user()
    url = f"{USERS}/{user['id']}/groups"
    h = tenant.headers("user:read", "user:write")
    _error(http.get(url, headers=h), 403)
    _error(http.put(url, json={"groupIds": [group["id"]]}, headers=h), 403)
    _error(
        http.put(url, json={"groupIds": [group["id"]]}, headers=tenant.headers("group:read")), 403
    )
    assert _group_ids_of(http, tenant, user["id"]) == set()


def test_token_without_scopes_is_403(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    client_id, _ = tenant.client_credentials(["user:read"])
    bare = tenant.runtime.signer.issue(
        issuer="http://testserver", tenant_id=tenant.id, subject=client_id, scopes=[], ttl=300
    )
    h = {"Authorization": f"Bearer {bare}"}
    for method, url, kwargs in _every_operation(user["id"]):
        _error(http.request(method, url, headers=h, **kwargs), 403)
    assert _get(http, tenant, user["id"]) == user


def test_exact_scopes_suffice(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    r = http.post(
        USERS,
        json={"email": _email(), "firstName": "A", "lastName": "B"},
        headers=tenant.headers("user:write"),
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    assert http.get(USERS, headers=tenant.headers("user:read")).status_code == 200
    assert http.get(f"{USERS}/{user_id}", headers=tenant.headers("user:read")).status_code == 200
    r = http.patch(f"{USERS}/{user_id}", json={"title": "x"}, headers=tenant.headers("user:write"))
    assert r.status_code == 200
    r = http.put(
        f"{USERS}/{user_id}/groups",
        json={"groupIds": [group["id"]]},
        headers=tenant.headers("group:write"),
    )
    assert r.status_code == 200
    r = http.get(f"{USERS}/{user_id}/groups", headers=tenant.headers("group:read"))
    assert r.status_code == 200 and r.json()["totalCount"] == 1
    assert http.get(USERS, headers=tenant.headers("admin")).status_code == 200
    r = http.delete(f"{USERS}/{user_id}", headers=tenant.headers("user:write"))
    assert r.status_code == 204


# ---- tenant isolation ----------------------------------------------------------------------


def test_other_tenant_never_sees_or_touches_a_user(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    group = tenant.group()
    victim = tenant.user(
        firstName="Victoria", lastName="Victim", email="victim@example.com", groupIds=[group["id"]]
    )
    team = tenant.team(managerId=victim["id"])
    theirs = other_tenant.user()
    their_group = other_tenant.group()
    hb = other_tenant.headers()
    url = f"{USERS}/{victim['id']}"

    _error(http.get(url, headers=hb), 404)
    _error(http.patch(url, json={"title": "pwned"}, headers=hb), 404)
    _error(http.patch(url, json={"isActive": False}, headers=hb), 404)
    _error(http.delete(url, headers=hb), 404)
    _error(http.delete(url, params={"reassignTo": theirs["id"]}, headers=hb), 404)
    _error(http.get(f"{url}/groups", headers=hb), 404)
    _error(http.put(f"{url}/groups", json={"groupIds": [their_group["id"]]}, headers=hb), 404)

    for params in (
        {},
        {"query": "victim"},
        {"email": "victim@example.com"},
        {"groupId": group["id"]},
        {"limit": 100},
    ):
        r = http.get(USERS, params=params, headers=hb)
        assert r.status_code == 200, r.text
        assert victim["id"] not in _ids(r.json())
    assert _ids(_list(http, other_tenant)) == [theirs["id"]]

    assert _get(http, tenant, victim["id"]) == victim
    assert _group_ids_of(http, tenant, victim["id"]) == {group["id"]}
    r = http.get(f"{V2}/teams/{team['id']}", headers=tenant.headers())
    assert r.json()["managerId"] == victim["id"]
    assert [e.action for e in _audit(tenant, victim["id"])] == ["user.created"]


def test_other_tenants_references_are_unknown(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    role = other_tenant.role()
    team = other_tenant.team()
    group = other_tenant.group()
    for field, value in (("roleId", role["id"]), ("teamId", team["id"])):
        body = {"email": _email(), "firstName": "A", "lastName": "B", field: value}
        _error(http.post(USERS, json=body, headers=tenant.headers()), 400, field)
    body = {"email": _email(), "firstName": "A", "lastName": "B", "groupIds": [group["id"]]}
    _error(http.post(USERS, json=body, headers=tenant.headers()), 400, "groupIds")
    assert _all_users(http, tenant) == []

    user = tenant.user()
    for field, value in (("roleId", role["id"]), ("teamId", team["id"])):
        r = http.patch(f"{USERS}/{user['id']}", json={field: value}, headers=tenant.headers())
        _error(r, 400, field)
    assert _get(http, tenant, user["id"]) == user
    assert _list(http, tenant, groupId=group["id"])["totalCount"] == 0
    assert _list(http, tenant, roleId=role["id"])["totalCount"] == 0


# ---- bad input: 400, nothing written -------------------------------------------------------


def _valid_create(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"email": _email(), "firstName": "Val", "lastName": "Id"}
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"firstName": "A", "lastName": "B"}, "email"),
        (_valid_create(firstName=None), "firstName"),
        ({"email": _email(), "lastName": "B"}, "firstName"),
        ({"email": _email(), "firstName": "A"}, "lastName"),
        (_valid_create(firstName=123), "firstName"),
        (_valid_create(lastName=["x"]), "lastName"),
        (_valid_create(firstName=""), "firstName"),
        (_valid_create(firstName="A\x00B"), "firstName"),
        (_valid_create(firstName="x" * 256), "firstName"),
        (_valid_create(lastName="x" * 256), "lastName"),
        (_valid_create(title="x" * 256), "title"),
        (_valid_create(department="x" * 256), "department"),
        (_valid_create(displayName="x" * 256), "displayName"),
        (_valid_create(username="x" * 256), "username"),
        (_valid_create(email="not-an-email"), "email"),
        (_valid_create(email="two@@example.com"), "email"),
        (_valid_create(email=""), "email"),
        (_valid_create(email=42), "email"),
        (_valid_create(locale="not a locale!"), "locale"),
        (_valid_create(groupIds="x"), "groupIds"),
        (_valid_create(groupIds=["not-a-uuid"]), "groupIds.0"),
        (_valid_create(roleId="not-a-uuid"), "roleId"),
        (_valid_create(teamId="12345"), "teamId"),
        (_valid_create(roleId=str(uuid.uuid4())), "roleId"),
        (_valid_create(teamId=str(uuid.uuid4())), "teamId"),
        (_valid_create(groupIds=[str(uuid.uuid4())]), "groupIds"),
        (_valid_create(status="bogus"), "status"),
        (_valid_create(status="suspended"), "status"),
        (_valid_create(isActive="maybe"), "isActive"),
        (_valid_create(unknownField=1), "unknownField"),
        (_valid_create(id=str(uuid.uuid4())), "id"),
        (_valid_create(createdAt="2024-01-01T00:00:00Z"), "createdAt"),
        ([], "body"),
        ("just a string", "body"),
        (42, "body"),
        (None, "body"),
    ],
)
def test_create_bad_input_is_400_and_writes_nothing(
    http: TestClient, tenant: TenantHandle, body: Any, field: str
) -> None:
    existing = tenant.user()
    r = http.post(
        USERS,
        content=json.dumps(body),
        headers={**tenant.headers(), "Content-Type": "application/json"},
    )
    err = _error(r, 400, field)
    assert err["code"] == "invalid_request"
    assert _ids(_list(http, tenant)) == [existing["id"]]


@pytest.mark.parametrize(
    ("status", "is_active"),
    [("active", False), ("pending", True)],
)
def test_create_with_status_and_is_active_disagreeing(
    http: TestClient, tenant: TenantHandle, status: str, is_active: bool
) -> None:
    r = http.post(
        USERS, json=_valid_create(status=status, isActive=is_active), headers=tenant.headers()
    )
    err = _error(r, 400)
    assert {d["field"] for d in err["details"]} & {"status", "isActive"}
    assert _all_users(http, tenant) == []


@pytest.mark.parametrize(
    "raw",
    [b'{"email": "a@example.com", "firstName": ', b"not json at all", b"", b"{'single': 1}"],
)
def test_create_malformed_json_is_400(http: TestClient, tenant: TenantHandle, raw: bytes) -> None:
    r = http.post(
        USERS, content=raw, headers={**tenant.headers(), "Content-Type": "application/json"}
    )
    _error(r, 400, "body")
    assert _all_users(http, tenant) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"firstName": None}, "firstName"),
        ({"lastName": None}, "lastName"),
        ({"email": None}, "email"),
        ({"username": None}, "username"),
        ({"status": None}, "status"),
        ({"isActive": None}, "isActive"),
        ({"firstName": 123}, "firstName"),
        ({"firstName": ""}, "firstName"),
        ({"firstName": "x" * 256}, "firstName"),
        ({"title": "x" * 256}, "title"),
        ({"department": "x" * 256}, "department"),
        ({"username": "  "}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"locale": "!!"}, "locale"),
        ({"status": "pending"}, "status"),
        ({"status": "bogus"}, "status"),
        ({"status": "active", "isActive": False}, "status"),
        ({"status": "inactive", "isActive": True}, "status"),
        ({"roleId": "not-a-uuid"}, "roleId"),
        ({"teamId": "not-a-uuid"}, "teamId"),
        ({"roleId": str(uuid.uuid4())}, "roleId"),
        ({"teamId": str(uuid.uuid4())}, "teamId"),
        ({"unknownField": "x"}, "unknownField"),
        ({"id": str(uuid.uuid4())}, "id"),
        ({"groupIds": []}, "groupIds"),
        ({"title": "ok", "bogus": True}, "bogus"),
        ([], "body"),
        ("x", "body"),
    ],
)
def test_patch_bad_input_is_400_and_changes_nothing(
    http: TestClient, tenant: TenantHandle, body: Any, field: str
) -> None:
    user = tenant.user(title="Before", roleId=tenant.role()["id"])
    r = http.patch(
        f"{USERS}/{user['id']}",
        content=json.dumps(body),
        headers={**tenant.headers(), "Content-Type": "application/json"},
    )
    _error(r, 400, field)
    assert _get(http, tenant, user["id"]) == user
    assert [e.action for e in _audit(tenant, user["id"])] == ["user.created"]


def test_patch_malformed_json_is_400(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    r = http.patch(
        f"{USERS}/{user['id']}",
        content=b'{"title": "x",',
        headers={**tenant.headers(), "Content-Type": "application/json"},
    )
    _error(r, 400, "body")
    assert _get(http, tenant, user["id"]) == user


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"page": 0}, "page"),
        ({"page": -1}, "page"),
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 101}, "pageSize"),
        ({"page": 2, "offset": 5}, "offset"),
        ({"sortBy": "bogus"}, "sortBy"),
        ({"sortBy": "password"}, "sortBy"),
        ({"sortOrder": "up"}, "sortOrder"),
        ({"status": "bogus"}, "status"),
        ({"status": "ACTIVE"}, "status"),
        ({"isActive": "maybe"}, "isActive"),
        ({"groupId": "not-a-uuid"}, "groupId"),
        ({"roleId": "123"}, "roleId"),
        ({"teamId": "x"}, "teamId"),
        ({"query": "q" * 256}, "query"),
    ],
)
def test_list_bad_query_is_400(
    http: TestClient, tenant: TenantHandle, params: dict[str, Any], field: str
) -> None:
    tenant.user()
    r = http.get(USERS, params=params, headers=tenant.headers())
    err = _error(r, 400, field)
    assert err["code"] == "invalid_request"


@pytest.mark.parametrize(
    "params",
    [{"status": "active", "isActive": "false"}, {"status": "suspended", "isActive": "true"}],
)
def test_list_status_and_is_active_disagreeing_is_400(
    http: TestClient, tenant: TenantHandle, params: dict[str, str]
) -> None:
    tenant.user()
    err = _error(http.get(USERS, params=params, headers=tenant.headers()), 400)
    assert {d["field"] for d in err["details"]} & {"status", "isActive"}


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "0000"])
def test_malformed_user_id_in_path_is_400(
    http: TestClient, tenant: TenantHandle, bad_id: str
) -> None:
    user = tenant.user()
    for method, url, kwargs in _every_operation(bad_id)[2:]:
        _error(http.request(method, url, headers=tenant.headers(), **kwargs), 400, "userId")
    assert _all_users(http, tenant) == [user]


# ---- audit ---------------------------------------------------------------------------------


def test_create_update_delete_are_audited(http: TestClient, tenant: TenantHandle) -> None:
    client_id, h = _new_client_headers(tenant)
    group = tenant.group()
    r = http.post(
        USERS,
        json=_valid_create(email="audit@example.com", title="Before"),
        headers={**h, "X-Request-ID": "req-create-1"},
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]

    r = http.patch(f"{USERS}/{user_id}", json={"title": "After"}, headers=h)
    assert r.status_code == 200
    r = http.patch(f"{USERS}/{user_id}", json={"status": "suspended"}, headers=h)
    assert r.status_code == 200
    r = http.put(f"{USERS}/{user_id}/groups", json={"groupIds": [group["id"]]}, headers=h)
    assert r.status_code == 200
    r = http.delete(f"{USERS}/{user_id}", headers=h)
    assert r.status_code == 204

    events = _audit(tenant, user_id)
    assert [e.action for e in events] == [
        "user.created",
        "user.updated",
        "user.status_changed",
        "user.groups_set",
        "user.deleted",
    ]
    for event in events:
        assert event.actor == f"client:{client_id}"
        assert event.surface == "v2"
        assert event.resource_type == "user" and event.resource_id == user_id
        keys = _keys(event.before) | _keys(event.after)
        assert not any("password" in k for k in keys), keys

    created, updated, status_changed, groups_set, deleted = events
    assert created.request_id == "req-create-1"
    assert created.before is None
    assert created.after is not None
    assert created.after["email"] == "audit@example.com"
    assert created.after["title"] == "Before" and created.after["status"] == "active"
    assert updated.before is not None and updated.after is not None
    assert (updated.before["title"], updated.after["title"]) == ("Before", "After")
    assert status_changed.before is not None and status_changed.after is not None
    assert (status_changed.before["status"], status_changed.after["status"]) == (
        "active",
        "suspended",
    )
    assert groups_set.before == {"group_ids": []}
    assert groups_set.after == {"group_ids": [group["id"]]}
    assert deleted.before is not None and deleted.before["email"] == "audit@example.com"


def test_delete_with_reassign_is_audited(http: TestClient, tenant: TenantHandle) -> None:
    leaving, successor = tenant.user(), tenant.user()
    tenant.team(managerId=leaving["id"])
    r = http.delete(
        f"{USERS}/{leaving['id']}", params={"reassignTo": successor["id"]}, headers=tenant.headers()
    )
    assert r.status_code == 204
    deleted = _audit(tenant, leaving["id"])[-1]
    assert deleted.action == "user.deleted"
    assert deleted.after == {"reassigned_to": successor["id"]}


def test_audit_is_per_tenant(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    user = tenant.user()
    with other_tenant.runtime.db.reader() as session:
        assert audit_repo.for_resource(session, other_tenant.id, "user", user["id"]) == []
    assert len(_audit(tenant, user["id"])) == 1
