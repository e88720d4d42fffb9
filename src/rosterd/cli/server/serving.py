"""``rosterd server serve`` and ``rosterd server migrate`` (also ``rosterd serve`` and
``rosterd migrate``): the two commands that may create a store."""

from __future__ import annotations

import logging
import os
from typing import Annotated, Any

import typer

from rosterd.api.heap import freeze_startup_objects
from rosterd.cli import output, store
from rosterd.config import Settings
from rosterd.lifecycle.scheduler import Scheduler
from rosterd.lifecycle.search_indexer import SearchIndexer
from rosterd.lifecycle.webhooks import webhook_deliverer

_WORKERS_HELP = (
    "Worker processes serving requests; else ROSTERD_WORKERS, else 1. More than one needs "
    "PostgreSQL (on SQLite, serve refuses: SQLite admits one writer at a time, and rosterd "
    "queues writers within one process only). Rate limits kept in memory:// are counted per "
    "worker; ROSTERD_RATE_LIMIT_STORAGE=redis://... shares them."
)
ASGI_FACTORY = "rosterd.api.asgi:create"


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help=_WORKERS_HELP, show_default=False)
    ] = None,
) -> None:
    """Migrate the store if needed and serve every API on one port.

    This process migrates the store, makes the first tenant of an empty one, and runs the
    scheduler (expiry dates), the webhook deliverer and, on SQLite, the search indexer;
    with --workers N it then starts N worker processes, each with its own database
    connections, sharing the port.
    Several nodes on one PostgreSQL database each run a scheduler and a deliverer; row
    locks make every expiry happen, and every webhook delivery go out, once.
    """
    import uvicorn

    from rosterd.api.app import create_app

    settings = store.serve_at(host, port)
    count = settings.workers if workers is None else workers
    if count > 1:
        _check_workers(settings, count)
    runtime = store.open_store(create=True)
    where = runtime.db.engine.url.render_as_string()
    processes = f", {count} workers" if count > 1 else ""
    output.err.print(f"rosterd listening on http://{host}:{port} (store: {where}{processes})")
    scheduler = Scheduler(
        runtime.db,
        interval_seconds=settings.scheduler_interval_seconds,
        audit_retention_days=settings.audit_retention_days,
        oauth_grant_retention_days=settings.oauth_grant_retention_days,
        import_journal_retention_days=settings.import_journal_retention_days,
    )
    scheduler.start()
    # SQLite's search index is brought up to date in the background (PostgreSQL keeps its own).
    indexer = SearchIndexer(runtime.db) if runtime.db.is_sqlite else None
    if indexer is not None:
        indexer.start()
    deliverer = webhook_deliverer(runtime)
    deliverer.start()
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level,
        "access_log": logs_access(settings.log_level),
        # The app believes forwarded headers from ROSTERD_TRUSTED_PROXIES only; uvicorn's
        # own default would trust 127.0.0.1 whatever the settings say.
        "proxy_headers": False,
        # Seconds a worker has to answer the serve process's health check, from its spawn
        # on: a fresh interpreter importing rosterd on a busy host needs more than
        # uvicorn's 5, and one killed while starting is only started again.
        "timeout_worker_healthcheck": 30,
    }
    try:
        if count == 1:
            app = create_app(runtime)
            freeze_startup_objects()
            uvicorn.run(app, **options)
        else:
            _hand_store_to_workers(settings)
            uvicorn.run(ASGI_FACTORY, factory=True, workers=count, **options)
    finally:
        deliverer.stop()
        if indexer is not None:
            indexer.stop()
        scheduler.stop()
        runtime.close()


def logs_access(log_level: str) -> bool:
    """Whether a server at ``log_level`` logs each request: uvicorn's access lines are at
    INFO. Above it they would be dropped, but only after uvicorn had formatted their
    arguments (the client's address, the quoted path) for every response: a few percent of
    the CPU of a GET by id, for nothing. uvicorn's own "trace" is below DEBUG."""
    return logging.getLevelNamesMapping().get(log_level.upper(), logging.NOTSET) <= logging.INFO


def _check_workers(settings: Settings, count: int) -> None:
    """Refuse several workers on SQLite; warn when each would keep rate limits of its own."""
    if settings.is_sqlite:
        output.err.print(
            f"[red]error:[/red] --workers {count} needs PostgreSQL "
            "(ROSTERD_DATABASE_URL=postgresql+psycopg://...). SQLite admits one writer at a "
            "time and rosterd queues writers within one process, so one process serves a "
            "SQLite store: run serve with one worker."
        )
        raise typer.Exit(2)
    if settings.rate_limit_storage.startswith("memory://"):
        output.err.print(
            f"[yellow]warning:[/yellow] rate limits and failed-login limits are counted in "
            f"each worker's memory: with {count} workers a client may get up to {count} times "
            "each limit. Set ROSTERD_RATE_LIMIT_STORAGE=redis://host:6379/0 to share them."
        )


def _hand_store_to_workers(settings: Settings) -> None:
    """Put the store this command resolved (its --data-dir / --database-url included) in the
    environment the spawned workers read their settings from."""
    os.environ["ROSTERD_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["ROSTERD_DATABASE_URL"] = settings.resolved_database_url
    os.environ["ROSTERD_PUBLIC_URL"] = settings.public_url


def migrate() -> None:
    """Create the store, or upgrade its schema."""
    with store.runtime(create=True) as runtime:
        output.out.print(f"database at {runtime.db.engine.url.render_as_string()} is up to date")
