"""Scale-out: two process workers on one work pool, a Prefect server and our store on PostgreSQL.

The deployment comes from ``deploy/prefect.yaml`` itself (paths pointed at this checkout and a
temporary config; the concurrency limit dropped so that two runs may overlap), with the store URL
and the alert channels read from Prefect Secret blocks. Two ``monitor`` runs at once, one per
worker, must store every item once and send every alert once.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from regionwatch.store import Store
from regionwatch.store import schema as t
from tests.e2e.conftest import (
    ARTICLES,
    PY,
    ROOT,
    PrefectServer,
    api,
    hook_keys,
    publish_outlet,
    stop_process,
    toml_str,
    wait_for,
)
from tests.loopback import LoopServer, Resource, Webhook

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]

POOL = "regionwatch-pool"
FILLER = 24  # unremarkable local news, so that the two runs overlap on real work


def _prefect(server: PrefectServer, *args: str, timeout: float = 120) -> str:
    env = dict(server.env, PREFECT_API_URL=server.api_url)
    r = subprocess.run(
        [PY, "-m", "prefect", *args],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, (
        f"prefect {' '.join(args)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    )
    return r.stdout


def _python(server: PrefectServer, code: str) -> None:
    env = dict(server.env, PREFECT_API_URL=server.api_url)
    r = subprocess.run(
        [PY, "-c", code], env=env, cwd=str(ROOT), capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-3000:]


def _add_filler(srv: LoopServer, n: int) -> list[str]:
    """Extra everyday articles on the outlet; returns their URLs (feed rebuilt by the caller)."""
    from datetime import UTC, datetime, timedelta

    from tests.e2e.conftest import article_html

    now = datetime.now(UTC).replace(microsecond=0)
    towns = ["Osh", "Khujand", "Gyumri", "Ganja", "Brest", "Poltava", "Shymkent", "Namangan"]
    out = []
    for k in range(n):
        town = towns[k % len(towns)]
        path = f"/news/local-{k}.html"
        title = f"{town} library opens reading room number {k + 1}"
        paras = [
            f"The public library in {town} opened a new reading room on the second floor, "
            f"its director said, the {k + 1}th such room in the region this year.",
            "Visitors can borrow books until eight in the evening on weekdays and use "
            "computers free of charge.",
        ]
        pub = now - timedelta(minutes=30 + k)
        srv.set(
            path, Resource(article_html(srv.url(path), title, paras, pub, "Steppe Herald").encode())
        )
        out.append((path, title, paras, pub))
    return out  # type: ignore[return-value]


@pytest.fixture(scope="module")
def big_outlet() -> Iterator[Any]:
    from tests.e2e.conftest import rss

    srv = LoopServer().start()
    outlet = publish_outlet(srv)
    filler = _add_filler(srv, FILLER)
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(microsecond=0)
    items = [
        {**a, "url": outlet.urls[a["slug"]], "published": now - timedelta(minutes=10 + 7 * k)}
        for k, a in enumerate(ARTICLES)
    ]
    items += [
        {"title": title, "url": srv.url(path), "published": pub, "paras": paras}
        for path, title, paras, pub in filler
    ]
    srv.set(
        "/feed.xml",
        Resource(
            rss(outlet.name, srv.url("/"), items).encode(), "application/rss+xml; charset=utf-8"
        ),
    )
    outlet.total = len(items)  # type: ignore[attr-defined]
    yield outlet
    srv.stop()


def _deploy_from_prefect_yaml(server: PrefectServer, wd: Path, cfg: Path) -> None:
    """Deploy the monitor entry of deploy/prefect.yaml, pointed at this checkout and ``cfg``."""
    doc = yaml.safe_load((ROOT / "deploy" / "prefect.yaml").read_text(encoding="utf-8"))
    doc["pull"] = [{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}]
    deps = [d for d in doc["deployments"] if d["entrypoint"] == "flows/monitor.py:monitor"]
    assert len(deps) == 1
    dep = deps[0]
    dep["parameters"] = {"config_path": str(cfg)}
    dep.pop("schedules", None)  # runs are created by the test
    dep.pop("concurrency_limit", None)  # two at once, on purpose
    dep["work_pool"]["job_variables"]["env"].update(PYTHONPATH=str(ROOT))
    doc["deployments"] = [dep]
    doc.pop("definitions", None)
    pf = wd / "prefect.yaml"
    pf.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    _prefect(server, "--no-prompt", "deploy", "--all", "--prefect-file", str(pf), timeout=180)


def test_two_workers_store_and_alert_once(
    prefect_pg_server: PrefectServer, fresh_pg: str, big_outlet: Any, tmp_path: Path
) -> None:
    server = prefect_pg_server
    wh = Webhook().start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        # our store and channels come from Secret blocks, the rest from a plain config file
        channels = json.dumps([{"url": f"json://127.0.0.1:{wh.port}/hook", "name": "desk"}])
        _python(
            server,
            "from prefect.blocks.system import Secret\n"
            f"Secret(value={fresh_pg!r}).save('regionwatch-store-url', overwrite=True)\n"
            f"Secret(value={channels!r}).save('regionwatch-channels', overwrite=True)\n",
        )
        cfg = tmp_path / "config.toml"
        cfg.write_text(
            "\n".join(
                [
                    "[http]",
                    "allow_private_networks = true",
                    "obey_robots = false",
                    "per_host_delay = 0",
                    "",
                    "[[feeds]]",
                    f"name = {toml_str(big_outlet.name)}",
                    f"url = {toml_str(big_outlet.feed_url)}",
                    'language = "en"',
                    "",
                ]
            ),
            encoding="utf-8",
        )
        _prefect(server, "work-pool", "create", POOL, "--type", "process")
        _deploy_from_prefect_yaml(server, tmp_path, cfg)
        deps = api(
            server.api_url + "/deployments/filter",
            {"deployments": {"name": {"any_": ["regionwatch-pool"]}}},
        )
        assert len(deps) == 1
        assert "prefect.blocks" not in json.dumps(deps[0].get("parameters"))
        runs = [
            api(f"{server.api_url}/deployments/{deps[0]['id']}/create_flow_run", {})["id"]
            for _ in range(2)
        ]
        env = dict(
            server.env,
            PREFECT_API_URL=server.api_url,
            PREFECT_WORKER_QUERY_SECONDS="1",
            PREFECT_WORKER_PREFETCH_SECONDS="5",
            PYTHONPATH=str(ROOT),
        )
        for n in (1, 2):
            with open(tmp_path / f"worker{n}.log", "wb") as log:
                workers.append(
                    subprocess.Popen(
                        [
                            PY,
                            "-m",
                            "prefect",
                            "worker",
                            "start",
                            "--pool",
                            POOL,
                            "--type",
                            "process",
                            "--limit",
                            "1",
                            "--name",
                            f"worker-{n}",
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                        cwd=str(tmp_path),
                        start_new_session=True,
                    )
                )

        def states() -> list[str]:
            return [str(api(f"{server.api_url}/flow_runs/{r}")["state_type"]) for r in runs]

        final = wait_for(
            lambda: (
                (s := states())
                and all(x in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for x in s)
                and s
            ),
            240,
            1,
            "both monitor runs",
        )
        logs = "\n".join(
            (tmp_path / f"worker{n}.log").read_text(errors="replace")[-3000:] for n in (1, 2)
        )
        assert final == ["COMPLETED", "COMPLETED"], logs
    finally:
        for w in workers:
            stop_process(w, timeout=30)
        wh.stop()

    store = Store(fresh_pg)
    try:
        with store.connect() as conn:
            n_items = conn.execute(select(func.count()).select_from(t.items)).scalar_one()
            n_keys = conn.execute(
                select(func.count(func.distinct(t.items.c.url_hash)))
            ).scalar_one()
            alerts = [dict(r) for r in conn.execute(select(t.alerts)).mappings()]
        monitor_runs = [r for r in store.recent_runs(10) if r["kind"] == "monitor"]
    finally:
        store.close()
    assert n_items == n_keys == big_outlet.total
    assert len(monitor_runs) == 2 and all(r["status"] == "ok" for r in monitor_runs), monitor_runs
    assert sum(r["summary"]["items_new"] for r in monitor_runs) == big_outlet.total
    assert alerts, "no alert queued"
    assert all(a["status"] == "sent" for a in alerts), alerts
    keys = hook_keys(wh, big_outlet)
    assert big_outlet.expected() <= set(keys)
    assert len(keys) == len(set(keys)) == len(alerts), keys
