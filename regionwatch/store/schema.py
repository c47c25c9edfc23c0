"""Tables of the RegionWatch store (SQLAlchemy Core), shared by SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "alerts",
    "backfill_chunks",
    "event_merges",
    "events",
    "feedback",
    "feeds",
    "item_tags",
    "items",
    "metadata",
    "runs",
    "signatures",
    "stories",
]

metadata = MetaData()


def _ts(name: str, **kw: object) -> Column:  # type: ignore[type-arg]
    return Column(name, DateTime(timezone=True), **kw)  # type: ignore[arg-type]


feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("kind", String(20), nullable=False, default="feed"),
    Column("language", String(16)),
    Column("country", String(8)),
    Column("state_affiliated", Boolean),
    Column("etag", Text),
    Column("last_modified", Text),
    _ts("created_at"),
    _ts("baseline_at"),  # end of the first successful poll: earlier items are the baseline
    _ts("last_polled_at"),
    _ts("last_success_at"),
    _ts("last_error_at"),
    Column("last_status", String(20)),
    Column("last_error", Text),
    Column("bozo_reason", Text),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    _ts("next_poll_at"),
    Column("items_seen", Integer, nullable=False, default=0),
)

stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _ts("first_seen_at", nullable=False),
    _ts("last_seen_at", nullable=False),
    Column("lead_item_id", Integer),
    Column("title", Text),
    Column("item_count", Integer, nullable=False, default=1),
    Column("outlets", JSON, nullable=False, default=list),
    Column("categories", JSON, nullable=False, default=list),
    Column("alerted_outlet_count", Integer, nullable=False, default=0),
    Index("ix_stories_last_seen", "last_seen_at"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _ts("first_seen_at", nullable=False),  # wall clock: first article stored
    _ts("last_seen_at", nullable=False),  # wall clock: latest article stored
    _ts("published_first"),  # earliest publication time among its articles
    _ts("time_first", nullable=False),  # grouping time (published, else first seen): earliest
    _ts("time_last", nullable=False),  # ... and latest (the sliding window evicts on it)
    Column("categories", JSON, nullable=False, default=list),
    Column("actors", JSON, nullable=False, default=list),  # normalised watched parties
    Column("places", JSON, nullable=False, default=list),
    Column("title", Text),
    Column("lead_item_id", Integer),
    Column("item_count", Integer, nullable=False, default=0),
    Column("outlets", JSON, nullable=False, default=list),
    Column("languages", JSON, nullable=False, default=list),
    Column("max_casualties", Integer),
    Column("phases", JSON, nullable=False, default=list),
    Column("merged_into", Integer, ForeignKey("events.id")),
    Column("updates", JSON, nullable=False, default=list),  # material developments recorded
    Column("alerted_item_count", Integer, nullable=False, default=0),  # size at first alert
    Column("state", JSON),  # the grouping module's own extras (reloaded after a restart)
    _ts("changed_at", nullable=False),
    # store-wide revision of the last change (max + 1, written under the save lock): another
    # worker's index reloads when it sees a revision above the last one it knows
    Column("rev", Integer, nullable=False, default=0),
    Index("ix_events_time_last", "time_last"),
    Index("ix_events_rev", "rev"),
)

event_merges = Table(
    "event_merges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("from_event_id", Integer, ForeignKey("events.id"), nullable=False),
    Column("into_event_id", Integer, ForeignKey("events.id"), nullable=False),
    _ts("merged_at", nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url_hash", String(64), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("canonical_url", Text, nullable=False),
    Column("guid", Text),
    Column("feed_id", Integer, ForeignKey("feeds.id")),
    Column("feed_name", String(200), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("summary", Text, nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    Column("text_source", String(16), nullable=False, default="page"),
    Column("fetch_note", Text),
    Column("language", String(16)),
    Column("author", Text),
    Column("site", Text),
    _ts("published_at"),
    _ts("first_seen_at", nullable=False),
    Column("content_hash", String(64), index=True),
    Column("origin", String(16), nullable=False, default="feed"),
    Column("story_id", Integer, ForeignKey("stories.id")),
    Column("event_id", Integer, ForeignKey("events.id")),
    Column("lexicon_hash", String(64)),
    Column("categories", JSON, nullable=False, default=list),
    Column("tags", JSON),
    Column("baseline", Boolean, nullable=False, default=False),
    Index("ix_items_feed_published", "feed_name", "published_at"),
    Index("ix_items_first_seen", "first_seen_at"),
    Index("ix_items_story", "story_id"),
    Index("ix_items_event", "event_id"),
)

item_tags = Table(
    "item_tags",
    metadata,
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # actor | theme | category
    Column("slug", String(100), primary_key=True),
    Column("score", Float, nullable=False, default=0.0),
    Column("mentions", Integer, nullable=False, default=0),
    Index("ix_item_tags_slug", "kind", "slug"),
)

signatures = Table(
    "signatures",
    metadata,
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("story_id", Integer, ForeignKey("stories.id"), nullable=False),
    _ts("seen_at", nullable=False),
    Column("title_norm", Text, nullable=False, default=""),
    Column("minhash", LargeBinary, nullable=False),
    Index("ix_signatures_seen", "seen_at"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("story_id", Integer, ForeignKey("stories.id"), nullable=False),
    Column("event_id", Integer, ForeignKey("events.id")),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False),
    Column("category", String(32), nullable=False),
    # "alert": the first message of (event, category, channel), seq 0; "update": seq 1, 2, ...
    Column("kind", String(16), nullable=False, default="alert"),
    Column("seq", Integer, nullable=False, default=0),
    Column("material", JSON),  # what an update reports (casualties_rose, new_party, ...)
    Column("rule", String(100), nullable=False),
    Column("channel", String(100), nullable=False),
    Column("severity", String(16), nullable=False, default="warning"),
    Column("score", Float, nullable=False, default=0.0),
    Column("status", String(16), nullable=False, default="pending"),  # pending|sent|dead
    Column("attempts", Integer, nullable=False, default=0),
    _ts("created_at", nullable=False),
    _ts("next_attempt_at", nullable=False),
    _ts("sent_at"),
    Column("last_error", Text),
    Column("claimed_by", String(100)),
    _ts("claimed_until"),
    UniqueConstraint(
        "event_id", "category", "channel", "seq", name="uq_alerts_event_category_channel_seq"
    ),
    Index("ix_alerts_status_next", "status", "next_attempt_at"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    _ts("started_at", nullable=False),
    _ts("finished_at"),
    Column("status", String(16), nullable=False, default="running"),
    Column("summary", JSON),
    Index("ix_runs_started", "started_at"),
)

backfill_chunks = Table(
    "backfill_chunks",
    metadata,
    Column("job", String(64), primary_key=True),
    Column("chunk", String(200), primary_key=True),
    Column("status", String(16), nullable=False, default="done"),
    _ts("done_at"),
    Column("counts", JSON),
)

# analyst verdicts from the console (issue 15): never touch alerts already sent
# the console's reads (issue 15): the events list by latest activity, the timeline by day
ix_events_last_seen = Index("ix_events_last_seen", events.c.last_seen_at)
ix_events_time_first = Index("ix_events_time_first", events.c.time_first)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer),  # no foreign key: an event may be merged into another later
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE")),
    Column("category", String(32), nullable=False),
    Column("verdict", String(16), nullable=False),  # wrong | missing | right
    Column("note", Text, nullable=False, default=""),
    Column("origin", String(16), nullable=False, default="api"),  # api | page
    _ts("created_at", nullable=False),
    Index("ix_feedback_event", "event_id"),
    Index("ix_feedback_item", "item_id"),
    Index("ix_feedback_created", "created_at"),
)
