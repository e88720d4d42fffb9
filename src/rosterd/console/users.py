"""Users: /admin/users (search, filters, keyset pages, bulk deactivate/offboard) and
/admin/users/{id} (fields, status, role, team, expiry, groups, audit history).

Every page reads and writes through the services the REST v2 API uses; the list is the v2
list's query (the indexed search, its filters, its sortBy orders) paged by keyset (the
cursor carries the last user's sort values and id), never by OFFSET, and only the first
page counts the matches, so the thousandth page costs what the first does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import Depends, Form, Query, Request, Response
from sqlalchemy.orm import Session

from rosterd.api.deps import RuntimeDep, SearchSession, WriteSession
from rosterd.api.v2 import keyset
from rosterd.console.groups import leave_group
from rosterd.console.pages import back_to, page, router, write_then_back
from rosterd.console.session import PREFIX, FormAdmin, SignedInAdmin
from rosterd.domain.commands import UserPatch
from rosterd.models import UserStatus
from rosterd.repositories.audit import AuditFilter
from rosterd.repositories.users import SortKey, UserQuery
from rosterd.runtime import Runtime
from rosterd.services import audit as audit_service
from rosterd.services import groups as groups_service
from rosterd.services import offboarding
from rosterd.services import roles as roles_service
from rosterd.services import teams as teams_service
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from rosterd.services.errors import DomainError, NotFound, invalid_field

PAGE_SIZE = 50
MOST_AT_ONCE = 100
# A cursor holds up to two folded names of 255 characters (which folding may lengthen).
CURSOR_LENGTH = 8192
HISTORY = 20
Short = Annotated[str, Query(max_length=255)]


@dataclass(frozen=True)
class Filters:
    """The list's form, as sent (the page shows it back as it was typed)."""

    q: str = ""
    status: str = ""
    group: str = ""
    role: str = ""
    team: str = ""
    created_before: str = ""
    last_login_before: str = ""
    order: str = "newest"

    def query_string(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}

    def ordered(self, order: str) -> dict[str, str]:
        """The query string of the same filters in another order (from its first page)."""
        return {**self.query_string(), "order": order}


Order = Literal["newest", "oldest", "name", "name_desc", "signed_in_latest", "signed_in_earliest"]


@dataclass(frozen=True)
class Sort:
    """One of the list's orders: the v2 list's sortBy and direction, and how it is shown."""

    sort_by: SortKey
    descending: bool
    label: str


# Users who never signed in come last in both last sign-in orders (as in the v2 API).
ORDERS: dict[str, Sort] = {
    "newest": Sort("createdAt", True, "newest first"),
    "oldest": Sort("createdAt", False, "oldest first"),
    "name": Sort("name", False, "name, A to Z"),
    "name_desc": Sort("name", True, "name, Z to A"),
    "signed_in_latest": Sort("lastLoginAt", True, "last sign-in, latest first"),
    "signed_in_earliest": Sort("lastLoginAt", False, "last sign-in, earliest first"),
}
# The sortable columns of the table: the order a click on the header asks for (the other
# direction when the table is already in this one).
COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("name", "name_desc"),
    "last_sign_in": ("signed_in_latest", "signed_in_earliest"),
    "created": ("newest", "oldest"),
}


def _day(value: str, field: str) -> datetime | None:
    """The start (UTC) of a day a date input gave."""
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError as exc:
        raise invalid_field(field, "give a date as YYYY-MM-DD") from exc


def _query(
    session: Session, actor: Actor, f: Filters, sort: Sort, after: tuple[Any, ...] | None
) -> UserQuery:
    def ref(kind: str, value: str, find: Any) -> uuid.UUID | None:
        if not value:
            return None
        found = find(session, actor, value.strip())
        if found is None:
            raise invalid_field(kind, f"no {kind} named {value!r}")
        return uuid.UUID(str(found.id))

    try:
        status = UserStatus(f.status) if f.status else None
    except ValueError as exc:
        raise invalid_field("status", f"no status {f.status!r}") from exc
    return UserQuery(
        search=f.q.strip() or None,
        status=status,
        group_id=ref("group", f.group, groups_service.find),
        role_id=ref("role", f.role, roles_service.find),
        team_id=ref("team", f.team, teams_service.find),
        created_before=_day(f.created_before, "created_before"),
        last_login_before=_day(f.last_login_before, "last_login_before"),
        sort_by=sort.sort_by,
        descending=sort.descending,
        limit=PAGE_SIZE,
        after=after,
    )


def _results(
    session: Session, actor: Actor, f: Filters, cursor: str | None, limit: int
) -> tuple[dict[str, Any], int]:
    """The list's page and its HTTP status. A refused filter is said on the page (200: the
    form is being typed into, and search-as-you-type shows the fragment as it is); a cursor
    that is not one this order gave, which no form makes, is a 400."""
    sort = ORDERS[f.order]
    shown = _shown_order(f)
    try:
        after = keyset.sorted_user_after(cursor, sort.sort_by, sort.descending) if cursor else None
    except DomainError as exc:
        return {**_nothing(str(exc)), **shown}, 400
    try:
        query = _query(session, actor, f, sort, after)
    except DomainError as exc:
        return {**_nothing(str(exc)), **shown}, 200
    total = None
    if after is not None:
        # A keyset page does not know the total; the first page says how many match.
        rows = users_service.list_user_page(session, actor, query)
    else:
        rows, total = users_service.list_user_rows(
            session, actor, replace(query, count_up_to=limit)
        )
    next_cursor = None
    if len(rows) == PAGE_SIZE:
        last = _last_keyset(session, actor, sort.sort_by, rows)
        next_cursor = keyset.sorted_user_cursor(sort.sort_by, sort.descending, last)
    page = {"rows": rows, "total": total, "next_cursor": next_cursor, "problem": None}
    return {**page, **shown}, 200


def _last_keyset(
    session: Session, actor: Actor, sort_by: SortKey, rows: Sequence[Any]
) -> tuple[Any, ...]:
    """Where the next page starts: the keyset of the page's last user (read from the
    database, which holds the folded names the order uses); of the one before it if that
    user was deleted since the page was read (the next page then repeats a user or two
    rather than skipping anyone), else from the start."""
    for row in reversed(rows):
        found = users_service.keyset_of(session, actor, sort_by, uuid.UUID(row.id))
        if found is not None:
            return found
    raise NotFound("every user of the page was deleted meanwhile: reload the list")


def _nothing(problem: str) -> dict[str, Any]:
    return {"rows": [], "total": None, "next_cursor": None, "problem": problem}


def _shown_order(f: Filters) -> dict[str, Any]:
    """What the template needs to show the order: every order, and each sortable column's
    aria-sort value and the order its header link asks for."""
    columns: dict[str, dict[str, str]] = {}
    for column, (first, other) in COLUMNS.items():
        current = f.order in (first, other)
        descending = ORDERS[f.order].descending
        columns[column] = {
            "aria_sort": ("descending" if descending else "ascending") if current else "",
            "next": other if f.order == first else first,
        }
    return {"orders": ORDERS, "columns": columns}


def _filters(
    q: Short = "",
    status: Short = "",
    group: Short = "",
    role: Short = "",
    team: Short = "",
    created_before: Short = "",
    last_login_before: Short = "",
    order: Annotated[Order, Query()] = "newest",
) -> Filters:
    return Filters(q, status, group, role, team, created_before, last_login_before, order)


FiltersDep = Annotated[Filters, Depends(_filters)]
Cursor = Annotated[str | None, Query(max_length=CURSOR_LENGTH)]


@router.get("/users")
def users_page(
    request: Request,
    admin: SignedInAdmin,
    session: SearchSession,
    runtime: RuntimeDep,
    filters: FiltersDep,
    cursor: Cursor = None,
) -> Response:
    limit = runtime.settings.search_exact_total_limit
    results, status = _results(session, admin.actor, filters, cursor, limit)
    return page(
        request,
        "users.html",
        admin,
        status_code=status,
        filters=filters,
        statuses=list(UserStatus),
        **results,
    )


@router.get("/users/rows")
def user_rows(
    request: Request,
    admin: SignedInAdmin,
    session: SearchSession,
    runtime: RuntimeDep,
    filters: FiltersDep,
    cursor: Cursor = None,
) -> Response:
    """The results of the list as an HTML fragment: what search-as-you-type swaps in."""
    limit = runtime.settings.search_exact_total_limit
    results, status = _results(session, admin.actor, filters, cursor, limit)
    return page(
        request, "_user_results.html", admin, status_code=status, filters=filters, **results
    )


@router.post("/users/bulk")
def bulk(
    admin: FormAdmin,
    session: WriteSession,
    action: Annotated[Literal["deactivate", "offboard"], Form()],
    user_id: Annotated[list[uuid.UUID] | None, Form()] = None,
) -> Response:
    """Deactivate or offboard the users ticked on the list, in one transaction."""
    chosen = list(dict.fromkeys(user_id or []))
    if not chosen:
        return back_to(f"{PREFIX}/users", error="Tick at least one user first.")
    if len(chosen) > MOST_AT_ONCE:
        return back_to(f"{PREFIX}/users", error=f"At most {MOST_AT_ONCE} users at once.")
    if action == "deactivate":
        users_service.update_users(
            session, admin.actor, chosen, UserPatch(status=UserStatus.inactive)
        )
    else:
        offboarding.offboard_many(session, admin.actor, chosen)
    done = "deactivated" if action == "deactivate" else "offboarded"
    return back_to(f"{PREFIX}/users", notice=f"{len(chosen)} user(s) {done}.")


# ---- one user ------------------------------------------------------------------------------


@router.get("/users/{user_id}")
def user_page(
    request: Request, user_id: uuid.UUID, admin: SignedInAdmin, session: SearchSession
) -> Response:
    user = users_service.get_user(session, admin.actor, user_id)
    groups = users_service.groups_of_user(session, admin.actor, user_id)
    history = audit_service.list_events(
        session,
        admin.actor,
        AuditFilter(resource_type="user", resource_id=str(user_id)),
        cursor=None,
        limit=HISTORY,
    )
    return page(
        request,
        "user.html",
        admin,
        user=user,
        groups=groups,
        history=history.events,
        statuses=list(UserStatus),
    )


EDITABLE = ("first_name", "last_name", "display_name", "email", "username", "title",
            "department", "locale", "phone")  # fmt: skip


def _expiry(value: str) -> datetime | None:
    """A datetime-local input's value, as UTC; empty is no expiry."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise invalid_field("expires_at", "give a date and time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.post("/users/{user_id}")
async def update_user(
    request: Request, user_id: uuid.UUID, admin: FormAdmin, runtime: RuntimeDep
) -> Response:
    """Save the user's form: its fields, status, role, team and expiry. A field left empty
    is cleared (the username and status, which every user has, are left as they are)."""
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in (*EDITABLE, "status", "role",
              "team", "expires_at")}  # fmt: skip
    changes: dict[str, Any] = {name: values[name] or None for name in EDITABLE}
    if not changes["username"]:
        del changes["username"]
    if values["status"]:
        changes["status"] = UserStatus(values["status"])
    changes["expires_at"] = _expiry(values["expires_at"])

    def save(session: Session) -> None:
        for kind, find in (("role", roles_service.find), ("team", teams_service.find)):
            found = find(session, admin.actor, values[kind]) if values[kind] else None
            if values[kind] and found is None:
                raise invalid_field(kind, f"no {kind} named {values[kind]!r}")
            changes[f"{kind}_id"] = found.id if found is not None else None
        users_service.update_user(session, admin.actor, user_id, UserPatch(**changes))

    return await _write(runtime, user_id, save, "Saved.")


async def _write(
    runtime: Runtime, user_id: uuid.UUID, work: Callable[[Session], object], notice: str
) -> Response:
    return await write_then_back(runtime, f"{PREFIX}/users/{user_id}", work, notice)


@router.post("/users/{user_id}/deactivate")
async def deactivate(user_id: uuid.UUID, admin: FormAdmin, runtime: RuntimeDep) -> Response:
    return await _write(
        runtime,
        user_id,
        lambda session: users_service.update_user(
            session, admin.actor, user_id, UserPatch(status=UserStatus.inactive)
        ),
        "Deactivated.",
    )


@router.post("/users/{user_id}/offboard")
async def offboard(user_id: uuid.UUID, admin: FormAdmin, runtime: RuntimeDep) -> Response:
    return await _write(
        runtime,
        user_id,
        lambda session: offboarding.offboard(
            session, admin.actor, user_id, offboarding.OffboardOptions()
        ),
        "Offboarded: deactivated, removed from every group, sessions ended.",
    )


@router.post("/users/{user_id}/groups")
async def add_to_group(
    user_id: uuid.UUID,
    admin: FormAdmin,
    runtime: RuntimeDep,
    group: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    def add(session: Session) -> None:
        users_service.get_user(session, admin.actor, user_id)
        found = groups_service.find(session, admin.actor, group.strip())
        if found is None:
            raise invalid_field("group", f"no group named {group!r}")
        groups_service.add_member(session, admin.actor, found.id, user_id)

    return await _write(runtime, user_id, add, f"Added to {group.strip()}.")


@router.post("/users/{user_id}/groups/{group_id}/remove")
async def remove_from_group(
    user_id: uuid.UUID, group_id: uuid.UUID, admin: FormAdmin, runtime: RuntimeDep
) -> Response:
    def remove(session: Session) -> None:
        leave_group(session, admin.actor, group_id, user_id)

    return await _write(runtime, user_id, remove, "Removed from the group.")
