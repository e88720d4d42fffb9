from __future__ import annotations

import warnings

from alembic import context
from sqlalchemy import create_engine, pool

from rosterd.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER through table rebuilds.
        compare_type=True,
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
