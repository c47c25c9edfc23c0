"""Session-wide test settings: offline, quiet Prefect, no proxies, shared data location."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
for _var in [
    k
    for k in os.environ
    if k.startswith("REGIONWATCH_") and k not in ("REGIONWATCH_SHARED", "REGIONWATCH_TEST_PG_URL")
]:
    os.environ.pop(_var, None)

ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path | None:
    """``$REGIONWATCH_SHARED`` (set by .ci/run), else ../shared beside the checkout, else None."""
    env = os.environ.get("REGIONWATCH_SHARED")
    if env and Path(env).is_dir():
        return Path(env)
    guess = ROOT.parent / "shared"
    return guess if guess.is_dir() else None


@pytest.fixture(scope="session")
def shared() -> Path:
    d = shared_dir()
    if d is None:
        pytest.skip("shared data not available (set REGIONWATCH_SHARED)")
    return d


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("REGIONWATCH_TEST_PG_URL")
    if not url:
        pytest.skip("REGIONWATCH_TEST_PG_URL not set")
    return url


@pytest.fixture
def fresh_pg(pg_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards (safe in parallel)."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = "rw_test_" + uuid.uuid4().hex[:12]
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
