"""The value rules every surface, the importer and both databases share (no store needed)."""

from __future__ import annotations

import random

import email_validator
import phonenumbers
import pytest

from rosterd.domain import rules
from rosterd.models import Group, UserStatus
from rosterd.services.errors import Invalid


def _refused(call: object, *args: object) -> Invalid:
    with pytest.raises(Invalid) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ÄNNA@x.com", "änna@x.com"),
        ("STRASSE", "straße"),
        # The same letter composed and decomposed (NFC).
        ("Zoë", "Zoe\u0308"),
        ("ǅemal", "ǆemal"),
    ],
)
def test_fold_makes_case_and_unicode_form_pairs_one_key(a: str, b: str) -> None:
    assert rules.fold(a) == rules.fold(b)


def test_fold_keeps_different_names_apart() -> None:
    assert rules.fold("anna") != rules.fold("anne")


@pytest.mark.parametrize(
    "address", ["user@okta.local", "jane@corp.test", "a@home.arpa", "x@example.invalid"]
)
def test_special_use_domains_are_addresses(address: str) -> None:
    assert rules.email(address) == address


def test_email_has_one_spelling_per_mailbox() -> None:
    # The domain is lower-cased and punycode decoded, so the API and the importer store one
    # mailbox once whichever way it was spelled.
    assert rules.email("Jane@Bücher.Example") == "Jane@bücher.example"
    assert rules.email("Jane@xn--bcher-kva.example") == "Jane@bücher.example"
    assert rules.email_key("JANE@xn--bcher-kva.example") == rules.email_key("jane@BÜCHER.example")


@pytest.mark.parametrize(
    "address",
    [
        "not-an-email",
        "a@",
        "@b.com",
        # 312 characters: more than an address can have (RFC 5321 §4.5.3.1.3).
        "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".com",
        f"u@{'d' * 300}.com",
        "a\x00b@x.com",
    ],
)
def test_bad_addresses_are_refused_naming_the_field(address: str) -> None:
    err = _refused(rules.email, address)
    assert [d.field for d in err.details] == ["email"]


@pytest.mark.parametrize(
    "phone", ["555-415-1337", "(425) 555-0100", "020 7946 0958", "+49 (0)30 1234567", "ext 12"]
)
def test_phones_are_free_text_kept_as_sent(phone: str) -> None:
    assert rules.phone(phone) == phone


@pytest.mark.parametrize(
    ("phone", "e164"),
    [
        ("+49 (0)30 1234567", "+49301234567"),
        ("tel:+1-201-555-0123", "+12015550123"),
        ("0049 30 1234567", "+49301234567"),
        ("+15555550100", "+15555550100"),
        ("555-415-1337", None),
        ("call me", None),
    ],
)
def test_an_e164_form_is_kept_beside_a_phone_that_has_one(phone: str, e164: str | None) -> None:
    assert rules.e164(phone) == e164


def test_strict_e164_is_only_for_surfaces_that_promise_it() -> None:
    assert rules.strict_e164("+15555550100") == "+15555550100"
    for phone in ("555-415-1337", "+1 555 555 0100"):
        assert [d.field for d in _refused(rules.strict_e164, phone).details] == ["phone"]


def test_text_refuses_nul_and_what_the_column_cannot_hold() -> None:
    assert rules.user_text("Engineer", "title") == "Engineer"
    assert rules.user_text("", "title") is None
    assert "NUL" in _refused(rules.user_text, "Eng\x00ineer", "title").message
    assert "255" in _refused(rules.user_text, "x" * 256, "title").message


def test_usernames_are_nfc_and_not_blank() -> None:
    assert rules.username(" Zoe\u0308 ") == "Zoë"
    assert [d.field for d in _refused(rules.username, "   ").details] == ["username"]


@pytest.mark.parametrize("tag", ["en", "en-US", "zh_Hant_TW", "de-CH-1996"])
def test_locales_are_language_tags(tag: str) -> None:
    assert rules.locale(tag) == tag


@pytest.mark.parametrize("tag", ["en US", "4b3a2e4c-5b1d-4d8e-9a51-3f0e2b6c7d89", "e"])
def test_other_locales_are_refused(tag: str) -> None:
    _refused(rules.locale, tag)


def test_password_policy() -> None:
    assert rules.password("long enough") == "long enough"
    for bad in ("short", "x" * 257, "with\x00nul"):
        _refused(rules.password, bad)


def test_nothing_goes_back_to_pending() -> None:
    assert rules.status_change(UserStatus.pending, UserStatus.active) == UserStatus.active
    assert rules.status_change(UserStatus.inactive, UserStatus.active) == UserStatus.active
    _refused(rules.status_change, UserStatus.active, UserStatus.pending)


def test_preferences_are_any_object_without_nul() -> None:
    prefs = {"theme": "dark", "tabs": ["a", {"b": 1}]}
    assert rules.json_object(prefs, "preferences") == prefs
    _refused(rules.json_object, {"theme": ["da\x00rk"]}, "preferences")
    _refused(rules.json_object, ["not", "an", "object"], "preferences")


def test_group_role_and_team_texts_follow_their_columns() -> None:
    rules.texts(Group, {"name": "Sales", "description": "x" * 2000, "parent_id": None})
    assert "NUL" in _refused(rules.texts, Group, {"external_id": "a\x00"}).message
    assert [d.field for d in _refused(rules.texts, Group, {"name": "n" * 256}).details] == ["name"]


# Addresses at the edges of what email-validator accepts and how it rewrites them: the
# importer's fast path for plain addresses must give exactly its answer, or defer to it.
_TRICKY_ADDRESSES = [
    "jane@example.com",
    "Jane.Doe@Example.COM",
    "jane+tag@example.com",
    "jane+Tag+more@EXAMPLE.com",
    "o'brien@example.ie",
    "a!#$%&'*+-/=?^_`{|}~z@example.com",
    "first.last.12@sub.domain.example",
    "x@localhost",
    "x@LOCALHOST",
    "x@okta.local",
    "x@123.456",
    "x@example.123",
    "x@a-b.example",
    "x@-ab.example",
    "x@ab-.example",
    "x@ab--cd.example",
    "x@xn--bcher-kva.example",
    "x@XN--BCHER-KVA.EXAMPLE",
    "x@xn--invalid.example",
    "x@bücher.example",
    "x@BÜCHER.example",
    "x@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # full-width letters
    "x@example.com.",
    "x@.example.com",
    "x@example..com",
    "x.@example.com",
    ".x@example.com",
    "x..y@example.com",
    '"quoted"@example.com',
    '"with space"@example.com',
    '"a@b"@example.com',
    "Jane Doe <jane@example.com>",
    "<jane@example.com>",
    "jane@[192.0.2.1]",
    "jane@example.com ",
    " jane@example.com",
    "jane@example.com\n",
    "jane@@example.com",
    "jane@example@com",
    "jäne@example.com",
    "Jane\u0301@example.com",
    "ñ@example.com",
    "POSTMASTER@example.com",
    "Info@Example.com",
    "Sales.Team@example.com",
    "abuse+x@example.com",
    "jane@ex_ample.com",
    "jane@exa mple.com",
    "jane@example.c",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "x@" + "a" * 63 + ".example",
    "x@" + "a" * 64 + ".example",
    "x@" + ".".join(["a" * 60] * 4) + ".example",
    "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".co",
    "a" * 64 + "@" + ".".join(["b" * 61] * 3) + ".co",
    "jane\uff20example.com",  # the full-width at-sign
    "",
    "@",
    "jane",
    "jane@",
    "@example.com",
]


def _validator_answer(address: str) -> str | Exception:
    try:
        return email_validator.validate_email(
            address, check_deliverability=False, globally_deliverable=False
        ).normalized
    except email_validator.EmailNotValidError as exc:
        return exc


@pytest.mark.parametrize("address", _TRICKY_ADDRESSES)
def test_plain_address_fast_path_gives_email_validators_answer(address: str) -> None:
    expected = _validator_answer(address)
    fast = rules.plain_email(address)
    if fast is not None:
        assert fast == expected
    if isinstance(expected, Exception):
        with pytest.raises(Invalid) as refused:
            rules.email(address)
        assert refused.value.details[0].message == str(expected)
    else:
        assert rules.email(address) == expected


def test_the_fast_path_takes_the_plain_addresses_an_import_is_made_of() -> None:
    # Not vacuous: ordinary addresses, however spelled, do skip email-validator.
    for address in ("jane.doe+crm@Example.COM", "o'brien@sub.example.ie", "x@okta.local"):
        assert rules.plain_email(address) == _validator_answer(address)


@pytest.mark.parametrize("address", _TRICKY_ADDRESSES)
def test_plain_deliverable_address_gives_email_validators_default_answer(address: str) -> None:
    # As pydantic's EmailStr asks it (SCIM's emails, rosterd.api.scim.plain_users).
    fast = rules.plain_email(address, globally_deliverable=True)
    if fast is not None:
        assert (
            fast == email_validator.validate_email(address, check_deliverability=False).normalized
        )


def test_plain_deliverable_addresses_need_a_domain_with_a_period_ending_in_a_letter() -> None:
    assert rules.plain_email("Jane.Doe@Example.COM", globally_deliverable=True) == (
        "Jane.Doe@example.com"
    )
    for address in ("x@localhost", "x@example.123"):
        assert rules.plain_email(address) is not None
        assert rules.plain_email(address, globally_deliverable=True) is None


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+12025550100", "+12025550100"),
        ("+1 202 555 0100", "+12025550100"),
        ("0044 20 7183 8750", "+442071838750"),
        ("tel:+44-20-7183-8750", "+442071838750"),
        ("555", None),
        ("+1 555", None),
    ],
)
def test_e164_answers_the_same_when_asked_again(number: str, expected: str | None) -> None:
    # The second answer comes from the cache.
    assert rules.e164(number) == expected
    assert rules.e164(number) == expected


def _phone_corpus() -> list[str]:
    """Numbers written as E.164 for every country code, with every leading digit (national
    prefixes, leading zeros) and every length around the valid ones, and odd spellings."""
    rng = random.Random(11)
    numbers = [
        "+12025550100",
        "+112025550100",
        "+4402071838750",
        "+442071838750",
        "+390612345678",
        "+79161234567",
        "+789161234567",
        "+5491112345678",
        "+5215512345678",
        "+80012345678",
        "+8001234567890123456",
        "+0012025550100",
        "+1",
        "+12",
        "+123",
        "+999123456",
        "+1202555010\uff10",  # a full-width zero
        "+1 202 555 0100",
        "+1-202-555-0100",
        "+1202555010#",
        "+12025550100;ext=5",
    ]
    for country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        for first in "0123456789":
            for length in (1, 3, 6, 8, 9, 10, 11, 12, 15, 17, 18):
                rest = "".join(rng.choice("0123456789") for _ in range(length - 1))
                numbers.append(f"+{country_code}{first}{rest}")
    return numbers


def test_plain_e164_fast_path_gives_phonenumbers_answer() -> None:
    taken = 0
    for number in _phone_corpus():
        fast = rules._plain_e164(number)
        if fast is None:
            continue
        taken += 1
        parsed = phonenumbers.parse(number, None)
        assert fast == parsed, number
        expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        assert rules.e164(number) == (expected if phonenumbers.is_possible_number(parsed) else None)
    # Not vacuous: most plainly written numbers skip parse.
    assert taken > 5000
