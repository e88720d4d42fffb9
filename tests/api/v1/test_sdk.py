"""The official Sisense SDK, ``pysisense``, unmodified, against a real rosterd on 127.0.0.1.

The SDK never logs in by itself: the token comes from POST /api/v1/authentication/login.
It reports failures as ``{"ok": False, "error": ...}`` rather than raising, so every call's
return value is checked, and every change is also read back through rosterd's own API.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pysisense import AccessManagement, SisenseClient

from rosterd.auth.secrets import verify_password
from rosterd.models import User
from tests.api.v1.support import (
    GROUPS,
    LOGOUT,
    PASSWORD,
    ROLES,
    USERS,
    Admin,
    make_admin,
    unique_email,
)
from tests.conftest import LiveServer
from tests.factories import TenantHandle

pytestmark = pytest.mark.live


@dataclass
class Sdk:
    am: AccessManagement
    http: httpx.Client
    headers: dict[str, str]
    tenant: TenantHandle
    admin: Admin
    live: LiveServer

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers, **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        r = self.api("GET", path, params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def role_ids(self) -> dict[str, str]:
        return {r["name"]: r["_id"] for r in self.get(ROLES)}

    def user_ids(self) -> set[str]:
        return {u["_id"] for u in self.get(USERS)}


def _client(live: LiveServer, token: str) -> AccessManagement:
    port = urlsplit(live.base_url).port
    assert port is not None
    client = SisenseClient(domain="127.0.0.1", token=token, is_ssl=False, port=port, retries=False)
    assert client.base_url == live.base_url
    return AccessManagement(api_client=client)


@pytest.fixture
def sdk(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sdk:
    monkeypatch.chdir(tmp_path)  # the SDK writes ./logs/pysisense.log
    tenant = live_server.tenant()
    admin = make_admin(tenant)
    token = admin.login(tenant.http)
    return Sdk(
        am=_client(live_server, token),
        http=tenant.http,
        headers={"Authorization": f"Bearer {token}"},
        tenant=tenant,
        admin=admin,
        live=live_server,
    )


def _ok(result: Any) -> Any:
    """An SDK result that is not a failure dict."""
    assert not (isinstance(result, dict) and (result.get("ok") is False or "error" in result)), (
        result
    )
    return result


def _failed(result: Any, status: int | None = None) -> str:
    assert isinstance(result, dict) and result.get("ok") is False, result
    if status is not None:
        assert result.get("status_code") == status, result
    return str(result["error"])


def _groups(sdk: Sdk, *names: str) -> dict[str, str]:
    created = _ok(sdk.am.create_groups_bulk([{"name": n} for n in names]))
    return {g["name"]: g["_id"] for g in created}


# ---- roles ---------------------------------------------------------------------------------------


def test_get_roles(sdk: Sdk) -> None:
    roles = _ok(sdk.am.get_roles())
    assert isinstance(roles, list)
    assert {r["name"] for r in roles} == {"Admin", "Manager", "User", "Viewer"}
    assert roles == sdk.get(ROLES) == sdk.get("/api/roles")


def test_get_my_user(sdk: Sdk) -> None:
    me = _ok(sdk.am.get_my_user())
    assert me["userName"] == sdk.admin.username


# ---- users ---------------------------------------------------------------------------------------


def test_create_get_update_delete_a_user(sdk: Sdk) -> None:
    groups = _groups(sdk, "Sales", "Marketing")
    roles = sdk.role_ids()
    email = unique_email("jane")
    user_name = f"jane-{secrets.token_hex(3)}"

    created = _ok(
        sdk.am.create_user(
            {
                "email": email,
                "role": "viewer",  # any case: the SDK matches role names loosely
                "groups": ["sales"],
                "userName": user_name,
                "firstName": "Jane",
                "lastName": "Doe",
                "password": PASSWORD,
                "preferences": {"language": "en-US"},
            }
        )
    )
    user_id = created["_id"]
    assert created["roleId"] == roles["Viewer"] and created["groups"] == [groups["Sales"]]

    # Through rosterd's API.
    user = sdk.get(f"{USERS}/{user_id}", expand="groups,role")
    assert (user["email"], user["userName"], user["firstName"], user["lastName"]) == (
        email,
        user_name,
        "Jane",
        "Doe",
    )
    assert user["role"] == {"_id": roles["Viewer"], "name": "Viewer"}
    assert user["groups"] == [{"_id": groups["Sales"], "name": "Sales"}]
    assert user["preferences"] == {"language": "en-US"} and user["active"] is True

    # get_user: the SDK's canonical row.
    row = _ok(sdk.am.get_user(email))
    assert row["USER_ID"] == user_id and row["USER_NAME"] == user_name
    assert (row["FIRST_NAME"], row["LAST_NAME"], row["IS_ACTIVE"]) == ("Jane", "Doe", True)
    assert (row["ROLE_ID"], row["ROLE_NAME"], row["ROLE_RAW_NAME"]) == (
        roles["Viewer"],
        "Viewer",
        "Viewer",
    )
    assert (row["GROUP_IDS"], row["GROUPS"]) == ([groups["Sales"]], ["Sales"])
    _failed(sdk.am.get_user(unique_email("nobody")))

    # update_user: only the fields given change; role and groups by name.
    updated = _ok(
        sdk.am.update_user(
            email, {"firstName": "Janet", "role": "Manager", "groups": ["Marketing", "sales"]}
        )
    )
    assert updated["firstName"] == "Janet" and updated["roleId"] == roles["Manager"]
    user = sdk.get(f"{USERS}/{user_id}", expand="role")
    assert user["firstName"] == "Janet" and user["lastName"] == "Doe"
    assert user["userName"] == user_name and user["role"]["name"] == "Manager"
    assert sorted(user["groups"]) == sorted([groups["Sales"], groups["Marketing"]])
    row = _ok(sdk.am.get_user(email))
    assert row["ROLE_NAME"] == "Manager" and sorted(row["GROUPS"]) == ["Marketing", "Sales"]

    # groups=[] clears every membership.
    cleared = _ok(sdk.am.update_user(email, {"groups": []}))
    assert cleared["groups"] == []
    assert sdk.get(f"{USERS}/{user_id}")["groups"] == []
    assert all(g["users"] == [] for g in sdk.get(GROUPS, expand="users"))
    assert sdk.get(f"{USERS}/{user_id}")["roleId"] == roles["Manager"]

    # Deactivate rather than delete (a field the SDK passes through as is).
    deactivate: dict[str, Any] = {"active": False}
    assert _ok(sdk.am.update_user(email, deactivate))["active"] is False  # type: ignore[arg-type]
    assert sdk.get(USERS, email=email)[0]["active"] is False
    assert _ok(sdk.am.get_user(email))["IS_ACTIVE"] is False

    # delete_user: permanent.
    _ok(sdk.am.delete_user(user_name=email))
    r = sdk.api("GET", f"{USERS}/{user_id}")
    assert r.status_code == 404, r.text
    assert "not found" in _failed(sdk.am.get_user(email))
    assert "not found" in _failed(sdk.am.delete_user(user_name=email))


def test_get_users_all_matches_the_api(sdk: Sdk) -> None:
    groups = _groups(sdk, "Support")
    emails = [unique_email() for _ in range(3)]
    _ok(sdk.am.create_user({"email": emails[0], "role": "User", "password": PASSWORD}))
    _ok(
        sdk.am.create_user(
            {"email": emails[1], "role": "Admin", "groups": ["Support"], "password": PASSWORD}
        )
    )
    _ok(sdk.am.create_user({"email": emails[2], "role": "viewer", "password": PASSWORD}))

    rows = _ok(sdk.am.get_users_all())
    assert isinstance(rows, list)
    assert [r["EMAIL"] for r in rows] == [u["email"] for u in sdk.get(USERS)] == emails
    by_email = {r["EMAIL"]: r for r in rows}
    assert by_email[emails[0]]["ROLE_NAME"] == "User"
    assert by_email[emails[1]]["ROLE_NAME"] == "Admin"
    assert by_email[emails[1]]["GROUP_IDS"] == [groups["Support"]]
    assert by_email[emails[2]]["GROUPS"] == []

    members = _ok(sdk.am.users_per_group("Support"))
    assert [(m["EMAIL"], m["ROLE_NAME"]) for m in members] == [(emails[1], "Admin")]
    assert _ok(sdk.am.users_per_group()) == members
    _failed(sdk.am.users_per_group("No Such Group"))


def test_create_users_bulk(sdk: Sdk) -> None:
    roles = sdk.role_ids()
    groups = _groups(sdk, "Bulk A", "Bulk B")
    items = [
        {
            "email": unique_email("bulk"),
            "firstName": f"Bulk{i}",
            "roleId": roles["Viewer"],
            "groups": [groups["Bulk A"], groups["Bulk B"]],
            "password": PASSWORD,
        }
        for i in range(3)
    ]
    created = _ok(sdk.am.create_users_bulk(items))
    assert isinstance(created, list) and len(created) == 3
    assert [u["email"] for u in created] == [i["email"] for i in items]
    for user in created:
        got = sdk.get(f"{USERS}/{user['_id']}", expand="groups,role")
        assert got["role"]["name"] == "Viewer" and got["firstName"].startswith("Bulk")
        assert sorted(g["name"] for g in got["groups"]) == ["Bulk A", "Bulk B"]
    before = sdk.user_ids()
    assert before == {u["_id"] for u in created}

    # All or nothing: one item with an unknown role, or a taken email, and none is made.
    fresh = {"email": unique_email(), "roleId": roles["User"], "password": PASSWORD}
    for bad in (
        {"email": unique_email(), "roleId": str(uuid.uuid4()), "password": PASSWORD},
        {"email": items[0]["email"], "roleId": roles["User"], "password": PASSWORD},
        {"email": unique_email(), "roleId": roles["User"], "groups": [str(uuid.uuid4())]},
    ):
        error = _failed(sdk.am.create_users_bulk([fresh, bad]))
        assert "users[1]" in error, error
    assert sdk.user_ids() == before


def test_change_user_password(sdk: Sdk) -> None:
    created = _ok(
        sdk.am.create_user({"email": unique_email(), "role": "User", "password": PASSWORD})
    )
    changed = _ok(sdk.am.change_user_password(created["_id"], "a brand new password"))
    assert changed["_id"] == created["_id"] and "password" not in changed
    with sdk.live.runtime.db.reader() as session:
        row = session.get(User, uuid.UUID(created["_id"]))
        assert row is not None and row.password_hash is not None
        assert verify_password(row.password_hash, "a brand new password")
        assert not verify_password(row.password_hash, PASSWORD)
    _failed(sdk.am.change_user_password(created["_id"], "short"))
    _failed(sdk.am.change_user_password(str(uuid.uuid4()), "a brand new password"))


def test_failures_come_back_as_errors_and_write_nothing(sdk: Sdk) -> None:
    _groups(sdk, "Real")
    taken = unique_email()
    _ok(sdk.am.create_user({"email": taken, "role": "User", "password": PASSWORD}))
    before = sdk.user_ids()

    error = _failed(sdk.am.create_user({"email": unique_email(), "role": "Wizard"}))
    assert "Wizard" in error and "Viewer" in error  # names the roles there are
    assert "already exists" in _failed(
        sdk.am.create_user({"email": taken.upper(), "role": "User", "password": PASSWORD})
    )
    assert "email" in _failed(
        sdk.am.create_user({"email": "not-an-email", "role": "User", "password": PASSWORD})
    )
    assert "password" in _failed(
        sdk.am.create_user({"email": unique_email(), "role": "User", "password": "short"})
    )
    assert "password" in _failed(sdk.am.create_user({"email": unique_email(), "role": "User"}))
    _failed(
        sdk.am.create_user(
            {"email": unique_email(), "role": "User", "groups": ["Imaginary"], "password": PASSWORD}
        )
    )
    _failed(sdk.am.update_user(unique_email("nobody"), {"firstName": "X"}))
    _failed(sdk.am.update_user(taken, {"role": "Wizard"}))
    _failed(sdk.am.update_user(taken, {"groups": ["Imaginary"]}))
    assert "email" in _failed(sdk.am.update_user(taken, {"email": "broken"}), 400)
    assert sdk.user_ids() == before
    (user,) = sdk.get(USERS, email=taken)
    assert user["email"] == taken and user["groups"] == [] and user["firstName"] is None


def test_a_revoked_token_is_reported(sdk: Sdk) -> None:
    assert isinstance(_ok(sdk.am.get_users_all()), list)
    r = sdk.api("POST", LOGOUT)
    assert r.status_code == 200, r.text
    assert "revoked" in _failed(sdk.am.get_users_all(), 401)
    assert "revoked" in _failed(sdk.am.get_roles(), 401)
    # A fresh login works again.
    am = _client(sdk.live, sdk.admin.login(sdk.http))
    assert _ok(am.get_users_all()) == []


def test_a_token_of_another_tenant_sees_only_its_own(sdk: Sdk) -> None:
    _ok(sdk.am.create_user({"email": unique_email(), "role": "User", "password": PASSWORD}))
    _groups(sdk, "Mine")
    other = sdk.live.tenant()
    theirs = _client(sdk.live, make_admin(other).login(other.http))
    assert _ok(theirs.get_users_all()) == []
    assert _ok(theirs.get_groups()) == []
    _failed(theirs.get_groups(name="Mine"))


# ---- groups --------------------------------------------------------------------------------------


def test_group_bulk_create_get_and_delete(sdk: Sdk) -> None:
    created = _ok(
        sdk.am.create_groups_bulk([{"name": "Finance"}, {"name": "Legal", "description": "law"}])
    )
    assert [g["name"] for g in created] == ["Finance", "Legal"]
    assert created[1]["description"] == "law"
    ids = {g["name"]: g["_id"] for g in created}
    assert {g["_id"] for g in sdk.get(GROUPS)} == set(ids.values())

    assert [g["_id"] for g in _ok(sdk.am.get_groups())] == [ids["Finance"], ids["Legal"]]
    (finance,) = _ok(sdk.am.get_groups(name="Finance"))
    assert finance["_id"] == ids["Finance"]
    assert "not found" in _failed(sdk.am.get_groups(name="Nope"))

    # All or nothing: a taken name (any case) fails the whole batch.
    error = _failed(sdk.am.create_groups_bulk([{"name": "Ops"}, {"name": "finance"}]))
    assert "already exists" in error
    assert sdk.get(GROUPS, name="Ops") == []

    member = _ok(
        sdk.am.create_user(
            {"email": unique_email(), "role": "User", "groups": ["Legal"], "password": PASSWORD}
        )
    )
    assert _ok(sdk.am.delete_group(ids["Legal"])) == {"message": "Group deleted successfully."}
    r = sdk.api("GET", f"{GROUPS}/{ids['Legal']}")
    assert r.status_code == 404, r.text
    assert [g["_id"] for g in sdk.get(GROUPS)] == [ids["Finance"]]
    assert sdk.get(f"{USERS}/{member['_id']}")["groups"] == []
    _failed(sdk.am.delete_group(ids["Legal"]), 404)
    _failed(sdk.am.delete_group("not-an-id"), 404)
