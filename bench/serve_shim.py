"""Bench-only entry point: ``regionwatch serve`` with a monitor interval below the 5 s floor.

``python bench/serve_shim.py --interval 1 --query 1 -- serve --config x.toml``

``--interval S`` sets the ``monitor`` deployment's schedule interval in seconds, below the
configuration's floor of 5 s (``[service] monitor_interval_seconds`` stays 5 in the file; only
the schedule handed to Prefect is shortened), so that cycles run back to back: a cycle (a fresh
``python -m prefect.engine`` child per flow run) takes longer than the interval, and the
deployment's ``CANCEL_NEW`` limit cancels the runs that come due meanwhile. ``--query S``
sets how often the Runner looks for due runs (``serve`` uses max(2 s, interval / 4)).

Everything else is the real ``flows.cli`` ``serve`` command: same Runner subclass, deployments,
concurrency limit (one monitor run at a time, ``CANCEL_NEW``), embedded or given Prefect server.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    """Patch the two knobs in, then hand over to the real CLI."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=float, default=0.0)
    ap.add_argument("--query", type=float, default=0.0)
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.interval > 0:
        from prefect.schedules import Interval

        import flows.serve as fs

        def interval(_every: timedelta, timezone: str | None = None) -> Any:
            return Interval(timedelta(seconds=args.interval), timezone=timezone)

        fs.Interval = interval  # type: ignore[assignment,misc]
    if args.query > 0:
        import flows.serve as fs

        orig_init = fs._ServiceRunner.__init__

        def init(self: Any, *a: Any, **kw: Any) -> None:
            kw["query_seconds"] = args.query
            orig_init(self, *a, **kw)

        fs._ServiceRunner.__init__ = init  # type: ignore[method-assign]
    rest = [a for a in args.rest if a != "--"]
    sys.argv = ["regionwatch", *rest]
    from flows.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
