"""A SCIM user read plainly (rosterd.api.scim.plain_users) is the user scim2-models reads:
over a corpus of bodies (the common shapes IdPs send, each changed one way at a time towards
what scim2-models refuses, rewrites or must judge), the plain reading either declines or
gives exactly scim2-models' command, or its refusal, for a creation (POST) and for a
replacement (PUT) of a user of each status."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from scim2_models import Context

from rosterd.api.scim import mapping, plain_users
from rosterd.api.scim.errors import reading_request
from rosterd.api.scim.policy import REQUEST_POLICY
from rosterd.api.scim.users import new_user, validated_new_user
from rosterd.models import UserStatus
from tests.api.scim.support import ENTERPRISE, OKTA_REFERENCE_USER, USER_SCHEMA
from tests.domain.test_rules import _TRICKY_ADDRESSES

BENCH = {
    "schemas": [USER_SCHEMA],
    "userName": "bench-1a2b-1-7@example.com",
    "name": {"givenName": "Bench", "familyName": "User"},
    "emails": [{"value": "bench-1a2b-1-7@example.com", "type": "work", "primary": True}],
    "active": True,
}
ENTRA = {
    "schemas": [USER_SCHEMA, ENTERPRISE],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_ab3e@contoso.com",
    "active": True,
    "displayName": "Test User",
    "emails": [{"primary": True, "type": "work", "value": "Test_User_ab3e@contoso.com"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "Test User", "familyName": "User", "givenName": "Test"},
    "title": "Engineer",
    "roles": [],
    "phoneNumbers": [
        {"type": "work", "value": "(425) 555-0100", "primary": True},
        {"type": "mobile", "value": "+1 425 555 0101"},
    ],
    ENTERPRISE: {
        "department": "Research",
        "employeeNumber": "E1",
        "costCenter": "CC1",
        "organization": "Contoso",
        "division": "R&D",
    },
}
# Fixed, so that every pytest-xdist worker collects the same test ids.
SOME_ID = "6b0f36d4-5a3c-4d0e-9a43-2a3f1c9e8b71"
MINIMAL = {"schemas": [USER_SCHEMA], "userName": "minimal"}
COMMON = {
    "bench": BENCH,
    "okta": OKTA_REFERENCE_USER,
    "okta with an upper-case domain": {
        **OKTA_REFERENCE_USER,
        "emails": [{"primary": True, "value": "Isaac.Brock@Example.COM", "type": "work"}],
    },
    "entra": ENTRA,
    "minimal": MINIMAL,
}

Change = Callable[[dict[str, Any]], None]


def _set(key: str, value: Any) -> Change:
    def change(body: dict[str, Any]) -> None:
        body[key] = value

    return change


def _drop(key: str) -> Change:
    return lambda body: body.pop(key, None)


def _email(**entry: Any) -> Change:
    def change(body: dict[str, Any]) -> None:
        body["emails"] = [{"value": "jane@example.com", "type": "work", "primary": True, **entry}]

    return change


def _phone(**entry: Any) -> Change:
    return _set("phoneNumbers", [{"value": "555-0100", "type": "work", **entry}])


def _enterprise(listed: bool = True, **attributes: Any) -> Change:
    def change(body: dict[str, Any]) -> None:
        body[ENTERPRISE] = attributes
        body["schemas"] = [USER_SCHEMA, ENTERPRISE] if listed else [USER_SCHEMA]

    return change


CHANGES: dict[str, Change] = {
    "as is": lambda body: None,
    **{f"email {a!r}": _email(value=a) for a in _TRICKY_ADDRESSES},
    **{f"email type {t!r}": _email(type=t) for t in ("home", "other", "Work", "mobile", "x", 5)},
    **{f"email primary {p!r}": _email(primary=p) for p in (False, None, "true", 1)},
    "email display": _email(display="Jane"),
    "email display not text": _email(display=5),
    "email value null": _email(value=None),
    "email unknown key": _email(verified=True),
    "email key in another case": lambda body: body.update(
        emails=[{"Value": "jane@example.com", "type": "work"}]
    ),
    "two emails": _set(
        "emails",
        [{"value": "a@example.com", "primary": False}, {"value": "b@example.com", "primary": True}],
    ),
    "two primary emails": _set(
        "emails",
        [{"value": "a@example.com", "primary": True}, {"value": "b@example.com", "primary": True}],
    ),
    "no emails": _set("emails", []),
    "emails null": _set("emails", None),
    "emails not a list": _set("emails", {"value": "a@example.com"}),
    **{f"phone {v!r}": _phone(value=v) for v in ("", "+14155550100", "tel:+1-201-555-0123", 5)},
    **{f"phone type {t!r}": _phone(type=t) for t in ("mobile", "fax", "pager", "Mobile", "cell")},
    "phone unknown key": _phone(extension="12"),
    **{f"active {a!r}": _set("active", a) for a in (False, None, "True", "false", 1, 0)},
    **{f"userName {u!r}": _set("userName", u) for u in ("", "  ", None, 5, " x ", "ü", "a\x00b")},
    "no userName": _drop("userName"),
    **{
        f"schemas {s!r}": _set("schemas", s)
        for s in (
            [],
            [ENTERPRISE],
            [USER_SCHEMA, USER_SCHEMA],
            [USER_SCHEMA.lower()],
            [USER_SCHEMA, "urn:example:other"],
            USER_SCHEMA,
            [USER_SCHEMA, 5],
        )
    },
    "no schemas": _drop("schemas"),
    **{
        f"name {n!r}": _set("name", n)
        for n in (
            None,
            {},
            {"givenName": 5},
            {"middleName": "Q"},
            {"formatted": "A B"},
            {"givenname": "A"},
            {"givenName": "", "familyName": ""},
            "A B",
        )
    },
    **{
        f"{key} {value!r}": _set(key, value)
        for key, value in (
            ("displayName", ""),
            ("displayName", 5),
            ("title", None),
            ("title", ["x"]),
            ("locale", "not a locale"),
            ("externalId", ""),
            ("externalId", 5),
            ("id", SOME_ID),
            ("id", 5),
            ("meta", {"resourceType": "Group"}),
            ("meta", {"resourceType": "User", "created": "2020-01-01T00:00:00Z"}),
            ("meta", "User"),
            ("groups", [{"value": SOME_ID}]),
            ("groups", [5]),
            ("roles", [{"value": "admin"}]),
            ("roles", [5]),
            ("meta", {"resourceType": 5}),
            ("password", 5),
            ("password", ""),
            ("nickName", "J"),
            ("x-unknown", 1),
            ("USERNAME", "shouting"),
            ("Active", False),
        )
    },
    "enterprise": _enterprise(department="R", costCenter="1"),
    "enterprise not listed": _enterprise(listed=False, department="R"),
    "enterprise listed, absent": _set("schemas", [USER_SCHEMA, ENTERPRISE]),
    "enterprise key in another case": _enterprise(Department="R"),
    "enterprise manager": _enterprise(manager={"value": SOME_ID}),
    "enterprise bare manager": _enterprise(manager=SOME_ID),
    "enterprise manager not an id": _enterprise(manager="nobody"),
    "enterprise not text": _enterprise(department=5),
    "enterprise unknown key": _enterprise(badge="7"),
    "enterprise not an object": _set(ENTERPRISE, "R"),
}


def _outcome(read: Callable[[dict[str, Any]], Any], body: dict[str, Any]) -> Any:
    try:
        return read(mapping.normalize_user_payload(copy.deepcopy(body)))
    except Exception as exc:
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
@pytest.mark.parametrize("base", COMMON.values(), ids=COMMON.keys())
def test_the_plain_reading_declines_or_agrees_with_scim2_models(
    base: dict[str, Any], change: Change
) -> None:
    body = copy.deepcopy(base)
    change(body)
    plain = _outcome(plain_users.new_user, body)
    if plain is not None:
        assert plain == _outcome(validated_new_user, body)
    # Whichever reads it, the endpoint's answer is scim2-models'.
    assert _outcome(lambda b: new_user(b), body) == _outcome(validated_new_user, body)


def _replaced(current: UserStatus) -> Callable[[dict[str, Any]], Any]:
    """What PUT makes of a body for a user of status ``current``, through scim2-models."""

    def read(body: dict[str, Any]) -> Any:
        with reading_request(REQUEST_POLICY):
            resource = mapping.ScimUser.model_validate(
                body, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
            )
        return mapping.user_fields(resource, current)

    return read


@pytest.mark.parametrize("current", list(UserStatus))
@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
@pytest.mark.parametrize("base", COMMON.values(), ids=COMMON.keys())
def test_a_replacement_read_plainly_is_scim2_models_replacement(
    base: dict[str, Any], change: Change, current: UserStatus
) -> None:
    body = copy.deepcopy(base)
    change(body)
    plain = _outcome(lambda b: plain_users.user_fields(b, current), body)
    if plain is not None:
        assert plain == _outcome(_replaced(current), body)


@pytest.mark.parametrize("base", COMMON.values(), ids=COMMON.keys())
def test_the_common_shapes_are_read_plainly(base: dict[str, Any]) -> None:
    read = plain_users.new_user(mapping.normalize_user_payload(copy.deepcopy(base)))
    assert read is not None
    assert read == validated_new_user(mapping.normalize_user_payload(copy.deepcopy(base)))


def test_the_plain_reading_keeps_what_each_attribute_says() -> None:
    read = plain_users.new_user(mapping.normalize_user_payload(copy.deepcopy(ENTRA)))
    assert read is not None
    assert (read.username, read.first_name, read.last_name) == (
        "Test_User_ab3e@contoso.com",
        "Test",
        "User",
    )
    assert (read.display_name, read.title, read.external_id) == (
        "Test User",
        "Engineer",
        ENTRA["externalId"],
    )
    assert (read.department, read.employee_number, read.cost_center) == ("Research", "E1", "CC1")
    assert (read.organization, read.division) == ("Contoso", "R&D")
    assert [(c.value, c.type, c.primary) for c in read.phone_numbers or ()] == [
        ("(425) 555-0100", "work", True),
        ("+1 425 555 0101", "mobile", False),
    ]
    okta = plain_users.new_user(
        mapping.normalize_user_payload(copy.deepcopy(COMMON["okta with an upper-case domain"]))
    )
    assert okta is not None
    # The address as email-validator writes it: its domain in lower case.
    assert [c.value for c in okta.emails or ()] == ["Isaac.Brock@example.com"]
