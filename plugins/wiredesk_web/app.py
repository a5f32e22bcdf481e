"""The app mounted under ``/wiredesk``: pages, static files, feed health, quote cards and the search API.

Routes (relative to the mount): ``/`` search page, ``/feeds`` feed-health page, ``/article?id=``
one article, ``/static/*`` CSS and JS, ``/api/feeds`` feed and item health, ``/api/runs`` the latest
runs' counts, ``/api/quote-cards`` attributed quotes from the best-matching articles; everything else
is ``pipeline.search.api`` (``/api/search``, ``/api/quotes``, ``/api/facets``, ``/api/articles/{id}``,
``/api/health``). Every route needs an Airflow login (:mod:`wiredesk_web.auth`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from pipeline.errors import PermanentError, RetryableError
from pipeline.search.api import invalid_parameter, permanent, unavailable
from pipeline.search.query import InvalidParameter, SearchRequest, build_request, search_quotes
from pipeline.settings import Settings
from pipeline.store.client import es_boundary
from wiredesk_web.auth import Authenticate, LoginRequired, airflow_login_url, airflow_user

LOGGER = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
PAGES = {"/": "search.html", "/feeds": "feeds.html", "/article": "article.html"}
CARD_FILTERS = ("source", "person", "organization", "place", "speaker", "entity")
CARD_ARTICLES = 10  # articles whose quotes feed the cards


def add_pages(app: FastAPI) -> None:
    """The HTML pages: static files, the data comes from the API in the browser."""
    for path, name in PAGES.items():
        def page(name: str = name) -> FileResponse:
            return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def feed_health(es, settings: Settings, silent_hours: int) -> dict:
    """Feed rows with their health, plus article items by status and failures due for a retry."""
    from pipeline.feeds.health import feed_health_report
    from pipeline.ingest.claims import count_retry_due, status_counts

    report = feed_health_report(es, settings, silent_hours)
    report["items"] = status_counts(es, settings)
    report["retry_due"] = count_retry_due(es, settings)
    report["silent_hours"] = silent_hours
    return report


def card_request(settings: Settings, request: Request) -> SearchRequest:
    """The search page's query and filters as a request for quote cards."""
    params = request.query_params
    options = {name: params.getlist(name) for name in CARD_FILTERS if params.getlist(name)}
    req = build_request(settings, params.get("q", ""), since=params.get("since"),
                               until=params.get("until"), size=CARD_ARTICLES, **options)
    return replace(req, facets=False, highlight=False)


@es_boundary
def quote_cards(es, settings: Settings, req: SearchRequest, limit: int) -> dict:
    """Attributed quotes ("speaker — quote") from the articles that best match the search."""
    cards = search_quotes(es, settings, req, match_quotes=False)["quotes"]
    return {"cards": cards[:limit], "total": len(cards)}


def add_api(app: FastAPI, settings: Settings) -> None:
    """Feed health, recent runs and quote cards (the rest of the API is ``pipeline.search.api``)."""
    @app.get("/api/feeds", summary="Feed health (failing, silent, slow) and article items by status")
    def feeds_endpoint(request: Request, silent_hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24) -> dict:
        return feed_health(request.app.state.es, settings, silent_hours)

    @app.get("/api/runs", summary="The latest poll and ingest runs with their counts, newest first")
    def runs_endpoint(request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict:
        from pipeline.store.runs import recent_runs

        return {"runs": recent_runs(request.app.state.es, settings, limit)}

    @app.get("/api/quote-cards", summary="Attributed quotes from the best-matching articles")
    def cards_endpoint(request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 12) -> dict:
        return quote_cards(request.app.state.es, settings, card_request(settings, request), limit)


def add_error_handlers(app: FastAPI) -> None:
    """The same error answers as the search API (422 bad parameter, 503 cluster or index missing)."""


    app.add_exception_handler(InvalidParameter, invalid_parameter)
    app.add_exception_handler(RetryableError, unavailable)
    app.add_exception_handler(PermanentError, permanent)


def create_plugin_app(settings: Settings, es=None, authenticate: Authenticate = airflow_user,
                      login_url=airflow_login_url):
    """The whole ``/wiredesk`` app behind the login check (tests pass their own ``authenticate``)."""
    from pipeline.search.api import create_app
    from pipeline.store.client import connect

    es = es if es is not None else connect(settings)
    app = FastAPI(title="Wiredesk", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.es = es
    add_error_handlers(app)
    add_pages(app)
    add_api(app, settings)
    app.mount("/", create_app(settings, es))  # last: /api/search, /api/quotes, ... and its /docs
    return LoginRequired(app, authenticate, login_url)
