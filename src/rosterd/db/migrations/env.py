from __future__ import annotations

import warnings
from collections.abc import Callable

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from rosterd.models import Base

config = context.config
target_metadata = Base.metadata


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Leave out of autogenerate what the models cannot declare: the search objects of
    migrations 0004 and 0013.

    Those are SQLite's ``users_fts`` (an FTS5 virtual table, with its shadow tables
    ``users_fts_*``) and the queue of rows it is yet to index, ``users_fts_pending``, which
    only triggers and the search indexer use; and PostgreSQL's pg_trgm GIN indexes
    ``ix_users_trgm_*``.
    tests/db/test_migrations.py checks that they exist instead.
    """
    if type_ == "table":
        return not (name == "users_fts" or (name or "").startswith("users_fts_"))
    if type_ == "index":
        return not (name or "").startswith("ix_users_trgm_")
    return True


def _include_object(dialect: str) -> Callable[..., bool]:
    """Leave out what the models declare for another database only (``Index.ddl_if``), such
    as the event feed's PostgreSQL index: Alembic compares it regardless."""

    def include(obj: object, _name: object, _type: object, _reflected: object, _to: object) -> bool:
        only = getattr(obj, "_ddl_if", None)
        return only is None or only.dialect in (None, dialect)

    return include


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER through table rebuilds.
        compare_type=True,
        include_name=_include_name,
        include_object=_include_object(connection.dialect.name),
    )


# Neither backend can reflect expression indexes (lower(email) ...), so autogenerate skips
# them; tests/db/test_migrations.py checks those indexes exist instead.
warnings.filterwarnings("ignore", message=".*expression-based index.*")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
