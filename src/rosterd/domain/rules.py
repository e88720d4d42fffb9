"""What a valid value is, once for every surface, the importer and both databases.

Each rule takes what a caller sent and returns the value to store, or raises ``Invalid``
naming the domain field. Limits come from the columns, so a value that passes is one both
SQLite and PostgreSQL store unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import email_validator
import phonenumbers
from email_validator.rfc_constants import (
    ATEXT,
    CASE_INSENSITIVE_MAILBOX_NAMES,
    DNS_LABEL_LENGTH_LIMIT,
    DOMAIN_NAME_REGEX,
    EMAIL_MAX_LENGTH,
    HOSTNAME_LABEL,
    LOCAL_PART_MAX_LENGTH,
)
from phonenumbers.phonemetadata import PhoneMetadata
from sqlalchemy import String

from rosterd.models import User, UserStatus
from rosterd.models.base import Base
from rosterd.models.base import fold as fold
from rosterd.services.errors import invalid_field

# Special-use and reserved domains (RFC 6761 and kin) are real in a directory: Okta's own
# SCIM reference body uses okta.local, on-premises AD UPNs end in .local, test tenants use
# .test and home.arpa. email-validator refuses them unless removed from this list, which its
# documentation invites.
email_validator.SPECIAL_USE_DOMAIN_NAMES.clear()

MIN_PASSWORD = 8
MAX_PASSWORD = 256
# RFC 5646 language tags as the APIs use them ("en", "en-US", "zh_Hant_TW").
_LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")


@functools.cache
def column_limit(model: type[Base], name: str) -> int | None:
    """The length limit of a string column, or None (cached: every user field asks)."""
    column_type = model.__table__.columns[name].type
    return column_type.length if isinstance(column_type, String) else None


def text(value: str, field: str, limit: int | None) -> str:
    """Any text: no NUL (PostgreSQL cannot store it), at most ``limit`` characters."""
    if "\x00" in value:
        raise invalid_field(field, "must not contain NUL characters")
    if limit is not None and len(value) > limit:
        raise invalid_field(field, f"at most {limit} characters")
    return value


def texts(model: type[Base], values: Mapping[str, Any]) -> None:
    """Every text among ``values`` (by column name) as ``text`` checks it, with the limit of
    its column in ``model`` (groups, roles, teams)."""
    for name, value in values.items():
        if isinstance(value, str):
            limit = column_limit(model, name) if name in model.__table__.columns else None
            text(value, name, limit)


def user_text(value: str | None, field: str) -> str | None:
    """A free-text user attribute (title, department, names...): stored as sent, except that
    an empty one is no value."""
    if value is None or value == "":
        return None
    return text(value, field, column_limit(User, field))


def username(value: str, field: str = "username") -> str:
    """A login name: NFC, without surrounding white space, not blank."""
    value = unicodedata.normalize("NFC", value).strip()
    if not value.strip():
        raise invalid_field(field, "must not be empty")
    return text(value, field, column_limit(User, "username"))


# A plainly simple address: an ASCII dot-atom local part, "@", ASCII host name labels (the
# patterns are email-validator's own). For one of these, within the lengths below, with no
# "--" in the domain (IDNA rules and punycode), a local part that is not a role mailbox
# email-validator lower-cases and no special-use domain listed, email-validator's normal form
# is the address with its domain lower-cased (UTS-46 maps ASCII upper case to lower case and
# nothing else). tests/domain/test_rules.py compares the two over a corpus of tricky inputs.
_PLAIN_EMAIL = re.compile(
    rf"(?P<local>[{ATEXT}]+(?:\.[{ATEXT}]+)*)@(?P<domain>{HOSTNAME_LABEL}(?:\.{HOSTNAME_LABEL})*)"
)
_ROLE_MAILBOXES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


def plain_email(value: str, *, globally_deliverable: bool = False) -> str | None:
    """The normal form of a plainly simple address, computed without email-validator; None
    when the address is not plainly simple (email-validator then decides).

    ``globally_deliverable`` as email-validator's own flag (True there by default, and so
    for pydantic's ``EmailStr``): the domain must also have a period and end with a letter.
    """
    if len(value) > EMAIL_MAX_LENGTH or email_validator.SPECIAL_USE_DOMAIN_NAMES:
        return None
    match = _PLAIN_EMAIL.fullmatch(value)
    if match is None:
        return None
    local, domain = match.group("local", "domain")
    if (
        len(local) > LOCAL_PART_MAX_LENGTH
        or local.lower() in _ROLE_MAILBOXES
        or "--" in domain
        or any(len(label) > DNS_LABEL_LENGTH_LIMIT for label in domain.split("."))
    ):
        return None
    if globally_deliverable and ("." not in domain or not DOMAIN_NAME_REGEX.search(domain)):
        return None
    return f"{local}@{domain.lower()}"


def _normalised_email(value: str) -> str:
    """email-validator's normal form of an address; raises EmailNotValidError."""
    plain = plain_email(value)
    if plain is not None:
        return plain
    return email_validator.validate_email(
        value, check_deliverability=False, globally_deliverable=False
    ).normalized


def email(value: str, field: str = "email") -> str:
    """An address as email-validator normalises it: the domain lower-cased and in Unicode
    (punycode decoded), so one mailbox has one spelling; special-use domains accepted."""
    text(value, field, column_limit(User, "email"))
    try:
        return _normalised_email(value)
    except email_validator.EmailNotValidError as exc:
        raise invalid_field(field, str(exc)) from exc


def email_key(value: str) -> str:
    """The key an address is found by: its folded normal form, or the folded text when it is
    not an address at all (a filter may ask for anything; it then matches nothing)."""
    with contextlib.suppress(email_validator.EmailNotValidError):
        value = _normalised_email(value)
    return fold(value)


def phone(value: str | None, field: str = "phone") -> str | None:
    """A phone number as free text, stored exactly as sent (RFC 7643 makes E.164 a SHOULD;
    Okta's phones are free text and Entra asks that they be kept as sent)."""
    if value is None or not value.strip():
        return None
    return text(value, field, column_limit(User, "phone"))


def e164(value: str | None) -> str | None:
    """The E.164 form of a phone number when it has one (it names its country: ``+``, ``00``
    or ``tel:+``), else None."""
    return None if value is None else _e164(value)


# A number written as E.164 already: "+", a country code, 2 to 17 digits (phonenumbers'
# national number lengths), nothing else.
_PLAIN_E164 = re.compile(r"\+[1-9][0-9]{2,19}")


# Cached: a directory's free-text numbers (an office's switchboard) recur across its users.
@functools.lru_cache(maxsize=4096)
def _e164(value: str) -> str | None:
    candidate = value.strip()
    if candidate[:4].lower() == "tel:":
        candidate = candidate[4:]
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    plain = _plain_e164(candidate)
    if plain is not None:
        number = plain
    else:
        try:
            number = phonenumbers.parse(candidate, None)
        except phonenumbers.NumberParseException:
            return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _plain_e164(candidate: str) -> phonenumbers.PhoneNumber | None:
    """The number ``phonenumbers.parse`` makes of a plainly written E.164 number, without its
    generic text handling (~15 µs): None when the number is not plain, or its country's
    national prefix could be stripped, or it has a leading zero, and parse then decides.

    For "+" and digits parse extracts nothing but the country code (the first one to three
    digits that name one); it then strips a national prefix only where the country's
    pattern for one matches, and notes leading zeros. Without those, its number is the
    country code and the rest as an integer. tests/domain/test_rules.py compares the two.
    """
    if _PLAIN_E164.fullmatch(candidate) is None:
        return None
    digits = candidate[1:]
    for length in (1, 2, 3):
        country_code = int(digits[:length])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            break
    else:
        return None
    if not 2 <= len(national) <= 17 or national.startswith("0"):
        return None
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    prefix = metadata.national_prefix_for_parsing if metadata is not None else None
    if prefix and re.match(prefix, national):
        return None
    return phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))


def strict_e164(value: str, field: str = "phone") -> str:
    """A phone number where a surface promises E.164: it must already be one."""
    normalised = e164(value)
    if normalised is None or normalised != value:
        raise invalid_field(field, "use E.164: + then country code and number, digits only")
    return value


def locale(value: str | None, field: str = "locale") -> str | None:
    if value is None or not value.strip():
        return None
    text(value, field, column_limit(User, "locale"))
    if not _LOCALE.match(value):
        raise invalid_field(field, f"{value!r} is not a language tag (RFC 5646, e.g. en-US)")
    return value


def password(value: str, field: str = "password") -> str:
    if "\x00" in value:
        raise invalid_field(field, "must not contain NUL characters")
    if not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise invalid_field(field, f"use {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return value


def status_change(current: UserStatus, wanted: UserStatus) -> UserStatus:
    """pending → active ↔ suspended → inactive; nothing goes back to pending."""
    if wanted == UserStatus.pending and current != UserStatus.pending:
        raise invalid_field("status", "a user cannot go back to pending")
    return wanted


def json_object(value: Any, field: str) -> dict[str, Any] | None:
    """A free-form JSON object (preferences): only its text is checked, for NUL."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_field(field, "must be a JSON object")
    _no_nul(value, field)
    return value


def _no_nul(value: Any, field: str) -> None:
    if isinstance(value, str):
        text(value, field, None)
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, field)
            _no_nul(item, field)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item, field)
