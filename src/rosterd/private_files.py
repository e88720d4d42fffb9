"""Files only rosterd's own user may read: the data directory, the SQLite store, secrets."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger("rosterd")

# SQLite makes these beside the database and gives them the database file's mode.
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def make_private_dir(path: Path) -> None:
    """Create ``path`` (with any missing parents) readable by this user only (0700).

    A directory that already exists is left as it is: it is the operator's.
    """
    if path.is_dir():
        return
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)  # mkdir's mode would be narrowed by the umask, never widened


def write_private_file(path: Path, content: str) -> None:
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)


def _tighten(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        log.warning("%s was readable by other users (mode %03o); rosterd made it 0600", path, mode)
        path.chmod(0o600)


def private_sqlite_store(url: str) -> None:
    """Make sure the SQLite file of ``url`` is readable by this user only, before SQLite
    opens it: a new file is created 0600 (SQLite would make it 0644 under the usual umask);
    an existing one, and its -wal/-shm/-journal files, that others may read is tightened to
    0600 with a warning. Other URLs are left alone."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return
    if database.startswith("file:"):
        return  # an SQLite URI names its own file and options; the operator manages it
    path = Path(database)
    make_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for companion in (path, *(path.with_name(path.name + s) for s in _SQLITE_COMPANIONS)):
            _tighten(companion)
    else:
        # An empty file is a new database to SQLite.
        os.fchmod(fd, 0o600)
        os.close(fd)
