"""The initial schema: feeds, stories, items, tags, signatures, the alert outbox, runs, backfill
chunks (schema version 1 of the store before Alembic).

Frozen as it was: later revisions change it, this one never does.

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _ts(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _item_key() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "item_id", sa.Integer, sa.ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )


def upgrade() -> None:
    """Create the tables of schema version 1."""
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("country", sa.String(8)),
        sa.Column("state_affiliated", sa.Boolean),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        *(_ts(n) for n in ("created_at", "baseline_at", "last_polled_at", "last_success_at")),
        _ts("last_error_at"),
        sa.Column("last_status", sa.String(20)),
        sa.Column("last_error", sa.Text),
        sa.Column("bozo_reason", sa.Text),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        _ts("next_poll_at"),
        sa.Column("items_seen", sa.Integer, nullable=False),
    )
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _ts("first_seen_at", nullable=False),
        _ts("last_seen_at", nullable=False),
        sa.Column("lead_item_id", sa.Integer),
        sa.Column("title", sa.Text),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("outlets", sa.JSON, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("alerted_outlet_count", sa.Integer, nullable=False),
    )
    op.create_index("ix_stories_last_seen", "stories", ["last_seen_at"])
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("url_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("canonical_url", sa.Text, nullable=False),
        sa.Column("guid", sa.Text),
        sa.Column("feed_id", sa.Integer, sa.ForeignKey("feeds.id")),
        sa.Column("feed_name", sa.String(200), nullable=False),
        *(sa.Column(n, sa.Text, nullable=False) for n in ("title", "summary", "text")),
        sa.Column("text_source", sa.String(16), nullable=False),
        sa.Column("fetch_note", sa.Text),
        sa.Column("language", sa.String(16)),
        sa.Column("author", sa.Text),
        sa.Column("site", sa.Text),
        _ts("published_at"),
        _ts("first_seen_at", nullable=False),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("story_id", sa.Integer, sa.ForeignKey("stories.id")),
        sa.Column("lexicon_hash", sa.String(64)),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON),
        sa.Column("baseline", sa.Boolean, nullable=False),
    )
    op.create_index("ix_items_content_hash", "items", ["content_hash"])
    op.create_index("ix_items_feed_published", "items", ["feed_name", "published_at"])
    op.create_index("ix_items_first_seen", "items", ["first_seen_at"])
    op.create_index("ix_items_story", "items", ["story_id"])
    op.create_table(
        "item_tags",
        _item_key(),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("slug", sa.String(100), primary_key=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("mentions", sa.Integer, nullable=False),
    )
    op.create_index("ix_item_tags_slug", "item_tags", ["kind", "slug"])
    op.create_table(
        "signatures",
        _item_key(),
        sa.Column("story_id", sa.Integer, sa.ForeignKey("stories.id"), nullable=False),
        _ts("seen_at", nullable=False),
        sa.Column("title_norm", sa.Text, nullable=False),
        sa.Column("minhash", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_signatures_seen", "signatures", ["seen_at"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("story_id", sa.Integer, sa.ForeignKey("stories.id"), nullable=False),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _ts("created_at", nullable=False),
        _ts("next_attempt_at", nullable=False),
        _ts("sent_at"),
        sa.Column("last_error", sa.Text),
        sa.Column("claimed_by", sa.String(100)),
        _ts("claimed_until"),
        sa.UniqueConstraint(
            "story_id", "category", "channel", name="uq_alerts_story_category_channel"
        ),
    )
    op.create_index("ix_alerts_status_next", "alerts", ["status", "next_attempt_at"])
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        _ts("started_at", nullable=False),
        _ts("finished_at"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.JSON),
    )
    op.create_index("ix_runs_started", "runs", ["started_at"])
    op.create_table(
        "backfill_chunks",
        sa.Column("job", sa.String(64), primary_key=True),
        sa.Column("chunk", sa.String(200), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("done_at"),
        sa.Column("counts", sa.JSON),
    )


def downgrade() -> None:
    """Drop every table of the store."""
    for name in (
        "backfill_chunks",
        "runs",
        "alerts",
        "signatures",
        "item_tags",
        "items",
        "stories",
        "feeds",
    ):
        op.drop_table(name)
