"""``regionwatch serve``: one long-running process that runs the schedules through Prefect.

``monitor`` runs every ``[service] monitor_interval_seconds`` and ``digest`` daily at
``[service] digest_time`` (UTC), as Prefect deployments served by this process (a Prefect
:class:`~prefect.runner.Runner`, the engine behind ``prefect.serve``). Prefect schedules runs
only when a Prefect server is running its scheduler, so:

* with ``PREFECT_API_URL`` set, the deployments are registered on that server;
* without it, a private ``prefect server start`` is launched as a child process on a loopback
  port (127.0.0.1:4200 when free; its database in ``$PREFECT_HOME``, default ``./data/prefect``)
  and stopped when ``serve`` exits; the UI shows runs and artifacts there. Prefect's
  ephemeral mode (the temporary server a plain flow call starts) runs no scheduler.

Guarantees:

* with ``[web] enabled`` the analyst console (package ``web/``) is served in a thread of this
  process on ``[web] host``:``[web] port`` for as long as the schedules run;
* with an interval above a minute, one ``monitor`` run starts at once, then the schedule rules;
* at most one ``monitor`` run at a time per deployment: deployment concurrency limit 1 with
  collision strategy ``CANCEL_NEW`` — a run that comes due while another is running, or a pile of
  late runs after a pause, is cancelled instead of queued (late runs collapse);
* SIGTERM stops cleanly: no new runs are started, running flow runs are told to finish the batch
  they are on (they skip the rest and record the run as ``interrupted``), and the process exits
  once they are done or after :data:`DRAIN_SECONDS`. Items and outbox rows are committed per
  feed, alerts are marked sent after delivery, so a restart resumes with nothing lost and nothing
  sent twice. Schedules are paused on shutdown and re-activated on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any, cast
from uuid import UUID

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.runner import Runner
from prefect.schedules import Cron, Interval
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.digest import digest
from flows.monitor import monitor
from regionwatch.errors import ConfigError, RegionWatchError
from regionwatch.settings import Settings
from web.server import console_beside

__all__ = [
    "DEPLOYMENT_NAME",
    "DRAIN_SECONDS",
    "build_deployments",
    "embedded_prefect_server",
    "serve_forever",
]

logger = logging.getLogger(__name__)

#: Name of the served deployments: ``monitor/regionwatch`` and ``digest/regionwatch``.
DEPLOYMENT_NAME = "regionwatch"
#: How long SIGTERM waits for running flow runs before cancelling them.
DRAIN_SECONDS = 40.0
#: Seconds the embedded Prefect server gets to answer its health check.
SERVER_START_TIMEOUT = 120.0
#: Flow runs this process executes at once (monitor + digest + a manual trigger).
RUNNER_LIMIT = 4
#: With a longer monitor interval, ``serve`` starts one cycle right away instead of waiting.
STARTUP_RUN_MIN_INTERVAL = 60


class ServeError(RegionWatchError):
    """The service could not start (embedded Prefect server did not come up)."""


# ---------------------------------------------------------------------------- embedded server
def _free_port(preferred: int | None = None) -> int:
    if preferred:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", preferred))
            except OSError:
                pass
            else:
                return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(api_url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(api_url + "/health", timeout=timeout) as resp:  # noqa: S310
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if this process dies without cleaning up (SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def embedded_prefect_server(
    home: Path, *, port: int | None = None, ui: bool = True
) -> Iterator[str]:
    """Run a private ``prefect server start`` on loopback for the duration of the block.

    Args:
        home: ``PREFECT_HOME`` of the server (its SQLite database and logs live there).
        port: the port; default 4200 when free, else any free port.
        ui: serve the Prefect UI too (``http://127.0.0.1:PORT``).

    Yields:
        The API URL (``http://127.0.0.1:PORT/api``).

    Raises:
        ServeError: the server exited or did not answer within :data:`SERVER_START_TIMEOUT`.
    """
    home.mkdir(parents=True, exist_ok=True)
    port = port or _free_port(4200)
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_ENABLED": "true" if ui else "false",
    }
    env.pop("PREFECT_API_URL", None)
    log_path = home / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    logger.info("starting a private Prefect server on 127.0.0.1:%d (log: %s)", port, log_path)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(home),
            start_new_session=True,  # the service's process group signal is ours to handle
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _healthy(api_url):
            if proc.poll() is not None:
                raise ServeError(
                    f"the Prefect server exited (rc={proc.returncode}); see {log_path}"
                )
            if time.monotonic() > deadline:
                raise ServeError(
                    f"the Prefect server did not answer in {SERVER_START_TIMEOUT:.0f} s"
                )
            time.sleep(0.5)
        logger.info("Prefect server ready: %s (UI: http://127.0.0.1:%d)", api_url, port)
        yield api_url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        logger.info("Prefect server stopped")


@contextlib.contextmanager
def _api_in_effect(home: Path) -> Iterator[str]:
    """The configured ``PREFECT_API_URL``, else a private server's; set for this process."""
    configured = PREFECT_API_URL.value()
    if configured:
        deadline = time.monotonic() + 60
        while not _healthy(str(configured)):
            if time.monotonic() > deadline:
                raise ServeError(
                    f"the Prefect API at {configured} does not answer (PREFECT_API_URL)"
                )
            time.sleep(1)
        yield str(configured)
        return
    with embedded_prefect_server(home) as api_url:
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = api_url  # flow-run subprocesses inherit it
        try:
            with temporary_settings(updates={PREFECT_API_URL: api_url}):
                yield api_url
        finally:
            if previous is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = previous


# ---------------------------------------------------------------------------- deployments
def _digest_cron(hhmm: str) -> str:
    hh, mm = hhmm.split(":")
    return f"{int(mm)} {int(hh)} * * *"


def _one_at_a_time() -> ConcurrencyLimitConfig:
    return ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


def build_deployments(settings: Settings, config_path: str | None) -> list[RunnerDeployment]:
    """The served deployments: ``monitor`` on an interval and ``digest`` on a daily UTC cron.

    Args:
        settings: the effective settings (schedules from ``[service]``).
        config_path: absolute path of the configuration file, passed as a parameter.
    """
    params = {"config_path": config_path}
    svc = settings.service
    mon = cast(
        RunnerDeployment,
        monitor.to_deployment(
            name=DEPLOYMENT_NAME,
            schedules=[Interval(timedelta(seconds=svc.monitor_interval_seconds), timezone="UTC")],
            parameters=params,
            concurrency_limit=_one_at_a_time(),
            paused=False,
            tags=["regionwatch"],
            description=f"Poll all feeds every {svc.monitor_interval_seconds} s.",
        ),
    )
    dig = cast(
        RunnerDeployment,
        digest.to_deployment(
            name=DEPLOYMENT_NAME,
            schedules=[Cron(_digest_cron(svc.digest_time), timezone="UTC")],
            parameters=params,
            concurrency_limit=_one_at_a_time(),
            paused=False,
            tags=["regionwatch"],
            description=f"Daily digest at {svc.digest_time} UTC.",
        ),
    )
    return [mon, dig]


# ---------------------------------------------------------------------------- runner
class _ServiceRunner(Runner):
    """A Runner whose SIGTERM lets running flow runs finish their batch before stopping."""

    def __init__(self, *args: Any, drain_seconds: float = DRAIN_SECONDS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._drain_seconds = drain_seconds
        self._draining = False
        self._drain_task: asyncio.Task[None] | None = None

    def _busy(self) -> bool:
        limiter = getattr(getattr(self, "_limit_manager", None), "_limiter", None)
        if limiter is not None and limiter.borrowed_tokens:
            return True
        return bool(multiprocessing.active_children())

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        """First SIGTERM: drain, then stop. A second one stops at once."""
        if self._draining:
            logger.warning("second SIGTERM: stopping now")
            super().handle_sigterm(*args, **kwargs)
            return
        self._draining = True
        logger.info("SIGTERM: no new runs; letting running flow runs finish their batch")
        poller = getattr(self, "_scheduled_run_poller", None)
        if poller is not None:
            poller.stopping = True
        self.stopping = True
        for child in multiprocessing.active_children():  # flow runs: finish the current batch
            with contextlib.suppress(OSError):
                os.kill(child.pid, signal.SIGTERM)  # type: ignore[arg-type]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            super().handle_sigterm(*args, **kwargs)
            return
        self._drain_task = loop.create_task(self._drain_then_stop())

    async def _drain_then_stop(self) -> None:
        deadline = time.monotonic() + self._drain_seconds
        while self._busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
        if self._busy():
            logger.warning(
                "flow runs still running after %.0f s: cancelling them", self._drain_seconds
            )
        await self.astop()


def _start_monitor_now(deployment_id: UUID) -> None:
    """Schedule one monitor run now, so a fresh service does not wait a whole interval."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.create_flow_run_from_deployment(deployment_id, tags=["regionwatch", "startup"])


def serve_forever(settings: Settings, config_path: str | os.PathLike[str] | None) -> None:
    """Run the service until SIGTERM / Ctrl-C: monitor on its interval, digest daily.

    Args:
        settings: the effective settings (``[service]`` schedules).
        config_path: the configuration file; made absolute and passed to every flow run.

    Raises:
        ConfigError: ``config_path`` does not exist.
        ServeError: no Prefect server could be reached or started.
    """
    path = config_path or settings.config_path
    cfg: str | None = None
    if path:
        resolved = Path(path).expanduser().resolve()
        if not resolved.is_file():
            raise ConfigError(f"config file not found: {resolved}")
        cfg = str(resolved)
    home = Path(os.environ.get("PREFECT_HOME") or "data/prefect").resolve()
    # flow runs start in child processes: show our per-feed log lines in the Prefect UI too
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "regionwatch,flows,tasks")

    def early_sigterm(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)  # before the runner owns SIGTERM: unwind (stops our server)

    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, early_sigterm)
    try:
        with _api_in_effect(home) as api_url, console_beside(settings):
            logger.info("Prefect API: %s", api_url)
            interval = settings.service.monitor_interval_seconds
            runner = _ServiceRunner(
                name="regionwatch-serve",
                pause_on_shutdown=True,
                limit=RUNNER_LIMIT,
                # short intervals: look for due runs often, and never fetch the next run so
                # early that it collides with the one still running
                query_seconds=min(10.0, max(2.0, interval / 4)),
                prefetch_seconds=min(10.0, max(1.0, interval / 5)),
            )
            ids = [
                cast(UUID, runner.add_deployment(dep)) for dep in build_deployments(settings, cfg)
            ]
            logger.info(
                "serving monitor every %d s and digest daily at %s UTC (config %s)",
                settings.service.monitor_interval_seconds,
                settings.service.digest_time,
                cfg,
            )
            if interval > STARTUP_RUN_MIN_INTERVAL:
                _start_monitor_now(ids[0])  # short intervals: the schedule comes soon enough
            try:
                asyncio.run(runner.start())
            except KeyboardInterrupt:
                logger.info("interrupted, shutting down")
    finally:
        signal.signal(signal.SIGTERM, previous)
    logger.info("service stopped")
