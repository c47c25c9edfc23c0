"""The default source list, seeds/feeds.yaml: loads, is large enough and covers the region."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from regionwatch.errors import ConfigError
from regionwatch.settings import DEFAULT_SEEDS_DIR, Settings, load_feed_list

FEEDS = DEFAULT_SEEDS_DIR / "feeds.yaml"

# countries the issue names (international desks are checked separately)
REGION = {"AM", "AZ", "GE", "KZ", "KG", "TJ", "UZ", "RU", "TR", "UA", "BY"}
INTERNATIONAL = {"US", "GB", "DE", "FR", "QA"}
ALLOWED_KEYS = {
    "name",
    "url",
    "language",
    "country",
    "state_affiliated",
    "kind",
    "confidence",
    "note",
}


@pytest.fixture(scope="module")
def sources():
    return load_feed_list(FEEDS)


@pytest.fixture(scope="module")
def raw() -> list[dict]:
    data = yaml.safe_load(FEEDS.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def test_at_least_thirty_sources(sources) -> None:
    assert len(sources) >= 30


def test_names_and_urls_unique(sources) -> None:
    names = Counter(s.name for s in sources)
    urls = Counter(s.url.rstrip("/").lower() for s in sources)
    assert [n for n, c in names.items() if c > 1] == []
    assert [u for u, c in urls.items() if c > 1] == []


def test_urls_are_https_with_a_host(sources) -> None:
    for s in sources:
        parts = urlsplit(s.url)
        assert parts.scheme == "https", s.name
        assert parts.hostname and "." in parts.hostname, s.name


def test_covers_the_region_and_international_desks(sources) -> None:
    countries = {s.country for s in sources}
    assert countries >= REGION, REGION - countries
    assert countries & INTERNATIONAL
    # local languages, not just English and Russian
    languages = {s.language for s in sources}
    assert {"en", "ru"} <= languages
    assert len(languages - {"en", "ru"}) >= 5
    # both state-affiliated and independent outlets are represented
    flags = {s.state_affiliated for s in sources}
    assert {True, False} <= flags


def test_every_entry_is_complete(raw) -> None:
    for entry in raw:
        assert set(entry) <= ALLOWED_KEYS, entry.get("name")
        for key in ("name", "url", "language", "country", "state_affiliated"):
            assert key in entry, (entry.get("name"), key)
        assert isinstance(entry["language"], str) and 2 <= len(entry["language"]) <= 3
        assert isinstance(entry["country"], str) and len(entry["country"]) == 2
        assert entry["country"].isupper()
        assert entry["state_affiliated"] in (True, False, None)
        assert entry.get("kind", "feed") in ("feed", "sitemap")
        assert entry.get("confidence", "high") in ("high", "medium")


def test_loaded_records_keep_metadata(sources, raw) -> None:
    by_name = {s.name: s for s in sources}
    for entry in raw:
        s = by_name[entry["name"]]
        assert (s.url, s.language, s.country, s.state_affiliated) == (
            entry["url"],
            entry["language"],
            entry["country"],
            entry["state_affiliated"],
        )


def test_settings_fall_back_to_the_list() -> None:
    assert [s.name for s in Settings().sources()] == [s.name for s in load_feed_list(FEEDS)]


def test_bad_entry_names_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text("- name: X\n  url: ftp://example.org/feed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="entry 0"):
        load_feed_list(bad)
