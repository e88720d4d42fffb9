"""`rosterd login`, `logout` and `profiles list` (rosterd.cli.login, rosterd.cli.profiles):
the profile file, the secret file readable only by its owner, the secret from the
environment never written, a refused secret stored nowhere."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import httpx

from rosterd.cli.output import ExitCode
from tests.cli.remote_harness import SECRET, WRONG, RemoteCli, remote_cli
from tests.client.mock_server import BASE, TOKEN_PATH

__all__ = ["remote_cli"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_checks_the_secret_and_keeps_it_in_a_file_only_the_user_reads(
    remote_cli: RemoteCli,
) -> None:
    result = remote_cli.login()
    assert len(remote_cli.server.calls(TOKEN_PATH)) == 1  # verified by getting a token
    config = remote_cli.config_home / "rosterd"
    profiles = tomllib.loads((config / "profiles.toml").read_text())
    assert profiles == {
        "profiles": {"default": {"server": BASE, "tenant": "acme", "client_id": "cl_1"}}
    }
    assert SECRET not in (config / "profiles.toml").read_text()
    secret = config / "secrets" / "default"
    assert secret.read_text() == SECRET
    assert _mode(secret) == 0o600 and _mode(secret.parent) == 0o700
    assert SECRET not in result.stdout + result.stderr


def test_a_secret_from_the_environment_is_not_stored(remote_cli: RemoteCli) -> None:
    result = remote_cli.ok(
        "login", "--server", BASE, "--tenant", "acme", "--client-id", "cl_1",
        ROSTERD_CLIENT_SECRET=SECRET,
    )  # fmt: skip
    assert "ROSTERD_CLIENT_SECRET" in result.stderr
    assert not (remote_cli.config_home / "rosterd" / "secrets" / "default").exists()
    # Without the variable the profile has no secret to use: an auth failure, said clearly.
    refused = remote_cli.run("users", "list")
    assert refused.exit_code == ExitCode.AUTH, refused.stderr
    assert "ROSTERD_CLIENT_SECRET" in refused.stderr
    remote_cli.server.routes["GET /integration/v2/users"] = lambda r: httpx.Response(
        200, json={"items": [], "totalCount": 0}
    )
    assert remote_cli.ok("users", "list", "--json", ROSTERD_CLIENT_SECRET=SECRET).stdout


def test_a_refused_secret_is_exit_code_3_and_stores_nothing(remote_cli: RemoteCli) -> None:
    result = remote_cli.run(
        "login", "--server", BASE, "--tenant", "acme", "--client-id", "cl_1",
        input=WRONG + "\n",
    )  # fmt: skip
    assert result.exit_code == ExitCode.AUTH
    assert "bad secret" in result.stderr and "Traceback" not in result.output
    assert not (remote_cli.config_home / "rosterd").exists()


def test_profiles_are_listed_chosen_and_forgotten(remote_cli: RemoteCli) -> None:
    remote_cli.login()
    remote_cli.login("staging")
    listed = remote_cli.json("profiles", "list", "--profile", "staging")["items"]
    assert [(p["name"], p["current"], p["secretStored"]) for p in listed] == [
        ("default", False, True),
        ("staging", True, True),
    ]
    assert SECRET not in remote_cli.ok("profiles", "list").stdout
    remote_cli.ok("logout", ROSTERD_PROFILE="staging")
    assert not (remote_cli.config_home / "rosterd" / "secrets" / "staging").exists()
    assert [p["name"] for p in remote_cli.json("profiles", "list")["items"]] == ["default"]
    missing = remote_cli.run("logout", "--profile", "staging")
    assert missing.exit_code == ExitCode.NOT_FOUND


def test_a_command_without_a_profile_says_to_log_in(remote_cli: RemoteCli) -> None:
    result = remote_cli.run("users", "list", "--profile", "nowhere")
    assert result.exit_code == ExitCode.AUTH
    assert "rosterd login" in result.stderr and "Traceback" not in result.output


def test_a_profile_name_that_cannot_name_a_file_is_refused(remote_cli: RemoteCli) -> None:
    result = remote_cli.run(
        "login", "--server", BASE, "--client-id", "cl_1", "--profile", "../evil",
        input=SECRET + "\n",
    )  # fmt: skip
    assert result.exit_code == ExitCode.USAGE
    assert not (remote_cli.config_home / "evil").exists()
