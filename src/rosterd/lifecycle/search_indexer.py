"""The search indexer inside `rosterd serve` on SQLite: keeps users_fts up with users.

User writes only note what changed (rosterd.repositories.search_queue); this thread indexes
it soon after, in batches of at most ``batch`` rows, each in a short transaction of its own
through ``Database.writer``, so it takes its turn on SQLite's one write connection between
the request groups (rosterd.db.work.GroupCommitWriter). Searches are exact whether or not it
has caught up; how far behind it is only decides how many pending rows each search scans.

It wakes when a transaction commits on the write engine in this process, then waits
``gather_seconds`` so the writes of a burst make one batch; it also looks for pending rows
every ``poll_seconds``, for writes by other processes on the store (CLI commands). One runs
per process serving a SQLite store (serve refuses more than one such process); two would
still be correct, each batch being all or nothing under the write lock.

PostgreSQL needs none: it maintains its trigram indexes itself.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import event

from rosterd.db.engine import Database
from rosterd.repositories import search_queue

log = logging.getLogger("rosterd.search_indexer")
# Rows a transaction indexes: a few milliseconds of the writer, so a request arriving meanwhile
# waits little; smaller batches cost more per row (about 0.045 ms at 50, 0.02 ms at 256).
BATCH = 256


class SearchIndexer:
    def __init__(
        self,
        db: Database,
        *,
        batch: int = BATCH,
        gather_seconds: float = 0.05,
        poll_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.batch = batch
        self.gather = gather_seconds
        self.poll = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Index everything pending now, a batch per transaction; how many rows."""
        total = 0
        while True:
            with self.db.writer.begin() as session:
                done = search_queue.drain(session.connection(), self.batch)
            total += done
            if done < self.batch:
                return total

    def _pending(self) -> bool:
        with self.db.reader() as session:
            return not search_queue.is_empty(session.connection())

    def _committed(self, _conn: Any) -> None:
        """A write committed on the write engine: wake up, unless it was the indexer's own."""
        if threading.current_thread() is not self._thread and not self._wake.is_set():
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(self.poll)
            if self._stop.is_set() or (woken and self._stop.wait(self.gather)):
                return
            self._wake.clear()
            try:
                if woken or self._pending():
                    self.run_once()
            except Exception:
                log.exception("search indexing failed; retrying at the next write or poll")

    def start(self) -> None:
        event.listen(self.db.write_engine, "commit", self._committed)
        self._thread = threading.Thread(target=self._loop, name="rosterd-indexer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop, after the batch under way (what is left stays pending, and found)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            event.remove(self.db.write_engine, "commit", self._committed)
            self._thread = None
