"""The search HTTP API (FastAPI): ``/api/search``, ``/api/quotes``, ``/api/articles/{id}``, ``/api/facets``,
``/api/health``.

:func:`create_app` builds the app from one :class:`Settings`; ``wiredesk serve`` runs it alone with
uvicorn and the Airflow plugin mounts the same app under ``/wiredesk``. Every parameter is validated:
a bad date, a page size above ``settings.search_max_size`` or an unknown sort is a 422 naming the
parameter; an unreachable cluster is a 503.
"""

# No `from __future__ import annotations`: FastAPI must resolve the local Size annotation.
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from pipeline.errors import PermanentError, RetryableError, WiredeskError
from pipeline.search.query import (
    InvalidParameter,
    build_request,
    get_article,
    more_like_this,
    search_articles,
    search_facets,
    search_quotes,
)
from pipeline.settings import Settings

Sort = Annotated[Literal["relevance", "date"], Query()]
Values = Annotated[list[str] | None, Query(description="repeat to match any of several values")]
When = Annotated[str | None, Query(description="2026-11-26, an ISO-8601 time, or 7d / 24h / 2w ago")]


def filter_params(source: Values = None, feed: Values = None, language: Values = None, entity: Values = None,
                  person: Values = None, organization: Values = None, place: Values = None,
                  speaker: Values = None, since: When = None, until: When = None) -> dict:
    """Filters shared by every search endpoint: OR within a parameter (repeat it), AND across them."""
    return {"source": source, "feed": feed, "language": language, "entity": entity, "person": person,
            "organization": organization, "place": place, "speaker": speaker, "since": since, "until": until}


Filters = Annotated[dict, Depends(filter_params)]


def invalid_parameter(request: Request, exc: InvalidParameter) -> JSONResponse:
    """422 in FastAPI's own error shape, naming the parameter."""
    detail = [{"loc": ["query", exc.param], "msg": exc.detail, "type": "value_error"}]
    return JSONResponse(status_code=422, content={"detail": detail})


def unavailable(request: Request, exc: RetryableError) -> JSONResponse:
    """503 while Elasticsearch cannot answer."""
    return JSONResponse(status_code=503, content={"detail": str(exc), "reason": exc.reason})


def permanent(request: Request, exc: PermanentError) -> JSONResponse:
    """A missing index is a 503 (nothing to search yet); other permanent errors are 400."""
    status = 503 if exc.reason == "no_index" else 400
    return JSONResponse(status_code=status, content={"detail": str(exc), "reason": exc.reason})


def build_router(settings: Settings) -> APIRouter:
    """The ``/api`` routes, bound to one settings object (the size cap comes from it)."""
    router = APIRouter(prefix="/api")
    Size = Annotated[int, Query(ge=0, le=settings.search_max_size, description="results per page")]

    def client(request: Request):
        """The Elasticsearch client the app was built with."""
        return request.app.state.es

    @router.get("/search", summary="Full-text search over articles with filters, facets and highlights")
    def search_endpoint(request: Request, filters: Filters, q: str = "",
                        sort: Sort = "relevance", size: Size = 10, cursor: str | None = None,
                        collapse: bool = True, facets: bool = True, highlight: bool = True) -> dict:
        """Articles matching q and the filters: hits with highlights, facets, next_cursor."""
        req = build_request(settings, q, sort=sort, size=size, cursor=cursor, collapse=collapse,
                                   facets=facets, highlight=highlight, **filters)
        return search_articles(client(request), settings, req)

    @router.get("/quotes", summary="Search inside quotes, optionally by speaker")
    def quotes_endpoint(request: Request, filters: Filters, q: str = "",
                        sort: Sort = "relevance", size: Size = 10, cursor: str | None = None) -> dict:
        """Quotes matching q ("what did X say about Y" works), each with speaker, cue and article."""
        req = build_request(settings, q, sort=sort, size=size, cursor=cursor, **filters)
        return search_quotes(client(request), settings, req)

    @router.get("/facets", summary="Facet counts (sources, people, organizations, places, speakers, days)")
    def facets_endpoint(request: Request, filters: Filters, q: str = "",
                        facet_size: Annotated[int, Query(ge=1, le=100)] = 10) -> dict:
        """Only the facet counts and the total for q and the filters."""
        req = build_request(settings, q, facet_size=facet_size, **filters)
        return search_facets(client(request), settings, req)

    @router.get("/articles/{article_id}", summary="One whole article; ?similar=N adds more-like-this results")
    def article_endpoint(request: Request, article_id: str,
                         similar: Annotated[int, Query(ge=0, le=settings.search_max_size)] = 0) -> dict:
        """One whole stored article by id."""
        article = get_article(client(request), settings, article_id)
        if article is None:
            raise HTTPException(status_code=404, detail=f"no article {article_id}")
        if similar:
            article["similar"] = more_like_this(client(request), settings, article_id, similar)
        return article

    @router.get("/health", summary="Cluster version and health, and the indices behind the aliases")
    def health_endpoint(request: Request) -> JSONResponse:
        """Cluster and index status; 503 when Elasticsearch cannot answer."""
        return health(client(request), settings)

    return router


def health(es, settings: Settings) -> JSONResponse:
    """200 with cluster and index status, or 503 with the reason."""
    from pipeline.store.indices import index_status

    try:
        status = index_status(es, settings)
    except WiredeskError as exc:
        return JSONResponse(status_code=503, content={"status": "unavailable", "detail": str(exc)})
    ok = status["cluster"]["status"] in ("green", "yellow") and status["aliases"][settings.articles_alias]["index"]
    return JSONResponse(status_code=200 if ok else 503, content={"status": "ok" if ok else "degraded", **status})


def create_app(settings: Settings, es=None) -> FastAPI:
    """The API app for these settings (``es`` defaults to a client from :func:`pipeline.index.connect`)."""
    from pipeline.store.client import connect

    app = FastAPI(title="Wiredesk search API", version="1", description=__doc__)
    app.state.settings = settings
    app.state.es = es if es is not None else connect(settings)
    app.add_exception_handler(InvalidParameter, invalid_parameter)
    app.add_exception_handler(RetryableError, unavailable)
    app.add_exception_handler(PermanentError, permanent)
    app.include_router(build_router(settings))
    return app
