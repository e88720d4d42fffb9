"""A piece of background work of `rosterd serve`: one thread running ``tick`` each time
``wait`` lets it (every interval by default) until stopped, a failed run logged and tried
again next time."""

from __future__ import annotations

import logging
import threading


class BackgroundLoop:
    name = "background"

    def __init__(self, interval_seconds: float) -> None:
        self.interval = interval_seconds
        self._stop = threading.Event()
        # Set to end a wait early: by stop(), and by loops that wait for something to happen.
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = logging.getLogger(f"rosterd.{self.name}")

    def run_once(self) -> int:
        """Do the work that is due now; how many items it handled."""
        raise NotImplementedError

    def tick(self) -> None:
        """One turn of the loop: ``run_once`` unless a loop does more."""
        self.run_once()

    def wait(self) -> bool:
        """Wait until the next turn is due; False when the loop is to stop."""
        return not self._stop.wait(self.interval)

    def in_loop(self) -> bool:
        """Whether the caller is this loop's own thread."""
        return threading.current_thread() is self._thread

    def _loop(self) -> None:
        while self.wait():
            try:
                self.tick()
            except Exception:
                self._log.exception("%s run failed; retrying next time", self.name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"rosterd-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the run under way (what it left stays in the store, found next time)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
