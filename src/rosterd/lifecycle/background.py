"""A piece of background work of `rosterd serve`: one thread calling ``run_once`` every
interval until stopped, a failed run logged and tried again at the next interval."""

from __future__ import annotations

import logging
import threading


class BackgroundLoop:
    name = "rosterd-background"

    def __init__(self, interval_seconds: float) -> None:
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = logging.getLogger(f"rosterd.{self.name}")

    def run_once(self) -> int:
        """Do the work that is due now; how many items it handled."""
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:
                self._log.exception("%s run failed; retrying next interval", self.name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the run under way (what it left stays in the store, found next time)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
