"""Users: creation, changes, status, deletion and group memberships."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scim2_models.path import AttrPath, FilterNode
from sqlalchemy.orm import Session

from rosterd.auth.secrets import hash_password
from rosterd.models import Group, User, UserStatus
from rosterd.models.base import utcnow
from rosterd.repositories import groups as groups_repo
from rosterd.repositories import identities as identities_repo
from rosterd.repositories import roles as roles_repo
from rosterd.repositories import scim_filter
from rosterd.repositories import teams as teams_repo
from rosterd.repositories import tenants as tenants_repo
from rosterd.repositories import users as users_repo
from rosterd.repositories.users import ListingRow, UserQuery
from rosterd.services import audit, lifecycle
from rosterd.services.context import Actor
from rosterd.services.errors import (
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    PreconditionFailed,
    invalid_field,
)
from rosterd.services.limits import check_lengths

# Fields a caller may change on an existing user.
MUTABLE_FIELDS = frozenset(
    {
        "username",
        "email",
        "first_name",
        "last_name",
        "display_name",
        "title",
        "department",
        "locale",
        "phone",
        "status",
        "role_id",
        "team_id",
        "external_id",
        "employee_number",
        "division",
        "organization",
        "cost_center",
        "manager_id",
        "identity_key",
        "preferences",
        "expires_at",
        # Not columns: the password is stored as an argon2id hash, the external identities
        # in their own table.
        "password",
        "external_identities",
    }
)


@dataclass
class NewUser:
    email: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    display_name: str | None = None
    title: str | None = None
    department: str | None = None
    locale: str | None = None
    phone: str | None = None
    status: UserStatus = UserStatus.active
    role_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    external_id: str | None = None
    employee_number: str | None = None
    division: str | None = None
    organization: str | None = None
    cost_center: str | None = None
    manager_id: uuid.UUID | None = None
    identity_key: str | None = None
    preferences: dict[str, Any] | None = None
    expires_at: datetime | None = None
    password: str | None = None
    external_identities: list[str] = field(default_factory=list)
    group_ids: list[uuid.UUID] = field(default_factory=list)


def get_user(session: Session, actor: Actor, user_id: uuid.UUID) -> User:
    user = users_repo.get(session, actor.tenant_id, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def list_users(session: Session, actor: Actor, query: UserQuery) -> tuple[list[User], int]:
    return users_repo.search(session, actor.tenant_id, query)


def list_user_rows(
    session: Session, actor: Actor, query: UserQuery
) -> tuple[Sequence[ListingRow], int]:
    """``list_users`` as rows of the columns a list page shows (users_repo.search_listing)."""
    return users_repo.search_listing(session, actor.tenant_id, query)


_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def _check_phone(phone: str | None) -> None:
    if phone is not None and not _E164.match(phone):
        raise invalid_field("phone", "use E.164: + then country code and number, digits only")


def _check_unique(
    session: Session,
    actor: Actor,
    *,
    username: str | None,
    email: str | None,
    exclude: uuid.UUID | None,
    identity_key: str | None = None,
    phone: str | None = None,
    external_identities: Sequence[str] = (),
) -> None:
    if identity_key is not None:
        other = users_repo.find_by_identity_key(session, actor.tenant_id, identity_key)
        if other is not None and other.id != exclude:
            raise Conflict(
                f"a user with identity key {identity_key!r} already exists",
                [FieldError("identity_key", "already taken")],
            )
    if phone is not None:
        other = users_repo.find_by_phone(session, actor.tenant_id, phone)
        if other is not None and other.id != exclude:
            raise Conflict(
                f"a user with phone number {phone!r} already exists",
                [FieldError("phone", "already taken")],
            )
    for identity in external_identities:
        owner = identities_repo.owner_of(session, actor.tenant_id, identity)
        if owner is not None and owner != exclude:
            raise Conflict(
                f"external identity {identity!r} already belongs to another user",
                [FieldError("external_identities", "already taken")],
            )
    if email is not None:
        other = users_repo.find_by_email(session, actor.tenant_id, email)
        if other is not None and other.id != exclude:
            raise Conflict(
                f"a user with email {email!r} already exists",
                [FieldError("email", "already taken")],
            )
    if username is not None:
        other = users_repo.find_by_username(session, actor.tenant_id, username)
        if other is not None and other.id != exclude:
            raise Conflict(
                f"a user with username {username!r} already exists",
                [FieldError("username", "already taken")],
            )


def _check_refs(
    session: Session,
    actor: Actor,
    *,
    role_id: uuid.UUID | None,
    team_id: uuid.UUID | None,
    manager_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> None:
    if role_id is not None and roles_repo.get(session, actor.tenant_id, role_id) is None:
        raise invalid_field("role_id", f"role {role_id} does not exist")
    if team_id is not None and teams_repo.get(session, actor.tenant_id, team_id) is None:
        raise invalid_field("team_id", f"team {team_id} does not exist")
    if manager_id is not None:
        if manager_id == user_id:
            raise invalid_field("manager_id", "a user cannot be their own manager")
        if users_repo.get(session, actor.tenant_id, manager_id) is None:
            raise invalid_field("manager_id", f"user {manager_id} does not exist")


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


def create_user(session: Session, actor: Actor, data: NewUser) -> User:
    username = data.username or data.email
    if not username:
        raise invalid_field("username", "a username or an email is required")
    _check_unique(
        session,
        actor,
        username=username,
        email=data.email,
        exclude=None,
        identity_key=data.identity_key,
        phone=data.phone,
        external_identities=data.external_identities,
    )
    _check_phone(data.phone)
    check_lengths(User, vars(data))
    _check_refs(
        session, actor, role_id=data.role_id, team_id=data.team_id, manager_id=data.manager_id
    )
    expires_at, expired = lifecycle.effective_expiry(data.expires_at, utcnow())
    groups = _resolve_groups(session, actor, data.group_ids)
    user = users_repo.add(
        session,
        User(
            tenant_id=actor.tenant_id,
            number=tenants_repo.allocate_user_numbers(session, actor.tenant_id),
            username=username,
            email=data.email,
            first_name=data.first_name,
            last_name=data.last_name,
            display_name=data.display_name,
            title=data.title,
            department=data.department,
            locale=data.locale,
            phone=data.phone,
            status=UserStatus.inactive if expired else data.status,
            role_id=data.role_id,
            team_id=data.team_id,
            external_id=data.external_id,
            employee_number=data.employee_number,
            division=data.division,
            organization=data.organization,
            cost_center=data.cost_center,
            manager_id=data.manager_id,
            identity_key=data.identity_key,
            preferences=data.preferences,
            expires_at=expires_at,
            password_hash=hash_password(data.password) if data.password else None,
        ),
    )
    if data.external_identities:
        identities_repo.replace_for_user(
            session, actor.tenant_id, user.id, list(dict.fromkeys(data.external_identities))
        )
    for group in groups:
        groups_repo.add_member(session, actor.tenant_id, group.id, user.id)
    groups_repo.touch(session, actor.tenant_id, [g.id for g in groups])
    audit.record(session, actor, "user.created", "user", user.id, after=audit.snapshot(user))
    return users_repo.get(session, actor.tenant_id, user.id) or user


def email_changes(user: User, email: str | None) -> dict[str, Any]:
    """The changes that give ``user`` a new email, for APIs without usernames (ADMIN users,
    user identities).

    There the username is the email the user was made with; it follows the email, or the old
    address would stay taken by a login name those APIs can neither show nor change.
    """
    changes: dict[str, Any] = {"email": email}
    old = user.email
    if email and old and user.username.lower() == old.lower() and email.lower() != old.lower():
        changes["username"] = email
    return changes


def update_user(
    session: Session, actor: Actor, user_id: uuid.UUID, changes: Mapping[str, Any]
) -> User:
    unknown = set(changes) - MUTABLE_FIELDS
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))}")
    user = get_user(session, actor, user_id)
    if "username" in changes and not changes["username"]:
        raise invalid_field("username", "must not be empty")
    _check_phone(changes.get("phone"))
    check_lengths(User, changes)
    _check_unique(
        session,
        actor,
        username=changes.get("username"),
        email=changes.get("email"),
        exclude=user.id,
        identity_key=changes.get("identity_key"),
        phone=changes.get("phone"),
        external_identities=changes.get("external_identities") or (),
    )
    _check_refs(
        session,
        actor,
        role_id=changes.get("role_id"),
        team_id=changes.get("team_id"),
        manager_id=changes.get("manager_id"),
        user_id=user.id,
    )
    if changes.get("status") == UserStatus.pending and user.status != UserStatus.pending:
        raise invalid_field("status", "a user cannot go back to pending")
    columns = dict(changes)
    password = columns.pop("password", None)
    identities = columns.pop("external_identities", None)
    if "expires_at" in columns:
        columns["expires_at"], expired = lifecycle.effective_expiry(columns["expires_at"], utcnow())
        if expired:
            columns["status"] = UserStatus.inactive
    elif lifecycle.reactivation_lifts_expiry(user, columns.get("status"), utcnow()):
        # Reactivated after its expiry fired: the old date must not deactivate it again.
        columns["expires_at"] = None
    before = audit.snapshot(user)
    before_identities = identities_repo.for_users(session, actor.tenant_id, [user.id])[user.id]
    for name, value in columns.items():
        setattr(user, name, value)
    after = audit.snapshot(user)
    if password is not None:
        user.password_hash = hash_password(password)
        after["credentials_changed"] = True
    if identities is not None and list(identities) != before_identities:
        identities_repo.replace_for_user(
            session, actor.tenant_id, user.id, list(dict.fromkeys(identities))
        )
        before["external_identities"] = before_identities
        after["external_identities"] = list(dict.fromkeys(identities))
    if after == before:
        return user
    session.flush()
    action = "user.status_changed" if before["status"] != after["status"] else "user.updated"
    audit.record(session, actor, action, "user", user.id, before=before, after=after)
    session.expire(user, ["role", "team"])
    return users_repo.get(session, actor.tenant_id, user.id) or user


def delete_user(
    session: Session, actor: Actor, user_id: uuid.UUID, reassign_to: uuid.UUID | None = None
) -> None:
    """Deactivate and remove a user; teams it manages pass to ``reassign_to`` if given."""
    user = get_user(session, actor, user_id)
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
    get_user(session, actor, user_id)
    wanted = {g.id for g in _resolve_groups(session, actor, group_ids)}
    current = {g.id for g in groups_repo.groups_of(session, actor.tenant_id, user_id)}
    for gid in current - wanted:
        groups_repo.remove_member(session, actor.tenant_id, gid, user_id)
    for gid in wanted - current:
        groups_repo.add_member(session, actor.tenant_id, gid, user_id)
    groups_repo.touch(session, actor.tenant_id, list(wanted ^ current))
    if wanted != current:
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
        )
    except scim_filter.UnsupportedFilter as exc:
        raise Invalid(str(exc), code="invalidFilter") from exc


def groups_of_users(
    session: Session, actor: Actor, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    return groups_repo.groups_of_many(session, actor.tenant_id, user_ids)


def check_version(user: User, expected: int | None) -> None:
    if expected is not None and expected != user.version:
        raise PreconditionFailed(f"user {user.id} is at version {user.version}, not {expected}")


def get_by_number(session: Session, actor: Actor, number: int) -> User:
    user = users_repo.find_by_number(session, actor.tenant_id, number)
    if user is None:
        raise NotFound(f"user {number} not found")
    return user


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
) -> list[User]:
    """A keyset page of users in creation order (the user identities list)."""
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
