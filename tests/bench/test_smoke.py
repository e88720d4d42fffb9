"""A smoke run of the benchmark suite on a tiny tenant, so it cannot rot.

It times nothing and asserts no speed: only that every scenario runs against a real
server, repeatedly (repeats against one store must not collide), and reports a figure with
its baseline, and the server's CPU per request with the baseline server's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOOR = "SQL floor of a SCIM create (users + audit rows, commits of 16)"
SCENARIOS = {
    "bulk load (rosterd import)",
    "GET /integration/v2/users/{id}",
    "list active, sortBy=name, limit=100",
    *(
        f"{surface} ({kind})"
        for surface in ("search v2 query=", "search user identities search=", "search SCIM co")
        for kind in ("common", "selective")
    ),
    "SCIM userName eq",
    "SCIM emails[type eq work].value eq",
    "SCIM POST /Users",
    FLOOR,
    "SCIM PATCH add 1 member, large group (wall)",
    "SCIM PATCH add 1 member, large group (server CPU)",
    "full lifecycle, 16 clients",
    "v2 PATCH during a login flood (16 clients)",
    "event feed followed during 16 writers",
    "webhook deliveries during 16 writers",
    "resident memory after the scenarios",
}
# Rows that measure no requests: the import's CPU is per user, the floor's per create (of
# the driver and database alone); memory has none.
NO_REQUESTS = {"bulk load (rosterd import)", FLOOR, "resident memory after the scenarios"}


def test_every_scenario_reports_a_figure(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        # CI (.ci/run) must show this run, so there a missing wrk fails instead of skipping.
        if os.environ.get("ROSTERD_TEST_REQUIRE_WRK"):
            pytest.fail("wrk is not installed: `make test` installs it with apt")
        pytest.skip("wrk is not installed (`make test` and `make bench` install it)")
    out = tmp_path / "smoke.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--users",
            "300",
            "--groups",
            "30",
            "--seconds",
            "1",
            "--runs",
            "2",
            "--backends",
            "sqlite",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    report = json.loads(out.read_text())
    figures = report["figures"]
    assert {f["scenario"] for f in figures} == SCENARIOS
    assert out.with_suffix(".md").read_text().count("| sqlite |") == len(SCENARIOS)
    for figure in figures:
        assert figure["value"] > 0, figure
        if figure["baseline_name"] is not None:
            assert figure["baseline"] > 0, figure
        if figure["metric"] == "p99 ms":
            assert 0 < figure["p50_ms"] <= figure["value"], figure
        if figure["scenario"] == "resident memory after the scenarios":
            continue
        # Every other row carries the server's CPU per request (the importer's per user),
        # each run's, and where a baseline server ran, its CPU and the ratio.
        assert figure["cpu_ms"] > 0, figure
        assert figure["cpu_runs"] and all(c > 0 for c in figure["cpu_runs"]), figure
        if figure["scenario"] not in NO_REQUESTS:
            assert figure["cpu_per"] == "request", figure
            assert figure["baseline_cpu_ms"] > 0, figure
            assert figure["cpu_ratio"] == figure["cpu_ms"] / figure["baseline_cpu_ms"], figure
    floor = next(f for f in figures if f["scenario"] == FLOOR)
    assert floor["cpu_per"] == "create" and len(floor["cpu_runs"]) == 2, floor
    post = next(f for f in figures if f["scenario"] == "SCIM POST /Users")
    # Its baseline is the CPU of one core per create at the POST target: 2x the reference.
    assert floor["baseline"] == pytest.approx(1000 / (2 * post["baseline"])), floor
    lifecycle = next(f for f in figures if f["scenario"] == "full lifecycle, 16 clients")
    assert lifecycle["cpu_ms_per_lifecycle"] == pytest.approx(5 * lifecycle["cpu_ms"])
    for name in ("event feed followed during 16 writers", "webhook deliveries during 16 writers"):
        row = next(f for f in figures if f["scenario"] == name)
        assert row["note"].startswith("every event arrived once"), row
    table = out.with_suffix(".md").read_text()
    assert "| server CPU ms |" in table
    assert "/lifecycle" in table


def test_login_timing_reports_every_kind(tmp_path: Path) -> None:
    out = tmp_path / "timing.json"
    subprocess.run(
        [sys.executable, "-m", "bench.login_timing", "--tries", "3", "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    report = json.loads(out.read_text())
    statuses = {k["kind"]: k["statuses"] for k in report["kinds"]}
    assert statuses == {
        "wrong password": {"401": 3},
        "unknown user": {"401": 3},
        "attacked": {"401": 3},
        "throttled (known)": {"429": 3},
        "throttled (unknown)": {"429": 3},
    }
    assert all(0 <= pair["p_value"] <= 1 for pair in report["pairs"]), report["pairs"]
