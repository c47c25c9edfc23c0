"""Configuration: one TOML file plus ``REGIONWATCH_*`` environment variables (pydantic-settings).

Precedence, highest first: values passed to :class:`Settings` directly, environment variables
(``REGIONWATCH_STORAGE__URL``, ``REGIONWATCH_HTTP__USER_AGENT`` …; ``__`` separates sections),
the TOML file, then the defaults below. The file is ``--config PATH``, else ``$REGIONWATCH_CONFIG``,
else ``./regionwatch.toml`` when it exists.
"""

from __future__ import annotations

import importlib.resources
import os
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from regionwatch.errors import ConfigError
from regionwatch.models import Source

__all__ = [
    "AlertRule",
    "AlertsConfig",
    "BackfillConfig",
    "ChannelConfig",
    "EventsConfig",
    "FeedConfig",
    "HttpConfig",
    "ServiceConfig",
    "Settings",
    "StorageConfig",
    "StoriesConfig",
    "WebConfig",
    "load_settings",
    "mask_url",
]

CATEGORIES = ("csto", "ceasefire", "border_clash")
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def bundled_seeds_dir() -> Path:
    """The watchlist that ships with RegionWatch.

    An installed wheel carries it as package data (``regionwatch/seeds/``, read through
    ``importlib.resources``); a checkout or an editable install reads the repository's
    top-level ``seeds/`` folder.
    """
    packaged = Path(str(importlib.resources.files("regionwatch").joinpath("seeds")))
    if (packaged / "actors.yaml").is_file():
        return packaged
    return PACKAGE_ROOT / "seeds"


DEFAULT_SEEDS_DIR = bundled_seeds_dir()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageConfig(_Section):
    """``[storage]``: where items, stories and the alert outbox live."""

    url: str = "sqlite:///data/regionwatch.db"
    echo: bool = False


class HttpConfig(_Section):
    """``[http]``: the one HTTP client's limits and manners."""

    allow_private_networks: bool = False
    user_agent: str = "RegionWatch/0.1 (+https://github.com/regionwatch/regionwatch)"
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(20.0, gt=0)
    total_timeout: float = Field(45.0, gt=0)
    max_bytes: int = Field(5_000_000, gt=0)
    max_redirects: int = Field(5, ge=0, le=20)
    max_connections: int = Field(16, ge=1)
    per_host_concurrency: int = Field(2, ge=1)
    per_host_delay: float = Field(0.25, ge=0)
    retries: int = Field(2, ge=0, le=10)
    backoff_base: float = Field(0.5, ge=0)
    max_retry_after: float = Field(30.0, ge=0)
    obey_robots: bool = True


class FeedConfig(_Section):
    """One ``[[feeds]]`` entry: a feed, or a (news) sitemap polled like a feed."""

    name: str = Field(min_length=1)
    url: str = Field(min_length=1)
    language: str | None = None
    country: str | None = None
    state_affiliated: bool | None = None
    kind: Literal["feed", "sitemap"] = "feed"

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if urlsplit(v).scheme not in ("http", "https"):
            raise ValueError("must be an http(s) URL")
        return v

    @field_validator("language")
    @classmethod
    def _blank_language(cls, v: str | None) -> str | None:
        return v or None

    def to_source(self) -> Source:
        """The library record for this feed."""
        return Source(
            name=self.name,
            url=self.url,
            language=self.language,
            country=self.country,
            state_affiliated=self.state_affiliated,
            kind=self.kind,
        )


class ChannelConfig(_Section):
    """One ``[[channels]]`` entry: any Apprise URL, optionally limited to some categories."""

    url: str = Field(min_length=3)
    name: str | None = None
    categories: list[str] | None = None
    rate_per_minute: float | None = Field(None, gt=0)
    digest: bool = True

    @field_validator("url")
    @classmethod
    def _has_scheme(cls, v: str) -> str:
        if "://" not in v:
            raise ValueError("must be an Apprise URL such as mailtos://… or json://…")
        return v

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, v: list[str] | None) -> list[str] | None:
        for c in v or []:
            if c not in CATEGORIES:
                raise ValueError(f"unknown category {c!r}; use {', '.join(CATEGORIES)}")
        return v

    @property
    def key(self) -> str:
        """A stable, secret-free identifier of the channel (name, else a hash of the URL)."""
        import hashlib

        return self.name or "ch-" + hashlib.sha256(self.url.encode()).hexdigest()[:12]

    @property
    def display(self) -> str:
        """The channel as shown to people: name or masked URL."""
        return self.name or mask_url(self.url)


class AlertRule(_Section):
    """One ``[[alerts.rules]]`` entry; by default there is one rule per category."""

    name: str | None = None
    category: str
    min_score: float = Field(0.0, ge=0, le=1)
    require_actors: list[str] = Field(default_factory=list)
    exclude_actors: list[str] = Field(default_factory=list)
    severity: Literal["info", "warning", "critical"] = "warning"
    channels: list[str] | None = None

    @field_validator("category")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in CATEGORIES:
            raise ValueError(f"unknown category {v!r}; use {', '.join(CATEGORIES)}")
        return v

    @property
    def key(self) -> str:
        """The rule's identifier in the outbox."""
        return self.name or self.category


class AlertsConfig(_Section):
    """``[alerts]``: which items may alert and how delivery is retried."""

    max_age_hours: float = Field(48, gt=0)
    first_poll_hours: float = Field(6, ge=0)
    rules: list[AlertRule] = Field(default_factory=list)
    max_attempts: int = Field(8, ge=1)
    retry_base_seconds: float = Field(30, ge=0)
    retry_max_seconds: float = Field(3600, ge=0)
    default_rate_per_minute: float = Field(120, gt=0)
    telegram_rate_per_minute: float = Field(20, gt=0)
    #: Seconds one delivery pass may take (rate-limit waits included); the rest goes next pass.
    delivery_budget_seconds: float = Field(4.0, gt=0)
    mailbox: str | None = None
    #: updates: one message when an alerted event develops materially (casualties rise, a new
    #: party, reported violated or ended); more coverage alone goes to the digest
    updates: bool = True
    max_updates_per_event: int = Field(2, ge=0)

    def effective_rules(self) -> list[AlertRule]:
        """The configured rules, or one default rule per category."""
        return list(self.rules) or [AlertRule(category=c) for c in CATEGORIES]


class ServiceConfig(_Section):
    """``[service]``: schedules of ``regionwatch serve``."""

    monitor_interval_seconds: int = Field(600, ge=5)
    digest_time: str = "07:00"

    @field_validator("digest_time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError("must be HH:MM (24-hour, UTC)")
        return v


class StoriesConfig(_Section):
    """``[stories]``: near-duplicate clustering."""

    window_days: float = Field(7, gt=0)
    threshold: float = Field(0.5, gt=0, le=1)
    num_perm: int = Field(128, ge=16, le=512)
    shingle_size: int = Field(3, ge=1, le=8)
    title_threshold: float = Field(0.8, gt=0, le=1)


class EventsConfig(_Section):
    """``[events]``: grouping articles into real-world events (see ``regionwatch.events``)."""

    window_days: float = Field(7, gt=0)
    join_gap_hours: float = Field(72, gt=0)
    max_span_days: float = Field(5, gt=0)
    party_similarity: float = Field(0.7, ge=0, le=1)
    join_threshold: float = Field(0.55, ge=0, le=2)
    merge_threshold: float = Field(0.8, ge=0, le=2)
    text_weight: float = Field(0.3, ge=0, le=1)
    settle_minutes: float = Field(60, ge=0)
    max_events: int = Field(5000, ge=10)


class BackfillConfig(_Section):
    """``[backfill]``: archive discovery and politeness."""

    chunk_size: int = Field(50, ge=1)
    wayback_cdx_url: str = "https://web.archive.org/cdx/search/cdx"
    wayback_raw_url: str = "https://web.archive.org/web/{timestamp}id_/{url}"
    wayback_requests_per_minute: float = Field(20, gt=0)
    wayback_budget: int = Field(2000, ge=1)


class SeedsConfig(_Section):
    """``[seeds]``: where the watchlist and the seed corpus are read from."""

    dir: Path = DEFAULT_SEEDS_DIR
    corpus: Path | None = None


class WebConfig(_Section):
    """``[web]``: the analyst console (``regionwatch web``, or beside ``serve`` when enabled).

    ``token`` guards every write (feedback, alert retry); set it in the environment
    (``REGIONWATCH_WEB__TOKEN``), not in the file. Without a token the console is read-only.
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)
    base_url: str | None = None
    token: SecretStr | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip().rstrip("/")
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://desk.example.org/regionwatch")
        return v

    @field_validator("token")
    @classmethod
    def _long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        if len(v.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (e.g. `openssl rand -hex 24`)")
        return v


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file chosen by ``--config``, ``REGIONWATCH_CONFIG`` or the default."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


_TOML_DATA: dict[str, Any] = {}


class Settings(BaseSettings):
    """The effective configuration of one RegionWatch process."""

    model_config = SettingsConfigDict(
        env_prefix="REGIONWATCH_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    storage: StorageConfig = StorageConfig()
    http: HttpConfig = HttpConfig()
    feeds: list[FeedConfig] = Field(default_factory=list)
    channels: list[ChannelConfig] = Field(default_factory=list)
    alerts: AlertsConfig = AlertsConfig()
    service: ServiceConfig = ServiceConfig()
    stories: StoriesConfig = StoriesConfig()
    events: EventsConfig = EventsConfig()
    backfill: BackfillConfig = BackfillConfig()
    seeds: SeedsConfig = SeedsConfig()
    web: WebConfig = WebConfig()
    config_path: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls, _TOML_DATA))

    def sources(self) -> list[Source]:
        """The configured feeds, else the default list in ``seeds/feeds.yaml``."""
        if self.feeds:
            return [f.to_source() for f in self.feeds]
        return load_feed_list(self.seeds.dir / "feeds.yaml")

    def masked(self) -> dict[str, Any]:
        """The settings as a dict with every secret masked, for ``config show``."""
        data = self.model_dump(mode="json")
        data["storage"]["url"] = mask_url(data["storage"]["url"])
        for ch in data.get("channels", []):
            ch["url"] = mask_url(ch["url"])
        return data


def load_feed_list(path: Path) -> list[Source]:
    """Read a feed list (``seeds/feeds.yaml`` format) into sources; raises ConfigError."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read feed list: {exc}", key="feeds") from exc
    entries = raw.get("feeds", raw) if isinstance(raw, dict) else raw
    out: list[Source] = []
    for n, entry in enumerate(entries):
        try:
            out.append(FeedConfig.model_validate(_only_feed_keys(entry)).to_source())
        except ValidationError as exc:
            raise ConfigError(f"{path}: entry {n}: {_describe(exc, 'feeds')}", key="feeds") from exc
    return out


def _only_feed_keys(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    keep = set(FeedConfig.model_fields)
    return {k: v for k, v in entry.items() if k in keep}


def _describe(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        key = f"{prefix}.{loc}" if prefix and loc else (loc or prefix)
        parts.append(f"{key}: {err['msg']}")
    return "; ".join(parts)


def config_path_from(explicit: str | os.PathLike[str] | None) -> Path | None:
    """The config file in effect: explicit, else $REGIONWATCH_CONFIG, else ./regionwatch.toml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("REGIONWATCH_CONFIG")
    if env:
        return Path(env)
    default = Path("regionwatch.toml")
    return default if default.is_file() else None


def load_settings(config: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Load settings from the TOML file and the environment.

    Args:
        config: path of the TOML file; see :func:`config_path_from` for the default.
        **overrides: values that beat both file and environment.

    Returns:
        The validated settings.

    Raises:
        ConfigError: the file is missing or malformed, or a value is invalid (names the key).
    """
    path = config_path_from(config)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
    legacy_db = os.environ.get("REGIONWATCH_DB_URL")
    if legacy_db and not os.environ.get("REGIONWATCH_STORAGE__URL"):
        data.setdefault("storage", {})
        if isinstance(data["storage"], dict):
            data["storage"]["url"] = legacy_db
    _TOML_DATA.clear()
    _TOML_DATA.update(data)
    try:
        settings = Settings(config_path=str(path) if path else None, **overrides)
    except ValidationError as exc:
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}invalid configuration: {_describe(exc)}") from exc
    finally:
        _TOML_DATA.clear()
    return settings


@lru_cache(maxsize=8)
def get_settings(config: str | None = None) -> Settings:
    """Cached :func:`load_settings`, for process edges (flows, tasks)."""
    return load_settings(config)


_SECRET_QUERY = re.compile(r"(pass|pwd|token|secret|key|auth|sig|apikey)", re.I)
_PLAIN_HOST_SCHEMES = {
    "mailto",
    "mailtos",
    "json",
    "jsons",
    "xml",
    "xmls",
    "form",
    "forms",
    "http",
    "https",
    "sqlite",
    "postgresql",
    "postgresql+psycopg",
    "postgres",
    "ntfy",
    "ntfys",
}


def mask_url(url: str) -> str:
    """Mask the secrets of a URL: password, token-like query values and chat-service tokens."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    scheme = parts.scheme.lower()
    if scheme.startswith("sqlite") or not parts.netloc:
        return url  # a file path: nothing secret, and urlunsplit would drop the slashes
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    path = parts.path
    if scheme not in _PLAIN_HOST_SCHEMES:
        # chat services carry tokens in host and path (tgram://TOKEN/CHAT, slack://A/B/C)
        netloc = "***"
        path = "/***" if path.strip("/") else ""
    query = urlencode(
        [(k, "***" if _SECRET_QUERY.search(k) else v) for k, v in parse_qsl(parts.query)],
        safe="*@,",
    )
    return urlunsplit((parts.scheme, netloc, path, query, ""))
