"""Settings: TOML + environment precedence, validation naming the key, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from regionwatch.errors import ConfigError
from regionwatch.settings import load_settings, mask_url

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rw.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_example_config_loads() -> None:
    s = load_settings(ROOT / "regionwatch.example.toml")
    assert s.storage.url == "sqlite:///data/regionwatch.db"
    assert s.feeds[0].name == "OC Media"
    assert s.alerts.max_age_hours == 48
    assert s.service.monitor_interval_seconds == 600


def test_contract_keys(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """
[storage]
url = "sqlite:///x.db"
[http]
allow_private_networks = true
user_agent = "X/1 (+http://example.org)"
[[feeds]]
name = "A"
url = "https://a.example/feed"
language = "ru"
[[channels]]
url = "json://127.0.0.1:9/hook"
categories = ["csto", "ceasefire"]
[alerts]
max_age_hours = 12
""",
    )
    s = load_settings(p)
    assert s.http.allow_private_networks is True
    assert s.feeds[0].language == "ru"
    assert s.channels[0].categories == ["csto", "ceasefire"]
    assert s.alerts.max_age_hours == 12
    assert [r.category for r in s.alerts.effective_rules()] == ["csto", "ceasefire", "border_clash"]


def test_env_beats_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write(tmp_path, '[storage]\nurl = "sqlite:///file.db"\n[alerts]\nmax_age_hours = 5\n')
    monkeypatch.setenv("REGIONWATCH_STORAGE__URL", "sqlite:///env.db")
    s = load_settings(p)
    assert s.storage.url == "sqlite:///env.db"
    assert s.alerts.max_age_hours == 5


def test_config_from_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write(tmp_path, "[alerts]\nmax_age_hours = 7\n")
    monkeypatch.setenv("REGIONWATCH_CONFIG", str(p))
    assert load_settings().alerts.max_age_hours == 7


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[alerts]\nmax_age_hours = -1\n", "alerts.max_age_hours"),
        ("[http]\nallow_private_networks = 'maybe'\n", "http.allow_private_networks"),
        ("[[feeds]]\nname = 'x'\nurl = 'ftp://x'\n", "feeds.0.url"),
        ("[[channels]]\nurl = 'json://h'\ncategories = ['weather']\n", "channels.0.categories"),
        ("[storage]\nurll = 'x'\n", "storage.urll"),
        ("[service]\ndigest_time = '25:00'\n", "service.digest_time"),
    ],
)
def test_bad_value_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path, text))
    assert key in str(exc.value)


def test_corrupt_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[storage\nurl = "))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("mailtos://user:hunter2@smtp.example.org?to=desk@example.org", "hunter2"),
        ("tgram://123456:ABCDEF-token/-100200300", "ABCDEF-token"),
        ("json://hooks.example.org/path?token=s3cr3t", "s3cr3t"),
        ("postgresql+psycopg://rw:pgpass@db:5432/rw", "pgpass"),
        ("slack://TOKENA/TOKENB/TOKENC", "TOKENB"),
    ],
)
def test_mask_url_hides_secrets(url: str, secret: str) -> None:
    assert secret not in mask_url(url)


def test_settings_masked_dump(tmp_path: Path) -> None:
    p = write(tmp_path, '[[channels]]\nurl = "mailtos://u:topsecret@smtp.example.org"\n')
    assert "topsecret" not in str(load_settings(p).masked())
