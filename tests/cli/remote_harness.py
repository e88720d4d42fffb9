"""The remote commands in-process over ``tests.client.mock_server.FakeServer``: the SDK the
commands build runs on an ``httpx.MockTransport``, profiles live in a temporary
XDG_CONFIG_HOME."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from rosterd.cli import output, remote
from rosterd.cli.main import app
from rosterd.client import Client, RetryPolicy
from tests.client.mock_server import BASE, TOKEN_PATH, FakeServer

SECRET = "s3cret-value"
WRONG = "wrong-secret"


@dataclass
class RemoteCli:
    server: FakeServer
    config_home: Path

    def run(self, *args: str, input: str | None = None, **env: str | None) -> Result:
        environ: dict[str, str | None] = {
            "XDG_CONFIG_HOME": str(self.config_home),
            "COLUMNS": "200",
            "NO_COLOR": "1",
            **env,
        }
        return CliRunner().invoke(app, list(args), input=input, env=environ)

    def ok(self, *args: str, **kw: Any) -> Result:
        result = self.run(*args, **kw)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def login(self, profile: str = "default") -> Result:
        return self.ok(
            "login", "--server", BASE, "--tenant", "acme", "--client-id", "cl_1",
            "--profile", profile, input=SECRET + "\n",
        )  # fmt: skip


def _refusing_wrong_secrets(server: FakeServer) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH and WRONG.encode() in request.content:
            return httpx.Response(
                401, json={"error": "invalid_client", "error_description": "bad secret"}
            )
        return server.handle(request)

    return httpx.MockTransport(handle)


@pytest.fixture
def remote_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RemoteCli:
    server = FakeServer()
    transport = _refusing_wrong_secrets(server)

    def make_client(url: str, tenant: str, client_id: str, secret: str) -> Client:
        return Client(
            url,
            tenant,
            client_id=client_id,
            client_secret=secret,
            http_client=httpx.Client(transport=transport),
            retry=RetryPolicy(max_retries=0),
        )

    monkeypatch.setattr(remote, "make_client", make_client)
    # Tables 200 columns wide whatever the process's consoles were made with: under xdist a
    # table came out 80 wide despite COLUMNS=200 (Rich keeps the COLUMNS it saw when a
    # console was made, if any, and uses 80 where it finds no terminal).
    for console in (output.out, output.err):
        monkeypatch.setattr(console, "_width", 200)
    for name in ("ROSTERD_CLIENT_SECRET", "ROSTERD_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return RemoteCli(server, tmp_path / "config")
