"""The built wheel works outside the checkout (slow: builds, installs the stack into a fresh venv).

CI runs the same check once through ``make wheel``; here it runs when ``RW_TEST_WHEEL=1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("RW_TEST_WHEEL") != "1", reason="set RW_TEST_WHEEL=1 (make wheel runs it)"
    ),
]


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    warned = [
        line
        for line in (build.stdout + build.stderr).splitlines()
        if "warning" in line.lower() and "Location 'file:" not in line  # pip's index notes
    ]
    assert not warned, warned
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".gz", ".whl"]
    smoke = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "packaging" / "smoke_wheel.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert smoke.returncode == 0, (smoke.stdout + smoke.stderr)[-4000:]
    assert "wheel smoke test: OK" in smoke.stdout
