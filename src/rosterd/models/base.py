"""Declarative base, constraint naming convention and portable column types."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, String, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator, TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on every backend.

    PostgreSQL keeps the offset natively; SQLite stores naive text, so values are normalised
    to UTC on the way in and tagged as UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def fold(value: str) -> str:
    """The case-insensitive key of a name or an address: Unicode NFC, then casefold, so
    ``ÄNNA`` and ``änna``, ``STRASSE`` and ``straße`` are one key on every database (SQL's
    lower() folds only ASCII on SQLite)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())


class FoldedKey(TypeDecorator[str]):
    """A case-insensitive key: ``fold`` of a username, an address or a name.

    Keys compare and sort by code point on both databases, so a key's order is one order:
    SQLite compares text bytewise, and PostgreSQL does with the "C" collation, whatever the
    database's own collation.
    """

    LENGTH = 1024
    impl = String(LENGTH)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(String(self.LENGTH, collation="C"))
        return dialect.type_descriptor(String(self.LENGTH))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid()}
