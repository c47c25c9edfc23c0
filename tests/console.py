"""The console as a user starts it: ``regionwatch web`` in a child process on a free loopback
port, over a store filled by one real cycle of :mod:`tests.web_site`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.loopback import Webhook
from tests.web_site import Site, fill_store, write_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Console:
    base: str
    config: Path
    token: str | None
    proc: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30, follow_redirects=False)


@contextmanager
def run_console(
    config: Path, token: str | None, *, env: dict[str, str] | None = None
) -> Iterator[Console]:
    """``regionwatch web --config CONFIG --port P`` until the block ends."""
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("REGIONWATCH_WEB")}
    child_env.update(env or {})
    if token:
        child_env["REGIONWATCH_WEB__TOKEN"] = token
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "web", "--config", str(config), "--port", str(port)],
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"regionwatch web exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("regionwatch web did not answer /healthz within 90 s")
            time.sleep(0.3)
        yield Console(base, config, token, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def filled_site(folder: Path, db_url: str | None = None) -> Iterator[tuple[Site, Webhook, Path]]:
    """The loopback site, a webhook, a configuration and a store filled by one real cycle."""
    site = Site()
    hook = Webhook().start()
    try:
        config = write_config(folder, site, hook, db_url)
        summary = fill_store(config)
        assert summary["status"] == "ok", summary
        yield site, hook, config
    finally:
        site.stop()
        hook.stop()
