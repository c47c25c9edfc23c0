"""The ``monitor`` flow on a real Prefect server shows the run's events next to its items:
the ``monitor-events`` table (new, grown, alerted) and the counts in ``monitor-summary``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PrefectServer, write_config
from tests.e2e.test_flows import _artifacts
from tests.integration.events_corpus import OUTLETS
from tests.integration.test_events_e2e import Outlets
from tests.loopback import Webhook

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def outlets() -> Iterator[Outlets]:
    o = Outlets()
    yield o
    o.stop()


def _rows(artifact: dict[str, Any]) -> list[dict[str, str]]:
    data = artifact["data"]
    return data if isinstance(data, list) else json.loads(data)


def test_monitor_flow_artifacts_show_new_grown_and_alerted_events(
    prefect_server: PrefectServer, outlets: Outlets, webhook: Webhook, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.monitor import monitor

    cfg = write_config(
        tmp_path / "config.toml",
        db_url=f"sqlite:///{tmp_path / 'rw.db'}",
        feeds=[(OUTLETS[k], outlets.srv[k].url("/rss.xml")) for k in OUTLETS],
        hook_port=webhook.port,
    )
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        tables = []
        for wave in (1, 2):
            outlets.publish(wave)
            state = monitor(config_path=str(cfg), return_state=True)
            assert state.is_completed(), state
            arts = _artifacts(prefect_server, str(state.state_details.flow_run_id))
            assert {"monitor-items", "monitor-events", "monitor-alerts"} <= set(arts)
            tables.append((arts["monitor-events"], arts["monitor-summary"]["data"]))
    first, second = tables
    rows1 = _rows(first[0])
    assert sorted(r["change"] for r in rows1) == ["new", "new"]
    assert all(r["alerted"] == "border_clash" for r in rows1)
    assert "Events: 2 new, 0 grown, 2 alerted" in first[0]["description"]
    rows2 = _rows(second[0])
    assert sorted(r["change"] for r in rows2) == ["grown", "grown"]
    assert {r["languages"] for r in rows2} == {"de, ru", "en, ru"}
    assert "| 0 | 2 |" in second[1]  # new events, grown events
