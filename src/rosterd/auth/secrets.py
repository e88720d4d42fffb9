"""Secrets: generation with typed prefixes, HMAC-SHA256 for tokens, argon2id for passwords."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rosterd.private_files import make_private_dir

CLIENT_ID_PREFIX = "rcl_"
CLIENT_SECRET_PREFIX = "rcs_"  # noqa: S105 (a prefix, not a secret)
# The authorization code flow's one-time codes and its rotating refresh tokens.
AUTHORIZATION_CODE_PREFIX = "rac_"
REFRESH_TOKEN_PREFIX = "rrt_"  # noqa: S105 (a prefix, not a secret)
# Reserved for the SCIM bearer tokens, so other surfaces can tell the caller what went wrong.
SCIM_TOKEN_PREFIX = "rscim_"  # noqa: S105 (a prefix, not a secret)
# API keys start with "seam_" because the official Seam SDK refuses any other key format.
API_KEY_PREFIX = "seam_rosterd_"
# Where the generated HMAC key is kept in the data directory when none is configured.
SECRET_KEY_FILE = "secret.key"  # noqa: S105 (a file name, not a secret)

_password_hasher = PasswordHasher()


def new_token(prefix: str, nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def token_hash(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def token_matches(key: bytes, token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(key, token), stored_hash)


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made with other parameters than new hashes are (then it should be
    replaced on the next successful login, so every check costs the same)."""
    return _password_hasher.check_needs_rehash(stored_hash)


def load_or_create_secret_key(configured: str | None, data_dir: Path) -> bytes:
    """The HMAC key: the configured one, else a random key kept in ``data_dir/secret.key``."""
    if configured:
        return configured.encode()
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        return path.read_bytes().strip()
    make_private_dir(data_dir)
    key = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key
