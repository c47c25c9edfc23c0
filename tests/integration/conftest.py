"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL for an empty database: SQLite in a temporary folder, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/rw.db"
    else:
        yield request.getfixturevalue("fresh_pg")
