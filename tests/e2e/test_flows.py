"""The ``backfill`` and ``digest`` flows against a real Prefect server: results and artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from regionwatch.store import Store
from tests.e2e.conftest import Outlet, PrefectServer, api, write_config
from tests.loopback import Webhook

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def on_server(prefect_server: PrefectServer) -> Iterator[PrefectServer]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        yield prefect_server


def _artifacts(server: PrefectServer, flow_run_id: str) -> dict[str, dict[str, Any]]:
    arts = api(
        server.api_url + "/artifacts/filter",
        {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}},
    )
    return {a["key"]: a for a in arts if a.get("key")}


def test_backfill_flow_stores_without_alerting_and_shows_progress(
    on_server: PrefectServer, outlet: Outlet, tmp_path: Path
) -> None:
    from flows.backfill import backfill

    wh = Webhook().start()
    try:
        db_url = f"sqlite:///{tmp_path / 'rw.db'}"
        cfg = write_config(
            tmp_path / "config.toml",
            db_url=db_url,
            feeds=[(outlet.name, outlet.feed_url)],
            hook_port=wh.port,
        )
        urls = tmp_path / "urls.txt"
        urls.write_text("\n".join(outlet.urls.values()) + "\n", encoding="utf-8")
        today = datetime.now(UTC).date()
        state = backfill(
            since=str(today - timedelta(days=1)),
            until=str(today),
            urls_file=str(urls),
            config_path=str(cfg),
            return_state=True,
        )
        assert state.is_completed(), state
        report = state.result()
        assert report["stored"] == len(outlet.urls)
        assert report["mode"] == "urls"
        arts = _artifacts(on_server, str(state.state_details.flow_run_id))
        assert arts["backfill-progress"]["type"] == "progress"
        assert float(arts["backfill-progress"]["data"]) == 100.0
        assert "Backfill" in arts["backfill-summary"]["data"]
        # a second run resumes: nothing new
        again = backfill(
            since=str(today - timedelta(days=1)),
            until=str(today),
            urls_file=str(urls),
            config_path=str(cfg),
        )
        assert again["stored"] == 0
        assert wh.delivered() == []  # backfilled items never alert
        store = Store(db_url)
        try:
            assert store.counts()["items"] == len(outlet.urls)
        finally:
            store.close()
    finally:
        wh.stop()


def test_digest_flow_sends_to_channels(
    on_server: PrefectServer, outlet: Outlet, tmp_path: Path
) -> None:
    from flows.digest import digest

    wh = Webhook().start()
    try:
        cfg = write_config(
            tmp_path / "config.toml",
            db_url=f"sqlite:///{tmp_path / 'rw.db'}",
            feeds=[(outlet.name, outlet.feed_url)],
            hook_port=wh.port,
        )
        state = digest(config_path=str(cfg), return_state=True)
        assert state.is_completed(), state
        result = state.result()
        assert result.kind == "digest"
        assert result.extra["digest"]["sent"] == 1
        assert len(wh.delivered()) == 1
        assert "digest-summary" in _artifacts(on_server, str(state.state_details.flow_run_id))
    finally:
        wh.stop()
