"""Who may write, and proof that a form was posted by our own page.

Reading needs nothing. Every write needs the ``[web] token``:

- scripts send it as ``Authorization: Bearer <token>`` (``POST /api/feedback``);
- a person types it once on ``/login``; the console then sets an HttpOnly, SameSite=Strict session
  cookie holding a random nonce and its HMAC under the token, and every form of the page carries a
  CSRF field derived from that nonce. A form post is accepted only with a valid session cookie,
  the matching CSRF field and, when the browser sends them, a same-origin ``Origin`` and
  ``Sec-Fetch-Site``. Changing the token invalidates every session.

With no token configured every write is refused and the pages say so.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request

__all__ = ["SESSION_COOKIE", "Guard", "safe_next"]

SESSION_COOKIE = "rw_session"


def _mac(key: str, message: str) -> str:
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Guard:
    """Checks tokens, sessions and CSRF fields against the configured token (None: read-only)."""

    token: str | None

    @property
    def writes_enabled(self) -> bool:
        """Whether any write can be accepted at all."""
        return bool(self.token)

    def token_ok(self, candidate: str) -> bool:
        """Constant-time comparison with the configured token."""
        if not self.token or not candidate:
            return False
        return hmac.compare_digest(candidate.encode("utf-8"), self.token.encode("utf-8"))

    def bearer(self, request: Request) -> str:
        """The token of an ``Authorization: Bearer`` header ('' when absent)."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""

    # ------------------------------------------------------------------ sessions
    def new_session(self) -> str:
        """A cookie value: a random nonce and its MAC under the token."""
        assert self.token
        nonce = secrets.token_urlsafe(24)
        return f"{nonce}.{_mac(self.token, 'session:' + nonce)}"

    def session_nonce(self, request: Request) -> str | None:
        """The nonce of a valid session cookie, else None."""
        if not self.token:
            return None
        nonce, _, mac = request.cookies.get(SESSION_COOKIE, "").partition(".")
        if not nonce or not hmac.compare_digest(mac, _mac(self.token, "session:" + nonce)):
            return None
        return nonce

    def csrf_for(self, request: Request) -> str | None:
        """The CSRF field the page's forms carry for this session (None: not signed in)."""
        nonce = self.session_nonce(request)
        if nonce is None or not self.token:
            return None
        return _mac(self.token, "csrf:" + nonce)

    def form_ok(self, request: Request, csrf: str) -> bool:
        """A form post from our own page by a signed-in person."""
        expected = self.csrf_for(request)
        if expected is None or not csrf or not hmac.compare_digest(csrf, expected):
            return False
        return same_origin(request)


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site."""
    site = request.headers.get("sec-fetch-site")
    if site and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        return urlsplit(origin).netloc == host
    return origin != "null"


def safe_next(target: str | None, default: str = "/") -> str:
    """A redirect target on this site only (a path, never ``//host`` or a scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
