"""The analyst console's ``feedback`` table — verdicts (wrong / missing / right) on a category of
an event or an item — and the indexes of its event reads (latest activity, timeline by day).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``feedback`` and its indexes."""
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer),  # no foreign key: an event may be merged later
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id", ondelete="CASCADE")),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_event", "feedback", ["event_id"])
    op.create_index("ix_feedback_item", "feedback", ["item_id"])
    op.create_index("ix_feedback_created", "feedback", ["created_at"])
    op.create_index("ix_events_last_seen", "events", ["last_seen_at"])
    op.create_index("ix_events_time_first", "events", ["time_first"])


def downgrade() -> None:
    """Drop ``feedback`` and the console's event indexes."""
    op.drop_index("ix_events_time_first", "events")
    op.drop_index("ix_events_last_seen", "events")
    op.drop_table("feedback")
