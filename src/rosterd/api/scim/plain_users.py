"""SCIM users in the shape IdPs send most, read without scim2-models' validation.

scim2-models validates a User body in about 140 us of CPU (its SCIM context checks of every
field, each address through email-validator): a sixth of what a SCIM create costs the server.
A body made only of the attributes below, each of the JSON type the schema gives it, with
plainly simple email addresses and canonical contact types, is read here by msgspec in a few
microseconds into the same command: a creation's, or a replacement's by PUT (scim2-models
reads both alike). Any other body (another attribute, another type, an address
email-validator must judge, the manager, a type spelt otherwise) is not read here:
``rosterd.api.scim.users`` gives it to scim2-models, which accepts or refuses it as before.
tests/api/scim/test_plain_users.py holds the two to the same command over a corpus of bodies.

Bodies arrive as ``mapping.normalize_user_payload`` leaves them: top-level and enterprise
attribute names and schema URNs spelt as the schema spells them.
"""

from __future__ import annotations

from typing import Any

import msgspec
from scim2_models import Email, PhoneNumber

from rosterd.api.scim.mapping import ENTERPRISE_URN, user_fields_of
from rosterd.domain import rules
from rosterd.domain.commands import NewUser
from rosterd.models import UserStatus

CORE_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
_SCHEMAS = frozenset({CORE_URN, ENTERPRISE_URN})
_EMAIL_TYPES = frozenset(str(t.value) for t in Email.Type)
_PHONE_TYPES = frozenset(str(t.value) for t in PhoneNumber.Type)


class _Strict(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """A part of a plain body: an attribute it does not list makes the body not plain."""


class _Contact(_Strict):
    value: str
    type: str | None = None
    primary: bool | None = None
    display: str | None = None


class _Name(_Strict):
    given_name: str | None = None
    family_name: str | None = None
    # Kept by neither reading (a user's name is its given and family names).
    formatted: str | None = None


class _Enterprise(_Strict):
    employee_number: str | None = None
    cost_center: str | None = None
    organization: str | None = None
    division: str | None = None
    department: str | None = None


class _Meta(_Strict):
    resource_type: str


class _PlainUser(
    msgspec.Struct,
    forbid_unknown_fields=True,
    rename={
        "user_name": "userName",
        "external_id": "externalId",
        "display_name": "displayName",
        "phone_numbers": "phoneNumbers",
        "enterprise": ENTERPRISE_URN,
    },
):
    schemas: list[str]
    user_name: str
    external_id: str | None = None
    name: _Name | None = None
    display_name: str | None = None
    title: str | None = None
    locale: str | None = None
    active: bool | None = None
    emails: list[_Contact] | None = None
    phone_numbers: list[_Contact] | None = None
    enterprise: _Enterprise | None = None
    # What Okta and Entra ID send beside the attributes that neither reading keeps: the id
    # (Okta's PUT), Okta's initial password and empty groups, Entra's meta and empty roles
    # (read-only or not stored). Entries in groups or roles are left to scim2-models, which
    # checks their shape.
    id: str | None = None
    password: str | None = None
    groups: list[Any] | None = None
    roles: list[Any] | None = None
    meta: _Meta | None = None


def _contacts(
    contacts: list[_Contact] | None, types: frozenset[str], *, addresses: bool
) -> list[_Contact] | None:
    """The entries with each address in its normal form; None when one is not plain, or
    when more than one is primary (scim2-models refuses that, RFC 7643 §2.4)."""
    if contacts is None or sum(bool(c.primary) for c in contacts) > 1:
        return None
    kept = []
    for contact in contacts:
        if contact.type is not None and contact.type not in types:
            return None
        if addresses:
            value = rules.plain_email(contact.value, globally_deliverable=True)
            if value is None:
                return None
            contact = msgspec.structs.replace(contact, value=value)
        kept.append(contact)
    return kept


def new_user(payload: dict[str, Any]) -> NewUser | None:
    """The creation ``payload`` asks for, or None when it is not plain (see the module)."""
    fields = user_fields(payload, None)
    return None if fields is None else NewUser(**fields)


def user_fields(payload: dict[str, Any], current: UserStatus | None) -> dict[str, Any] | None:
    """``mapping.user_fields`` of the resource ``payload`` states (a creation's, or a
    replacement's of a user of status ``current``), or None when it is not plain."""
    try:
        # Keys as plain strings: the normalised extension's is scim2-models' URN, a subclass.
        body = msgspec.convert({str(k): v for k, v in payload.items()}, _PlainUser, strict=True)
    except msgspec.ValidationError:
        return None
    schemas = set(body.schemas)
    if CORE_URN not in schemas or not schemas <= _SCHEMAS or body.groups or body.roles:
        return None
    emails = _contacts(body.emails, _EMAIL_TYPES, addresses=True)
    phones = _contacts(body.phone_numbers, _PHONE_TYPES, addresses=False)
    if (emails is None) != (body.emails is None) or (phones is None) != (
        body.phone_numbers is None
    ):
        return None
    name, enterprise = body.name or _Name(), body.enterprise or _Enterprise()
    fields = {
        "external_id": body.external_id,
        "username": body.user_name,
        "last_name": name.family_name,
        "first_name": name.given_name,
        "display_name": body.display_name,
        "title": body.title,
        "locale": body.locale,
        "status": body.active,
        "emails": emails,
        "phone_numbers": phones,
        "employee_number": enterprise.employee_number,
        "cost_center": enterprise.cost_center,
        "organization": enterprise.organization,
        "division": enterprise.division,
        "department": enterprise.department,
        "manager_id": None,
    }
    return user_fields_of(fields, current)
