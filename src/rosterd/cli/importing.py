"""``rosterd import``: bulk-load a directory from a JSON Lines file into the local store."""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from rosterd.cli import output, store
from rosterd.db.maintenance import refresh_statistics
from rosterd.services import imports as imports_service
from rosterd.services import tenants as tenants_service


def import_directory(
    path: Annotated[Path, typer.Argument(help="JSON Lines file; '-' reads stdin.")],
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 5000,
) -> None:
    """Bulk-load groups, teams and users (see services/imports.py for the format).

    Each batch is one transaction: on a bad line the import stops, reports the line, and
    keeps the batches before it.
    """
    started = time.monotonic()
    total = imports_service.ImportResult()
    with store.runtime() as runtime:
        with runtime.db.reader() as session:
            tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
            names = imports_service.Names.load(session, tenant_row.id)
        actor = store.cli_actor(tenant_row.id)
        stream = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
        with stream:
            lines = ((n, line) for n, line in enumerate(stream, start=1) if line.strip())
            while batch := list(itertools.islice(lines, batch_size)):
                parsed = [(n, imports_service.parse(n, line)) for n, line in batch]
                with runtime.db.writer.begin() as session:
                    done = imports_service.import_batch(session, actor, names, parsed)
                for name in ("groups", "teams", "users", "memberships"):
                    setattr(total, name, getattr(total, name) + getattr(done, name))
        refresh_statistics(runtime.db)
    elapsed = time.monotonic() - started
    output.out.print(
        f"imported {total.users} users, {total.groups} groups, {total.teams} teams, "
        f"{total.memberships} memberships in {elapsed:.1f}s"
    )
