"""The console's routes: pages, JSON API, and the two writes (feedback, alert retry).

Pages: ``/`` (events), ``/events/{event_id}``, ``/search?q=``, ``/feeds``, ``/alerts``,
``/healthz``. JSON: ``/api/events``, ``/api/events/{event_id}``, ``/api/search?q=``.
Writes: ``POST /api/feedback`` (Bearer token), and the page's forms ``POST /forms/feedback`` and
``POST /forms/alerts/retry`` (session cookie + CSRF field, see :mod:`web.security`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.trustedhost import TrustedHostMiddleware

from regionwatch.errors import RegionWatchError, StoreError
from regionwatch.models import VERDICTS, FeedbackInput, Verdict
from regionwatch.settings import CATEGORIES, Settings
from regionwatch.store import Store
from regionwatch.store.console import alert_counts
from regionwatch.store.feedback import FeedbackError, add_feedback, list_feedback
from regionwatch.store.search import SearchFilters, search_items
from web import events as ev
from web.reads import feed_health
from web.security import SESSION_COOKIE, Guard, safe_next

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # Origin stays set on our own form posts
    "Cross-Origin-Opener-Policy": "same-origin",
}
JSON_MAX_BYTES = 16_384


def _allowed_hosts(settings: Settings) -> list[str]:
    """Host headers answered (DNS-rebinding guard): loopback names, the bound host, the
    host of ``base_url``; any host only when bound to every interface without a base URL."""
    host = settings.web.host
    wildcard = host in ("0.0.0.0", "::", "")  # noqa: S104 - the operator's deliberate choice
    if wildcard and not settings.web.base_url:
        return ["*"]
    hosts = {"127.0.0.1", "localhost", "[::1]"} | ({host} if not wildcard else set())
    if settings.web.base_url:
        hosts.add(urlsplit(settings.web.base_url).hostname or "localhost")
    return sorted(hosts)


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The console over ``store`` (default: the store ``settings`` names)."""
    store = store or Store(settings.storage.url)
    token = settings.web.token.get_secret_value() if settings.web.token else None
    guard = Guard(token)
    categories = tuple(dict.fromkeys([*CATEGORIES, *(r.category for r in settings.alerts.rules)]))
    lex = ev.ActorBook.load(settings.seeds.dir)
    # the 30-day chart changes by the day, not by the request: computed at most every 30 s
    charts: ev.Fresh[ev.Timeline] = ev.Fresh(30.0)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.autoescape = True
    templates.env.globals.update(
        categories=categories,
        fmt_dt=_fmt_dt,
        fmt_day=_fmt_day,
        actor_name=lambda slug: lex.info(slug).name,
    )

    app = FastAPI(
        title="RegionWatch console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.store = store
    app.state.settings = settings
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=_allowed_hosts(settings))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response = cast(Response, await call_next(request))
        # the time the server spent on the request (bench/bench_web.py reads it)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1e3:.1f}"
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if request.url.path.startswith(("/api/", "/forms/", "/login", "/logout")):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(StoreError)
    async def store_down(request: Request, exc: StoreError) -> Response:
        logger.warning("store error: %s", exc)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "store unavailable"}, status_code=503)
        return page(request, "error.html", {"message": "The store is unavailable."}, 503)

    def page(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
        full = {
            "writes_enabled": guard.writes_enabled,
            "csrf": guard.csrf_for(request),
            "path": request.url.path,
            "here": str(request.url.path)
            + (("?" + request.url.query) if request.url.query else ""),
            **ctx,
        }
        return templates.TemplateResponse(request, name, full, status_code=status)

    def filters_from(request: Request) -> ev.EventFilters:
        try:
            return ev.EventFilters.from_query(request.query_params, categories)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc

    # ------------------------------------------------------------------ pages
    @app.get("/", response_class=HTMLResponse)
    def events_page(request: Request) -> HTMLResponse:
        f = filters_from(request)
        events = ev.list_events(store, f, lex)
        by_cat = {c: [e for e in events if c in e.categories] for c in categories}
        chart = charts.get(lambda: ev.timeline(store, categories, days=30))
        return page(
            request,
            "events.html",
            {"filters": f, "by_category": by_cat, "chart": chart, "total": len(events)},
        )

    @app.get("/events/{event_id}", response_class=HTMLResponse)
    def event_page(request: Request, event_id: int) -> HTMLResponse:
        detail = ev.get_event(store, event_id, lex)
        if detail is None:
            return page(request, "error.html", {"message": f"No event {event_id}."}, 404)
        fb = list_feedback(store, event_id=event_id, item_ids=[a.item_id for a in detail.articles])
        return page(request, "event.html", {"e": detail, "feedback": fb, "verdicts": VERDICTS})

    @app.get("/search", response_class=HTMLResponse)
    def search_page(request: Request, q: str = "") -> HTMLResponse:
        f = filters_from(request)
        groups = ev.search_grouped(store, q, f, lex) if q.strip() else []
        return page(request, "search.html", {"q": q, "filters": f, "groups": groups})

    @app.get("/feeds", response_class=HTMLResponse)
    def feeds_page(request: Request) -> HTMLResponse:
        configured = {s.name for s in settings.sources()}
        return page(request, "feeds.html", {"feeds": feed_health(store, configured or None)})

    @app.get("/alerts", response_class=HTMLResponse)
    def alerts_page(request: Request, status: str | None = None) -> HTMLResponse:
        from regionwatch.alerts import channels, list_alerts

        if status not in (None, "", "pending", "sent", "dead"):
            raise HTTPException(400, "status: one of pending, sent, dead")
        names = {c.key: c.display for c in channels(settings)}
        rows = list_alerts(store, status or None, limit=300)
        counts = alert_counts(store)
        return page(
            request,
            "alerts.html",
            {"rows": rows, "names": names, "status": status or "", "counts": counts},
        )

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            with store.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except StoreError:
            return JSONResponse({"status": "store unreachable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    # ------------------------------------------------------------------ sign-in for the forms
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        return page(request, "login.html", {"next": safe_next(next), "error": None})

    @app.post("/login", response_model=None)
    def login(
        request: Request, token: str = Form(""), next: str = Form("/")
    ) -> HTMLResponse | RedirectResponse:
        from web.security import same_origin

        if not guard.writes_enabled:
            return page(request, "login.html", {"next": safe_next(next), "error": "off"}, 403)
        if not same_origin(request) or not guard.token_ok(token):
            return page(request, "login.html", {"next": safe_next(next), "error": "bad"}, 403)
        resp = RedirectResponse(safe_next(next), status_code=303)
        resp.set_cookie(
            SESSION_COOKIE,
            guard.new_session(),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=12 * 3600,
            path="/",
        )
        return resp

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> RedirectResponse:
        if not guard.form_ok(request, csrf):
            raise HTTPException(403, "refused: not signed in or not from this page")
        resp = RedirectResponse("/", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    # ------------------------------------------------------------------ writes
    def store_feedback(fb: FeedbackInput) -> dict[str, Any]:
        try:
            saved = add_feedback(store, fb, categories)
        except FeedbackError as exc:
            status = 404 if str(exc).startswith("no such") else 400
            raise HTTPException(status, str(exc)) from exc
        out = asdict(saved)
        out["created_at"] = saved.created_at.isoformat()
        return out

    @app.post("/api/feedback", status_code=201)
    async def api_feedback(request: Request) -> JSONResponse:
        if not guard.writes_enabled:
            return JSONResponse({"error": "writes are off: no [web] token configured"}, 403)
        presented = guard.bearer(request)
        if not presented:
            return JSONResponse(
                {"error": "missing bearer token"},
                401,
                headers={"WWW-Authenticate": 'Bearer realm="regionwatch"'},
            )
        if not guard.token_ok(presented):
            return JSONResponse({"error": "wrong token"}, 403)
        body = await request.body()
        if len(body) > JSON_MAX_BYTES:
            return JSONResponse({"error": "body too large"}, 413)
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, 400)
        try:
            fb = _feedback_from_json(data, origin="api")
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        try:
            return JSONResponse(store_feedback(fb), 201)
        except HTTPException as exc:
            return JSONResponse({"error": exc.detail}, exc.status_code)

    @app.post("/forms/feedback")
    def form_feedback(
        request: Request,
        csrf: str = Form(""),
        category: str = Form(...),
        verdict: str = Form(...),
        event_id: str = Form(""),
        item_id: str = Form(""),
        note: str = Form(""),
        next: str = Form("/"),
    ) -> RedirectResponse:
        if not guard.writes_enabled:
            raise HTTPException(403, "writes are off: no [web] token configured")
        if not guard.form_ok(request, csrf):
            raise HTTPException(403, "refused: sign in first, and post from this page")
        try:
            fb = _feedback_from_json(
                {
                    "event_id": int(event_id) if event_id.strip() else None,
                    "item_id": int(item_id) if item_id.strip() else None,
                    "category": category,
                    "verdict": verdict,
                    "note": note,
                },
                origin="page",
            )
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        store_feedback(fb)
        return RedirectResponse(safe_next(next), status_code=303)

    @app.post("/forms/alerts/retry")
    def form_retry(
        request: Request, csrf: str = Form(""), alert_id: str = Form("")
    ) -> RedirectResponse:
        from regionwatch.alerts import retry_alerts

        if not guard.writes_enabled:
            raise HTTPException(403, "writes are off: no [web] token configured")
        if not guard.form_ok(request, csrf):
            raise HTTPException(403, "refused: sign in first, and post from this page")
        ids = [int(alert_id)] if alert_id.strip().isdigit() else None
        n = retry_alerts(store, ids)
        logger.info("console: %d alert row(s) made due now", n)
        return RedirectResponse("/alerts?" + urlencode({"status": "pending"}), status_code=303)

    # ------------------------------------------------------------------ JSON reads
    @app.get("/api/events")
    def api_events(request: Request) -> JSONResponse:
        f = filters_from(request)
        return JSONResponse([ev.event_json(e) for e in ev.list_events(store, f, lex)])

    @app.get("/api/events/{event_id}")
    def api_event(event_id: int) -> JSONResponse:
        detail = ev.get_event(store, event_id, lex)
        if detail is None:
            return JSONResponse({"error": f"no event {event_id}"}, 404)
        return JSONResponse(detail.to_json())

    @app.get("/api/search")
    def api_search(request: Request, q: str = "") -> JSONResponse:
        f = filters_from(request)
        hits = search_items(store, q, _search_filters(f, lex), limit=f.limit)
        return JSONResponse([ev.hit_json(h) for h in hits])

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, exc.status_code)
        return page(request, "error.html", {"message": str(exc.detail)}, exc.status_code)

    @app.exception_handler(RegionWatchError)
    async def rw_error(request: Request, exc: RegionWatchError) -> Response:
        return page(request, "error.html", {"message": str(exc)}, 400)

    return app


def _search_filters(f: ev.EventFilters, lex: ev.ActorBook) -> SearchFilters:
    return SearchFilters(
        category=f.category,
        actor=f.actor,
        language=f.language,
        since=f.since,
        until=f.until,
    )


def _feedback_from_json(data: Any, *, origin: str) -> FeedbackInput:
    """Validate a feedback body; ValueError names what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(data) - {"event_id", "item_id", "category", "verdict", "note"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    ids = {}
    for key in ("event_id", "item_id"):
        v = data.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{key} must be a positive integer")
        ids[key] = v
    if (ids["event_id"] is None) == (ids["item_id"] is None):
        raise ValueError("give exactly one of event_id and item_id")
    category, verdict, note = data.get("category"), data.get("verdict"), data.get("note") or ""
    if not isinstance(category, str) or not category:
        raise ValueError("category is required")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    if not isinstance(note, str):
        raise ValueError("note must be a string")
    return FeedbackInput(
        category=category,
        verdict=cast(Verdict, verdict),
        event_id=ids["event_id"],
        item_id=ids["item_id"],
        note=note,
        origin=origin,
    )


def _fmt_dt(v: datetime | None) -> str:
    return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if v else "—"


def _fmt_day(v: datetime | None) -> str:
    return v.astimezone(UTC).strftime("%Y-%m-%d") if v else ""
