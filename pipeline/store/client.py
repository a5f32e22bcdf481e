"""The Elasticsearch client and the one table that maps its errors to ours.

Every library function that talks to Elasticsearch takes ``(es, settings, ...)`` and is wrapped in
:func:`es_boundary` (or runs its requests inside :func:`map_es_errors`), so callers only ever see
:class:`~pipeline.errors.WiredeskError`:

    connection refused or reset, timeout, HTTP 429/502/503/504   RetryableError(es_unavailable)
    index_not_found_exception                                    PermanentError(no_index)
    any other refusal (4xx, 500)                                 PermanentError(es_error)

Code that expects a particular answer (a 404 for a missing document, a 400 for an index that
already exists) catches the library's exception *inside* the boundary, before it is translated.
Nothing here imports another pipeline stage.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Any, Iterator

from pipeline.errors import PermanentError, Reason, RetryableError
from pipeline.settings import Settings

BUSY_STATUSES = (429, 502, 503, 504)


def connect(settings: Settings):
    """An Elasticsearch client for the configured cluster (auth, CA, timeouts, retries); no request is sent."""
    from elasticsearch import Elasticsearch

    kwargs: dict[str, Any] = {
        "request_timeout": settings.es_request_timeout,
        "retry_on_timeout": True,
        "max_retries": settings.es_max_retries,
    }
    if settings.es_username:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password or "")
    if settings.es_ca_certs:
        kwargs["ca_certs"] = settings.es_ca_certs
    return Elasticsearch(settings.effective_es_url, **kwargs)


def translate_error(exc: Exception, settings: Settings) -> Exception:
    """Our error for one of the Elasticsearch client's exceptions (others are returned unchanged)."""
    from elastic_transport import ConnectionError as TransportConnectionError
    from elastic_transport import ConnectionTimeout
    from elasticsearch import ApiError

    url = settings.effective_es_url
    if isinstance(exc, (TransportConnectionError, ConnectionTimeout)):
        return RetryableError(f"Elasticsearch at {url} is not answering ({type(exc).__name__})",
                              reason=Reason.ES_UNAVAILABLE)
    if not isinstance(exc, ApiError):
        return exc
    if exc.status_code in BUSY_STATUSES:
        return RetryableError(f"Elasticsearch at {url} is busy (HTTP {exc.status_code} {exc.error})",
                              reason=Reason.ES_UNAVAILABLE)
    if exc.error == "index_not_found_exception":
        missing = api_error_detail(exc).get("index") or "the index"
        return PermanentError(f"no index {missing} at {url} yet: run `wiredesk index setup` or crawl first",
                              reason=Reason.NO_INDEX)
    detail = api_error_detail(exc).get("reason") or exc.message
    message = f"Elasticsearch at {url} refused a request (HTTP {exc.status_code} {exc.error}: {detail})"
    return PermanentError(message[:1000], reason=Reason.ES_ERROR)


def api_error_detail(exc) -> dict:
    """The ``error`` object of an Elasticsearch error answer, or an empty dict."""
    body = exc.body if isinstance(exc.body, dict) else {}
    return body.get("error") if isinstance(body.get("error"), dict) else {}


@contextmanager
def map_es_errors(settings: Settings) -> Iterator[None]:
    """Translate the Elasticsearch client's exceptions escaping the block (see the module docstring)."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    try:
        yield
    except (TransportError, ApiError) as exc:
        translated = translate_error(exc, settings)
        if translated is exc:
            raise
        raise translated from exc


def es_boundary(func):
    """Decorate a ``func(es, settings, ...)``: Elasticsearch exceptions leave it as WiredeskErrors."""

    @functools.wraps(func)
    def wrapper(es, settings, *args, **kwargs):
        with map_es_errors(settings):
            return func(es, settings, *args, **kwargs)

    return wrapper
