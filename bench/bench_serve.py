"""Memory of one ``regionwatch serve`` process over many monitor cycles (issue 5).

A Prefect server (``prefect server start``, its own ``PREFECT_HOME``) and one loopback feed of
five items; ``regionwatch serve`` runs against that server through ``bench/serve_shim.py``, which
only shortens the ``monitor`` schedule below the configuration's 5 s floor
(``RW_BENCH_SERVE_INTERVAL``, default 2 s) and the Runner's poll for due runs
(``RW_BENCH_SERVE_QUERY``, default 1 s; serve uses 2 s at short intervals) — same Runner,
deployments, one-run-at-a-time limit
(``CANCEL_NEW``: a run that comes due while one is running is cancelled, so cycles go back to
back). Each flow run is a fresh ``python -m prefect.engine`` child of the serve process, as in
production. The bench samples the serve process's RSS (``/proc/<pid>/status``) when the number of
COMPLETED monitor runs reaches 10 %, 25 %, 50 %, 75 % and 100 % of ``RW_BENCH_SERVE_CYCLES``
(default 100). Target: flat — RSS at the last mark within 5 % of RSS at cycle 10.

``make bench`` starts this bench in the **background** at t = 0 (a cycle costs a few seconds of a
fresh interpreter, so 100 of them do not fit the budget in the foreground). While another bench
measures a wall time it holds a quiet window (``common.quiet``): this bench pauses the
deployment's schedule, waits until no flow run is in flight, and resumes afterwards. SIGTERM
(run_all's budget is up) ends the bench early with the marks reached so far.
Rows are printed as they are reached, so an interrupted run still leaves a partial table.

Usage: ``.venv/bin/python bench/bench_serve.py`` (standalone: about 10 minutes for 100 cycles).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from bench_orchestration import api, build_outlet, start_server, write_cfg
from common import BENCH_DIR, QUIET_ENV, ROOT, knob, log, target_line

from tests.loopback import LoopServer

FLAT_SHARE = 0.05
_STOP = {"flag": False}


def _on_term(signum: int, frame: FrameType | None) -> None:
    _STOP["flag"] = True


def status_mb(pid: int, field: str) -> float:
    """A memory field of ``/proc/<pid>/status`` in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_s(pid: int) -> float:
    """CPU seconds of a process and its reaped children (flow runs), from /proc/<pid>/stat."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def count_runs(api_url: str, dep: str, states: list[str]) -> int:
    """Flow runs of the deployment in the given state types."""
    out = api(
        api_url + "/flow_runs/count",
        {"flow_runs": {"deployment_id": {"any_": [dep]}, "state": {"type": {"any_": states}}}},
    )
    return int(out or 0)  # type: ignore[call-overload]


class QuietWindows:
    """Answers ``common.quiet`` holds: pause the monitor schedule while any hold file exists."""

    def __init__(self, folder: Path | None) -> None:
        self.dir = folder
        self.paused_at: float | None = None
        self.paused_total = 0.0
        self.windows: list[str] = []
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "paused").unlink(missing_ok=True)
            (self.dir / "active").write_text(str(os.getpid()), encoding="utf-8")

    def holds(self) -> list[Path]:
        if self.dir is None:
            return []
        out = []
        for h in self.dir.glob("hold-*"):
            try:
                os.kill(int(h.name.split("-", 1)[1]), 0)
                out.append(h)
            except (ValueError, ProcessLookupError, PermissionError):
                h.unlink(missing_ok=True)  # its bench is gone
        return out

    def step(self, api_url: str, dep: str | None) -> None:
        """Pause or resume as the hold files say (called about twice a second)."""
        if self.dir is None:
            return
        holds = self.holds()
        if holds and self.paused_at is None:
            label = ", ".join(sorted({h.read_text(encoding="utf-8") for h in holds}))
            t0 = time.perf_counter()
            if dep is not None:
                api(f"{api_url}/deployments/{dep}/pause_deployment", {})
                deadline = time.time() + 45
                while (
                    time.time() < deadline and count_runs(api_url, dep, ["PENDING", "RUNNING"]) > 0
                ):
                    time.sleep(0.3)
            self.paused_at = time.perf_counter()
            (self.dir / "paused").write_text(label, encoding="utf-8")
            self.windows.append(label)
            log(f"serve: paused for {label} (drained in {self.paused_at - t0:.1f} s)")
        elif not holds and self.paused_at is not None:
            (self.dir / "paused").unlink(missing_ok=True)
            if dep is not None:
                api(f"{api_url}/deployments/{dep}/resume_deployment", {})
            self.paused_total += time.perf_counter() - self.paused_at
            self.paused_at = None
            log("serve: resumed")

    def close(self) -> None:
        if self.paused_at is not None:
            self.paused_total += time.perf_counter() - self.paused_at
        if self.dir is not None:
            (self.dir / "active").unlink(missing_ok=True)
            (self.dir / "paused").unlink(missing_ok=True)


def main() -> None:
    """Run serve until the last mark (or SIGTERM); print the markdown section as it goes."""
    signal.signal(signal.SIGTERM, _on_term)
    cycles = max(1, knob("RW_BENCH_SERVE_CYCLES", 100))
    interval = knob("RW_BENCH_SERVE_INTERVAL", 2)
    query = knob("RW_BENCH_SERVE_QUERY", 1)
    marks = sorted({max(1, cycles * p // 100) for p in (10, 25, 50, 75, 100)})
    qdir = os.environ.get(QUIET_ENV)
    quiet = QuietWindows(Path(qdir) if qdir else None)
    background = bool(qdir)
    tmp = Path(tempfile.mkdtemp(prefix="rw-bench-serve-"))
    home = tmp / "prefect-home"
    home.mkdir()
    os.environ.setdefault("PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS", "10")
    t_start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    server = proc = None
    srv = LoopServer().start()
    try:
        server, api_url = start_server(home)
        feeds = build_outlet(srv, 1, 5)
        cfg = write_cfg(tmp / "serve.toml", tmp / "serve.db", feeds, interval=5)
        env = dict(
            os.environ,
            PREFECT_API_URL=api_url,
            PYTHONPATH=str(ROOT),
            PREFECT_HOME=str(tmp / "serve-home"),
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                str(BENCH_DIR / "serve_shim.py"),
                "--interval",
                str(interval),
                "--query",
                str(query),
                "--",
                "serve",
                "--config",
                str(cfg),
            ],
            env=env,
            cwd=str(tmp),
            stdout=open(tmp / "serve.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log(
            f"serve: server {api_url}, serve pid {proc.pid}, interval {interval} s, {cycles} cycles"
        )
        print(
            f"`regionwatch serve` (pid of the Runner process sampled) against its own Prefect "
            f"server, one loopback feed of 5 items; monitor schedule every {interval} s and the "
            f"Runner looking for due runs every {query} s (bench-only, `bench/serve_shim.py`; "
            f"the configuration floor is 5 s, serve's own poll 2 s), one run at a "
            f"time (`CANCEL_NEW`), each flow run a fresh `python -m prefect.engine` child as in "
            f"production. RSS = VmRSS of the serve process when the count of COMPLETED monitor "
            f"runs reaches each mark; CPU = serve process + its reaped flow-run children.\n",
            flush=True,
        )
        print(
            "| completed monitor runs | serve RSS MiB | serve peak RSS MiB | Prefect server "
            "RSS MiB | cancelled (collided) | failed / crashed | serve CPU s (incl. flow "
            "runs) | elapsed s (active) |",
            flush=True,
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
        dep: str | None = None
        while marks and not _STOP["flag"] and proc.poll() is None:
            if dep is None:
                deps = api(
                    api_url + "/deployments/filter",
                    {
                        "deployments": {"name": {"any_": ["regionwatch"]}},
                        "flows": {"name": {"any_": ["monitor"]}},
                    },
                )
                dep = deps[0]["id"] if deps else None  # type: ignore[index]
            quiet.step(api_url, dep)
            if dep is not None and quiet.paused_at is None:
                done = count_runs(api_url, dep, ["COMPLETED"])
                if done >= marks[0]:
                    counts = {
                        "cancelled": count_runs(api_url, dep, ["CANCELLED", "CANCELLING"]),
                        "failed": count_runs(api_url, dep, ["FAILED", "CRASHED"]),
                    }
                    active = time.perf_counter() - t_start - quiet.paused_total
                    row = {
                        "mark": marks.pop(0),
                        "done": done,
                        "rss": status_mb(proc.pid, "VmRSS"),
                        "hwm": status_mb(proc.pid, "VmHWM"),
                        "server": status_mb(server.pid, "VmRSS"),
                        "cpu": cpu_s(proc.pid),
                        "active": active,
                        **counts,
                    }
                    rows.append(row)
                    log(f"serve: {row}")
                    print(
                        f"| {done} | {row['rss']:.0f} | {row['hwm']:.0f} | "
                        f"{row['server']:.0f} | {row['cancelled']} | {row['failed']} | "
                        f"{row['cpu']:.0f} | {active:.0f} |",
                        flush=True,
                    )
            time.sleep(0.5)
        if proc.poll() is not None:
            tail = (tmp / "serve.log").read_text(errors="replace").strip().splitlines()[-5:]
            print(
                f"\n**The serve process exited ({proc.returncode}).** Last log lines:\n\n```\n"
                + "\n".join(tail)
                + "\n```"
            )
    finally:
        quiet.close()
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=50)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    wall = time.perf_counter() - t_start
    print()
    first = next((r for r in rows if r["mark"] >= max(1, cycles // 10)), None)
    last = rows[-1] if rows else None
    if background:
        print(
            f"Ran in the **background** from the start of `make bench` for {wall:.0f} s, "
            f"{quiet.paused_total:.0f} s of it paused (schedule paused, no flow run in "
            f"flight) during quiet windows: {', '.join(quiet.windows) or 'none'}. "
            + ("Stopped early: the run's budget was up. " if _STOP["flag"] else "")
        )
    if last is not None and last["done"]:
        per = last["cpu"] / last["done"]
        print(
            f"Cost of a cycle: {last['active'] / last['done']:.1f} s of wall time and "
            f"{per:.1f} CPU-s (serve + flow-run child; the Prefect server's share not "
            f"counted) — the background load the other benches shared the machine with.\n"
        )
    if first is not None and last is not None and last is not first:
        growth = last["rss"] - first["rss"]
        ok = growth <= FLAT_SHARE * first["rss"]
        reached = last["done"] >= cycles
        verdict: bool | None = ok if reached or not ok else None  # growing already: a MISS
        print(
            target_line(
                f"`serve` RSS flat over {cycles} cycles",
                verdict,
                f"{first['rss']:.0f} MiB at cycle {first['done']} → {last['rss']:.0f} MiB at cycle "
                f"{last['done']} ({growth:+.1f} MiB; flat = within {FLAT_SHARE:.0%})"
                + ("" if reached else f"; only {last['done']} of {cycles} cycles in the budget"),
            )
        )
        print(f"<!-- metric serve_cycles={last['done']} serve_rss_growth={growth:.1f} -->")
    else:
        print(
            target_line(
                f"`serve` RSS flat over {cycles} cycles",
                None,
                f"not measured: {len(rows)} mark(s) reached in {wall:.0f} s",
            )
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
