"""Shared helpers for the benchmarks: size knobs, timing, markdown tables, machine line, and a
threaded loopback HTTP server (our own, like ``tests/loopback.py``) for feeds and pages.

Every ``bench/bench_*.py`` prints one markdown section on stdout; ``bench/run_all.py`` collects
them into ``bench/RESULTS.md``. Diagnostics go to stderr.
"""

from __future__ import annotations

import email.utils
import gc
import hashlib
import html
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
OUT_DIR = BENCH_DIR / "out"  # scratch space (git-ignored)

if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ on the path, not the checkout
    sys.path.insert(0, str(ROOT))

# offline, quiet Prefect for every bench that imports it
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")


# ---------------------------------------------------------------------------- knobs
def knob(name: str, default: int) -> int:
    """An integer size knob from the environment (``RW_BENCH_*``), else ``default``."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        log(f"ignoring {name}={raw!r}: not an integer")
        return default


def fknob(name: str, default: float) -> float:
    """A float knob from the environment, else ``default``."""
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


def shared_dir() -> Path | None:
    """``$REGIONWATCH_SHARED``, else ``../shared`` beside the checkout, else None."""
    env = os.environ.get("REGIONWATCH_SHARED")
    if env:
        p = Path(env)
        return p if p.is_dir() else None
    guess = ROOT.parent / "shared"
    return guess if guess.is_dir() else None


def log(msg: str) -> None:
    """A progress line on stderr (stdout carries the markdown)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- timing
class Stopwatch:
    """Accumulates wall time over several ``with sw:`` blocks."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0
        self._t0 = 0.0

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.total += time.perf_counter() - self._t0
        self.count += 1


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once with the garbage collector settled; return (seconds, result)."""
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median(xs: Iterable[float]) -> float:
    """Median of a non-empty sequence."""
    return statistics.median(list(xs))


def rss_mb() -> float:
    """Current resident set size of this process in MB (Linux /proc, else ru_maxrss)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


# ---------------------------------------------------------------------------- output
def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub markdown table."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.2f}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool | None) -> str:
    """PASS / MISS / n/a for a target line."""
    return "n/a" if ok is None else ("**PASS**" if ok else "**MISS**")


def target_line(label: str, ok: bool | None, detail: str) -> str:
    """The one line per target that run_all.py lifts into the summary: ``Target: … — PASS``."""
    return f"Target: {label} — {verdict(ok)} ({detail})"


# ---------------------------------------------------------------------------- machine
def cpu_model() -> str:
    """The CPU model name (Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gb() -> float:
    """Total RAM in GB (Linux), else 0."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1e6
    except (OSError, ValueError):
        pass
    return 0.0


def package_versions(names: Sequence[str]) -> dict[str, str]:
    """Installed versions of ``names`` (missing ones are left out)."""
    from importlib import metadata

    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            continue
    return out


KEY_PACKAGES = (
    "trafilatura",
    "spacy",
    "prefect",
    "httpx",
    "feedparser",
    "SQLAlchemy",
    "datasketch",
    "lxml",
)


def machine_line() -> str:
    """One line describing the machine and the key package versions."""
    cores = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    vers = ", ".join(f"{k} {v}" for k, v in package_versions(KEY_PACKAGES).items())
    return (
        f"{cpu_model()}, {usable} cores usable ({cores} online), {ram_gb():.1f} GB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; {vers}"
    )


# ---------------------------------------------------------------------------- loopback server
@dataclass
class Res:
    """A static response with ETag/Last-Modified; conditional GETs that match get 304."""

    body: bytes
    ctype: str = "text/html; charset=utf-8"
    last_modified: float = field(default_factory=lambda: time.time() - 3600)
    etag: str = ""

    def __post_init__(self) -> None:
        if not self.etag:
            self.etag = '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'  # noqa: S324


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        srv: BenchServer = self.server.owner  # type: ignore[attr-defined]
        with srv.lock:
            srv.counts["connections"] += 1

    def do_GET(self) -> None:  # noqa: N802
        srv: BenchServer = self.server.owner  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        if srv.control is not None and path.startswith("/_ctl/"):
            status, body = srv.control(self.path)
            self._reply(status, body, "text/plain; charset=utf-8", {})
            return
        res = srv.routes.get(path)
        with srv.lock:
            srv.counts["requests"] += 1
        if res is None:
            self._reply(404, b"not found", "text/plain", {})
            return
        lm = email.utils.formatdate(res.last_modified, usegmt=True)
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        fresh = False
        if inm is not None:
            fresh = res.etag in [x.strip() for x in inm.split(",")]
        elif ims is not None:
            try:
                fresh = email.utils.parsedate_to_datetime(ims).timestamp() >= int(res.last_modified)
            except (TypeError, ValueError):
                fresh = False
        hdrs = {"ETag": res.etag, "Last-Modified": lm}
        if fresh:
            with srv.lock:
                srv.counts["304"] += 1
            self._reply(304, b"", res.ctype, hdrs)
        else:
            with srv.lock:
                srv.counts["200"] += 1
            self._reply(200, res.body, res.ctype, hdrs)

    def do_POST(self) -> None:  # noqa: N802
        """A webhook: read the body, count it, answer 200 (alert delivery target)."""
        srv: BenchServer = self.server.owner  # type: ignore[attr-defined]
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        with srv.lock:
            srv.counts["posts"] += 1
        self._reply(200, b'{"ok":true}', "application/json", {})

    def _reply(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client closed its keep-alive connection: not news
        super().handle_error(request, client_address)


class BenchServer:
    """A threaded ``http.server`` on 127.0.0.1 serving a route table of :class:`Res`.

    Use ``with BenchServer() as srv: srv.routes["/feed/1.xml"] = Res(...)``. Routes can be
    swapped while serving (dict assignment is atomic). ``counts`` tallies requests/200/304.
    ``control``, when set, answers paths under ``/_ctl/`` (the bench's remote control).
    """

    def __init__(self) -> None:
        self.routes: dict[str, Res] = {}
        self.control: Callable[[str], tuple[int, bytes]] | None = None
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {
            "requests": 0,
            "200": 0,
            "304": 0,
            "posts": 0,
            "connections": 0,
        }
        self._srv = _Server(("127.0.0.1", 0), _Handler)
        self._srv.owner = self  # type: ignore[attr-defined]
        self.port = self._srv.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def __enter__(self) -> BenchServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._srv.shutdown()
        self._srv.server_close()

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return self.base + path

    def reset_counts(self) -> dict[str, int]:
        """Return the counts so far and start again from zero."""
        with self.lock:
            old = dict(self.counts)
            for k in self.counts:
                self.counts[k] = 0
        return old


def config_lines(db: Path, **http: Any) -> list[str]:
    """The head of a bench's TOML configuration: a SQLite store at ``db`` and ``[http]`` with
    private (loopback) addresses allowed and the given keys (politeness settings)."""
    lines = ["[storage]", f'url = "sqlite:///{db}"', "", "[http]", "allow_private_networks = true"]
    for k, v in http.items():
        lines.append(f"{k} = {str(v).lower() if isinstance(v, bool) else v}")
    return [*lines, ""]


def rss(title: str, pages: Iterable[Any]) -> bytes:
    """An RSS 2.0 document listing ``pages`` (objects with ``title``, ``url``, ``published``)
    in the order given (newest first, as sites list them)."""
    out = [
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{html.escape(title)}</title><link>http://127.0.0.1/</link>"
        f"<description>bench feed</description>"
    ]
    for p in pages:
        out.append(
            f"<item><title>{html.escape(p.title)}</title><link>{html.escape(p.url)}</link>"
            f"<guid>{html.escape(p.url)}</guid><pubDate>"
            f"{email.utils.format_datetime(p.published)}</pubDate><description>"
            f"{html.escape(p.title)}</description></item>"
        )
    out.append("</channel></rss>")
    return "".join(out).encode("utf-8")


class ChildSite:
    """A loopback site served by a child process (a bench script run with ``args``) that prints
    its base URL on its first line and serves until its stdin closes: the site's threads do
    not share the measured process's interpreter."""

    def __init__(self, script: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base = self.proc.stdout.readline().strip()
        if not self.base.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"site {script.name} {' '.join(args)} did not start")

    def get(self, path: str, timeout: float = 300) -> str:
        """The body of ``path`` on the site, as text."""
        import urllib.request

        with urllib.request.urlopen(self.base + path, timeout=timeout) as r:
            return str(r.read().decode())

    def close(self) -> None:
        """Stop the child (closing its stdin), killing it after 10 s."""
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def serve_until_stdin_closes(srv: BenchServer) -> None:
    """In a site's child process: print the base URL, serve until the parent closes stdin."""
    with srv:
        print(srv.base, flush=True)
        sys.stdin.read()


# ---------------------------------------------------------------------------- quiet windows
#: run_all.py sets this to a directory shared with the background bench (bench_serve.py).
QUIET_ENV = "RW_BENCH_QUIET_DIR"


class quiet:  # noqa: N801 - used as a context manager, reads like one
    """Pause the background ``serve`` bench while a wall-time measurement runs.

    ``run_all.py`` runs ``bench_serve.py`` in the background (a ``regionwatch serve`` process
    doing a monitor cycle every few seconds). Benches whose targets are wall times wrap the
    measured part in ``with quiet("cycle"):``: a ``hold-<pid>`` file asks the background bench to
    pause the ``monitor`` deployment's schedule and wait until no flow run is in flight; it
    answers with a ``paused`` file. Without a background bench (a bench run alone, or the
    background bench finished) this does nothing.
    """

    def __init__(self, label: str, timeout: float = 60.0) -> None:
        self.label = label
        self.timeout = timeout
        raw = os.environ.get(QUIET_ENV)
        self.dir = Path(raw) if raw else None
        self.hold: Path | None = None
        self.waited = 0.0

    def __enter__(self) -> quiet:
        if self.dir is None or not (self.dir / "active").exists():
            return self
        self.hold = self.dir / f"hold-{os.getpid()}"
        self.hold.write_text(self.label, encoding="utf-8")
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < self.timeout:
            if (self.dir / "paused").exists() or not (self.dir / "active").exists():
                break
            time.sleep(0.2)
        else:
            log(f"quiet({self.label}): background bench did not pause in {self.timeout:.0f} s")
        self.waited = time.perf_counter() - t0
        log(f"quiet({self.label}): background serve paused (waited {self.waited:.1f} s)")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.hold is not None:
            self.hold.unlink(missing_ok=True)
            self.hold = None
            log(f"quiet({self.label}): released")
