"""Full-text search over item titles and texts: SQLite FTS5 table and triggers, or a PostgreSQL
GIN index over a tsvector (schema version 2 of the store before Alembic).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the full-text index of the dialect."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS items_fts USING fts5("
            "title, text, content='items', content_rowid='id')"
        )
        op.execute(
            "CREATE TRIGGER IF NOT EXISTS items_fts_ai AFTER INSERT ON items BEGIN "
            "INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END"
        )
        op.execute(
            "CREATE TRIGGER IF NOT EXISTS items_fts_ad AFTER DELETE ON items BEGIN "
            "INSERT INTO items_fts(items_fts, rowid, title, text) "
            "VALUES ('delete', old.id, old.title, old.text); END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_items_fts ON items USING gin "
            "(to_tsvector('simple', coalesce(title,'') || ' ' || coalesce(text,'')))"
        )


def downgrade() -> None:
    """Drop the full-text index."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS items_fts_ad")
        op.execute("DROP TRIGGER IF EXISTS items_fts_ai")
        op.execute("DROP TABLE IF EXISTS items_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_items_fts")
