"""The bench's servers: a scenario that fails shows what the server logged; a server with
workers is measured whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from bench.run import process_tree, rss_mb, server

# A bare app under uvicorn, logging at info: its startup line and each request are logged.
CHATTY = [
    *(sys.executable, "-m", "uvicorn", "bench.ceiling:app"),
    *("--host", "127.0.0.1", "--log-level", "info"),
]


def test_a_failing_scenario_prints_the_end_of_the_servers_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def scenario() -> None:
        with server(CHATTY, {}, "/") as (base, _pid):
            assert httpx.get(base + "/").status_code == 200
            raise RuntimeError("a scenario failed")

    with pytest.raises(RuntimeError, match="a scenario failed"):
        scenario()
    err = capsys.readouterr().err
    assert "--- the end of the log of" in err
    # uvicorn's own lines, the request included: the log is the server's, up to the failure.
    assert "Uvicorn running on" in err and '"GET / HTTP/1.1" 200' in err


def test_a_scenario_that_passes_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with server(CHATTY, {}, "/") as (base, _pid):
        assert httpx.get(base + "/").status_code == 200
    assert capsys.readouterr().err == ""


def test_memory_is_the_largest_process_of_a_server_with_workers() -> None:
    """A server started with workers: its supervisor is small, its workers hold the store's
    caches, so the row reports the largest process, here a child holding 64 MB."""
    child = "b = bytearray(64 * 2**20); import time; time.sleep(60)"
    parent = (
        f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); "
        "time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent])
    try:
        deadline = time.monotonic() + 30
        while rss_mb(proc.pid) < 64 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rss_mb(proc.pid) >= 64
        assert len(process_tree(proc.pid)) == 2
    finally:
        for pid in reversed(process_tree(proc.pid)):
            os.kill(pid, signal.SIGTERM)
        proc.wait(timeout=10)
