"""The RegionWatch analyst console: events, evidence, search, feeds, alerts and feedback.

A FastAPI application (:func:`web.app.create_app`) over the store's read API, with Jinja2
templates under ``web/templates`` and static assets under ``web/static`` (no CDN, no script).
``regionwatch web`` serves it with uvicorn; ``regionwatch serve`` runs it beside the schedules
when ``[web] enabled`` is set. The library (``regionwatch/``) never imports this package.
"""

from web.app import create_app

__all__ = ["create_app"]
