"""Run records (one row per monitor, backfill or digest run) and backfill chunk checkpoints."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from regionwatch.store import schema as t
from regionwatch.store._base import Door, insert_ignore, row_dict, utcnow

__all__ = ["RunRows"]


class RunRows(Door):
    """The ``runs`` and ``backfill_chunks`` tables, and table counts."""

    def start_run(self, kind: str) -> int:
        """Record the start of a run; returns its id."""
        with self.begin() as conn:
            row = conn.execute(
                t.runs.insert()
                .values(kind=kind, started_at=utcnow(), status="running")
                .returning(t.runs.c.id)
            ).first()
        assert row is not None
        return int(row[0])

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        """Record the end of a run with its summary."""
        with self.begin() as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(finished_at=utcnow(), status=status, summary=summary)
            )

    def recent_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        q = select(t.runs).order_by(t.runs.c.started_at.desc(), t.runs.c.id.desc()).limit(limit)
        with self.connect() as conn:
            return [row_dict(r) for r in conn.execute(q).mappings().all()]

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables."""
        out: dict[str, int] = {}
        with self.connect() as conn:
            for name, table in (
                ("feeds", t.feeds),
                ("items", t.items),
                ("stories", t.stories),
                ("alerts", t.alerts),
                ("runs", t.runs),
            ):
                out[name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
        return out

    def done_chunks(self, job: str) -> dict[str, dict[str, Any]]:
        """Chunks of backfill ``job`` already finished: chunk id → its recorded counts."""
        c = t.backfill_chunks.c
        q = select(c.chunk, c.counts).where(c.job == job, c.status == "done")
        with self.connect() as conn:
            return {r[0]: (r[1] or {}) for r in conn.execute(q)}

    def mark_chunk(self, job: str, chunk: str, status: str, counts: dict[str, Any]) -> None:
        """Record a backfill chunk's outcome (``done`` chunks are skipped when the job reruns)."""
        now = utcnow()
        c = t.backfill_chunks.c
        with self.begin() as conn:
            conn.execute(
                insert_ignore(conn, t.backfill_chunks).values(
                    job=job, chunk=chunk, status=status, done_at=now, counts=counts
                )
            )
            conn.execute(
                update(t.backfill_chunks)
                .where(c.job == job, c.chunk == chunk)
                .values(status=status, done_at=now, counts=counts)
            )
