"""Login profiles of the remote commands: which server, tenant and OAuth client to use.

Profiles live in ``$XDG_CONFIG_HOME/rosterd/profiles.toml`` (``~/.config/rosterd`` when
XDG_CONFIG_HOME is unset), one table each::

    [profiles.default]
    server = "https://rosterd.example.com"
    tenant = "acme"
    client_id = "rcl_…"

A profile's client secret is never in that file: it is in ``secrets/<profile>`` beside it,
readable by its owner only (0600, in a 0700 directory), or not stored at all when it comes
from ROSTERD_CLIENT_SECRET. A profile made by ``rosterd login --browser`` (``auth =
"browser"``) has a public client and no secret: the same file holds its refresh token,
replaced by the next one each time it is used.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import tomli_w

from rosterd.private_files import make_private_dir, write_private_file

SECRET_ENV = "ROSTERD_CLIENT_SECRET"  # noqa: S105 (a variable's name)
PROFILE_ENV = "ROSTERD_PROFILE"
DEFAULT_PROFILE = "default"
CLIENT_CREDENTIALS = "client_credentials"
BROWSER = "browser"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ProfileError(Exception):
    """A profile that is not there, or a name or file that cannot be one."""


@dataclass(frozen=True)
class Profile:
    name: str
    server: str
    tenant: str
    client_id: str
    # How the profile gets tokens: its client's secret, or a refresh token (BROWSER).
    auth: str = CLIENT_CREDENTIALS


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "rosterd"


def profiles_file() -> Path:
    return config_dir() / "profiles.toml"


def secret_file(name: str) -> Path:
    return config_dir() / "secrets" / check_name(name)


def check_name(name: str) -> str:
    """``name`` if it can name a profile (it also names the profile's secret file)."""
    if not _NAME.fullmatch(name):
        raise ProfileError(
            f"{name!r} is not a profile name: use letters, digits, '.', '_' and '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return name


def _read() -> dict[str, dict[str, str]]:
    path = profiles_file()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path} is not valid TOML: {exc}") from exc
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ProfileError(f"{path}: 'profiles' is not a table")
    return profiles


def _write(profiles: dict[str, dict[str, str]]) -> None:
    make_private_dir(config_dir())
    write_private_file(profiles_file(), tomli_w.dumps({"profiles": profiles}))


def load_all() -> list[Profile]:
    """Every profile, by name."""
    return [_profile(name, fields) for name, fields in sorted(_read().items())]


def load(name: str) -> Profile:
    fields = _read().get(check_name(name))
    if fields is None:
        raise ProfileError(
            f"no profile {name!r} in {profiles_file()}: run `rosterd login` "
            f"(with --profile {name} to make that one)"
        )
    return _profile(name, fields)


def _profile(name: str, fields: object) -> Profile:
    if not isinstance(fields, dict) or not all(
        isinstance(fields.get(key), str) for key in ("server", "tenant", "client_id")
    ):
        raise ProfileError(
            f"profile {name!r} in {profiles_file()} needs server, tenant and client_id"
        )
    auth = fields.get("auth", CLIENT_CREDENTIALS)
    if auth not in (CLIENT_CREDENTIALS, BROWSER):
        raise ProfileError(f"profile {name!r} in {profiles_file()}: unknown auth {auth!r}")
    return Profile(name, fields["server"], fields["tenant"], fields["client_id"], auth)


def save(profile: Profile, secret: str | None) -> None:
    """Keep ``profile`` (replacing one of its name) and its secret; ``secret=None`` keeps no
    secret, and removes one stored before."""
    profiles = _read()
    fields = asdict(profile)
    del fields["name"]
    if profile.auth == CLIENT_CREDENTIALS:
        del fields["auth"]
    profiles[check_name(profile.name)] = fields
    _write(profiles)
    path = secret_file(profile.name)
    if secret is None:
        path.unlink(missing_ok=True)
    else:
        store_secret(profile.name, secret)


def store_secret(name: str, secret: str) -> None:
    """Keep the profile's secret (or refresh token) in its private file."""
    path = secret_file(name)
    # Made afresh, so it is 0600 whatever mode a file left there had.
    path.unlink(missing_ok=True)
    write_private_file(path, secret)


def remove(name: str) -> bool:
    """Forget the profile and its stored secret; False when there was none."""
    profiles = _read()
    found = profiles.pop(check_name(name), None) is not None
    if found:
        _write(profiles)
    path = secret_file(name)
    had_secret = path.exists()
    path.unlink(missing_ok=True)
    return found or had_secret


def stored_secret(name: str) -> str | None:
    try:
        return secret_file(name).read_text().strip() or None
    except FileNotFoundError:
        return None
