"""The remote import's journal file and its rules for the REST API (the import itself runs
against a live server in tests/cli/test_importing.py)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from rosterd.services import imports as imports_service
from rosterd.services.remote_imports import Journal, rest_rule, state_dir


def test_the_journal_file_lives_in_the_state_dir_and_is_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_dir() == tmp_path / "rosterd" / "imports"
    journal = Journal.of("http://a.example", "acme", "f" * 64)
    assert journal.last_line() == 0
    journal.save(400)
    assert journal.last_line() == 400
    assert journal.path.parent == state_dir()
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    assert json.loads(journal.path.read_text())["import_id"] == "f" * 64
    # Another server, tenant or file has a journal of its own.
    assert Journal.of("http://b.example", "acme", "f" * 64).last_line() == 0
    assert Journal.of("http://a.example", "other", "f" * 64).last_line() == 0


def test_what_the_rest_api_cannot_carry_is_a_bad_line() -> None:
    line = (
        '{"type": "user", "username": "ann", "email": "ann@corp.example", "phone": "+14255550100"}'
    )
    user = imports_service.check(5, imports_service.parse(5, line))
    assert isinstance(user, imports_service.CheckedUser)
    assert [str(p) for p in rest_rule(user)] == [
        "line 5: first_name: needed by the REST API (--server)",
        "line 5: last_name: needed by the REST API (--server)",
        "line 5: phone: not settable over the REST API; import it locally",
    ]
