"""SCIM filters (RFC 7644 §3.4.2.2) compiled to SQL, so they run in the database.

scim2-models parses the filter into a syntax tree (including Entra ID's
``emails[type eq "work"].value eq "x"`` form); this module walks that tree with its
``FilterVisitor`` and emits SQLAlchemy expressions over the users and groups tables. The
library evaluates filters only in memory, which would mean loading every row, hence this.

rosterd keeps one email and one phone number per user; the multi-valued ``emails`` and
``phoneNumbers`` attributes are views of those columns with ``type`` "work" and ``primary``
true. Comparisons are null-safe, so ``not (title eq "x")`` includes users without a title.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from rosterd.models import Group, GroupMembership, User, UserStatus
from rosterd.models.base import fold
from rosterd.repositories import user_search, user_tallies
from rosterd.repositories._sql import count, like_ci, like_pattern, page_total

Kind = Literal["string", "boolean", "datetime", "uuid"]

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:user"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"


# Whether the tenant holds every key of a Column.unique_where unique; asked only when a filter
# compares such a key.
UniqueKeys = Callable[[], bool]


def _no() -> bool:
    return False


_NO: UniqueKeys = _no


class UnsupportedFilter(ValueError):
    """The filter names an attribute or an operation rosterd cannot evaluate."""


@dataclass(frozen=True)
class Column:
    expr: Any
    kind: Kind = "string"
    case_exact: bool = False
    # The attribute's folded key column (models.base.fold), where it has one: eq and ne
    # compare it and sortBy orders by it, identically on both databases.
    key: Any = None
    # Where the key is unique only on rows meeting this condition (a partial unique index),
    # the condition, added to an eq when the tenant's keys are all unique so the database
    # finds the row through that index.
    unique_where: Any = None


@dataclass(frozen=True)
class MultiValued:
    """A multi-valued attribute: its sub-attributes, and how a selection over them is kept.

    ``wrap`` turns a condition on the sub-attributes into one on the resource (an EXISTS
    over a join table, or a presence check on a same-row column).
    """

    sub: Mapping[str, Column]
    wrap: Callable[[ColumnElement[bool]], ColumnElement[bool]]


def _work(column: Any, key: Any = None, unique_where: Any = None) -> Mapping[str, Column]:
    return {
        "value": Column(column, key=key, unique_where=unique_where),
        "type": Column(case((column.is_not(None), literal("work")), else_=None)),
        "primary": Column(column.is_not(None), "boolean"),
        "display": Column(column),
    }


def _same_row(column: Any) -> Callable[[ColumnElement[bool]], ColumnElement[bool]]:
    return lambda cond: and_(column.is_not(None), cond)


def _member_exists(
    owner: Any, join_col: Any
) -> Callable[[ColumnElement[bool]], ColumnElement[bool]]:
    def wrap(cond: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists(select(literal(1)).where(join_col == owner, cond))

    return wrap


USER_COLUMNS: dict[str, Column] = {
    "id": Column(User.id, "uuid"),
    "externalid": Column(User.external_id, case_exact=True),
    "username": Column(User.username, key=User.username_key),
    "displayname": Column(User.display_name),
    "nickname": Column(User.display_name),
    "title": Column(User.title),
    "locale": Column(User.locale),
    "preferredlanguage": Column(User.locale),
    "active": Column(User.status == UserStatus.active, "boolean"),
    "name.givenname": Column(User.first_name, key=User.first_name_key),
    "name.familyname": Column(User.last_name, key=User.last_name_key),
    "name.formatted": Column(user_search.FULL_NAME),
    "meta.created": Column(User.created_at, "datetime"),
    "meta.lastmodified": Column(User.modified_at, "datetime"),
    "enterprise:employeenumber": Column(User.employee_number),
    "enterprise:department": Column(User.department),
    "enterprise:division": Column(User.division),
    "enterprise:organization": Column(User.organization),
    "enterprise:costcenter": Column(User.cost_center),
    "enterprise:manager.value": Column(User.manager_id, "uuid"),
}

USER_MULTI: dict[str, MultiValued] = {
    "emails": MultiValued(
        _work(User.email, User.email_key, User.email_unique == true()), _same_row(User.email)
    ),
    "phonenumbers": MultiValued(_work(User.phone), _same_row(User.phone)),
    "groups": MultiValued(
        {
            "value": Column(GroupMembership.group_id, "uuid"),
            "type": Column(literal("direct")),
        },
        _member_exists(User.id, GroupMembership.user_id),
    ),
}

GROUP_COLUMNS: dict[str, Column] = {
    "id": Column(Group.id, "uuid"),
    "externalid": Column(Group.external_id, case_exact=True),
    "displayname": Column(Group.name),
    "meta.created": Column(Group.created_at, "datetime"),
    "meta.lastmodified": Column(Group.modified_at, "datetime"),
}

GROUP_MULTI: dict[str, MultiValued] = {
    "members": MultiValued(
        {
            "value": Column(GroupMembership.user_id, "uuid"),
            "type": Column(literal("User")),
        },
        _member_exists(Group.id, GroupMembership.group_id),
    ),
}


def attribute_key(path: AttrPath, core_schema: str) -> str:
    """The lookup key of an attribute path: lower-cased, with the core schema URN dropped."""
    uri = (path.uri or "").lower()
    prefix = ""
    if uri and uri != core_schema:
        if uri != ENTERPRISE_SCHEMA:
            raise UnsupportedFilter(f"unknown schema {path.uri}")
        prefix = "enterprise:"
    key = prefix + path.attr.lower()
    return f"{key}.{path.sub_attr.lower()}" if path.sub_attr else key


# The substring operators, as what a LIKE pattern puts before and after the value.
_SUBSTRING_OPS = {
    CompareOperator.co: ("%", "%"),
    CompareOperator.sw: ("", "%"),
    CompareOperator.ew: ("%", ""),
}


def _like(expr: Any, value: str, *, head: str, tail: str) -> ColumnElement[bool]:
    """A caseExact attribute's substring match (externalId)."""
    cond: ColumnElement[bool] = expr.like(like_pattern(value, head=head, tail=tail), escape="\\")
    if not value:
        return cond
    # SQLite's LIKE folds ASCII case whatever the collation, so a caseExact attribute
    # (externalId) is matched again with functions that compare exactly on both backends.
    if head and tail:
        exact = func.replace(expr, value, "") != expr
    elif tail:
        exact = func.substr(expr, 1, len(value)) == value
    else:
        exact = func.substr(expr, func.length(expr) - len(value) + 1) == value
    return and_(cond, exact)


def _datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise UnsupportedFilter(f"{value!r} is not a dateTime")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UnsupportedFilter(f"{value!r} is not a dateTime") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def compare(
    col: Column, op: CompareOperator, value: Any, name: str, *, unique_keys: UniqueKeys = _NO
) -> ColumnElement[bool]:
    """A null-safe SQL comparison of ``col`` with a filter literal; ``unique_keys``: the
    tenant holds every key unique (see Column.unique_where)."""
    expr = col.expr
    if value is None:
        if op == CompareOperator.eq:
            return expr.is_(None)  # type: ignore[no-any-return]
        if op == CompareOperator.ne:
            return expr.is_not(None)  # type: ignore[no-any-return]
        raise UnsupportedFilter(f"null can only be compared with eq or ne ({name})")
    if col.kind == "boolean":
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            value = value.lower() == "true"
        if not isinstance(value, bool) or op not in (CompareOperator.eq, CompareOperator.ne):
            raise UnsupportedFilter(f"{name} is boolean: use eq or ne with true or false")
        return expr if (op == CompareOperator.eq) == value else not_(expr)  # type: ignore[no-any-return]
    if col.kind == "uuid":
        if op not in (CompareOperator.eq, CompareOperator.ne):
            raise UnsupportedFilter(f"{name} can only be compared with eq or ne")
        try:
            as_uuid = uuid.UUID(str(value))
        except ValueError:
            return false() if op == CompareOperator.eq else true()
        cond = and_(expr.is_not(None), expr == as_uuid)
        return cond if op == CompareOperator.eq else not_(cond)
    if col.kind == "datetime":
        when = _datetime(value)
        ops = {
            CompareOperator.eq: expr.__eq__,
            CompareOperator.ne: expr.__ne__,
            CompareOperator.gt: expr.__gt__,
            CompareOperator.ge: expr.__ge__,
            CompareOperator.lt: expr.__lt__,
            CompareOperator.le: expr.__le__,
        }
        if op not in ops:
            raise UnsupportedFilter(f"{name} is a dateTime: {op.value} does not apply")
        return and_(expr.is_not(None), ops[op](when))
    if not isinstance(value, str):
        raise UnsupportedFilter(f"{name} is a string: compare it with a quoted value")
    if col.key is not None and op in (CompareOperator.eq, CompareOperator.ne):
        cond = col.key == fold(value)
        if op == CompareOperator.ne:
            return or_(col.key.is_(None), not_(cond))
        return (
            and_(cond, col.unique_where) if col.unique_where is not None and unique_keys() else cond
        )
    if op in _SUBSTRING_OPS:
        head, tail = _SUBSTRING_OPS[op]
        if col.case_exact:
            cond = _like(expr, value, head=head, tail=tail)
        else:
            cond = like_ci(expr, value, head=head, tail=tail)
            # On the user attributes with a trigram index, that index is searched first.
            narrowed = user_search.prefilter([([expr], value)])
            if narrowed is not None:
                cond = and_(narrowed, cond)
        return and_(expr.is_not(None), cond)
    if not col.case_exact:
        # lower() on both sides, in SQL, so both fold case the same way on each backend.
        expr, value = func.lower(expr), func.lower(literal(value))
    match op:
        case CompareOperator.eq:
            cond = expr == value
        case CompareOperator.ne:
            return or_(col.expr.is_(None), expr != value)
        case CompareOperator.gt:
            cond = expr > value
        case CompareOperator.ge:
            cond = expr >= value
        case CompareOperator.lt:
            cond = expr < value
        case CompareOperator.le:
            cond = expr <= value
    return and_(col.expr.is_not(None), cond)


class SqlFilter(FilterVisitor[ColumnElement[bool]]):
    def __init__(
        self,
        columns: Mapping[str, Column],
        multi: Mapping[str, MultiValued],
        core_schema: str,
        unique_keys: UniqueKeys = _NO,
    ) -> None:
        self.columns = columns
        self.multi = multi
        self.core_schema = core_schema
        self.unique_keys = unique_keys

    def _lookup(self, path: AttrPath) -> tuple[Column | None, MultiValued | None, str]:
        key = attribute_key(path, self.core_schema)
        if key in self.columns:
            return self.columns[key], None, key
        base, _, sub = key.partition(".")
        if base in self.multi:
            return None, self.multi[base], sub
        raise UnsupportedFilter(f"filtering on {path} is not supported")

    def _sub(self, multi: MultiValued, sub: str, path: AttrPath) -> Column:
        column = multi.sub.get(sub or "value")
        if column is None:
            raise UnsupportedFilter(f"filtering on {path} is not supported")
        return column

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        column, multi, sub = self._lookup(node.attr_path)
        if multi is not None:
            inner = self._sub(multi, sub, node.attr_path)
            return multi.wrap(
                compare(
                    inner,
                    node.op,
                    node.value,
                    str(node.attr_path),
                    unique_keys=self.unique_keys,
                )
            )
        assert column is not None
        return compare(
            column, node.op, node.value, str(node.attr_path), unique_keys=self.unique_keys
        )

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        column, multi, sub = self._lookup(node.attr_path)
        if multi is not None:
            inner = self._sub(multi, sub, node.attr_path)
            return multi.wrap(inner.expr.is_not(None))
        assert column is not None
        if column.kind == "boolean":
            return true()
        if column.kind == "string":
            return and_(column.expr.is_not(None), column.expr != "")
        return column.expr.is_not(None)  # type: ignore[no-any-return]

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        terms = [self.visit(t) for t in node.terms]
        return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        _column, multi, sub = self._lookup(node.attr_path)
        if multi is None or sub:
            raise UnsupportedFilter(f"{node.attr_path} is not multi-valued")
        inner = SqlFilter(multi.sub, {}, self.core_schema, self.unique_keys).visit(node.val_filter)
        return multi.wrap(inner)


# User attributes whose eq a tenant-scoped index answers (the primary key, the unique
# username key, ix_users_tenant_external_id, the email key's indexes).
_INDEXED_EQ = frozenset({"id", "externalid", "username", "emails", "emails.value"})


def finds_by_index(tree: FilterNode | None) -> bool:
    """Whether a users filter pins its users to an index: an ``eq`` on an attribute of
    ``_INDEXED_EQ`` (also as Entra ID's ``emails[type eq "work"].value eq``), alone or
    ANDed with anything. Such a search reads a few rows whatever the tenant's size, where
    another may read many: Okta and Entra ID ask ``userName eq`` before every create."""
    if isinstance(tree, Comparison):
        try:
            key = attribute_key(tree.attr_path, USER_SCHEMA)
        except UnsupportedFilter:
            return False
        return tree.op == CompareOperator.eq and key in _INDEXED_EQ
    if isinstance(tree, LogicalExpr) and tree.op == LogicalOperator.and_:
        return any(finds_by_index(term) for term in tree.terms)
    if isinstance(tree, ValuePath) and tree.attr_path.attr.lower() == "emails":
        return not tree.attr_path.uri and _pins_value(tree.val_filter)
    return False


def _pins_value(tree: FilterNode) -> bool:
    if isinstance(tree, Comparison):
        return tree.op == CompareOperator.eq and tree.attr_path.attr.lower() == "value"
    if isinstance(tree, LogicalExpr) and tree.op == LogicalOperator.and_:
        return any(_pins_value(term) for term in tree.terms)
    return False


@dataclass(frozen=True)
class KeyLookup:
    """A users filter that is one equality on a key unique in the tenant: ``userName eq``,
    ``id eq``, ``emails eq`` (also ``emails.value eq`` and Entra ID's ``emails[type eq
    "work"].value eq``), the lookups Okta and Entra ID send before every create.

    ``value`` is the key as stored (folded by ``fold``, or the UUID). It selects the users
    ``user_condition`` selects for the same filter: ``username_key``, ``id`` or ``email_key``
    equal to it; for an address, where the tenant keeps addresses unique, also
    ``email_unique`` (``compare`` with ``unique_keys``). rosterd.repositories.users reads them
    by index (``find_by_key``), without building a statement per request.
    """

    attribute: Literal["username", "id", "emails"]
    value: str | uuid.UUID


def key_lookup(tree: FilterNode | None) -> KeyLookup | None:
    """The filter as a ``KeyLookup``, or None when it is anything else."""
    if isinstance(tree, Comparison):
        key = _key_of(tree.attr_path, USER_SCHEMA)
        value = _eq_text(tree)
        if value is None:
            return None
        if key == "username":
            return KeyLookup("username", fold(value))
        if key in ("emails", "emails.value"):
            return KeyLookup("emails", fold(value))
        if key == "id":
            try:
                return KeyLookup("id", uuid.UUID(value))
            except ValueError:
                return None  # matches no one: left to the general search
        return None
    if not isinstance(tree, ValuePath) or _key_of(tree.attr_path, USER_SCHEMA) != "emails":
        return None
    inner = tree.val_filter
    if isinstance(inner, LogicalExpr) and inner.op != LogicalOperator.and_:
        return None
    terms = list(inner.terms) if isinstance(inner, LogicalExpr) else [inner]
    values = [_eq_text(t) for t in terms if _sub_key(t) == "value"]
    others = [t for t in terms if _sub_key(t) != "value"]
    if len(values) != 1 or values[0] is None or not all(_is_work_type(t) for t in others):
        return None
    return KeyLookup("emails", fold(values[0]))


def _key_of(path: AttrPath, schema: str) -> str | None:
    try:
        return attribute_key(path, schema)
    except UnsupportedFilter:
        return None


def _sub_key(tree: FilterNode) -> str | None:
    """The key of a comparison's attribute inside a value path (``value``, ``type``...)."""
    if not isinstance(tree, Comparison) or tree.attr_path.uri:
        return None
    return _key_of(tree.attr_path, USER_SCHEMA)


def _eq_text(tree: FilterNode) -> str | None:
    """The text an ``eq`` comparison compares with; None for anything else."""
    if isinstance(tree, Comparison) and tree.op == CompareOperator.eq:
        return tree.value if isinstance(tree.value, str) else None
    return None


def _is_work_type(tree: FilterNode) -> bool:
    """``type eq "work"`` in any case: what every stored address's type is (see ``_work``).
    ASCII only, as SQL's lower() folds it on both databases."""
    value = _eq_text(tree) if _sub_key(tree) == "type" else None
    return value is not None and value.isascii() and value.lower() == "work"


def user_condition(tree: FilterNode, *, unique_emails: UniqueKeys = _NO) -> ColumnElement[bool]:
    return SqlFilter(USER_COLUMNS, USER_MULTI, USER_SCHEMA, unique_emails).visit(tree)


def group_condition(tree: FilterNode) -> ColumnElement[bool]:
    return SqlFilter(GROUP_COLUMNS, GROUP_MULTI, GROUP_SCHEMA).visit(tree)


def sort_column(path: AttrPath, *, groups: bool = False) -> Any:
    """The column ``sortBy`` names; multi-valued attributes sort by their primary value."""
    columns, multi, schema = (
        (GROUP_COLUMNS, GROUP_MULTI, GROUP_SCHEMA)
        if groups
        else (USER_COLUMNS, USER_MULTI, USER_SCHEMA)
    )
    key = attribute_key(path, schema)
    if key in columns and columns[key].kind != "boolean":
        col = columns[key]
        if col.key is not None:
            return col.key
        return col.expr if col.case_exact or col.kind != "string" else func.lower(col.expr)
    base, _, sub = key.partition(".")
    if base in multi and base != "groups" and (sub or "value") == "value" and not groups:
        value = multi[base].sub["value"]
        return value.key if value.key is not None else func.lower(value.expr)
    raise UnsupportedFilter(f"sorting by {path} is not supported")


R = TypeVar("R", User, Group)


def search(
    session: Session,
    model: type[R],
    tenant_id: uuid.UUID,
    tree: FilterNode | None,
    *,
    sort_by: AttrPath | None,
    descending: bool,
    offset: int,
    limit: int,
    unique_emails: UniqueKeys = _NO,
) -> tuple[list[R], int]:
    """Users or groups of a tenant matching a SCIM filter, sorted, one page, and the total;
    ``unique_emails`` tells, when a filter compares addresses, whether the tenant lets no two
    users share one (asked only then: it costs a read).

    RFC 7644 §3.4.2.3: resources without a value sort last ascending and first descending
    (SQLite's default would put NULLs first either way). Ties break on id for a stable order.
    """
    groups = model is Group
    condition = (
        (group_condition(tree) if groups else user_condition(tree, unique_emails=unique_emails))
        if tree is not None
        else None
    )
    key = sort_column(sort_by, groups=groups) if sort_by is not None else model.created_at
    stmt = select(model).where(model.tenant_id == tenant_id)
    if condition is not None:
        stmt = user_search.where(stmt, condition)

    def counted() -> int:
        if condition is None and not groups:
            return user_tallies.total(session, tenant_id, set(UserStatus))
        return count(session, stmt)

    if limit == 0:
        return [], counted()
    page = stmt
    if condition is not None and sort_by is None and not groups:
        # Creation order: a common needle's page is found walking ix_users_tenant_created_at.
        page = user_search.where(
            select(model).where(model.tenant_id == tenant_id), condition, walk_if_common=session
        )
    order = key.desc().nulls_first() if descending else key.asc().nulls_last()
    rows = list(session.scalars(page.order_by(order, model.id).offset(offset).limit(limit)))
    return rows, page_total(len(rows), offset, limit, counted)
