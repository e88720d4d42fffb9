"""The bench's servers: a scenario that fails shows what the server logged."""

from __future__ import annotations

import sys

import httpx
import pytest
from bench.run import server

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
