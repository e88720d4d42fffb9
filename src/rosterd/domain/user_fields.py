"""A user command's fields as the columns they are stored in, every rule applied.

Shared by the users service (creates and patches through every API) and the importer, so a
value is stored the same way whichever way it came in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rosterd.auth.secrets import hash_password
from rosterd.domain import rules
from rosterd.domain.commands import Contact
from rosterd.models import ExternalIdentity, User
from rosterd.services.errors import invalid_field

_TEXT_FIELDS = (
    "first_name",
    "last_name",
    "display_name",
    "title",
    "department",
    "external_id",
    "employee_number",
    "division",
    "organization",
    "cost_center",
    "identity_key",
)
# Fields of a command that are stored as they are, once checked.
_PLAIN_FIELDS = ("status", "role_id", "team_id", "manager_id", "valid_from", "expires_at")


def primary(contacts: Sequence[Contact]) -> Contact | None:
    """The primary entry of a multi-valued attribute: the one marked so, else the work one,
    else the first (RFC 7643 §2.4 allows one primary at most)."""
    for contact in contacts:
        if contact.primary:
            return contact
    for contact in contacts:
        if contact.type == "work":
            return contact
    return contacts[0] if contacts else None


def _contacts(
    contacts: Sequence[Contact], field_name: str, check: Callable[[str, str], Any]
) -> list[dict[str, Any]]:
    if sum(c.primary for c in contacts) > 1:
        raise invalid_field(field_name, "at most one entry can be primary")
    for contact in contacts:
        check(contact.value, field_name)
        rules.text(contact.type or "", field_name, 64)
        rules.text(contact.display or "", field_name, 255)
    return [c.as_json() for c in contacts]


def _swap_primary(
    stored: list[dict[str, Any]] | None, old: str | None, new: str | None
) -> list[dict[str, Any]] | None:
    """A kept list of contacts after its primary value changed through an API that knows
    only one (v2's email): that entry changes, the others stay."""
    if not stored:
        return stored
    kept = [dict(c) for c in stored]
    current = primary([Contact.of_json(c) for c in kept])
    index = next((i for i, c in enumerate(kept) if current and c["value"] == current.value), None)
    if index is None or old is None or rules.fold(kept[index]["value"]) != rules.fold(old):
        return kept if new is None else [{"value": new, "type": "work", "primary": True}, *kept]
    if new is None:
        del kept[index]
    else:
        kept[index]["value"] = new
    return kept or None


def _kept_and_primary(
    fields_: Mapping[str, Any],
    out: dict[str, Any],
    user: User | None,
    *,
    many: str,
    one: str,
    check: Callable[[str, str], Any],
) -> None:
    """A multi-valued attribute (``emails``) and its primary (``email``), into ``out``.

    Sent as a list (SCIM), every entry is kept as sent and the primary is derived unless
    given; sent alone (the other APIs), the primary replaces its entry in the kept list.
    """
    if fields_.get(many) is not None:
        out[many] = _contacts(fields_[many], many, check) or None
        if fields_.get(one) is None:
            first = primary(fields_[many])
            fields_ = {**fields_, one: first.value if first else None}
    elif many in fields_:
        out[many] = None
        fields_ = {one: None, **fields_}
    if one in fields_:
        out[one] = check(fields_[one], one) if fields_[one] else None
        if user is not None and many not in out:
            out[many] = _swap_primary(getattr(user, many), getattr(user, one), out[one])


def columns(fields_: Mapping[str, Any], user: User | None, *, strict_phone: bool) -> dict[str, Any]:
    """The column values a command's ``fields_`` stand for, every rule applied: what the
    caller sent, normalised, with the keys and primaries derived from it."""
    out: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        if name in fields_:
            out[name] = rules.user_text(fields_[name], name)
    for name in ("first_name", "last_name"):
        if name in out:
            out[f"{name}_key"] = rules.fold(out[name]) if out[name] is not None else None
    for name in _PLAIN_FIELDS:
        if name in fields_:
            out[name] = fields_[name]
    if "username" in fields_:
        out["username"] = rules.username(fields_["username"])
        out["username_key"] = rules.fold(out["username"])
    if "locale" in fields_:
        out["locale"] = rules.locale(fields_["locale"])
    if "preferences" in fields_:
        out["preferences"] = rules.json_object(fields_["preferences"], "preferences")
    _kept_and_primary(fields_, out, user, many="emails", one="email", check=rules.email)
    if "email" in out:
        out["email_key"] = rules.fold(out["email"]) if out["email"] else None
    check_phone = rules.strict_e164 if strict_phone else rules.phone
    _kept_and_primary(fields_, out, user, many="phone_numbers", one="phone", check=check_phone)
    if "phone" in out:
        out["phone_e164"] = rules.e164(out["phone"])
    if fields_.get("password") is not None:
        out["password_hash"] = hash_password(rules.password(fields_["password"]))
    if "external_identities" in fields_:
        limit = rules.column_limit(ExternalIdentity, "identity")
        out["external_identities"] = list(
            dict.fromkeys(
                rules.text(i, "external_identities", limit) for i in fields_["external_identities"]
            )
        )
    return out


def login_name(columns: dict[str, Any]) -> None:
    """A new user's username: the one given, else its (normalised) address."""
    if "username" in columns:
        return
    if not columns.get("email"):
        raise invalid_field("username", "a username or an email is required")
    columns["username"] = rules.username(columns["email"])
    columns["username_key"] = rules.fold(columns["username"])
