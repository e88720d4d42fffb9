"""What every surface's wire layer shares: its field table, and the messages told in it.

A surface names its request models' attributes after the domain fields they carry and
aliases them to its wire names; ``field_table`` reads the aliases back, so the one table a
surface has is the one its models declare, used both ways: pydantic maps wire to domain
names when it reads a body, and the table maps the domain names of a ``DomainError``'s
details back to wire names when the surface renders it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel

from rosterd.domain import rules
from rosterd.services.errors import DomainError, Invalid


def field_table(*models: type[BaseModel], **extra: str) -> dict[str, str]:
    """Domain field name → wire name, from the aliases of ``models`` (and ``extra``: names
    a surface takes outside a model, e.g. a query parameter)."""
    table: dict[str, str] = {}
    for model in models:
        for name, info in model.model_fields.items():
            if info.alias:
                table[name] = info.alias
    return {**table, **extra}


def wire_message(exc: DomainError, table: dict[str, str]) -> str:
    """``exc``'s message with its fields named as the surface names them.

    A message that is no more than its details (``invalid_field``: "first_name: ...") is
    told again from them; any other message is kept, followed by the details that the
    surface names differently, so a format whose only place for a field is the message still
    names it in the client's terms. The message is never parsed.
    """
    told = "; ".join(f"{d.field}: {d.message}" for d in exc.details)
    wired = "; ".join(f"{table.get(d.field, d.field)}: {d.message}" for d in exc.details)
    if told == wired:
        return exc.message
    if exc.message == told:
        return wired
    return f"{exc.message} ({wired})"


def not_null(value: object) -> object:
    """A field a patch may leave out but not clear (``field_validator(..., mode="before")``:
    it sees only what was sent)."""
    if value is None:
        raise ValueError("must not be null")
    return value


def _searchable(value: str) -> str:
    """A text a query may carry: the domain's text rule (no NUL), told as pydantic tells a
    bad value, so the parameter is named by its wire name."""
    try:
        return rules.text(value, "", None)
    except Invalid as exc:
        raise ValueError(exc.details[0].message) from exc


# Text from a query string or a non-user resource (group, team, role names): no NUL.
Text = Annotated[str, AfterValidator(_searchable)]
