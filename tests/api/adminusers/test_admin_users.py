"""/v1/seadminusers (seed 002): exact-match search, create, get, full-replace PUT, external
identities, ``expiredDate`` and the scheduler that acts on it, credentials, errors.

Each test has a tenant of its own. The scheduler works across tenants, so expiry tests look
only at their own users and never at how many users a run expired in total.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from rosterd.lifecycle.scheduler import Scheduler
from rosterd.models.base import utcnow
from rosterd.repositories import audit as audit_repo
from rosterd.runtime import Runtime
from rosterd.services import api_keys, bearer_secrets
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from tests.factories import V2, TenantHandle

ADMIN = "/v1/seadminusers"
USER_FIELDS = {
    "id",
    "emailAddress",
    "externalIdentity",
    "firstName",
    "lastName",
    "roles",
    "groups",
    "expiredDate",
    "active",
    "createdDate",
    "modifiedDate",
    "lastLoginDate",
}


# ---- helpers -------------------------------------------------------------------------------


def issue_api_key(tenant: TenantHandle, name: str = "test") -> tuple[str, uuid.UUID]:
    """A new API key of ``tenant`` (the secret and its record id), through the service."""
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        issued = bearer_secrets.create(
            session,
            api_keys.KIND,
            row,
            name=name,
            hmac_key=tenant.runtime.hmac_key,
            actor=Actor(tenant_id=row.id, actor="test", surface="test"),
        )
        return issued.secret, issued.record.id


def revoke_api_key(tenant: TenantHandle, key_id: uuid.UUID) -> None:
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        bearer_secrets.revoke(
            session,
            api_keys.KIND,
            row,
            key_id,
            Actor(tenant_id=row.id, actor="test", surface="test"),
        )


def _email() -> str:
    return f"admin-{secrets.token_hex(5)}@example.com"


def _body(**fields: Any) -> dict[str, Any]:
    n = secrets.token_hex(4)
    body: dict[str, Any] = {
        "emailAddress": f"admin-{n}@example.com",
        "firstName": "Ada",
        "lastName": f"Lovelace{n}",
    }
    body.update(fields)
    return body


def _wire(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _future() -> datetime:
    """A whole-second moment decades ahead, different for every test.

    Far enough that the real scheduler of a live server sharing the store never reaches it;
    tests move a fake clock past it instead.
    """
    return datetime(2090, 1, 1, tzinfo=UTC) + timedelta(seconds=secrets.randbelow(10**8))


def assert_error(r: Response, status: int, path: str) -> dict[str, Any]:
    """The ADMIN error envelope: exactly status, error, message, path."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"status", "error", "message", "path"}, body
    assert body["status"] == status
    assert body["error"] == HTTPStatus(status).phrase
    assert isinstance(body["message"], str) and body["message"]
    assert body["path"] == path
    return dict(body)


@dataclass
class Admin:
    """A tenant seen through /v1/seadminusers, with an OAuth token and an API key."""

    http: TestClient
    tenant: TenantHandle
    key: str
    key_id: uuid.UUID

    def headers(self, *scopes: str) -> dict[str, str]:
        return {**self.tenant.headers(*scopes), "x-api-key": self.key}

    def post(self, body: dict[str, Any]) -> Response:
        return self.http.post(ADMIN, json=body, headers=self.headers())

    def create(self, **fields: Any) -> dict[str, Any]:
        r = self.post(_body(**fields))
        assert r.status_code == 201, r.text
        return dict(r.json())

    def get(self, number: int) -> dict[str, Any]:
        r = self.http.get(f"{ADMIN}/{number}", headers=self.headers())
        assert r.status_code == 200, r.text
        return dict(r.json())

    def put(self, number: int, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.put(f"{ADMIN}/{number}", json=body, headers=self.headers())
        assert r.status_code == 200, r.text
        return dict(r.json())

    def search(self, **criteria: Any) -> list[dict[str, Any]]:
        params = {f"searchData.{k}": v for k, v in criteria.items()}
        r = self.http.get(ADMIN, params=params, headers=self.headers())
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"users", "totalCount"}, body
        assert body["totalCount"] == len(body["users"])
        return list(body["users"])

    def count(self) -> int:
        r = self.http.get(ADMIN, headers=self.headers())
        assert r.status_code == 200, r.text
        return int(r.json()["totalCount"])

    def v2_user(self, email: str) -> dict[str, Any]:
        """The same user as /integration/v2 shows it."""
        r = self.http.get(f"{V2}/users", params={"email": email}, headers=self.tenant.headers())
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert len(items) == 1, items
        return dict(items[0])

    def expired_events(self, email: str) -> list[str]:
        user_id = self.v2_user(email)["id"]
        with self.tenant.runtime.db.reader() as session:
            events = audit_repo.for_resource(session, self.tenant.id, "user", user_id)
            return [e.action for e in events if e.action == "user.expired"]


def make_admin(http: TestClient, tenant: TenantHandle) -> Admin:
    key, key_id = issue_api_key(tenant)
    return Admin(http=http, tenant=tenant, key=key, key_id=key_id)


@pytest.fixture
def admin(http: TestClient, tenant: TenantHandle) -> Admin:
    return make_admin(http, tenant)


@pytest.fixture
def other_admin(http: TestClient, other_tenant: TenantHandle) -> Admin:
    return make_admin(http, other_tenant)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# ---- create and get ------------------------------------------------------------------------


def test_create_returns_the_user_with_an_integer_id(admin: Admin, tenant: TenantHandle) -> None:
    sales, support = tenant.group()["name"], tenant.group()["name"]
    body = _body(
        roles=["Manager"],
        groups=[sales, support],
        externalIdentity="okta|00u1abcd",
    )
    before = utcnow().replace(microsecond=0)
    r = admin.post(body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == USER_FIELDS
    assert isinstance(created["id"], int) and not isinstance(created["id"], bool)
    assert created["id"] >= 1
    assert created["emailAddress"] == body["emailAddress"]
    assert created["firstName"] == "Ada"
    assert created["lastName"] == body["lastName"]
    assert created["roles"] == ["Manager"]
    assert sorted(created["groups"]) == sorted([sales, support])
    assert created["externalIdentity"] == "okta|00u1abcd"
    assert created["expiredDate"] is None
    assert created["active"] is True
    assert before <= _parse(created["createdDate"]) <= utcnow()

    # GET by the integer id answers the same user.
    assert admin.get(created["id"]) == created

    # And it is one user of the directory: v2 sees the role and the groups.
    v2 = admin.v2_user(body["emailAddress"])
    assert v2["firstName"] == "Ada"
    assert v2["status"] == "active"
    assert v2["roleName"] == "Manager"
    r = admin.http.get(f"{V2}/users/{v2['id']}/groups", headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert sorted(g["name"] for g in r.json()["items"]) == sorted([sales, support])


def test_ids_are_distinct_integers_per_user(admin: Admin) -> None:
    ids = [admin.create()["id"] for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(isinstance(i, int) for i in ids)
    for number in ids:
        assert admin.get(number)["id"] == number


def test_create_with_only_an_email(admin: Admin) -> None:
    email = _email()
    r = admin.post({"emailAddress": email})
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["emailAddress"] == email
    assert user["firstName"] is None and user["lastName"] is None
    assert user["roles"] == [] and user["groups"] == []
    assert user["externalIdentity"] is None and user["expiredDate"] is None
    assert user["active"] is True


def test_roles_and_groups_are_matched_by_name(admin: Admin, tenant: TenantHandle) -> None:
    group = tenant.group(name=f"Field Sales {secrets.token_hex(3)}")
    role = tenant.role(name=f"Auditor {secrets.token_hex(3)}")
    user = admin.create(roles=[role["name"]], groups=[group["name"]])
    assert user["roles"] == [role["name"]]
    assert user["groups"] == [group["name"]]
    assert admin.v2_user(user["emailAddress"])["roleId"] == role["id"]


def test_get_unknown_id_is_404(admin: Admin) -> None:
    admin.create()
    r = admin.http.get(f"{ADMIN}/987654", headers=admin.headers())
    assert_error(r, 404, f"{ADMIN}/987654")


def test_users_of_another_tenant_are_invisible(admin: Admin, other_admin: Admin) -> None:
    mine = admin.create(externalIdentity="shared|idp-user")
    assert other_admin.count() == 0
    r = other_admin.http.get(f"{ADMIN}/{mine['id']}", headers=other_admin.headers())
    assert_error(r, 404, f"{ADMIN}/{mine['id']}")
    assert other_admin.search(emailAddress=mine["emailAddress"]) == []
    assert other_admin.search(externalIdentity="shared|idp-user") == []
    assert other_admin.search(id=mine["id"]) == []
    r = other_admin.http.put(f"{ADMIN}/{mine['id']}", json=_body(), headers=other_admin.headers())
    assert_error(r, 404, f"{ADMIN}/{mine['id']}")
    assert admin.get(mine["id"]) == mine


# ---- search --------------------------------------------------------------------------------


@pytest.fixture
def three(admin: Admin) -> list[dict[str, Any]]:
    tag = secrets.token_hex(3)
    return [
        admin.create(
            emailAddress=f"{name}.{tag}@example.com", externalIdentity=f"okta|{name}-{tag}"
        )
        for name in ("alice", "bob", "carol")
    ]


def test_search_by_id(admin: Admin, three: list[dict[str, Any]]) -> None:
    for user in three:
        assert admin.search(id=user["id"]) == [user]
    assert admin.search(id=max(u["id"] for u in three) + 1000) == []


def test_search_by_email_address(admin: Admin, three: list[dict[str, Any]]) -> None:
    for user in three:
        assert admin.search(emailAddress=user["emailAddress"]) == [user]
    assert admin.search(emailAddress="nobody@example.com") == []


def test_search_by_external_identity(admin: Admin, three: list[dict[str, Any]]) -> None:
    for user in three:
        assert admin.search(externalIdentity=user["externalIdentity"]) == [user]
    assert admin.search(externalIdentity="okta|nobody") == []


def test_search_is_exact_match_only(admin: Admin, three: list[dict[str, Any]]) -> None:
    alice = three[0]
    email, identity = alice["emailAddress"], alice["externalIdentity"]
    local, _, domain = email.partition("@")
    for partial in (local, f"@{domain}", email[:-1], email[1:], "alice", "%", "_%@%"):
        assert admin.search(emailAddress=partial) == [], partial
    for partial in (identity[:-1], identity[1:], "okta", "okta|", "%", "okta|%"):
        assert admin.search(externalIdentity=partial) == [], partial
    # An id is a number, not a prefix: 1 does not find 10, 11, ...
    assert all(admin.search(id=u["id"]) == [u] for u in three)


def test_search_with_combined_criteria_needs_all_to_match(
    admin: Admin, three: list[dict[str, Any]]
) -> None:
    alice, bob, _ = three
    assert admin.search(id=alice["id"], emailAddress=alice["emailAddress"]) == [alice]
    assert admin.search(
        id=alice["id"],
        emailAddress=alice["emailAddress"],
        externalIdentity=alice["externalIdentity"],
    ) == [alice]
    assert admin.search(
        emailAddress=alice["emailAddress"], externalIdentity=alice["externalIdentity"]
    ) == [alice]
    # Each criterion names a different user (or none): nobody matches all of them.
    assert admin.search(id=alice["id"], emailAddress=bob["emailAddress"]) == []
    assert (
        admin.search(emailAddress=alice["emailAddress"], externalIdentity=bob["externalIdentity"])
        == []
    )
    assert admin.search(id=bob["id"], externalIdentity=alice["externalIdentity"]) == []
    assert (
        admin.search(
            id=alice["id"],
            emailAddress=alice["emailAddress"],
            externalIdentity=bob["externalIdentity"],
        )
        == []
    )
    assert admin.search(id=alice["id"], emailAddress="nobody@example.com") == []
    assert admin.search(emailAddress=alice["emailAddress"], externalIdentity="okta|nobody") == []


def test_search_without_criteria_lists_every_user(
    admin: Admin, three: list[dict[str, Any]]
) -> None:
    r = admin.http.get(ADMIN, headers=admin.headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalCount"] == 3
    assert sorted(u["id"] for u in body["users"]) == sorted(u["id"] for u in three)


# ---- PUT replaces every field --------------------------------------------------------------


def test_put_replaces_every_field(admin: Admin, tenant: TenantHandle) -> None:
    old_groups = [tenant.group()["name"], tenant.group()["name"]]
    new_group = tenant.group()["name"]
    user = admin.create(
        roles=["Manager"],
        groups=old_groups,
        externalIdentity="okta|before",
        expiredDate=_wire(_future()),
    )
    body = {
        "emailAddress": _email(),
        "firstName": "Grace",
        "lastName": "Hopper",
        "roles": ["Viewer"],
        "groups": [new_group],
        "externalIdentity": "okta|after",
    }
    replaced = admin.put(user["id"], body)
    assert replaced["id"] == user["id"]
    assert replaced["createdDate"] == user["createdDate"]
    assert replaced["emailAddress"] == body["emailAddress"]
    assert replaced["firstName"] == "Grace" and replaced["lastName"] == "Hopper"
    assert replaced["roles"] == ["Viewer"]
    assert replaced["groups"] == [new_group]
    assert replaced["externalIdentity"] == "okta|after"
    # expiredDate was left out, so it is cleared.
    assert replaced["expiredDate"] is None
    assert replaced["active"] is True
    assert admin.get(user["id"]) == replaced

    # The old email and identity find nobody any more; the new ones find the user.
    assert admin.search(emailAddress=user["emailAddress"]) == []
    assert admin.search(externalIdentity="okta|before") == []
    assert admin.search(externalIdentity="okta|after") == [replaced]
    # The old identity is free again.
    assert admin.create(externalIdentity="okta|before")["externalIdentity"] == "okta|before"


def test_put_clears_every_field_left_out(admin: Admin, tenant: TenantHandle) -> None:
    user = admin.create(
        roles=["Manager"],
        groups=[tenant.group()["name"]],
        externalIdentity=f"okta|{secrets.token_hex(4)}",
        expiredDate=_wire(_future()),
    )
    assert user["expiredDate"] is not None
    cleared = admin.put(user["id"], {"emailAddress": user["emailAddress"]})
    assert cleared["emailAddress"] == user["emailAddress"]
    assert cleared["firstName"] is None
    assert cleared["lastName"] is None
    assert cleared["roles"] == []
    assert cleared["groups"] == []
    assert cleared["externalIdentity"] is None
    assert cleared["expiredDate"] is None
    assert cleared["active"] is True
    assert admin.get(user["id"]) == cleared
    v2 = admin.v2_user(user["emailAddress"])
    assert v2.get("firstName") is None and v2.get("lastName") is None
    assert v2.get("roleId") is None and v2.get("roleName") is None
    assert admin.search(externalIdentity=user["externalIdentity"]) == []


def test_put_of_the_same_values_keeps_the_identity(admin: Admin) -> None:
    user = admin.create(externalIdentity="okta|same", roles=["User"])
    body = {k: user[k] for k in ("emailAddress", "firstName", "lastName", "roles", "groups")}
    body["externalIdentity"] = "okta|same"
    again = admin.put(user["id"], body)
    assert again["externalIdentity"] == "okta|same"
    assert admin.search(externalIdentity="okta|same") == [again]


def test_an_email_given_up_by_put_can_be_used_again(admin: Admin) -> None:
    first = admin.create()
    old = first["emailAddress"]
    admin.put(first["id"], {"emailAddress": _email()})
    assert admin.search(emailAddress=old) == []
    # Nobody has the old address now, so a new user may take it.
    second = admin.create(emailAddress=old)
    assert admin.search(emailAddress=old) == [second]
    # And the first user may take it back from nobody else's hands only: 409 now.
    r = admin.http.put(
        f"{ADMIN}/{first['id']}", json={"emailAddress": old}, headers=admin.headers()
    )
    assert_error(r, 409, f"{ADMIN}/{first['id']}")


def test_put_unknown_id_is_404(admin: Admin) -> None:
    r = admin.http.put(f"{ADMIN}/424242", json=_body(), headers=admin.headers())
    assert_error(r, 404, f"{ADMIN}/424242")
    assert admin.count() == 0


def test_put_to_an_email_of_another_user_is_409(admin: Admin) -> None:
    a, b = admin.create(), admin.create()
    r = admin.http.put(
        f"{ADMIN}/{b['id']}", json=_body(emailAddress=a["emailAddress"]), headers=admin.headers()
    )
    assert_error(r, 409, f"{ADMIN}/{b['id']}")
    assert admin.get(b["id"]) == b


def test_admin_users_show_the_recorded_sign_in(admin: Admin, tenant: TenantHandle) -> None:
    user = admin.create()
    assert user["lastLoginDate"] is None
    v2_id = admin.v2_user(user["emailAddress"])["id"]
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    r = admin.http.post(
        f"{V2}/users/{v2_id}/sign-ins", json={"at": at.isoformat()}, headers=tenant.headers()
    )
    assert r.status_code == 200, r.text
    assert admin.get(user["id"])["lastLoginDate"] == "2026-03-04T05:06:07Z"
    assert _parse(r.json()["lastLoginAt"]) == at


# ---- GET -> edit -> PUT round trip ---------------------------------------------------------


READ_ONLY = {"id", "active", "createdDate", "modifiedDate", "lastLoginDate"}


@pytest.fixture
def full_user(admin: Admin, tenant: TenantHandle) -> dict[str, Any]:
    """A user with every field set, as GET answers it."""
    user = admin.create(
        roles=["Manager"],
        groups=[tenant.group()["name"], tenant.group()["name"]],
        externalIdentity=f"okta|{secrets.token_hex(4)}",
        expiredDate=_wire(_future()),
    )
    return admin.get(user["id"])


ROUND_TRIP_EDITS: list[tuple[str, Any]] = [
    ("emailAddress", "edited-{n}@example.com"),
    ("firstName", "Grace"),
    ("lastName", "Hopper"),
    ("externalIdentity", "okta|edited-{n}"),
    ("roles", ["Viewer"]),
    ("groups", []),
    ("expiredDate", None),
]


@pytest.mark.parametrize(("field", "value"), ROUND_TRIP_EDITS, ids=[e[0] for e in ROUND_TRIP_EDITS])
def test_get_edit_put_changes_exactly_the_edited_field(
    admin: Admin, full_user: dict[str, Any], field: str, value: Any
) -> None:
    if isinstance(value, str):
        value = value.format(n=secrets.token_hex(4))
    body = {**full_user, field: value}
    replaced = admin.put(full_user["id"], body)
    assert replaced[field] == value
    # Every other field is as GET showed it; only the modification time moved.
    unchanged = set(USER_FIELDS) - {field, "modifiedDate"}
    assert {k: replaced[k] for k in unchanged} == {k: full_user[k] for k in unchanged}
    assert _parse(replaced["modifiedDate"]) >= _parse(full_user["modifiedDate"])
    assert admin.get(full_user["id"]) == replaced


def test_put_of_the_body_get_returned_changes_nothing(
    admin: Admin, full_user: dict[str, Any]
) -> None:
    assert admin.put(full_user["id"], full_user) == full_user
    assert admin.get(full_user["id"]) == full_user


def test_round_trip_of_an_expired_user_keeps_its_expiry(admin: Admin) -> None:
    """A date that has passed, sent back as GET showed it, is not a new expiry (which would
    be stored as now)."""
    user = admin.create(expiredDate="2001-01-01T00:00:00Z")
    assert user["active"] is False
    edited = admin.put(user["id"], {**user, "firstName": "Grace"})
    assert edited["firstName"] == "Grace"
    assert edited["expiredDate"] == user["expiredDate"]
    assert edited["active"] is False
    assert admin.expired_events(user["emailAddress"]) == []


def test_put_ignores_the_read_only_fields(admin: Admin, full_user: dict[str, Any]) -> None:
    body = {
        **full_user,
        "active": False,
        "createdDate": "2000-01-01T00:00:00Z",
        "modifiedDate": "2000-01-01T00:00:00Z",
    }
    assert admin.put(full_user["id"], body) == full_user
    assert admin.v2_user(full_user["emailAddress"])["status"] == "active"


@pytest.mark.parametrize("other", [1, 10**6, -1])
def test_put_with_another_users_id_is_400_and_changes_nothing(
    admin: Admin, full_user: dict[str, Any], other: int
) -> None:
    number = full_user["id"] + other
    path = f"{ADMIN}/{full_user['id']}"
    body = {**full_user, "id": number, "firstName": "Changed"}
    error = assert_error(admin.http.put(path, json=body, headers=admin.headers()), 400, path)
    assert error["message"].startswith("id: "), error
    assert admin.get(full_user["id"]) == full_user


@pytest.mark.parametrize("value", ["1", 1.5, True, [1]])
def test_put_with_an_id_that_is_not_an_integer_is_400(
    admin: Admin, full_user: dict[str, Any], value: Any
) -> None:
    path = f"{ADMIN}/{full_user['id']}"
    body = {**full_user, "id": value, "firstName": "Changed"}
    error = assert_error(admin.http.put(path, json=body, headers=admin.headers()), 400, path)
    assert "id" in error["message"], error
    assert admin.get(full_user["id"]) == full_user


@pytest.mark.parametrize("field", ["nickname", "Id", "password", "externalIdentities"])
def test_round_trip_with_a_field_get_never_returns_is_400(
    admin: Admin, full_user: dict[str, Any], field: str
) -> None:
    path = f"{ADMIN}/{full_user['id']}"
    body = {**full_user, field: "x", "firstName": "Changed"}
    error = assert_error(admin.http.put(path, json=body, headers=admin.headers()), 400, path)
    assert field in error["message"], error
    assert admin.get(full_user["id"]) == full_user


def test_post_still_refuses_the_read_only_fields(admin: Admin) -> None:
    for field in sorted(READ_ONLY):
        value = {"id": 7, "active": True}.get(field, "2030-01-01T00:00:00Z")
        error = assert_error(admin.post(_body(**{field: value})), 400, ADMIN)
        assert field in error["message"], error
    assert admin.count() == 0


# ---- external identities -------------------------------------------------------------------


def test_an_external_identity_belongs_to_one_user_per_tenant(
    admin: Admin, other_admin: Admin
) -> None:
    identity = f"azuread|{secrets.token_hex(6)}"
    owner = admin.create(externalIdentity=identity)

    # Another user of the same tenant cannot take it, at creation ...
    email = _email()
    r = admin.post(_body(emailAddress=email, externalIdentity=identity))
    assert_error(r, 409, ADMIN)
    assert admin.search(emailAddress=email) == []
    assert admin.count() == 1

    # ... or by a PUT.
    other = admin.create()
    r = admin.http.put(
        f"{ADMIN}/{other['id']}",
        json=_body(emailAddress=other["emailAddress"], externalIdentity=identity),
        headers=admin.headers(),
    )
    assert_error(r, 409, f"{ADMIN}/{other['id']}")
    assert admin.get(other["id"]) == other
    assert admin.search(externalIdentity=identity) == [owner]

    # Another tenant may use the same identity for a user of its own.
    theirs = other_admin.create(externalIdentity=identity)
    assert theirs["externalIdentity"] == identity
    assert other_admin.search(externalIdentity=identity) == [theirs]
    assert admin.search(externalIdentity=identity) == [owner]


# ---- expiredDate ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "past", ["2000-01-01T00:00:00Z", "2001-02-03", "2010-06-01T12:00:00+02:00"]
)
def test_create_with_a_past_expiry_stores_now_and_deactivates(admin: Admin, past: str) -> None:
    before = utcnow().replace(microsecond=0)
    user = admin.create(expiredDate=past)
    after = utcnow()
    assert user["active"] is False
    assert before <= _parse(user["expiredDate"]) <= after
    assert admin.get(user["id"])["active"] is False
    v2 = admin.v2_user(user["emailAddress"])
    assert v2["status"] == "inactive"
    assert v2["isActive"] is False


def test_put_with_a_past_expiry_deactivates_at_once(admin: Admin) -> None:
    user = admin.create(roles=["User"])
    assert user["active"] is True
    assert admin.v2_user(user["emailAddress"])["status"] == "active"
    body = {k: user[k] for k in ("emailAddress", "firstName", "lastName", "roles", "groups")}
    before = utcnow().replace(microsecond=0)
    expired = admin.put(user["id"], {**body, "expiredDate": "2020-11-23T00:00:00Z"})
    assert expired["active"] is False
    assert before <= _parse(expired["expiredDate"]) <= utcnow()
    assert expired["roles"] == ["User"]
    assert admin.v2_user(user["emailAddress"])["status"] == "inactive"


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2091-05-06T07:08:09Z", "2091-05-06T07:08:09Z"),
        ("2091-05-06T07:08:09+02:00", "2091-05-06T05:08:09Z"),
        ("2091-05-06T07:08:09", "2091-05-06T07:08:09Z"),
        ("2091-05-06", "2091-05-06T00:00:00Z"),
    ],
)
def test_a_future_expiry_is_stored_and_the_user_stays_active(
    admin: Admin, sent: str, stored: str
) -> None:
    user = admin.create(expiredDate=sent)
    assert user["expiredDate"] == stored
    assert user["active"] is True
    assert admin.get(user["id"]) == user
    assert admin.v2_user(user["emailAddress"])["status"] == "active"


def test_the_scheduler_deactivates_a_user_when_the_expiry_comes(
    admin: Admin, runtime: Runtime
) -> None:
    when = _future()
    user = admin.create(expiredDate=_wire(when))
    bystander = admin.create(expiredDate=_wire(when + timedelta(days=1)))
    clock = FakeClock(when - timedelta(minutes=1))
    scheduler = Scheduler(runtime.db, clock=clock)

    scheduler.run_once()
    assert admin.get(user["id"])["active"] is True
    assert admin.expired_events(user["emailAddress"]) == []

    clock.now = when + timedelta(seconds=1)
    assert scheduler.run_once() >= 1
    expired = admin.get(user["id"])
    assert expired["active"] is False
    assert expired["expiredDate"] == _wire(when)
    assert admin.v2_user(user["emailAddress"])["status"] == "inactive"
    assert admin.expired_events(user["emailAddress"]) == ["user.expired"]
    # A user whose date has not come yet is left alone.
    assert admin.get(bystander["id"])["active"] is True

    # Running again, or another scheduler on the same store, expires nothing twice.
    assert scheduler.run_once() == 0
    assert Scheduler(runtime.db, clock=clock).run_once() == 0
    assert admin.expired_events(user["emailAddress"]) == ["user.expired"]


def test_a_future_expiry_set_by_put_is_honoured(admin: Admin, runtime: Runtime) -> None:
    user = admin.create()
    when = _future()
    body = {"emailAddress": user["emailAddress"], "expiredDate": _wire(when)}
    updated = admin.put(user["id"], body)
    assert updated["expiredDate"] == _wire(when)
    assert updated["active"] is True
    Scheduler(runtime.db, clock=FakeClock(when + timedelta(seconds=1))).run_once()
    assert admin.get(user["id"])["active"] is False
    assert admin.expired_events(user["emailAddress"]) == ["user.expired"]


def test_clearing_the_expiry_before_it_comes_cancels_it(admin: Admin, runtime: Runtime) -> None:
    when = _future()
    user = admin.create(expiredDate=_wire(when), roles=["User"])
    body = {k: user[k] for k in ("emailAddress", "firstName", "lastName", "roles", "groups")}
    cleared = admin.put(user["id"], body)
    assert cleared["expiredDate"] is None

    Scheduler(runtime.db, clock=FakeClock(when + timedelta(days=1))).run_once()
    after = admin.get(user["id"])
    assert after["active"] is True
    assert after["expiredDate"] is None
    assert admin.v2_user(user["emailAddress"])["status"] == "active"
    assert admin.expired_events(user["emailAddress"]) == []


def test_moving_the_expiry_later_postpones_it(admin: Admin, runtime: Runtime) -> None:
    when = _future()
    later = when + timedelta(days=30)
    user = admin.create(expiredDate=_wire(when))
    admin.put(user["id"], {"emailAddress": user["emailAddress"], "expiredDate": _wire(later)})
    clock = FakeClock(when + timedelta(days=1))
    scheduler = Scheduler(runtime.db, clock=clock)
    scheduler.run_once()
    assert admin.get(user["id"])["active"] is True
    clock.now = later
    scheduler.run_once()
    assert admin.get(user["id"])["active"] is False
    assert admin.expired_events(user["emailAddress"]) == ["user.expired"]


def test_clearing_an_expiry_that_came_reactivates(admin: Admin) -> None:
    user = admin.create(expiredDate="2001-01-01T00:00:00Z")
    assert user["active"] is False
    # The date was the only reason the user was inactive: without it, the user is active.
    again = admin.put(user["id"], {"emailAddress": user["emailAddress"]})
    assert again["expiredDate"] is None
    assert again["active"] is True
    assert admin.v2_user(user["emailAddress"])["status"] == "active"


def test_moving_an_expiry_that_came_ahead_reactivates_until_then(
    admin: Admin, runtime: Runtime
) -> None:
    user = admin.create(expiredDate="2001-01-01T00:00:00Z")
    assert user["active"] is False
    # A date in the future means active until then (seed 002), whatever came before.
    when = _future()
    moved = admin.put(
        user["id"], {"emailAddress": user["emailAddress"], "expiredDate": _wire(when)}
    )
    assert moved["expiredDate"] == _wire(when)
    assert moved["active"] is True
    assert admin.v2_user(user["emailAddress"])["status"] == "active"
    Scheduler(runtime.db, clock=FakeClock(when + timedelta(seconds=1))).run_once()
    assert admin.get(user["id"])["active"] is False
    assert admin.expired_events(user["emailAddress"]) == ["user.expired"]


def test_put_keeps_a_user_deactivated_elsewhere_inactive(admin: Admin) -> None:
    """A PUT that leaves expiredDate out must not undo a deactivation made through another
    API (an IdP deprovisioning the user, say) just because an expiry was pending."""
    user = admin.create(expiredDate=_wire(_future()), roles=["User"])
    v2_id = admin.v2_user(user["emailAddress"])["id"]
    r = admin.http.patch(
        f"{V2}/users/{v2_id}", json={"status": "inactive"}, headers=admin.tenant.headers()
    )
    assert r.status_code == 200, r.text
    assert admin.get(user["id"])["active"] is False

    body = {k: user[k] for k in ("emailAddress", "firstName", "lastName", "groups")}
    changed = admin.put(user["id"], {**body, "roles": ["Viewer"]})
    assert changed["roles"] == ["Viewer"]
    assert changed["expiredDate"] is None
    assert changed["active"] is False
    assert admin.v2_user(user["emailAddress"])["status"] == "inactive"


def test_two_schedulers_at_once_expire_each_user_once(admin: Admin, runtime: Runtime) -> None:
    when = _future()
    users = [admin.create(expiredDate=_wire(when)) for _ in range(6)]
    clock = FakeClock(when + timedelta(seconds=1))
    schedulers = [Scheduler(runtime.db, clock=clock) for _ in range(2)]
    start = threading.Barrier(len(schedulers))
    failures: list[BaseException] = []

    def run(scheduler: Scheduler) -> None:
        try:
            start.wait(timeout=30)
            scheduler.run_once()
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    for user in users:
        assert admin.get(user["id"])["active"] is False
        assert admin.expired_events(user["emailAddress"]) == ["user.expired"]


# ---- credentials ---------------------------------------------------------------------------


Call = Callable[[Admin, dict[str, str]], tuple[Response, str]]


def _search(a: Admin, h: dict[str, str]) -> tuple[Response, str]:
    return a.http.get(ADMIN, params={"searchData.id": 1}, headers=h), ADMIN


def _get(a: Admin, h: dict[str, str]) -> tuple[Response, str]:
    return a.http.get(f"{ADMIN}/1", headers=h), f"{ADMIN}/1"


def _post(a: Admin, h: dict[str, str]) -> tuple[Response, str]:
    return a.http.post(ADMIN, json=_body(), headers=h), ADMIN


def _put(a: Admin, h: dict[str, str]) -> tuple[Response, str]:
    return a.http.put(f"{ADMIN}/1", json=_body(firstName="Changed"), headers=h), f"{ADMIN}/1"


CALLS: list[Call] = [_search, _get, _post, _put]


def _assert_refused(admin: Admin, headers: dict[str, str], status: int = 401) -> None:
    """Every operation answers ``status``; the one user there is stays as it was."""
    user = admin.get(1)
    for call in CALLS:
        r, path = call(admin, headers)
        assert_error(r, status, path)
    assert admin.get(1) == user
    assert admin.count() == 1


@pytest.fixture
def one_user(admin: Admin) -> Admin:
    assert admin.create()["id"] == 1
    return admin


def test_works_with_a_token_and_a_key(one_user: Admin) -> None:
    for call in CALLS:
        r, _ = call(one_user, one_user.headers())
        assert r.status_code in (200, 201), r.text


def test_401_without_any_credential(one_user: Admin) -> None:
    _assert_refused(one_user, {})


def test_401_with_a_token_but_no_api_key(one_user: Admin, tenant: TenantHandle) -> None:
    _assert_refused(one_user, tenant.headers())
    _assert_refused(one_user, {**tenant.headers(), "x-api-key": ""})


def test_401_with_an_api_key_but_no_token(one_user: Admin) -> None:
    _assert_refused(one_user, {"x-api-key": one_user.key})
    # The API key is not a bearer token here either.
    _assert_refused(
        one_user, {"Authorization": f"Bearer {one_user.key}", "x-api-key": one_user.key}
    )


def test_401_with_an_unknown_api_key(one_user: Admin, tenant: TenantHandle) -> None:
    for key in ("seam_not_a_real_key", "nonsense", one_user.key + "x"):
        _assert_refused(one_user, {**tenant.headers(), "x-api-key": key})


def test_401_with_a_revoked_api_key(one_user: Admin, tenant: TenantHandle) -> None:
    revoked = one_user.headers()
    revoke_api_key(tenant, one_user.key_id)
    # The checks of _assert_refused read with a key that still works.
    one_user.key, one_user.key_id = issue_api_key(tenant, "replacement")
    _assert_refused(one_user, revoked)


def test_401_with_an_api_key_of_another_tenant(
    one_user: Admin, tenant: TenantHandle, other_admin: Admin, other_tenant: TenantHandle
) -> None:
    _assert_refused(one_user, {**tenant.headers(), "x-api-key": other_admin.key})
    # Nor the other way round: the other tenant's token with this tenant's key.
    _assert_refused(one_user, {**other_tenant.headers(), "x-api-key": one_user.key})
    assert other_admin.count() == 0


def test_401_with_a_scim_token(one_user: Admin, tenant: TenantHandle) -> None:
    scim = tenant.scim_headers()["Authorization"]
    _assert_refused(one_user, {"Authorization": scim, "x-api-key": one_user.key})


def test_403_without_user_write_on_post_and_put(one_user: Admin, tenant: TenantHandle) -> None:
    readonly = {**tenant.headers("user:read"), "x-api-key": one_user.key}
    user = one_user.get(1)
    for call in (_post, _put):
        r, path = call(one_user, readonly)
        assert_error(r, 403, path)
    assert one_user.get(1) == user
    assert one_user.count() == 1
    # Reading is what user:read is for.
    for call in (_search, _get):
        r, _ = call(one_user, readonly)
        assert r.status_code == 200, r.text


def test_403_without_user_read_on_get(one_user: Admin, tenant: TenantHandle) -> None:
    groups_only = {**tenant.headers("group:read"), "x-api-key": one_user.key}
    _assert_refused(one_user, groups_only, status=403)


# ---- bad input: 400, and nothing written ---------------------------------------------------


@pytest.mark.parametrize(
    "path", [f"{ADMIN}/abc", f"{ADMIN}/1.5", f"{ADMIN}/0", f"{ADMIN}/-1", f"{ADMIN}/1e3"]
)
def test_a_non_integer_user_id_is_400(admin: Admin, path: str) -> None:
    admin.create()
    assert_error(admin.http.get(path, headers=admin.headers()), 400, path)
    assert_error(admin.http.put(path, json=_body(), headers=admin.headers()), 400, path)
    assert admin.count() == 1


@pytest.mark.parametrize("value", ["x", "1.5", "", "one", "0x1", "99999999999999999999999"])
def test_a_non_integer_search_id_is_400(admin: Admin, value: str) -> None:
    admin.create()
    r = admin.http.get(ADMIN, params={"searchData.id": value}, headers=admin.headers())
    assert_error(r, 400, ADMIN)


BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("unparseable date", {"expiredDate": "not-a-date"}, "expiredDate"),
    ("impossible date", {"expiredDate": "2030-02-30"}, "expiredDate"),
    ("impossible time", {"expiredDate": "2030-01-01T25:61:00Z"}, "expiredDate"),
    ("day-first date", {"expiredDate": "23/11/2030"}, "expiredDate"),
    ("invalid email", {"emailAddress": "not-an-email"}, "emailAddress"),
    ("email without domain", {"emailAddress": "jane@"}, "emailAddress"),
    ("unknown role", {"roles": ["No Such Role"]}, "roles"),
    ("unknown group", {"groups": ["no-such-group"]}, "groups"),
    ("two roles", {"roles": ["Manager", "Viewer"]}, "roles"),
    ("role not a list", {"roles": "Manager"}, "roles"),
    ("unknown field", {"nickname": "Ada"}, "nickname"),
    ("unknown field, wire-cased", {"EmailAddress": "x@example.com"}, "EmailAddress"),
]


@pytest.mark.parametrize(
    ("change", "field"), [(b[1], b[2]) for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES]
)
def test_bad_post_is_400_and_writes_nothing(
    admin: Admin, tenant: TenantHandle, change: dict[str, Any], field: str
) -> None:
    tenant.group(name="existing-group")
    body = _body(roles=["Viewer"], groups=["existing-group"], externalIdentity="okta|bad")
    body.update(change)
    r = admin.post(body)
    error = assert_error(r, 400, ADMIN)
    assert field in error["message"], error
    assert admin.count() == 0
    # The identity was not taken either.
    assert admin.create(externalIdentity="okta|bad")["externalIdentity"] == "okta|bad"


def test_post_without_an_email_is_400(admin: Admin) -> None:
    for body in ({}, {"firstName": "Ada"}, {"emailAddress": None}):
        error = assert_error(admin.post(body), 400, ADMIN)
        assert "emailAddress" in error["message"]
    assert admin.count() == 0


def test_malformed_json_is_400(admin: Admin) -> None:
    r = admin.http.post(
        ADMIN,
        content=b'{"emailAddress": ',
        headers={**admin.headers(), "Content-Type": "application/json"},
    )
    assert_error(r, 400, ADMIN)
    assert admin.count() == 0


@pytest.mark.parametrize(
    ("change", "field"), [(b[1], b[2]) for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES]
)
def test_bad_put_is_400_and_changes_nothing(
    admin: Admin, tenant: TenantHandle, change: dict[str, Any], field: str
) -> None:
    tenant.group(name="existing-group")
    user = admin.create(roles=["Manager"], groups=["existing-group"], externalIdentity="okta|keep")
    body = _body(roles=["Viewer"], groups=[], externalIdentity="okta|changed")
    body.update(change)
    r = admin.http.put(f"{ADMIN}/{user['id']}", json=body, headers=admin.headers())
    error = assert_error(r, 400, f"{ADMIN}/{user['id']}")
    assert field in error["message"], error
    assert admin.get(user["id"]) == user
    assert admin.search(externalIdentity="okta|keep") == [user]
    assert admin.search(externalIdentity="okta|changed") == []


def test_reactivation_elsewhere_lifts_a_fired_expiry(
    http: TestClient, tenant: TenantHandle, runtime: Runtime, admin: Admin
) -> None:
    """A user whose expiry fired and who is then reactivated through v2 stays active."""
    created = admin.create(expiredDate="2020-01-01T00:00:00Z")
    found = http.get(
        f"{V2}/users", params={"email": created["emailAddress"]}, headers=tenant.headers()
    ).json()["items"][0]
    assert found["status"] == "inactive"
    r = http.patch(f"{V2}/users/{found['id']}", json={"isActive": True}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    Scheduler(runtime.db, clock=lambda: utcnow() + timedelta(days=1)).run_once()
    again = http.get(f"{V2}/users/{found['id']}", headers=tenant.headers()).json()
    assert again["status"] == "active"
    assert admin.get(created["id"])["expiredDate"] is None
