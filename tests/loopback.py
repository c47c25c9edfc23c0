"""A threaded HTTP server on 127.0.0.1 with a route table tests control (our own harness).

Routes map a path (query ignored unless path+query is routed) to a :class:`Resource` or to a
callable ``fn(handler, request)`` that writes the response itself. Every request is logged, so
tests can count conditional GETs, page fetches and webhook POSTs.
"""

from __future__ import annotations

import email.utils
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Resource:
    """A static response; with ``conditional`` it sends ETag/Last-Modified and answers 304."""

    body: bytes
    ctype: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True
    last_modified: float = field(default_factory=lambda: time.time() - 60)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'  # noqa: S324


@dataclass
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    status: int = 0
    t: float = field(default_factory=time.time)

    @property
    def conditional(self) -> bool:
        return "if-none-match" in self.headers or "if-modified-since" in self.headers


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _record(self, body: bytes = b"") -> Request:
        req = Request(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        server: LoopServer = self.server.owner  # type: ignore[attr-defined]
        with server.lock:
            server.log.append(req)
        return req

    def do_GET(self) -> None:  # noqa: N802
        self.server.owner.dispatch(self, self._record())  # type: ignore[attr-defined]

    def do_HEAD(self) -> None:  # noqa: N802
        self.server.owner.dispatch(self, self._record())  # type: ignore[attr-defined]

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        self.server.owner.dispatch(self, self._record(self.rfile.read(n) if n else b""))  # type: ignore[attr-defined]

    def reply(
        self,
        status: int,
        body: bytes = b"",
        ctype: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
        req: Request | None = None,
    ) -> None:
        if req is not None:
            req.status = status  # recorded before the client can see the response
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and status not in (204, 304):
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


Handler = Callable[[_Handler, Request], None]


class LoopServer:
    """Start with ``LoopServer().start()``; stop with ``.stop()``."""

    def __init__(self) -> None:
        self.routes: dict[str, Resource | Handler] = {}
        self.post: Handler | None = None
        self.log: list[Request] = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self._srv = _Server(("127.0.0.1", 0), _Handler)
        self._srv.owner = self  # type: ignore[attr-defined]
        self.port = self._srv.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def start(self) -> LoopServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self._srv.shutdown()
        self._srv.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, res: Resource | Handler) -> None:
        with self.lock:
            self.routes[path] = res

    def requests(self, path: str | None = None, method: str | None = None) -> list[Request]:
        with self.lock:
            return [
                r
                for r in self.log
                if (path is None or urlsplit(r.path).path == path)
                and (method is None or r.method == method)
            ]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()

    def dispatch(self, h: _Handler, req: Request) -> None:
        if h.command == "POST":
            if self.post is not None:
                self.post(h, req)
            else:
                h.reply(404, b"no POST here", req=req)
            return
        with self.lock:
            res = self.routes.get(h.path) or self.routes.get(urlsplit(h.path).path)
        if res is None:
            h.reply(404, b"<html><body>not found</body></html>", "text/html", req=req)
        elif callable(res):
            try:
                res(h, req)
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            serve_resource(h, req, res)


def serve_resource(h: _Handler, req: Request, res: Resource) -> None:
    """Answer with ``res``, honouring If-None-Match / If-Modified-Since."""
    headers = dict(res.headers)
    if res.conditional and res.status == 200:
        lm = email.utils.formatdate(res.last_modified, usegmt=True)
        headers.setdefault("ETag", res.etag)
        headers.setdefault("Last-Modified", lm)
        inm, ims = req.headers.get("if-none-match"), req.headers.get("if-modified-since")
        fresh = False
        if inm is not None:
            fresh = res.etag in [x.strip() for x in inm.split(",")]
        elif ims is not None:
            try:
                fresh = email.utils.parsedate_to_datetime(ims).timestamp() >= int(res.last_modified)
            except (TypeError, ValueError):
                fresh = False
        if fresh:
            h.reply(304, b"", res.ctype, {"ETag": res.etag, "Last-Modified": lm}, req=req)
            return
    h.reply(res.status, res.body, res.ctype, headers, req=req)


class Webhook(LoopServer):
    """Receives JSON POSTs (Apprise ``json://``); ``fail_next`` answers 500 that many times."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next = 0
        self.post = self._on_post

    def _on_post(self, h: _Handler, req: Request) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            h.reply(500, b'{"error":"down"}', "application/json", req=req)
        else:
            h.reply(200, b'{"ok":true}', "application/json", req=req)

    def delivered(self) -> list[Request]:
        return [r for r in self.requests(method="POST") if r.status == 200]


class SilentListener:
    """A TCP server on 127.0.0.1 that accepts connections, counts them and never says a word.

    An internal service a guarded fetch must not reach (``accepted`` stays 0), or a hung relay.
    """

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._conns: list[Any] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self._conns:
            c.close()
