"""The whole-file check of an import, run before anything is written (and alone by
``--dry-run``): every bad line, with its number and field, not just the first.

Each line is parsed and put through the domain's rules (rosterd.services.imports.check);
then what lines say of each other and of the directory: a group or team named twice in the
file, a username or address on two lines, a group, team or role named before it is defined
(or not at all), a new user whose address another user of the tenant has. The checked items
of the lines still to write go to a ``Spool`` (a private temporary file, a batch a line), so
writing does not parse or check a line a second time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from rosterd.services import imports
from rosterd.services.errors import DomainError
from rosterd.services.import_files import RawRecord
from rosterd.services.imports import (
    Checked,
    CheckedGroup,
    CheckedTeam,
    CheckedUser,
    ImportResult,
    Problem,
)

# (username keys, email keys) → the ones the tenant's users already have.
TakenKeys = Callable[[list[str], list[str]], tuple[set[str], set[str]]]
# Further rules of one way of importing (the remote import's: what the REST API takes).
ExtraRule = Callable[[CheckedUser], list[Problem]]

# User lines whose keys are looked up in the directory together.
_LOOKUP_CHUNK = 1000


@dataclass
class KnownNames:
    """Lower-cased names of the tenant's groups, teams and roles."""

    groups: set[str] = field(default_factory=set)
    teams: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)


class FileCheck:
    """Feed it every record of a file (``add``), then ``finish``: ``problems`` holds every bad
    line in line order, ``expected`` what writing the file would create and find there."""

    def __init__(
        self,
        known: KnownNames,
        *,
        shared_emails: bool = False,
        taken: TakenKeys | None = None,
        extra_rule: ExtraRule | None = None,
    ) -> None:
        self._known = known
        self._shared_emails = shared_emails
        self._taken = taken
        self._extra_rule = extra_rule
        self._groups: dict[str, int] = {}
        self._teams: dict[str, int] = {}
        self._usernames: dict[str, int] = {}
        self._emails: dict[str, int] = {}
        self._unlooked: list[CheckedUser] = []
        self.problems: list[Problem] = []
        self.expected = ImportResult()

    def add(self, raw: RawRecord) -> Checked | None:
        """The line checked, or None when it is bad (its problems are noted)."""
        record = imports.parse_raw(raw)
        if isinstance(record, list):
            self.problems.extend(record)
            return None
        try:
            item = imports.check(raw.line, record)
        except DomainError as exc:
            detail = exc.details[0] if exc.details else None
            where = detail.field if detail else "record"
            text = exc.message.removeprefix(f"line {raw.line}: ")
            self.problems.append(Problem(raw.line, where, text))
            return None
        found = self._relations(item)
        self.problems.extend(found)
        return None if found else item

    def finish(self) -> list[Problem]:
        self._look_up()
        self.problems.sort(key=lambda p: p.line)
        return self.problems

    def _relations(self, item: Checked) -> list[Problem]:
        if isinstance(item, CheckedGroup):
            found = self._named(item, "group", self._groups, self._known.groups)
            if item.parent is not None and not self._group_known(item.parent):
                found.append(self._not_found(item.line, "parent", "group", item.parent))
            return found
        if isinstance(item, CheckedTeam):
            return self._named(item, "team", self._teams, self._known.teams)
        found = []
        if item.role is not None and item.role.lower() not in self._known.roles:
            found.append(self._not_found(item.line, "role", "role", item.role))
        if item.team is not None and not self._team_known(item.team):
            found.append(self._not_found(item.line, "team", "team", item.team))
        for name in item.groups:
            if not self._group_known(name):
                found.append(self._not_found(item.line, "groups", "group", name))
        found += self._unique(item.line, "username", item.username_key, self._usernames)
        if item.email_key is not None and not self._shared_emails:
            found += self._unique(item.line, "email", item.email_key, self._emails)
        if self._extra_rule is not None:
            found += self._extra_rule(item)
        if not found:
            self._unlooked.append(item)
            if len(self._unlooked) >= _LOOKUP_CHUNK:
                self._look_up()
        return found

    def _group_known(self, name: str) -> bool:
        key = name.lower()
        return key in self._known.groups or key in self._groups

    def _team_known(self, name: str) -> bool:
        key = name.lower()
        return key in self._known.teams or key in self._teams

    @staticmethod
    def _not_found(line: int, where: str, kind: str, name: str) -> Problem:
        hint = "" if kind == "role" else " (nor on an earlier line)"
        return Problem.of_field(line, where, f"{kind} {name!r} not found{hint}")

    def _named(
        self, item: CheckedGroup | CheckedTeam, kind: str, seen: dict[str, int], known: set[str]
    ) -> list[Problem]:
        key = item.name.lower()
        if key in seen:
            return [
                Problem.of_field(
                    item.line, "name", f"{kind} {item.name!r} is also defined on line {seen[key]}"
                )
            ]
        seen[key] = item.line
        if key in known:
            if isinstance(item, CheckedGroup):
                self.expected.existing_groups += 1
            else:
                self.expected.existing_teams += 1
        elif isinstance(item, CheckedGroup):
            self.expected.groups += 1
        else:
            self.expected.teams += 1
        return []

    @staticmethod
    def _unique(line: int, where: str, key: str, seen: dict[str, int]) -> list[Problem]:
        if key in seen:
            return [Problem.of_field(line, where, f"{key!r} is also on line {seen[key]}")]
        seen[key] = line
        return []

    def _look_up(self) -> None:
        users, self._unlooked = self._unlooked, []
        if not users:
            return
        if self._taken is None:
            self.expected.users += len(users)
            self.expected.memberships += sum(len(u.groups) for u in users)
            return
        emails = [u.email_key for u in users if u.email_key and not self._shared_emails]
        usernames, taken_emails = self._taken([u.username_key for u in users], emails)
        for user in users:
            if user.username_key in usernames:
                self.expected.existing_users += 1
            elif user.email_key in taken_emails:
                self.problems.append(
                    Problem.of_field(
                        user.line, "email", f"{user.email_key!r} is another user's address"
                    )
                )
            else:
                self.expected.users += 1
                self.expected.memberships += len(user.groups)


class Spool:
    """Checked items of the lines still to write, in batches of ``batch_size``, in a private
    temporary file (deleted on close) rather than in memory: a million users' columns would
    not fit."""

    def __init__(self, batch_size: int) -> None:
        self._batch_size = batch_size
        self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._pending: list[Checked] = []
        self.batches = 0
        self.items = 0

    def add(self, item: Checked) -> None:
        self._pending.append(item)
        self.items += 1
        if len(self._pending) >= self._batch_size:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._file.write(imports.dump_batch(self._pending))
            self._pending = []
            self.batches += 1

    def read(self) -> Iterator[list[Checked]]:
        """The batches, in file order."""
        self._flush()
        self._file.seek(0)
        for line in self._file:
            yield imports.load_batch(line)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
