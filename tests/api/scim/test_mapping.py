"""The SCIM renderer writes what scim2-models would: each resource as rendered from its row
equals scim2-models' own dump of the same resource, built attribute by attribute, for a user
with every attribute set, one with the fewest, and groups with and without members."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi.testclient import TestClient
from scim2_models import (
    Context,
    Email,
    EnterpriseUser,
    Group,
    GroupMember,
    GroupMembership,
    Manager,
    Meta,
    Name,
    PhoneNumber,
)

from rosterd.api.scim import mapping
from rosterd.models import Group as GroupRow
from rosterd.models import User as UserRow
from rosterd.models import UserStatus
from rosterd.runtime import Runtime
from rosterd.services import groups as groups_service
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from tests.api.scim.support import ENTERPRISE, GROUP_SCHEMA, USER_SCHEMA, scim_get, scim_post
from tests.factories import TenantHandle

BASE = "http://testserver/scim/v2"


def _meta(kind: str, row: UserRow | GroupRow) -> Meta:
    return Meta(
        resource_type=kind,
        created=row.created_at,
        last_modified=row.modified_at,
        location=f"{BASE}/{kind}s/{row.id}",
        version=f'W/"{row.version}"',
    )


def _contacts(kind: type[Email] | type[PhoneNumber], kept: Any, primary: str | None) -> Any:
    entries = kept or ([{"value": primary, "type": "work", "primary": True}] if primary else [])
    return [kind.model_validate(e) for e in entries] or None


def reference_user(user: UserRow, groups: list[tuple[uuid.UUID, str]]) -> dict[str, Any]:
    """scim2-models' dump of the user, every attribute set through its own models."""
    resource = mapping.ScimUser(
        id=str(user.id),
        external_id=user.external_id,
        user_name=user.username,
        name=Name(given_name=user.first_name, family_name=user.last_name, formatted=user.full_name)
        if user.first_name or user.last_name
        else None,
        display_name=user.display_name,
        title=user.title,
        locale=user.locale,
        active=user.status == UserStatus.active,
        emails=_contacts(Email, user.emails, user.email),
        phone_numbers=_contacts(PhoneNumber, user.phone_numbers, user.phone),
        groups=[
            GroupMembership(value=str(gid), display=name, ref=f"{BASE}/Groups/{gid}", type="direct")
            for gid, name in groups
        ]
        or None,
        meta=_meta("User", user),
    )
    enterprise = EnterpriseUser(
        employee_number=user.employee_number,
        department=user.department,
        division=user.division,
        organization=user.organization,
        cost_center=user.cost_center,
        manager=Manager(value=str(user.manager_id), ref=f"{BASE}/Users/{user.manager_id}")
        if user.manager_id
        else None,
    )
    if enterprise.model_dump(exclude={"schemas"}, exclude_none=True):
        resource[EnterpriseUser] = enterprise
    dumped: dict[str, Any] = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return dumped


def reference_group(group: GroupRow, members: list[tuple[uuid.UUID, str]]) -> dict[str, Any]:
    resource = Group(
        id=str(group.id),
        external_id=group.external_id,
        display_name=group.name,
        members=[
            GroupMember(value=str(uid), display=name, ref=f"{BASE}/Users/{uid}", type="User")
            for uid, name in members
        ]
        or None,
        meta=_meta("Group", group),
    )
    dumped: dict[str, Any] = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return dumped


def _same(rendered: dict[str, Any], reference: dict[str, Any]) -> None:
    """Equal as JSON, down to the order of keys."""
    assert rendered == reference
    assert orjson.dumps(rendered) == orjson.dumps(reference)


FULL_USER = {
    "schemas": [USER_SCHEMA, ENTERPRISE],
    "userName": "ada.lovelace@example.com",
    "externalId": "okta-00u1",
    "name": {"givenName": "Ada", "familyName": "Lovelace"},
    "displayName": "Ada L.",
    "title": "Analyst",
    "locale": "en-GB",
    "active": False,
    "emails": [
        {"value": "ada@example.com", "type": "Work", "primary": True, "display": "Ada"},
        {"value": "ada@home.example", "type": "home"},
        {"value": "ada@lab.example", "type": "lab"},
    ],
    "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "mobile", "primary": True}],
    ENTERPRISE: {
        "employeeNumber": "1815",
        "costCenter": "CC-1",
        "organization": "Analytical Engines",
        "division": "Research",
        "department": "Mathematics",
    },
}


def _actor(tenant: TenantHandle) -> Actor:
    return Actor(tenant_id=tenant.id, actor="test", surface="scim")


def _rows(
    runtime: Runtime, tenant: TenantHandle, user_id: str
) -> tuple[UserRow, list[tuple[uuid.UUID, str]]]:
    with runtime.db.reader() as session:
        actor = _actor(tenant)
        user = users_service.get_user(session, actor, uuid.UUID(user_id))
        groups = users_service.groups_of_users(session, actor, [user.id]).get(user.id, [])
        session.expunge(user)
    return user, groups


def test_a_user_with_every_attribute_renders_as_scim2_models_dumps_it(
    runtime: Runtime, http: TestClient, tenant: TenantHandle
) -> None:
    manager = scim_post(http, tenant, "/Users", {"schemas": [USER_SCHEMA], "userName": "boss"})
    body = {**FULL_USER, ENTERPRISE: {**FULL_USER[ENTERPRISE], "manager": manager["id"]}}
    made = scim_post(http, tenant, "/Users", body)
    for name in ("Engines", "Analysts"):
        scim_post(
            http,
            tenant,
            "/Groups",
            {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": made["id"]}]},
        )
    user, groups = _rows(runtime, tenant, made["id"])
    assert len(groups) == 2 and user.manager_id is not None and user.external_id

    _same(mapping.user_document(user, groups, BASE), reference_user(user, groups))
    # ... and that is what the API answers.
    assert scim_get(http, tenant, f"/Users/{made['id']}") == reference_user(user, groups)


def test_a_user_with_the_fewest_attributes_renders_as_scim2_models_dumps_it(
    runtime: Runtime, http: TestClient, tenant: TenantHandle
) -> None:
    made = scim_post(http, tenant, "/Users", {"schemas": [USER_SCHEMA], "userName": "min"})
    user, groups = _rows(runtime, tenant, made["id"])
    assert groups == []
    reference = reference_user(user, groups)
    assert set(reference) == {"schemas", "id", "meta", "userName", "active"}
    _same(mapping.user_document(user, groups, BASE), reference)


def test_groups_render_as_scim2_models_dumps_them(
    runtime: Runtime, http: TestClient, tenant: TenantHandle
) -> None:
    member = scim_post(http, tenant, "/Users", {"schemas": [USER_SCHEMA], "userName": "m"})
    made = scim_post(
        http,
        tenant,
        "/Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Staff",
            "externalId": "ext-1",
            "members": [{"value": member["id"]}],
        },
    )
    bare = scim_post(http, tenant, "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "None"})
    actor = _actor(tenant)
    with runtime.db.reader() as session:
        for made_id in (made["id"], bare["id"]):
            group = groups_service.get_group(session, actor, uuid.UUID(made_id))
            members = groups_service.members_of_groups(session, actor, [group.id]).get(group.id, [])
            _same(mapping.group_document(group, members, BASE), reference_group(group, members))
            _same(mapping.group_document(group, None, BASE), reference_group(group, []))
