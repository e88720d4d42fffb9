"""The one place where SCIM resources and rosterd's domain meet (RFC 7643 §4).

``USER_ATTRIBUTES`` and ``GROUP_ATTRIBUTES`` are the wire table: read one way, they build a
domain command from a resource (``user_fields``, ``group_fields``); read the other, they name a
domain error's field in SCIM terms (``SCIM_NAMES``, used by the error renderer).

- emails and phoneNumbers keep every entry with its type, primary flag and display; their
  primary is the user's email and phone.
- active is the status: true is active; false is inactive (a suspended user stays suspended).
- groups is a read-only view of memberships; role and team have no SCIM attribute and are
  never touched from SCIM.

What real IdPs send that scim2-models does not read as such is rewritten first, here only
(``normalize_*``): attribute names are matched case-insensitively by scim2-models itself, the
keys this module inspects are rewritten to their schema spelling before it looks at them.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any, Protocol

from scim2_models import (
    BaseModel,
    Email,
    EnterpriseUser,
    Group,
    GroupMember,
    Manager,
    PatchOp,
    PatchOperation,
    PhoneNumber,
    Resource,
    User,
)

from rosterd.domain.commands import Contact
from rosterd.models import Group as GroupRow
from rosterd.models import UserStatus
from rosterd.models.user import full_name
from rosterd.services.errors import Invalid

ScimUser = User[EnterpriseUser]


class StoredUser(Protocol):
    """What a user document is made from: a ``models.User``, or a row of its columns by the
    same names (users_repo.find_by_key). ``user_document`` reads these, and the columns of
    ``USER_ATTRIBUTES`` by name."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def last_name(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def emails(self) -> list[dict[str, Any]] | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def phone_numbers(self) -> list[dict[str, Any]] | None: ...
    @property
    def status(self) -> UserStatus: ...
    @property
    def manager_id(self) -> uuid.UUID | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def modified_at(self) -> datetime: ...
    @property
    def version(self) -> int: ...


# A resource as it is sent: what scim2-models would dump for it, built without it.
Document = dict[str, Any]
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# SCIM attribute → the domain field it is stored in (a field of NewUser / UserPatch), in the
# order the schema lists them (which is the order responses list them).
USER_ATTRIBUTES: dict[str, str] = {
    "externalId": "external_id",
    "userName": "username",
    "name.familyName": "last_name",
    "name.givenName": "first_name",
    "displayName": "display_name",
    "title": "title",
    "locale": "locale",
    "active": "status",
    "emails": "emails",
    "phoneNumbers": "phone_numbers",
    f"{ENTERPRISE_URN}:employeeNumber": "employee_number",
    f"{ENTERPRISE_URN}:costCenter": "cost_center",
    f"{ENTERPRISE_URN}:organization": "organization",
    f"{ENTERPRISE_URN}:division": "division",
    f"{ENTERPRISE_URN}:department": "department",
    f"{ENTERPRISE_URN}:manager": "manager_id",
}
# The same for groups; members are the group's memberships.
GROUP_ATTRIBUTES: dict[str, str] = {
    "displayName": "name",
    "externalId": "external_id",
    "members": "members",
}
# Domain fields SCIM sets through another attribute: the primary email and phone number.
_DERIVED = {"email": "emails", "phone": "phone_numbers"}

# The same tables read the other way: domain field → the SCIM attribute it is sent as
# (enterprise ones by their short name), for naming fields in errors.
SCIM_NAMES = {
    field: attribute.removeprefix(f"{ENTERPRISE_URN}:")
    for attribute, field in (*USER_ATTRIBUTES.items(), *GROUP_ATTRIBUTES.items())
}
SCIM_NAMES.update({field: SCIM_NAMES[via] for field, via in _DERIVED.items()})


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


def _when(value: datetime) -> str:
    """A stored (UTC) time as scim2-models writes it: ISO 8601 with ``Z``."""
    return value.isoformat().replace("+00:00", "Z")


def _meta(
    kind: str, location: str, created: datetime, modified: datetime, version: int
) -> dict[str, Any]:
    return {
        "resourceType": kind,
        "created": _when(created),
        "lastModified": _when(modified),
        "location": location,
        "version": etag(version),
    }


# Where each attribute the table stores as is goes in a document: (parent key or None, key,
# domain field). The others are shaped on the way out (_user_shaped).
_SHAPED = frozenset({"active", "emails", "phoneNumbers", f"{ENTERPRISE_URN}:manager"})
_USER_PLAIN: list[tuple[str | None, str, str]] = []
for _attribute, _field in USER_ATTRIBUTES.items():
    if _attribute not in _SHAPED:
        _urn, _, _path = _attribute.rpartition(":")
        _parent, _, _key = _path.rpartition(".")
        _USER_PLAIN.append((_urn or _parent or None, _key, _field))
# Contact types as the schema spells them (scim2-models writes "Work" as "work").
_CONTACT_TYPES = {str(t.value).lower(): str(t.value) for t in (*Email.Type, *PhoneNumber.Type)}
_CONTACT_KEYS = ("value", "display", "type", "primary")


def _contact_documents(
    contacts: list[dict[str, Any]] | None, primary: str | None
) -> list[dict[str, Any]]:
    out = []
    for contact in _kept(contacts, primary):
        entry = {k: contact[k] for k in _CONTACT_KEYS if contact.get(k) is not None}
        if "type" in entry:
            entry["type"] = _CONTACT_TYPES.get(entry["type"].lower(), entry["type"])
        out.append(entry)
    return out


def user_document(
    user: StoredUser, groups: list[tuple[uuid.UUID, str]], base: str
) -> dict[str, Any]:
    """The user as SCIM sends it, straight from the row: what scim2-models would dump for the
    same resource (tests/api/scim/test_mapping.py holds the two together), without
    validating again what the store returned. ``groups``: (id, name) of its groups."""
    sections: dict[str | None, dict[str, Any]] = {None: {}, "name": {}, ENTERPRISE_URN: {}}
    if formatted := full_name(user.first_name, user.last_name):
        sections["name"]["formatted"] = formatted
    for section, key, field in _USER_PLAIN:
        value = getattr(user, field)
        if value is not None:
            sections[section][key] = value
    plain, name, enterprise = sections[None], sections["name"], sections[ENTERPRISE_URN]
    doc: dict[str, Any] = {"schemas": [ScimUser.__schema__], "id": str(user.id)}
    if "externalId" in plain:
        doc["externalId"] = plain.pop("externalId")
    doc["meta"] = _meta(
        "User", f"{base}/Users/{user.id}", user.created_at, user.modified_at, user.version
    )
    doc["userName"] = plain.pop("userName")
    if name:
        doc["name"] = name
    doc.update(plain)
    doc["active"] = user.status == UserStatus.active
    if emails := _contact_documents(user.emails, user.email):
        doc["emails"] = emails
    if phones := _contact_documents(user.phone_numbers, user.phone):
        doc["phoneNumbers"] = phones
    if groups:
        doc["groups"] = [
            {"value": str(gid), "$ref": f"{base}/Groups/{gid}", "display": title, "type": "direct"}
            for gid, title in groups
        ]
    if user.manager_id is not None:
        enterprise["manager"] = {
            "value": str(user.manager_id),
            "$ref": f"{base}/Users/{user.manager_id}",
        }
    if enterprise:
        doc["schemas"].append(ENTERPRISE_URN)
        doc[ENTERPRISE_URN] = enterprise
    return doc


def user_to_scim(user: StoredUser, groups: list[tuple[uuid.UUID, str]], base: str) -> ScimUser:
    """The user as a scim2-models resource, for what needs its semantics (PATCH, the
    attributes a client asks for)."""
    return ScimUser.model_validate(user_document(user, groups, base))


def _kept(contacts: list[dict[str, Any]] | None, primary: str | None) -> list[dict[str, Any]]:
    """A user's emails or phone numbers as the client sent them; a user made through another
    API has only its primary, shown as the work one."""
    if contacts:
        return contacts
    return [{"value": primary, "type": "work", "primary": True}] if primary else []


def _contacts(values: list[Any] | None) -> tuple[Contact, ...] | None:
    """Emails or phone numbers as the domain keeps them (plain text: scim2-models holds a
    type as a string enum, spelt canonically when it is one of the schema's values)."""
    if values is None:
        return None
    return tuple(
        Contact(
            value=str(v.value) if v.value is not None else "",
            type=str(v.type) if v.type is not None else None,
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


@functools.cache
def _field_names(model: type[BaseModel]) -> dict[str, str]:
    """A scim2-models model's Python field names, by SCIM attribute name."""
    return {f.serialization_alias or name: name for name, f in model.model_fields.items()}


def _read(resource: BaseModel, attribute: str) -> Any:
    """The value of one attribute of the wire table (``userName``, ``name.givenName``,
    ``urn:…:User:manager``) in ``resource``; None where a parent is absent."""
    urn, _, path = attribute.rpartition(":")
    node: Any = resource
    for name in ([urn] if urn else []) + path.split("."):
        if node is None:
            return None
        model: type[BaseModel] = type(node)
        node = getattr(node, _field_names(model)[name])
    return node


def user_fields(resource: ScimUser, current: UserStatus | None) -> dict[str, Any]:
    """Every domain field SCIM owns, as ``resource`` states it (absent means cleared)."""
    fields = {field: _read(resource, attribute) for attribute, field in USER_ATTRIBUTES.items()}
    return user_fields_of(fields, current)


def user_fields_of(fields: dict[str, Any], current: UserStatus | None) -> dict[str, Any]:
    """``user_fields`` from the values of the wire table's attributes, by domain field, as
    scim2-models reads them (contacts with ``value``, ``type``, ``primary`` and ``display``;
    the manager a ``Manager``): what a body read without it (``plain_users``) shares."""
    if not fields["username"] or not fields["username"].strip():
        raise Invalid("userName is required", code="invalidValue")
    manager: Manager | None = fields["manager_id"]
    return {
        **fields,
        "emails": _contacts(fields["emails"]),
        "phone_numbers": _contacts(fields["phone_numbers"]),
        "status": desired_status(fields["status"], current),
        "manager_id": _uuid(manager.value, "manager") if manager and manager.value else None,
    }


def group_document(
    group: GroupRow, members: list[tuple[uuid.UUID, str]] | None, base: str
) -> dict[str, Any]:
    """The group as SCIM sends it, straight from the row (as ``user_document``); ``members``:
    (id, userName) of its members, or None when they are not wanted."""
    doc: dict[str, Any] = {"schemas": [Group.__schema__], "id": str(group.id)}
    if group.external_id is not None:
        doc["externalId"] = group.external_id
    doc["meta"] = _meta(
        "Group", f"{base}/Groups/{group.id}", group.created_at, group.modified_at, group.version
    )
    doc["displayName"] = group.name
    if members:
        doc["members"] = [
            {"value": str(uid), "$ref": f"{base}/Users/{uid}", "type": "User", "display": name}
            for uid, name in members
        ]
    return doc


def group_to_scim(group: GroupRow, members: list[tuple[uuid.UUID, str]] | None, base: str) -> Group:
    """The group as a scim2-models resource, for PATCH and requested attributes."""
    return Group.model_validate(group_document(group, members, base))


def group_fields(resource: Group) -> tuple[dict[str, Any], list[uuid.UUID]]:
    """The group's own fields and its member ids, as ``resource`` states them."""
    if not resource.display_name or not resource.display_name.strip():
        raise Invalid("displayName is required", code="invalidValue")
    fields = {field: _read(resource, attribute) for attribute, field in GROUP_ATTRIBUTES.items()}
    members: list[GroupMember] = fields.pop("members") or []
    return fields, [
        member_id for m in members if (member_id := _uuid(m.value, "member")) is not None
    ]


# The attribute-less marker schema Microsoft's SCIM guide (and Entra's classic client) puts in
# a Group body next to the core schema: no extension, so nothing of it to validate or keep.
ENTRA_GROUP_MARKER = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


@functools.cache
def _attribute_names(model: type[BaseModel]) -> dict[str, str]:
    """A scim2-models model's attribute names (extension URNs included) as its schema spells
    them, by folded name."""
    return {
        (f.serialization_alias or name).lower(): f.serialization_alias or name
        for name, f in model.model_fields.items()
    }


@functools.cache
def _schema_names(model: type[BaseModel]) -> dict[str, str]:
    """The schema URNs a resource or message of ``model`` may list, by folded spelling."""
    extensions = model.get_extension_models() if issubclass(model, Resource) else {}
    return {urn.lower(): urn for urn in (getattr(model, "__schema__", None), *extensions) if urn}


def _canonical(value: Any, model: type[BaseModel]) -> Any:
    """``value``'s keys, and the URNs it lists in ``schemas``, spelt as ``model``'s schema
    names them. RFC 7643 §2.1 makes attribute names case-insensitive: scim2-models reads
    them so, but compares ``schemas`` exactly, and this module's own lookups are exact."""
    if not isinstance(value, dict):
        return value
    names = _attribute_names(model)
    value = {(names.get(k.lower(), k) if isinstance(k, str) else k): v for k, v in value.items()}
    if isinstance(value.get("schemas"), list):
        urns = _schema_names(model)
        value["schemas"] = [
            urns.get(s.lower(), s) if isinstance(s, str) else s for s in value["schemas"]
        ]
    return value


def _is(key: Any, name: str) -> bool:
    return isinstance(key, str) and key.lower() == name.lower()


def normalize_group_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Tolerate what real IdPs send in a Group body before strict validation: Entra's marker
    schema is dropped."""
    payload = _canonical(payload, Group)
    schemas = payload.get("schemas")
    if not isinstance(schemas, list):
        return payload
    kept = [s for s in schemas if not _is(s, ENTRA_GROUP_MARKER)]
    return {**payload, "schemas": kept} if len(kept) != len(schemas) else payload


def _normalize_manager(value: Any) -> Any:
    """The manager as the schema wants it, one object with ``value`` and ``$ref``, from what
    IdPs send: a bare id (Entra ID), an object without ``$ref`` or a one-element list of one
    (Okta). An empty list or id is no manager."""
    if isinstance(value, list) and len(value) <= 1:
        value = value[0] if value else None
    if isinstance(value, str):
        value = {"value": value} if value.strip() else None
    if isinstance(value, dict):
        value = _canonical(value, Manager)
        if not value.get("value") and not value.get("$ref"):
            return None
        if value.get("value") and not value.get("$ref"):
            return {**value, "$ref": f"../Users/{value['value']}"}
    return value


def _normalize_enterprise(value: Any) -> Any:
    value = _canonical(value, EnterpriseUser)
    if isinstance(value, dict) and "manager" in value:
        return {**value, "manager": _normalize_manager(value["manager"])}
    return value


def normalize_user_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Tolerate what real IdPs send in a User body before strict validation: names and
    schemas in any case, the manager in any of its shapes."""
    payload = _canonical(payload, ScimUser)
    if ENTERPRISE_URN in payload:
        payload[ENTERPRISE_URN] = _normalize_enterprise(payload[ENTERPRISE_URN])
    return payload


# Enterprise attribute names as the schema spells them, by folded name.
_ENTERPRISE_ATTRS = {
    folded: name for folded, name in _attribute_names(EnterpriseUser).items() if name != "schemas"
}


def _enterprise_path(path: str) -> str:
    """A path or key with its URN: Entra ID names enterprise attributes without it
    (``manager``, ``Department``, ``manager.value``)."""
    head = path.split(".")[0].split("[")[0]
    if ":" in path or head.lower() not in _ENTERPRISE_ATTRS:
        return path
    return f"{ENTERPRISE_URN}:{_ENTERPRISE_ATTRS[head.lower()]}{path[len(head) :]}"


def _is_manager(path: str) -> bool:
    return _is(path, f"{ENTERPRISE_URN}:manager")


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


def _normalize_operation(op: Any) -> Any:
    if not isinstance(op, dict):
        return op
    path, value = op.get("path"), op.get("value")
    if isinstance(path, str):
        path = _enterprise_path(path)
        if not _is_manager(path):
            return {**op, "path": path}
        value = _normalize_manager(value)
        if value is None or _is(op.get("op"), "remove"):
            # Removing the manager, adding Okta's empty list or Entra's empty id: it is cleared.
            return {"op": "remove", "path": path}
        return {**op, "path": path, "value": value}
    if not isinstance(value, dict):
        return op
    normalized: dict[str, Any] = {}
    for key, item in value.items():
        key = _enterprise_path(key) if isinstance(key, str) else key
        if _is(key, ENTERPRISE_URN):
            normalized[ENTERPRISE_URN] = _normalize_enterprise(item)
        elif isinstance(key, str) and _is_manager(key):
            normalized[key] = _normalize_manager(item)
        else:
            normalized[key] = item
    return {**op, "value": normalized}


def normalize_user_patch(payload: dict[str, Any]) -> dict[str, Any]:
    """Entra ID's and Okta's PATCH dialects: enterprise attributes without their URN, the
    manager in any of its shapes, and dotted, filtered or URN-prefixed keys in a path-less
    value."""
    payload = _canonical(payload, PatchOp)
    operations = payload.get("Operations")
    if not isinstance(operations, list):
        return payload
    return {
        **payload,
        "Operations": [
            _normalize_operation(o)
            for op in operations
            for o in _split_filtered_keys(_canonical(op, PatchOperation))
        ],
    }
