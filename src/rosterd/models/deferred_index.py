"""Secondary indexes a bulk load on SQLite has set aside, to be built again after it.

A row is written in the transaction that drops its index, so an index is either in the
schema or here: a load killed before putting them back leaves them here, and the next
``rosterd import`` or ``rosterd serve`` builds them (rosterd.repositories.deferred_indexes).
"""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rosterd.models.base import Base


class DeferredIndex(Base):
    __tablename__ = "deferred_indexes"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    # The CREATE INDEX statement, as the schema held it.
    ddl: Mapped[str] = mapped_column(Text)
