"""Opening a runtime: the first start bootstraps the default tenant once, even when two
nodes start together on one empty store."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from rosterd.config import Settings
from rosterd.models import Tenant
from rosterd.repositories import tenants as tenants_repo
from rosterd.runtime import BOOTSTRAP_FILE, open_runtime
from tests.backends import database_url


def _settings(url: str, data_dir: Path) -> Settings:
    return Settings(database_url=url, data_dir=data_dir, secret_key="shared-test-secret")


def test_a_node_that_loses_the_bootstrap_race_starts_on_the_winners_tenant(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second node saw no tenant, then the first committed the default one before the
    second's slug check: the second starts without making anything (this failed a CI run
    with "tenant 'default' already exists")."""
    with database_url(backend, tmp_path) as url:
        first = open_runtime(_settings(url, tmp_path / "node1"))
        first.close()
        assert (tmp_path / "node1" / BOOTSTRAP_FILE).exists()

        def nothing_yet(session: Session) -> list[Tenant]:
            return []

        monkeypatch.setattr(tenants_repo, "list_all", nothing_yet)
        second = open_runtime(_settings(url, tmp_path / "node2"))
        try:
            monkeypatch.undo()
            with second.db.reader() as session:
                assert [t.slug for t in tenants_repo.list_all(session)] == ["default"]
        finally:
            second.close()
        assert not (tmp_path / "node2" / BOOTSTRAP_FILE).exists()
