"""deploy/prefect.yaml: valid for Prefect, every entrypoint imports, no secret written in it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PREFECT_YAML = ROOT / "deploy" / "prefect.yaml"

pytestmark = pytest.mark.e2e


def _config() -> dict[str, Any]:
    return yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))


def _deployments() -> list[dict[str, Any]]:
    return list(_config()["deployments"])


def test_prefect_yaml_validates_against_prefects_model() -> None:
    from prefect.cli.deploy._models import PrefectYamlModel

    model = PrefectYamlModel.model_validate(_config())
    assert {d.entrypoint for d in model.deployments} == {
        "flows/monitor.py:monitor",
        "flows/digest.py:digest",
        "flows/backfill.py:backfill",
    }


@pytest.mark.parametrize("dep", _deployments(), ids=lambda d: d["entrypoint"])
def test_entrypoint_imports_and_parameters_fit(dep: dict[str, Any], monkeypatch: Any) -> None:
    from prefect import Flow
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(dep["entrypoint"])
    assert isinstance(flow, Flow)
    assert flow.name == dep["entrypoint"].rsplit(":", 1)[1]
    params = dict(dep.get("parameters") or {})
    if flow.name == "backfill":
        params.update(since="2026-01-01", until="2026-01-02")
    flow.validate_parameters(params)
    assert dep["work_pool"]["name"] == "regionwatch-pool"


def test_scheduled_deployments_run_one_at_a_time() -> None:
    by_flow = {d["entrypoint"].rsplit(":", 1)[1]: d for d in _deployments()}
    for name in ("monitor", "digest"):
        dep = by_flow[name]
        assert dep["schedules"], name
        assert dep["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert by_flow["monitor"]["schedules"][0]["interval"] > 0
    assert by_flow["digest"]["schedules"][0]["timezone"] == "UTC"
    assert "schedules" not in by_flow["backfill"]


def test_no_secret_is_written_in_the_file() -> None:
    text = PREFECT_YAML.read_text(encoding="utf-8")
    assert not re.search(r"://[^\s/]*:[^\s/@]*@", text), "a URL with a password"
    for dep in _deployments():
        env = (dep["work_pool"].get("job_variables") or {}).get("env") or {}
        for key, value in env.items():
            if any(s in key for s in ("URL", "CHANNELS", "TOKEN", "PASSWORD", "SECRET")):
                assert re.fullmatch(
                    r"\{\{\s*(prefect\.blocks\.secret\.[\w-]+|\$\w+)\s*\}\}", str(value)
                ), f"{key} is not templated"
        for v in (dep.get("parameters") or {}).values():
            assert "://" not in str(v)
