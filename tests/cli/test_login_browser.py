"""`rosterd login --browser` (rosterd.cli.browser_login) against a real `rosterd serve`: the
command listens on 127.0.0.1, the person signs in and allows it on the server's pages, and
the profile keeps a refresh token (no client secret anywhere), rotated as it is used."""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from rosterd.cli.main import app as cli
from rosterd.cli.output import ExitCode
from tests.api.oauth.flow import Browser, make_admin, redirected_to, register_app
from tests.conftest import LiveServer

pytestmark = pytest.mark.live


def _rosterd(config_home: Path, *args: str) -> Result:
    env = {"XDG_CONFIG_HOME": str(config_home), "ROSTERD_CLIENT_SECRET": None, "NO_COLOR": "1"}
    return CliRunner().invoke(cli, list(args), env=env)


def _person(
    live_server: LiveServer, slug: str, decision: str, seen: list[str]
) -> Callable[[str], bool]:
    """A browser that a person uses to sign in and answer the consent page."""

    def open_url(url: str) -> bool:
        seen.append(url)
        with httpx.Client(base_url=live_server.base_url, timeout=60) as http:
            person = Browser(http, slug, make_admin(live_server.runtime, slug))
            assert person.sign_in().status_code == 303
            page = http.get(url)
            assert page.status_code == 200, page.text
            person.last_page = page.text
            answer = person.answer(decision)
            target, _ = redirected_to(answer)
            assert target.startswith("http://127.0.0.1:") and target.endswith("/callback")
            assert httpx.get(answer.headers["location"]).status_code == 200
        return True

    return open_url


def test_login_in_the_browser_keeps_a_rotating_refresh_token(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = live_server.tenant()
    tenant.user(firstName="Grace", lastName="Hopper")
    app = register_app(
        live_server.runtime,
        tenant.slug,
        scopes=["user:read"],
        redirect_uris=["http://127.0.0.1/callback"],
        name="rosterd CLI",
    )
    seen: list[str] = []
    monkeypatch.setattr("webbrowser.open", _person(live_server, tenant.slug, "allow", seen))
    result = _rosterd(
        tmp_path, "login", "--browser", "--server", live_server.base_url,
        "--tenant", tenant.slug, "--client-id", app.client_id,
    )  # fmt: skip
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert "code_challenge_method=S256" in seen[0] and seen[0] in result.stderr
    assert "user:read" in result.stderr

    config = tmp_path / "rosterd"
    profile = tomllib.loads((config / "profiles.toml").read_text())["profiles"]["default"]
    assert profile == {
        "server": live_server.base_url,
        "tenant": tenant.slug,
        "client_id": app.client_id,
        "auth": "browser",
    }
    stored = config / "secrets" / "default"
    first = stored.read_text()
    assert first.startswith("rrt_") and stat.S_IMODE(stored.stat().st_mode) == 0o600

    # The remote commands get tokens with it; each use rotates it, and the new one is kept.
    for _ in range(2):
        listed = _rosterd(tmp_path, "users", "list", "--json")
        assert listed.exit_code == 0, (listed.stdout, listed.stderr, listed.exception)
        assert "Hopper" in listed.stdout
    assert stored.read_text() not in (first, "")


def test_denying_in_the_browser_stores_nothing(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = live_server.tenant()
    app = register_app(
        live_server.runtime, tenant.slug, redirect_uris=["http://127.0.0.1/callback"]
    )
    monkeypatch.setattr("webbrowser.open", _person(live_server, tenant.slug, "deny", []))
    result = _rosterd(
        tmp_path, "login", "--browser", "--server", live_server.base_url,
        "--tenant", tenant.slug, "--client-id", app.client_id,
    )  # fmt: skip
    assert result.exit_code == ExitCode.AUTH, (result.stdout, result.stderr)
    assert "access_denied" in result.stderr or "denied" in result.stderr
    assert not (tmp_path / "rosterd" / "profiles.toml").exists()
