"""Debian's Chromium driven by Playwright, for the tests that go through pages as a person
does (the console, the OAuth consent). `make test` installs it with apt; Playwright's own
browser download is not used. Without it these tests skip, except in CI
(ROSTERD_TEST_REQUIRE_CHROMIUM), where they fail."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")


@contextmanager
def chromium() -> Iterator[Browser]:
    """Chromium for one test module: while Playwright's sync API is open it keeps an event
    loop running in this thread, and any later test calling asyncio.run would fail, so a
    module fixture (not a session one) holds it."""
    if not CHROMIUM.exists():
        if os.environ.get("ROSTERD_TEST_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is not installed: `make test` installs it with apt")
        pytest.skip("chromium is not installed (`make test` installs it)")
    with sync_playwright() as playwright:
        # --no-sandbox: CI and the dev machines run the tests as root.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()
