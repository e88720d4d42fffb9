"""An import file loaded into a running rosterd over its REST v2 API, through the SDK.

The same files and the same checks as a local import (rosterd.services.import_checks), plus
what the REST API needs: every user has ``email``, ``first_name`` and ``last_name``, and
``phone`` and ``external_id`` (which REST v2 cannot set) are refused rather than dropped.

Why a re-run never makes a line twice:

- groups and teams are found by name first (the tenant's are listed once at the start) and
  created only when missing; a 409 on a create means another writer made it meanwhile, and
  it is then found by name;
- each user is created with the ``Idempotency-Key`` ``rosterd-import-<import id>-<line>``: a
  create sent again (a retry, or a re-run after a crash) within the server's retention
  (``ROSTERD_IDEMPOTENCY_TTL_SECONDS``, a day by default) is answered from the server's
  idempotency store; after it, the create is a 409, and the user found by its login name
  (``username``, else ``email``) counts as already there;
- a journal file (``Journal``) notes the last line of each finished window of lines, so a
  re-run starts there without asking the server about the lines before. It is written after
  the window: a crash between the two makes a re-run send that window again, which the two
  rules above make harmless.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rosterd.client import Client, errors
from rosterd.models import UserStatus
from rosterd.private_files import make_private_dir
from rosterd.services.import_checks import FileCheck, KnownNames
from rosterd.services.imports import (
    Checked,
    CheckedGroup,
    CheckedTeam,
    CheckedUser,
    ImportResult,
    Problem,
)

# Lines finished together before the journal moves on: the users of a window are created
# concurrently, its groups and teams first, in file order.
WINDOW = 200
# What the REST API cannot set, and what it requires.
_NOT_OVER_REST = ("phone", "external_id")
_REQUIRED = ("email", "first_name", "last_name")
# The SDK's code for a 409 whose key's first request still runs.
_IN_PROGRESS = "idempotency_key_in_progress"


def state_dir() -> Path:
    """``$XDG_STATE_HOME/rosterd/imports``, else ``~/.local/state/rosterd/imports``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "rosterd" / "imports"


@dataclass(frozen=True)
class Journal:
    """The last line a remote import finished, in a JSON file of the state directory named
    after the server, tenant and import id (so each such import has its own)."""

    path: Path
    server: str
    tenant: str
    import_id: str

    @classmethod
    def of(cls, server: str, tenant: str, import_id: str) -> Journal:
        name = hashlib.sha256(f"{server}\n{tenant}\n{import_id}".encode()).hexdigest()[:32]
        return cls(state_dir() / f"{name}.json", server, tenant, import_id)

    def last_line(self) -> int:
        try:
            return int(json.loads(self.path.read_text())["last_line"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return 0

    def save(self, last_line: int) -> None:
        """Note ``last_line`` as done: written aside and renamed, so a crash leaves the old
        journal or the new one, never half of one."""
        make_private_dir(self.path.parent)
        data = {
            "server": self.server,
            "tenant": self.tenant,
            "import_id": self.import_id,
            "last_line": last_line,
            "updated_at": datetime.now(UTC).isoformat(),
        }
        aside = self.path.with_suffix(".tmp")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        aside.replace(self.path)


@dataclass
class Outcome:
    result: ImportResult = field(default_factory=ImportResult)
    done_through: int = 0
    # Lines the server refused (a 4xx other than "already there"): reported, passed over.
    refused: list[Problem] = field(default_factory=list)
    # Why the import stopped before the end (no answer, 5xx, auth, rate limits spent).
    stopped: str | None = None


class _Missing(Exception):
    """A line names a group, team or role whose own line the server refused."""

    def __init__(self, field_: str, kind: str, name: str) -> None:
        super().__init__(f"{kind} {name!r} was not created (see its line)")
        self.field = field_


def _id(table: dict[str, str], name: str, field_: str, kind: str) -> str:
    found = table.get(name.lower())
    if found is None:
        raise _Missing(field_, kind, name)
    return found


class _Stop(Exception):
    """A line met an error a later run may not meet: stop after the window, unjournaled."""


def rest_rule(user: CheckedUser) -> list[Problem]:
    """What the REST API needs of a user line beyond the domain's rules."""
    found = [
        Problem.of_field(user.line, name, "needed by the REST API (--server)")
        for name in _REQUIRED
        if not user.columns.get(name)
    ]
    found += [
        Problem.of_field(user.line, name, "not settable over the REST API; import it locally")
        for name in _NOT_OVER_REST
        if user.columns.get(name)
    ]
    return found


class RemoteImport:
    """One file's import into the server ``client`` talks to."""

    def __init__(self, client: Client, import_id: str, *, concurrency: int = 4) -> None:
        self._client = client
        self._key_prefix = f"rosterd-import-{import_id}"
        self._concurrency = concurrency
        self.groups = {g.name.lower(): g.id for g in client.groups.list()}
        self.teams = {t.name.lower(): t.id for t in client.teams.list()}
        self.roles = {r.name.lower(): r.id for r in client.roles.list()}

    def file_check(self) -> FileCheck:
        known = KnownNames(set(self.groups), set(self.teams), set(self.roles))
        return FileCheck(known, extra_rule=rest_rule)

    def run(
        self, items: Iterable[Checked], journal: Journal, on_line: Callable[[int], None]
    ) -> Outcome:
        """Send the checked lines, a window at a time, noting each finished window in
        ``journal``; ``on_line`` hears the last line done after each window."""
        outcome = Outcome(done_through=journal.last_line())
        with ThreadPoolExecutor(max_workers=self._concurrency) as pool:
            for window in _windows(items, WINDOW):
                try:
                    self._window(window, pool, outcome)
                except _Stop as exc:
                    outcome.stopped = str(exc)
                    return outcome
                outcome.done_through = window[-1].line
                journal.save(outcome.done_through)
                on_line(outcome.done_through)
        return outcome

    def _window(self, window: list[Checked], pool: ThreadPoolExecutor, outcome: Outcome) -> None:
        users: list[CheckedUser] = []
        for item in window:
            if isinstance(item, CheckedUser):
                users.append(item)
            else:
                self._guard(item, outcome, self._named)
        results = list(pool.map(lambda u: self._attempt(u, self._user), users))
        for user, result in zip(users, results, strict=True):
            if isinstance(result, _Stop):
                raise result
            if isinstance(result, Problem):
                outcome.refused.append(result)
            elif result == "created":
                outcome.result.users += 1
                outcome.result.memberships += len(user.groups)
            else:
                outcome.result.existing_users += 1

    def _guard(
        self,
        item: CheckedGroup | CheckedTeam,
        outcome: Outcome,
        action: Callable[[CheckedGroup | CheckedTeam], str],
    ) -> None:
        result = self._attempt(item, action)
        if isinstance(result, _Stop):
            raise result
        if isinstance(result, Problem):
            outcome.refused.append(result)
            return
        kind = "groups" if isinstance(item, CheckedGroup) else "teams"
        name = kind if result == "created" else f"existing_{kind}"
        setattr(outcome.result, name, getattr(outcome.result, name) + 1)

    def _attempt(self, item: Any, action: Callable[[Any], str]) -> str | Problem | _Stop:
        """``action``'s word for the line, the server's refusal of it, or why to stop."""
        try:
            return action(item)
        except _Missing as exc:
            return Problem.of_field(item.line, exc.field, str(exc))
        except errors.RosterdError as exc:
            refused = (errors.BadRequest, errors.NotFound, errors.Conflict)
            if not isinstance(exc, refused) or exc.code == _IN_PROGRESS:
                return _Stop(f"line {item.line}: {exc}")
            fields = getattr(exc, "field_errors", {})
            where = next(iter(fields), "record")
            return Problem.of_field(item.line, where, f"refused by the server: {exc.message}")

    def _named(self, item: CheckedGroup | CheckedTeam) -> str:
        key = item.name.lower()
        if isinstance(item, CheckedGroup):
            table = self.groups
            if key in table:
                return "existing"
            parent = _id(table, item.parent, "parent", "group") if item.parent else None
            try:
                made = self._client.groups.create(
                    name=item.name,
                    description=item.description,
                    parent_id=parent,
                    idempotency_key=f"{self._key_prefix}-{item.line}",
                )
            except errors.Conflict as exc:
                return self._found(exc, key, table, self._client.groups.list(query=item.name))
            table[key] = made.id
            return "created"
        table = self.teams
        if key in table:
            return "existing"
        try:
            made_team = self._client.teams.create(name=item.name, description=item.description)
        except errors.Conflict as exc:
            return self._found(exc, key, table, self._client.teams.list(query=item.name))
        table[key] = made_team.id
        return "created"

    @staticmethod
    def _found(
        exc: errors.Conflict, key: str, table: dict[str, str], candidates: Iterator[Any]
    ) -> str:
        """A group or team another writer made meanwhile, found by name (or the 409)."""
        for candidate in candidates:
            if candidate.name.lower() == key:
                table[key] = candidate.id
                return "existing"
        raise exc

    def _user(self, user: CheckedUser) -> str:
        columns = user.columns
        fields: dict[str, Any] = {
            name: columns[name]
            for name in ("username", "title", "department", "display_name", "locale")
            if columns.get(name) is not None
        }
        if user.role:
            fields["role_id"] = _id(self.roles, user.role, "role", "role")
        if user.team:
            fields["team_id"] = _id(self.teams, user.team, "team", "team")
        if user.groups:
            fields["group_ids"] = [_id(self.groups, g, "groups", "group") for g in user.groups]
        fields["status"] = "pending" if user.status is UserStatus.pending else "active"
        try:
            made = self._client.users.create(
                email=columns["email"],
                first_name=columns["first_name"],
                last_name=columns["last_name"],
                idempotency_key=f"{self._key_prefix}-{user.line}",
                send_invitation=False,
                **fields,
            )
        except errors.Conflict as exc:
            if exc.code == _IN_PROGRESS:
                raise
            same = self._client.users.list(username=columns["username"], page_size=1)
            if next(same, None) is None:
                raise
            return "existing"
        if user.status is UserStatus.suspended:
            self._client.users.update(made.id, status="suspended")
        elif user.status is UserStatus.inactive:
            self._client.users.update(made.id, status="inactive")
        if user.last_login_at is not None:
            self._client.users.record_sign_in(made.id, at=user.last_login_at)
        return "created"


def _windows(items: Iterable[Checked], size: int) -> Iterator[list[Checked]]:
    window: list[Checked] = []
    for item in items:
        window.append(item)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window
