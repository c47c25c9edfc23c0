"""One exception tree for RegionWatch.

::

    RegionWatchError
     ├── ConfigError                 bad settings, seeds or command-line values
     ├── FetchError                  a URL could not be fetched (carries source, url, status)
     │    ├── TransientFetchError    timeouts, connection errors, 408/425/429/5xx: retried
     │    └── PermanentFetchError    other 4xx, oversize body, bad scheme or type: recorded
     │         └── BlockedURLError   refused by the URL guard or robots.txt
     ├── StoreError                  the database is unreachable or refused a write
     └── AlertError                  a notification could not be delivered
          ├── TransientAlertError
          └── PermanentAlertError
"""

from __future__ import annotations

__all__ = [
    "AlertError",
    "BlockedURLError",
    "ConfigError",
    "FetchError",
    "PermanentAlertError",
    "PermanentFetchError",
    "RegionWatchError",
    "StoreError",
    "TransientAlertError",
    "TransientFetchError",
]


class RegionWatchError(Exception):
    """Base class of every error RegionWatch raises on purpose."""


class ConfigError(RegionWatchError):
    """A setting, seed file or command-line value is invalid."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class FetchError(RegionWatchError):
    """A URL could not be fetched."""

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        source: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.source = source
        self.retry_after = retry_after

    def __str__(self) -> str:
        base = super().__str__()
        return base if not self.url or self.url in base else f"{base} ({self.url})"


class TransientFetchError(FetchError):
    """Fetching failed for a reason that may go away: timeout, connection error, 429 or 5xx."""


class PermanentFetchError(FetchError):
    """Fetching failed for a reason that a retry will not fix: 4xx, oversize, bad type."""


class BlockedURLError(PermanentFetchError):
    """The URL was refused before any request: private address, bad scheme or robots.txt."""


class StoreError(RegionWatchError):
    """The store is unreachable or refused an operation."""


class AlertError(RegionWatchError):
    """A notification could not be delivered."""


class TransientAlertError(AlertError):
    """Delivery failed but may succeed later (server down, rate limited)."""


class PermanentAlertError(AlertError):
    """Delivery cannot succeed without a configuration change (bad URL, unknown scheme)."""
