"""Users: creation, changes, status, deletion and group memberships.

Every write takes a typed command (rosterd.domain.commands), applies the rules of
rosterd.domain.rules to each field it carries, and locks the row it changes before reading it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from datetime import datetime
from typing import Any

from scim2_models.path import AttrPath, FilterNode
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from rosterd.db.prepared import PointReader
from rosterd.domain import rules, user_fields
from rosterd.domain.commands import NewUser, UserPatch
from rosterd.models import Group, User
from rosterd.models.base import utcnow
from rosterd.repositories import groups as groups_repo
from rosterd.repositories import identities as identities_repo
from rosterd.repositories import roles as roles_repo
from rosterd.repositories import scim_filter, user_tallies
from rosterd.repositories import teams as teams_repo
from rosterd.repositories import tenants as tenants_repo
from rosterd.repositories import users as users_repo
from rosterd.repositories.constraints import violated_unique
from rosterd.repositories.users import ListingRow, SortKey, Total, UserQuery
from rosterd.services import audit, lifecycle
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import (
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    PreconditionFailed,
    invalid_field,
)


def _not_found(user_id: object) -> NotFound:
    return NotFound(f"user {user_id} not found", [FieldError("id", "not found")])


def get_user(session: Session, actor: Actor, user_id: uuid.UUID) -> User:
    user = users_repo.get(session, actor.tenant_id, user_id)
    if user is None:
        raise _not_found(user_id)
    return user


async def get_user_listing(db: PointReader, actor: Actor, user_id: uuid.UUID) -> Any:
    """``get_user`` as a row of the columns a listing shows, for reading only (a point read
    on a driver connection: ``rosterd.db.work.Runner.read_point``)."""
    row = await users_repo.get_listing(db, actor.tenant_id, user_id)
    if row is None:
        raise _not_found(user_id)
    return row


def lock_user(
    session: Session, actor: Actor, user_id: uuid.UUID, expected_version: int | None = None
) -> User:
    """The user, locked for the rest of the transaction: every write reads the row it
    changes this way, so concurrent writers of one user queue and none acts on a stale
    read. ``expected_version`` (an If-Match) is checked once the lock is held."""
    user = users_repo.get_for_update(session, actor.tenant_id, user_id)
    if user is None:
        raise _not_found(user_id)
    check_version(user, expected_version)
    return user


def list_users(session: Session, actor: Actor, query: UserQuery) -> tuple[list[User], int]:
    return users_repo.search(session, actor.tenant_id, _keyed(session, actor, query))


def list_user_rows(
    session: Session, actor: Actor, query: UserQuery
) -> tuple[Sequence[ListingRow], Total]:
    """``list_users`` as rows of the columns a list page shows (users_repo.search_listing)."""
    return users_repo.search_listing(session, actor.tenant_id, _keyed(session, actor, query))


def list_user_page(session: Session, actor: Actor, query: UserQuery) -> Sequence[ListingRow]:
    """``list_user_rows`` without the total: a keyset page after the first counts nothing."""
    return users_repo.listing_rows(session, actor.tenant_id, _keyed(session, actor, query))


def keyset_of(
    session: Session, actor: Actor, sort_by: SortKey, user_id: uuid.UUID
) -> tuple[Any, ...] | None:
    """The keyset (``UserQuery.after``) of a user of the actor's tenant in ``sort_by``'s
    order: where the page after the one it ends starts; None if there is no such user."""
    return users_repo.keyset_of(session, actor.tenant_id, sort_by, user_id)


def _keyed(session: Session, actor: Actor, query: UserQuery) -> UserQuery:
    """``query`` with its exact-match email and username as the keys they are stored by."""
    if query.email is None and query.username is None:
        return query
    return replace(
        query,
        email=rules.email_key(query.email) if query.email is not None else None,
        username=rules.fold(query.username) if query.username is not None else None,
        unique_emails=query.email is not None and _unique_emails(session, actor),
    )


def _unique_emails(session: Session, actor: Actor) -> bool:
    return not tenants_service.shared_emails(session, actor.tenant_id)


# ---- rules applied to a command's fields ---------------------------------------------------


def _taken(field_name: str, what: str, value: object) -> Conflict:
    return Conflict(
        f"a user with {what} {value!r} already exists", [FieldError(field_name, "taken")]
    )


def _check_phone(
    session: Session, actor: Actor, columns: Mapping[str, Any], user: User | None
) -> None:
    """A phone number held unique (the user identities API): the one uniqueness no index
    enforces, as other APIs let users share a number."""
    phone = columns.get("phone_e164")
    if phone is None or (user is not None and user.phone_e164 == phone):
        return
    other = users_repo.find_by_phone_e164(session, actor.tenant_id, phone)
    if other is not None and (user is None or other.id != user.id):
        raise _taken("phone", "phone number", columns["phone"])


# A unique index's last column → the field it holds unique, and how a conflict names it.
_UNIQUE_FIELDS = {
    "username_key": ("username", "username"),
    "email_key": ("email", "email"),
    "identity_key": ("identity_key", "identity key"),
}


@contextmanager
def _unique(columns: Mapping[str, Any], identities: Sequence[str] | None) -> Iterator[None]:
    """Writes of ``columns`` and ``identities`` whose uniqueness the indexes check: a value
    another user holds is refused by its index (no query first, which a concurrent writer
    could outrun anyway) and becomes the Conflict naming the field. The transaction is then
    to be rolled back (a caller that goes on opens a savepoint first, as SCIM Bulk does)."""
    try:
        yield
    except IntegrityError as exc:
        violated = violated_unique(exc)
        if violated is None:
            raise
        table, index_columns = violated
        if table == "external_identities":
            raise _identity_taken(identities or ()) from exc
        field = _UNIQUE_FIELDS.get(index_columns[-1]) if table == "users" else None
        if field is None:
            raise
        name, what = field
        raise _taken(name, what, columns.get(name)) from exc


def _held(session: Session, actor: Actor, columns: Mapping[str, Any]) -> Conflict:
    """The conflict of a create the unique indexes skipped: which key is held is asked only
    now, in the order the checks always had (email before username), as an address that is
    also the username is refused by both indexes."""
    key = users_repo.held_key(session, actor.tenant_id, columns)
    name, what = _UNIQUE_FIELDS[key] if key else ("username", "username")
    return _taken(name, what, columns.get(name))


def _identity_taken(identities: Sequence[str]) -> Conflict:
    held = identities[0] if len(identities) == 1 else list(identities)
    return Conflict(
        f"external identity {held!r} already belongs to another user",
        [FieldError("external_identities", "taken")],
    )


def _refs(
    session: Session, actor: Actor, columns: Mapping[str, Any], user: User | None
) -> dict[str, Any]:
    """The role and team that ``columns`` point to, loaded (they are shown with the user),
    and the manager checked; only for references that change."""

    def changes(name: str) -> bool:
        return name in columns and (user is None or getattr(user, name) != columns[name])

    loaded: dict[str, Any] = {}
    for name, find in (("role", roles_repo.get), ("team", teams_repo.get)):
        if changes(f"{name}_id"):
            ref = columns[f"{name}_id"]
            loaded[name] = find(session, actor.tenant_id, ref) if ref is not None else None
            if ref is not None and loaded[name] is None:
                raise invalid_field(f"{name}_id", f"{name} {ref} does not exist")
    manager_id = columns.get("manager_id")
    if changes("manager_id") and manager_id is not None:
        if user is not None and manager_id == user.id:
            raise invalid_field("manager_id", "a user cannot be their own manager")
        if users_repo.get(session, actor.tenant_id, manager_id) is None:
            raise invalid_field("manager_id", f"user {manager_id} does not exist")
    return loaded


def _resolve_groups(
    session: Session, actor: Actor, group_ids: Sequence[uuid.UUID], field_name: str = "group_ids"
) -> list[Group]:
    wanted = list(dict.fromkeys(group_ids))
    found = groups_repo.get_many(session, actor.tenant_id, wanted)
    missing = set(wanted) - {g.id for g in found}
    if missing:
        raise invalid_field(
            field_name, f"group(s) not found: {', '.join(sorted(map(str, missing)))}"
        )
    return found


def _email_unique(session: Session, actor: Actor, columns: Mapping[str, Any]) -> dict[str, Any]:
    if columns.get("email_key") is None:
        return {}
    return {"email_unique": _unique_emails(session, actor)}


def fold_tallies(session: Session) -> int:
    """Upkeep of the per-status user counts (every tenant's): their slots gathered into one
    row each (``rosterd.repositories.user_tallies.fold``); how many counts changed."""
    return user_tallies.fold(session)


# ---- writes --------------------------------------------------------------------------------


def create_user(session: Session, actor: Actor, data: NewUser) -> User:
    sent = {f.name: getattr(data, f.name) for f in dataclass_fields(data)}
    if not sent["username"]:
        del sent["username"]
    columns = user_fields.columns(sent, None, strict_phone=data.phone_must_be_e164)
    user_fields.login_name(columns)
    if data.phone_must_be_e164:
        _check_phone(session, actor, columns, None)
    refs = _refs(session, actor, columns, None)
    columns.update(
        lifecycle.new_user_schedule(data.status, data.valid_from, data.expires_at, utcnow())
    )
    groups = _resolve_groups(session, actor, data.group_ids)
    identities = columns.pop("external_identities", [])
    with tenants_repo.user_number(session, actor.tenant_id) as (number, settings):
        if columns.get("email_key") is not None:
            columns["email_unique"] = not tenants_service.emails_shared_in(settings)
        with _unique(columns, identities):
            row = {**columns, "tenant_id": actor.tenant_id, "number": number}
            user = users_repo.add(session, row)
            if user is None:
                raise _held(session, actor, columns)
            if identities:
                identities_repo.replace_for_user(session, actor.tenant_id, user.id, identities)
        for name in ("role", "team"):
            set_committed_value(user, name, refs.get(name))
        if groups:
            groups_repo.lock(session, actor.tenant_id, [g.id for g in groups])
            for group in groups:
                groups_repo.add_members(session, actor.tenant_id, group.id, [user.id])
            groups_repo.touch(session, actor.tenant_id, [g.id for g in groups])
        audit.record(session, actor, "user.created", "user", user.id, after=audit.snapshot(user))
    return user


def email_changes(user: User, email: str | None) -> dict[str, Any]:
    """The fields of a patch that gives ``user`` a new email, for APIs without usernames
    (ADMIN users, user identities).

    There the username is the email the user was made with; it follows the email, or the old
    address would stay taken by a login name those APIs can neither show nor change.
    """
    changes: dict[str, Any] = {"email": email}
    old = user.email
    follows = old is not None and user.username_key == rules.fold(old)
    if email and follows and rules.email_key(email) != user.email_key:
        changes["username"] = email
    return changes


def update_user(
    session: Session,
    actor: Actor,
    user_id: uuid.UUID,
    patch: UserPatch,
    *,
    expected_version: int | None = None,
) -> User:
    """Lock the user, check ``expected_version``, and apply ``patch``."""
    return apply_patch(session, actor, lock_user(session, actor, user_id, expected_version), patch)


def update_users(
    session: Session, actor: Actor, user_ids: Collection[uuid.UUID], patch: UserPatch
) -> list[User]:
    """Apply one ``patch`` to several users (the console's bulk deactivation), in id order.

    Every user is locked first, in one id-ordered statement, then each is changed: two such
    transactions over overlapping users then take their locks in the same order and queue
    on PostgreSQL instead of deadlocking (locked as they are changed, in the order given,
    each could hold a user the other waits for).
    """
    wanted = sorted(set(user_ids))
    locked = {u.id for u in users_repo.lock_many(session, actor.tenant_id, wanted)}
    missing = [user_id for user_id in wanted if user_id not in locked]
    if missing:
        raise _not_found(missing[0])
    # Each read again as update_user reads it (with its role and team), the lock held.
    return [update_user(session, actor, user_id, patch) for user_id in wanted]


def apply_patch(session: Session, actor: Actor, user: User, patch: UserPatch) -> User:
    """Apply ``patch`` to ``user``, which the caller locked (``lock_user``)."""
    sent = patch.sent()
    if "username" in sent and not sent["username"]:
        raise invalid_field("username", "must not be empty")
    columns = user_fields.columns(sent, user, strict_phone=patch.phone_must_be_e164)
    if "status" in columns:
        columns["status"] = rules.status_change(user.status, columns["status"])
    if columns.get("email_key") is not None and columns["email_key"] != user.email_key:
        columns.update(_email_unique(session, actor, columns))
    if patch.phone_must_be_e164:
        _check_phone(session, actor, columns, user)
    refs = _refs(session, actor, columns, user)
    columns.update(lifecycle.patched_schedule(user, columns, utcnow()))
    identities = columns.pop("external_identities", None)
    password_hash = columns.pop("password_hash", None)
    changed = {name: value for name, value in columns.items() if getattr(user, name) != value}
    if password_hash is not None:
        changed["password_hash"] = password_hash
    before = audit.snapshot(user)
    with _unique(columns, identities):
        if changed:
            users_repo.update_row(session, user, changed)
        for name, value in refs.items():
            set_committed_value(user, name, value)
        after = audit.snapshot(user)
        if password_hash is not None:
            after["credentials_changed"] = True
        if identities is not None:
            before_identities = identities_repo.for_users(session, actor.tenant_id, [user.id])
            if identities != before_identities[user.id]:
                identities_repo.replace_for_user(session, actor.tenant_id, user.id, identities)
                before["external_identities"] = before_identities[user.id]
                after["external_identities"] = identities
    if after == before:
        return user
    action = "user.status_changed" if before["status"] != after["status"] else "user.updated"
    audit.record(session, actor, action, "user", user.id, before=before, after=after)
    return user


def delete_user(
    session: Session,
    actor: Actor,
    user_id: uuid.UUID,
    reassign_to: uuid.UUID | None = None,
    *,
    expected_version: int | None = None,
) -> None:
    """Deactivate and remove a user; teams it manages pass to ``reassign_to`` if given."""
    user = lock_user(session, actor, user_id, expected_version)
    if reassign_to is not None:
        if reassign_to == user_id:
            raise invalid_field("reassign_to", "cannot reassign to the user being deleted")
        if users_repo.get(session, actor.tenant_id, reassign_to) is None:
            raise invalid_field("reassign_to", f"user {reassign_to} does not exist")
        teams_repo.reassign_managed(session, actor.tenant_id, user.id, reassign_to)
    before = audit.snapshot(user)
    users_repo.remove(session, user)
    audit.record(
        session,
        actor,
        "user.deleted",
        "user",
        user_id,
        before=before,
        after={"reassigned_to": str(reassign_to)} if reassign_to else None,
    )


def groups_of_user(session: Session, actor: Actor, user_id: uuid.UUID) -> list[Group]:
    get_user(session, actor, user_id)
    return groups_repo.groups_of(session, actor.tenant_id, user_id)


def set_user_groups(
    session: Session, actor: Actor, user_id: uuid.UUID, group_ids: Sequence[uuid.UUID]
) -> list[Group]:
    # The user's row lock serialises concurrent replacements of its memberships; the groups
    # are then locked in id order, as every writer of several groups does (no deadlock).
    lock_user(session, actor, user_id)
    wanted = {g.id for g in _resolve_groups(session, actor, group_ids)}
    current = {g.id for g in groups_repo.groups_of(session, actor.tenant_id, user_id)}
    if wanted == current:
        return groups_repo.groups_of(session, actor.tenant_id, user_id)
    groups_repo.lock(session, actor.tenant_id, sorted(wanted ^ current))
    for gid in current - wanted:
        groups_repo.remove_members(session, actor.tenant_id, gid, [user_id])
    for gid in wanted - current:
        groups_repo.add_members(session, actor.tenant_id, gid, [user_id])
    groups_repo.touch(session, actor.tenant_id, sorted(wanted ^ current))
    audit.record(
        session,
        actor,
        "user.groups_set",
        "user",
        user_id,
        before={"group_ids": sorted(map(str, current))},
        after={"group_ids": sorted(map(str, wanted))},
    )
    return groups_repo.groups_of(session, actor.tenant_id, user_id)


def search_by_filter(
    session: Session,
    actor: Actor,
    filter_tree: FilterNode | None,
    *,
    sort_by: AttrPath | None,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[list[User], int]:
    """Users matching a SCIM filter, evaluated in the database."""
    try:
        return scim_filter.search(
            session,
            User,
            actor.tenant_id,
            filter_tree,
            sort_by=sort_by,
            descending=descending,
            offset=offset,
            limit=limit,
            unique_emails=lambda: _unique_emails(session, actor),
        )
    except scim_filter.UnsupportedFilter as exc:
        raise Invalid(str(exc), code="invalidFilter") from exc


async def find_by_key(
    db: PointReader,
    actor: Actor,
    lookup: scim_filter.KeyLookup,
    *,
    offset: int,
    limit: int,
) -> tuple[list[tuple[Any, list[tuple[uuid.UUID, str]]]], int]:
    """``search_by_filter`` for a filter that is a ``KeyLookup``, as point reads: one page of
    (user row, its groups) and the total. The same users: an address held by a user whose
    copy is not the unique one counts only where the tenant shares addresses."""
    found = await users_repo.find_by_key(db, actor.tenant_id, lookup)
    if lookup.attribute == "emails" and not all(row.email_unique for row in found):
        settings = await tenants_repo.settings_of(db, actor.tenant_id)
        if not tenants_service.emails_shared_in(settings):
            found = [row for row in found if row.email_unique]
    page = found[offset : offset + limit]
    return [
        (row, await groups_repo.groups_of_one(db, actor.tenant_id, row.id)) for row in page
    ], len(found)


def groups_of_users(
    session: Session, actor: Actor, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    return groups_repo.groups_of_many(session, actor.tenant_id, user_ids)


def check_version(user: User, expected: int | None) -> None:
    if expected is not None and expected != user.version:
        raise PreconditionFailed(
            f"user {user.id} is at version {user.version}, not {expected}",
            [FieldError("version", "stale")],
        )


def get_by_number(session: Session, actor: Actor, number: int) -> User:
    user = users_repo.find_by_number(session, actor.tenant_id, number)
    if user is None:
        raise _not_found(number)
    return user


def lock_by_number(session: Session, actor: Actor, number: int) -> User:
    """The user with that number, locked (see ``lock_user``)."""
    return lock_user(session, actor, get_by_number(session, actor, number).id)


def get_by_identity_key(session: Session, actor: Actor, key: str) -> User:
    user = users_repo.find_by_identity_key(session, actor.tenant_id, key)
    if user is None:
        raise NotFound(f"user identity with key {key!r} not found")
    return user


def find_by_external_identity(session: Session, actor: Actor, identity: str) -> User | None:
    owner = identities_repo.owner_of(session, actor.tenant_id, identity)
    return users_repo.get(session, actor.tenant_id, owner) if owner else None


def external_identities_of(
    session: Session, actor: Actor, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    return identities_repo.for_users(session, actor.tenant_id, user_ids)


def page_after(
    session: Session,
    actor: Actor,
    *,
    search: str | None,
    created_before: datetime | None,
    ids: Sequence[uuid.UUID] | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[ListingRow]:
    """A keyset page of users in creation order (the user identities list), as rows of
    ``users_repo.IDENTITY_COLUMNS``."""
    return users_repo.page_after(
        session,
        actor.tenant_id,
        search=search,
        created_before=created_before,
        ids=ids,
        after=after,
        limit=limit,
    )


def get_many(session: Session, actor: Actor, user_ids: Sequence[uuid.UUID]) -> list[User]:
    return users_repo.get_many(session, actor.tenant_id, user_ids)


def find_by_number(session: Session, actor: Actor, number: int) -> User | None:
    return users_repo.find_by_number(session, actor.tenant_id, number)


# Keys of the last item of a chunk, for the next one (whole lists, /api/v1).
UserKey = tuple[datetime, uuid.UUID]


def users_chunk(
    session: Session,
    actor: Actor,
    q: UserQuery,
    *,
    after: UserKey | None,
    offset: int,
    size: int,
) -> tuple[list[User], UserKey | None]:
    """Users matching ``q``'s filters in creation order, and the key to pass as ``after`` for
    the ones that follow (None when there were none)."""
    users = users_repo.chunk_in_creation_order(
        session, actor.tenant_id, _keyed(session, actor, q), after=after, offset=offset, size=size
    )
    return users, ((users[-1].created_at, users[-1].id) if users else None)
