"""Serving the console with uvicorn: in the foreground (``regionwatch web``) or in a thread
beside the schedules (``regionwatch serve`` with ``[web] enabled``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from regionwatch.settings import Settings
from regionwatch.store import Store

__all__ = ["console_beside", "make_server", "serve_console"]

logger = logging.getLogger(__name__)


def make_server(
    settings: Settings, host: str, port: int, store: Store | None = None
) -> uvicorn.Server:
    """A uvicorn server for the console (not started)."""
    from web.app import create_app

    web = settings.web.model_copy(update={"host": host, "port": port})
    app = create_app(settings.model_copy(update={"web": web}), store)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        lifespan="off",
    )
    return uvicorn.Server(config)


def serve_console(settings: Settings, host: str, port: int) -> None:
    """Serve until Ctrl-C / SIGTERM."""
    server = make_server(settings, host, port)
    server.run()


@contextmanager
def console_beside(settings: Settings) -> Iterator[uvicorn.Server | None]:
    """Run the console in a thread while the body runs, when ``[web] enabled``."""
    if not settings.web.enabled:
        yield None
        return
    server = make_server(settings, settings.web.host, settings.web.port)
    thread = threading.Thread(target=server.run, name="regionwatch-web", daemon=True)
    thread.start()
    logger.info("console on http://%s:%d", settings.web.host, settings.web.port)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=10)
