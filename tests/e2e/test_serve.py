"""``regionwatch serve`` against a real Prefect server: schedules, runs, alerts, artifacts, stop.

One serve process for the module (monitor every 10 s); the tests read what it did through the
Prefect API, the loopback webhook and the store.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from regionwatch.store import Store
from tests.e2e.conftest import (
    PY,
    ROOT,
    Outlet,
    PrefectServer,
    api,
    hook_keys,
    stop_process,
    wait_for,
    write_config,
)
from tests.loopback import Webhook

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

INTERVAL = 10


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    log_path: Path
    db_url: str
    server: PrefectServer
    webhook: Webhook
    outlet: Outlet
    cfg: Path
    env: dict[str, str]

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                serve_command(self.cfg),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=str(self.cfg.parent),
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def deployment(self, flow_name: str) -> dict[str, Any]:
        deps = api(
            self.server.api_url + "/deployments/filter",
            {
                "flows": {"name": {"any_": [flow_name]}},
                "deployments": {"name": {"any_": ["regionwatch"]}},
            },
        )
        assert deps, f"no {flow_name}/regionwatch deployment:\n{self.log()}"
        return deps[0]

    def runs(self, deployment_id: str) -> list[dict[str, Any]]:
        return self.server.flow_runs(flow_runs={"deployment_id": {"any_": [deployment_id]}})


def serve_command(cfg: Path) -> list[str]:
    return [PY, "-c", "from flows.cli import main; main()", "-v", "serve", "--config", str(cfg)]


@pytest.fixture(scope="module")
def service(
    prefect_server: PrefectServer, outlet: Outlet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    wd = tmp_path_factory.mktemp("serve")
    wh = Webhook().start()
    db_url = f"sqlite:///{wd / 'rw.db'}"
    cfg = write_config(
        wd / "config.toml",
        db_url=db_url,
        feeds=[(outlet.name, outlet.feed_url)],
        hook_port=wh.port,
        interval=INTERVAL,
    )
    env = dict(
        prefect_server.env,
        PREFECT_API_URL=prefect_server.api_url,
        PREFECT_HOME=str(wd / "prefect-home"),
    )
    svc = Service(None, wd / "serve.log", db_url, prefect_server, wh, outlet, cfg, env)  # type: ignore[arg-type]
    svc.start()
    yield svc
    stop_process(svc.proc, timeout=60)
    wh.stop()
    assert ROOT.is_dir()


def _state(run: dict[str, Any]) -> str:
    return str(run.get("state_type") or (run.get("state") or {}).get("type"))


def test_serve_registers_deployments_with_schedules(service: Service) -> None:
    mon = wait_for(lambda: _try(service.deployment, "monitor"), 120, 1, "monitor deployment")
    dig = wait_for(lambda: _try(service.deployment, "digest"), 60, 1, "digest deployment")
    assert mon["schedules"] and mon["schedules"][0]["schedule"]["interval"] == INTERVAL
    assert dig["schedules"] and dig["schedules"][0]["schedule"]["cron"] == "0 7 * * *"
    for dep in (mon, dig):
        assert dep["paused"] is False
        assert dep["global_concurrency_limit"]["limit"] == 1
        assert dep["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
        assert dep["parameters"]["config_path"].endswith("config.toml")


def test_scheduled_monitor_run_stores_items_and_alerts(service: Service) -> None:
    mon = wait_for(lambda: _try(service.deployment, "monitor"), 120, 1, "monitor deployment")
    expected = service.outlet.expected()

    def alerted() -> bool:
        assert service.proc.poll() is None, f"serve exited:\n{service.log()}"
        return expected <= set(hook_keys(service.webhook, service.outlet))

    wait_for(alerted, 180, 1, "alerts at the webhook")

    def scheduled_completed() -> list[dict[str, Any]]:
        return [
            r
            for r in service.runs(mon["id"])
            if r.get("auto_scheduled") and _state(r) == "COMPLETED"
        ]

    done = wait_for(scheduled_completed, 120, 2, "a completed scheduled monitor run")
    assert done
    # a few more cycles: nothing is stored or sent twice
    n_runs = len([r for r in service.runs(mon["id"]) if _state(r) == "COMPLETED"])
    wait_for(
        lambda: len([r for r in service.runs(mon["id"]) if _state(r) == "COMPLETED"]) >= n_runs + 2,
        120,
        2,
        "two more completed cycles",
    )
    keys = hook_keys(service.webhook, service.outlet)
    assert len(keys) == len(set(keys)), f"duplicate alerts: {keys}"
    assert not {u for u, _ in keys} & service.outlet.quiet()
    store = Store(service.db_url)
    try:
        assert store.counts()["items"] == 3
    finally:
        store.close()


def test_trigger_through_api_runs_and_publishes_artifacts(service: Service) -> None:
    mon = wait_for(lambda: _try(service.deployment, "monitor"), 120, 1, "monitor deployment")
    api_url = service.server.api_url
    final: dict[str, Any] = {}
    for _attempt in range(4):  # a collision with a scheduled run cancels ours (CANCEL_NEW)
        run = api(f"{api_url}/deployments/{mon['id']}/create_flow_run", {"tags": ["e2e"]})

        def finished(run_id: str = run["id"]) -> dict[str, Any] | None:
            r = api(f"{api_url}/flow_runs/{run_id}")
            return r if _state(r) in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

        final = wait_for(finished, 120, 1, "the triggered run")
        if _state(final) == "COMPLETED":
            break
        assert _state(final) == "CANCELLED", (
            f"triggered run ended {_state(final)}:\n{service.log()}"
        )
    assert _state(final) == "COMPLETED"
    arts = api(
        f"{api_url}/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [final["id"]]}}}
    )
    keys = {a.get("key") for a in arts}
    assert {"monitor-items", "monitor-alerts", "monitor-summary"} <= keys, keys
    summary = next(a for a in arts if a.get("key") == "monitor-summary")
    assert "feeds polled" in summary["data"]


def test_runs_never_overlap(service: Service) -> None:
    """At most one monitor at a time: completed runs of the deployment never overlap."""
    mon = wait_for(lambda: _try(service.deployment, "monitor"), 120, 1, "monitor deployment")
    api_url = service.server.api_url
    ids = [api(f"{api_url}/deployments/{mon['id']}/create_flow_run", {})["id"] for _ in range(3)]

    def all_final() -> list[dict[str, Any]] | None:
        rs = [api(f"{api_url}/flow_runs/{i}") for i in ids]
        done = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
        return rs if all(_state(r) in done for r in rs) else None

    burst = wait_for(all_final, 120, 1, "the burst of runs")
    assert any(_state(r) == "CANCELLED" for r in burst), [_state(r) for r in burst]
    spans = sorted(
        (datetime.fromisoformat(r["start_time"]), datetime.fromisoformat(r["end_time"]))
        for r in service.runs(mon["id"])
        if _state(r) == "COMPLETED" and r.get("start_time") and r.get("end_time")
    )
    for (_s1, e1), (s2, _e2) in zip(spans, spans[1:], strict=False):
        assert s2 >= e1, f"overlapping monitor runs: {spans}"


def test_sigterm_stops_serve_cleanly_and_a_restart_resumes(service: Service) -> None:
    assert service.proc.poll() is None, service.log()
    rc = stop_process(service.proc, timeout=60)
    assert rc is not None
    assert "service stopped" in service.log()
    mon = service.deployment("monitor")
    assert mon["paused"] is True  # schedules pause on shutdown; a restart re-activates them
    sent_before = hook_keys(service.webhook, service.outlet)
    completed_before = {r["id"] for r in service.runs(mon["id"]) if _state(r) == "COMPLETED"}

    service.start()
    wait_for(lambda: not service.deployment("monitor")["paused"], 120, 1, "schedules resumed")
    wait_for(
        lambda: (
            {r["id"] for r in service.runs(mon["id"]) if _state(r) == "COMPLETED"}
            - completed_before
        ),
        120,
        1,
        "a monitor run after the restart",
    )
    keys = hook_keys(service.webhook, service.outlet)
    assert keys == sent_before  # nothing lost before, nothing sent again after
    assert stop_process(service.proc, timeout=60) is not None


def _try(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except AssertionError:
        return None
