"""The one place where SCIM resources and rosterd's domain meet (RFC 7643 §4).

| SCIM | domain |
|---|---|
| userName | username |
| name.givenName / name.familyName | first_name / last_name |
| displayName, title, locale, externalId | same |
| emails (every entry, with type, primary, display) | emails; their primary is email |
| phoneNumbers (every entry, as sent) | phone_numbers; their primary is phone |
| active | status: true is active; false is inactive (a suspended user stays suspended) |
| groups | read-only view of memberships |
| enterprise employeeNumber, department, division, organization, costCenter | same |
| enterprise manager.value | manager_id |
| Group displayName, externalId, members.value | name, external_id, memberships |

Fields that have no SCIM attribute (role, team) are never touched from SCIM.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from scim2_models import (
    Email,
    EnterpriseUser,
    Group,
    GroupMember,
    GroupMembership,
    Manager,
    Meta,
    Name,
    PhoneNumber,
    User,
)

from rosterd.domain.commands import Contact
from rosterd.models import Group as GroupRow
from rosterd.models import User as UserRow
from rosterd.models import UserStatus
from rosterd.services.errors import Invalid

ScimUser = User[EnterpriseUser]
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def etag(version: int) -> str:
    return f'W/"{version}"'


def parse_etag(header: str | None) -> int | None:
    """The version an If-Match header asks for; None for none or ``*``."""
    if header is None or header.strip() == "*":
        return None
    value = header.strip().removeprefix("W/").strip('"')
    try:
        return int(value)
    except ValueError as exc:
        raise Invalid(
            f"If-Match {header!r} is not an ETag rosterd issued", code="invalidVers"
        ) from exc


def _meta(kind: str, location: str, created: datetime, modified: datetime, version: int) -> Meta:
    return Meta(
        resource_type=kind,
        created=created,
        last_modified=modified,
        location=location,
        version=etag(version),
    )


def user_to_scim(user: UserRow, groups: list[tuple[uuid.UUID, str]], base: str) -> ScimUser:
    resource = ScimUser(
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
        emails=[Email.model_validate(c) for c in _kept(user.emails, user.email)] or None,
        phone_numbers=[PhoneNumber.model_validate(c) for c in _kept(user.phone_numbers, user.phone)]
        or None,
        groups=[
            GroupMembership(value=str(gid), display=name, ref=f"{base}/Groups/{gid}", type="direct")
            for gid, name in groups
        ]
        or None,
        meta=_meta(
            "User", f"{base}/Users/{user.id}", user.created_at, user.modified_at, user.version
        ),
    )
    enterprise = EnterpriseUser(
        employee_number=user.employee_number,
        department=user.department,
        division=user.division,
        organization=user.organization,
        cost_center=user.cost_center,
        manager=Manager(value=str(user.manager_id), ref=f"{base}/Users/{user.manager_id}")
        if user.manager_id
        else None,
    )
    if any(
        getattr(enterprise, f) is not None
        for f in (
            "employee_number",
            "department",
            "division",
            "organization",
            "cost_center",
            "manager",
        )
    ):
        resource[EnterpriseUser] = enterprise
    return resource


def _kept(contacts: list[dict[str, Any]] | None, primary: str | None) -> list[dict[str, Any]]:
    """A user's emails or phone numbers as the client sent them; a user made through another
    API has only its primary, shown as the work one."""
    if contacts:
        return contacts
    return [{"value": primary, "type": "work", "primary": True}] if primary else []


def _contacts(values: list[Any] | None) -> tuple[Contact, ...] | None:
    if values is None:
        return None
    return tuple(
        Contact(
            value=str(v.value) if v.value is not None else "",
            type=v.type,
            primary=bool(v.primary),
            display=v.display,
        )
        for v in values
        if v.value is not None
    )


def _uuid(value: str | None, what: str) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise Invalid(f"{what} {value!r} is not a rosterd id", code="invalidValue") from exc


def desired_status(active: bool | None, current: UserStatus | None) -> UserStatus:
    """``active`` as a status: false keeps a suspension, absent keeps what is there."""
    if active is None:
        return current or UserStatus.active
    if active:
        return UserStatus.active
    if current in (UserStatus.suspended, UserStatus.inactive):
        return current
    return UserStatus.inactive


def user_fields(resource: ScimUser, current: UserStatus | None) -> dict[str, Any]:
    """Every domain field SCIM owns, as ``resource`` states it (absent means cleared)."""
    if not resource.user_name or not resource.user_name.strip():
        raise Invalid("userName is required", code="invalidValue")
    enterprise = resource[EnterpriseUser] or EnterpriseUser()
    name = resource.name or Name()
    return {
        "username": resource.user_name,
        "external_id": resource.external_id,
        "first_name": name.given_name,
        "last_name": name.family_name,
        "display_name": resource.display_name,
        "title": resource.title,
        "locale": resource.locale,
        "emails": _contacts(resource.emails),
        "phone_numbers": _contacts(resource.phone_numbers),
        "status": desired_status(resource.active, current),
        "employee_number": enterprise.employee_number,
        "department": enterprise.department,
        "division": enterprise.division,
        "organization": enterprise.organization,
        "cost_center": enterprise.cost_center,
        "manager_id": _uuid(enterprise.manager.value, "manager")
        if enterprise.manager and enterprise.manager.value
        else None,
    }


def group_to_scim(group: GroupRow, members: list[tuple[uuid.UUID, str]] | None, base: str) -> Group:
    listed = [
        GroupMember(value=str(uid), display=username, ref=f"{base}/Users/{uid}", type="User")
        for uid, username in members or []
    ]
    return Group(
        id=str(group.id),
        external_id=group.external_id,
        display_name=group.name,
        members=listed or None,
        meta=_meta(
            "Group", f"{base}/Groups/{group.id}", group.created_at, group.modified_at, group.version
        ),
    )


def group_fields(resource: Group) -> tuple[dict[str, Any], list[uuid.UUID]]:
    """The group's own fields and its member ids, as ``resource`` states them."""
    if not resource.display_name or not resource.display_name.strip():
        raise Invalid("displayName is required", code="invalidValue")
    members = [
        member_id
        for m in resource.members or []
        if (member_id := _uuid(m.value, "member")) is not None
    ]
    return {"name": resource.display_name, "external_id": resource.external_id}, members


# The attribute-less marker schema Microsoft's SCIM guide (and Entra's classic client) puts in
# a Group body next to the core schema: no extension, so nothing of it to validate or keep.
ENTRA_GROUP_MARKER = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def normalize_group_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Tolerate what real IdPs send in a Group body before strict validation."""
    schemas = payload.get("schemas")
    if not isinstance(schemas, list):
        return payload
    kept = [
        s for s in schemas if not (isinstance(s, str) and s.lower() == ENTRA_GROUP_MARKER.lower())
    ]
    return {**payload, "schemas": kept} if len(kept) != len(schemas) else payload


def _normalize_manager(value: Any) -> Any:
    """Entra ID sends the manager as a bare id, Okta without ``$ref``; the schema wants both."""
    if isinstance(value, str):
        value = {"value": value}
    if isinstance(value, dict) and value.get("value") and not value.get("$ref"):
        return {**value, "$ref": f"../Users/{value['value']}"}
    return value


def normalize_user_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Tolerate what real IdPs send in a User body before strict validation."""
    ext_key = next((k for k in payload if k.lower() == ENTERPRISE_URN.lower()), None)
    if ext_key and isinstance(payload[ext_key], dict) and "manager" in payload[ext_key]:
        payload[ext_key] = {
            **payload[ext_key],
            "manager": _normalize_manager(payload[ext_key]["manager"]),
        }
    return payload


_ENTERPRISE_ATTRS = {
    "employeenumber",
    "department",
    "division",
    "organization",
    "costcenter",
    "manager",
}


def _split_filtered_keys(op: Any) -> list[Any]:
    """Entra ID folds filtered paths (``emails[type eq "work"].value``) into the value of a
    path-less operation; each becomes an operation of its own with that path."""
    if not isinstance(op, dict) or op.get("path") is not None:
        return [op]
    value = op.get("value")
    if not isinstance(value, dict) or not any("[" in key for key in value):
        return [op]
    rest = {k: v for k, v in value.items() if "[" not in k}
    split = [{**op, "path": k, "value": v} for k, v in value.items() if "[" in k]
    return ([{**op, "value": rest}] if rest else []) + split


def normalize_user_patch(payload: dict[str, Any]) -> dict[str, Any]:
    """Entra ID's PATCH dialect: enterprise attributes without their URN, bare manager ids,
    and dotted, filtered or URN-prefixed keys in a path-less value."""
    operations = payload.get("Operations") if isinstance(payload, dict) else None
    if not isinstance(operations, list):
        return payload
    operations = payload["Operations"] = [o for op in operations for o in _split_filtered_keys(op)]
    for op in operations:
        if not isinstance(op, dict):
            continue
        path = op.get("path")
        if isinstance(path, str):
            head = path.split(".")[0].split("[")[0]
            if head.lower() in _ENTERPRISE_ATTRS and ":" not in path:
                path = op["path"] = f"{ENTERPRISE_URN}:{path}"
            if path.lower().endswith(":manager") or path.lower() == "manager":
                op["value"] = _normalize_manager(op.get("value"))
        elif isinstance(op.get("value"), dict):
            value = dict(op["value"])
            for key in list(value):
                if key.lower() == f"{ENTERPRISE_URN}:manager".lower():
                    value[key] = _normalize_manager(value[key])
                elif key.lower() == ENTERPRISE_URN.lower() and isinstance(value[key], dict):
                    value[key] = normalize_user_payload({ENTERPRISE_URN: value[key]})[
                        ENTERPRISE_URN
                    ]
            op["value"] = value
    return payload
