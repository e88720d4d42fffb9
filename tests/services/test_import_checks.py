"""The whole-file check and the spool of checked lines."""

from __future__ import annotations

from datetime import UTC, datetime

from rosterd.models import UserStatus
from rosterd.services.import_checks import FileCheck, KnownNames, Spool
from rosterd.services.import_files import RawRecord
from rosterd.services.imports import CheckedGroup, CheckedTeam, CheckedUser


def _raw(line: int, text: str) -> RawRecord:
    return RawRecord(line, text=text)


def test_the_spool_gives_back_the_checked_lines_in_batches() -> None:
    items = [
        CheckedGroup(1, "Sales", "d", None),
        CheckedTeam(2, "Crew", None),
        CheckedUser(
            3,
            {"username": "ann", "username_key": "ann", "email": None},
            "User",
            "crew",
            ["Sales"],
            datetime(2026, 1, 31, 9, tzinfo=UTC),
            UserStatus.suspended,
        ),
        CheckedUser(
            4, {"username": "bob", "username_key": "bob"}, None, None, [], None, UserStatus.active
        ),
    ]
    with Spool(3) as spool:
        for item in items:
            spool.add(item)
        batches = list(spool.read())
    assert [len(b) for b in batches] == [3, 1]
    assert [*batches[0], *batches[1]] == items


def test_store_lookups_tell_existing_users_from_taken_addresses() -> None:
    asked: list[tuple[list[str], list[str]]] = []

    def taken(usernames: list[str], emails: list[str]) -> tuple[set[str], set[str]]:
        asked.append((usernames, emails))
        return {"ann"}, {"bob@corp.example", "ann@corp.example"}

    check = FileCheck(KnownNames(groups={"sales"}), taken=taken)
    lines = [
        '{"type": "user", "username": "Ann", "email": "ann@corp.example"}',
        '{"type": "user", "username": "newbob", "email": "Bob@corp.example"}',
        '{"type": "user", "username": "cy", "groups": ["SALES"]}',
        '{"type": "group", "name": "sales"}',
    ]
    for n, text in enumerate(lines, 1):
        check.add(_raw(n, text))
    problems = check.finish()
    assert [str(p) for p in problems] == [
        "line 2: email: 'bob@corp.example' is another user's address"
    ]
    assert asked == [(["ann", "newbob", "cy"], ["ann@corp.example", "bob@corp.example"])]
    assert (check.expected.existing_users, check.expected.users) == (1, 1)
    assert (check.expected.existing_groups, check.expected.memberships) == (1, 1)
