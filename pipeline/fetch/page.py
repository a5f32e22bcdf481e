"""Polite, bounded fetching of article pages.

:func:`fetch_page` GETs one page through the one download path of :mod:`pipeline.fetch.hop` (SSRF
guard and connected-peer check per hop, robots.txt, per-host slot, total time budget, bounded
decompression and size cap, redirects by hand) and returns a :class:`FetchedPage` with the HTML
decoded by :mod:`pipeline.fetch.decode`, or raises a ``RetryableError`` / ``PermanentError`` with a short
reason code. What is page-specific lives here:

- the Accept header and HTML content-type checks (before the body is read), binary sniffing;
- retries: a few attempts on 429/5xx/timeouts, honouring Retry-After up to a cap; a longer
  Retry-After is raised at once (``retry_after`` set) so the task retries later instead of blocking.

Reason codes: timeout, connect_error, network_error, dns_error, http_429, http_408, http_5xx,
http_404, http_410, http_<4xx>, bad_redirect, too_many_redirects, too_large, not_html,
robots_disallowed, robots_unreachable, blocked_address, bad_scheme, bad_url, decode_error,
empty_body.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import httpx

from pipeline.errors import PermanentError, Reason, RetryableError
from pipeline.fetch.decode import decode_html, looks_binary
from pipeline.fetch.hop import Answer, Ask, build_client, check_status, fetch_url
from pipeline.fetch.politeness import Politeness, get_politeness
from pipeline.settings import Settings

LOGGER = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


# Transient, but cached for minutes (robots.txt): retrying within this call cannot help.
NOT_RETRIED_HERE = frozenset({Reason.ROBOTS_UNREACHABLE})


# Headers worth keeping with the page (dates for freshness, language, caching validators).
KEPT_HEADERS = ("content-type", "content-length", "content-encoding", "content-language", "date",
                "last-modified", "etag", "cache-control", "x-robots-tag", "link")
PAGE_HEADERS = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"}
SNIFF_BYTES = 1024
CHARSET_PARAM_RE = re.compile(r"charset\s*=\s*[\"']?([^\"';\s]+)", re.I)
HTML_SNIFF_RE = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|meta|p|div)[\s>/]", re.I)


@dataclass(frozen=True)
class FetchedPage:
    """One fetched page: where it came from, what the server said, and its decoded HTML."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]  # the KEPT_HEADERS subset, lower-case names
    content_type: str  # media type without parameters
    encoding: str  # the codec used to decode ``raw``
    html: str
    raw: bytes  # decoded from Content-Encoding, not from the charset
    fetched_at: datetime  # UTC
    redirects: tuple[str, ...] = ()  # the URLs that redirected, in order
    attempts: int = 1

    @property
    def header_charset(self) -> str | None:
        """The charset label of the Content-Type header, as sent (None without one)."""
        match = CHARSET_PARAM_RE.search(self.headers.get("content-type", ""))
        return match.group(1) if match else None


def fetch_page(url: str, settings: Settings, client: httpx.Client | None = None,
               politeness: Politeness | None = None) -> FetchedPage:
    """GET an HTML page politely and within bounds; raises RetryableError or PermanentError."""
    politeness = politeness or get_politeness(settings)
    own_client = client is None
    client = client or build_client(settings)
    try:
        return fetch_with_retries(url, settings, client, politeness)
    finally:
        if own_client:
            client.close()


def fetch_with_retries(url: str, settings: Settings, client: httpx.Client, politeness: Politeness) -> FetchedPage:
    """Fetch with a few attempts on transient failures, waiting per Retry-After or backoff."""
    attempts = max(1, settings.fetch_attempts)
    for attempt in range(1, attempts + 1):
        try:
            answer = fetch_url(url, settings, client, politeness, PAGE_ASK)
            return replace(build_page(str(url), answer), attempts=attempt)
        except RetryableError as exc:
            wait = retry_wait(exc, attempt, settings)
            if attempt >= attempts or wait is None:
                raise
            LOGGER.info("retrying %s in %.1fs after %s (attempt %d/%d)", url, wait, exc.reason, attempt, attempts)
            if exc.retry_after is not None:  # the site asked to slow down: other threads wait too
                politeness.limiter.defer(url, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")  # the loop either returns or raises


def retry_wait(exc: RetryableError, attempt: int, settings: Settings) -> float | None:
    """Seconds to wait before the next attempt, or None when retrying now is pointless or too long."""
    if exc.reason in NOT_RETRIED_HERE:
        return None
    if exc.retry_after is not None:
        return exc.retry_after if exc.retry_after <= settings.fetch_max_retry_wait else None
    return min(settings.fetch_backoff * 2 ** (attempt - 1), settings.fetch_max_retry_wait)


def check_page(response: httpx.Response, settings: Settings) -> None:
    """Refuse an error status, a non-HTML content type or an oversized declared length, before the body."""
    check_status(response.status_code, response.headers, str(response.url))
    check_headers(response, settings)


def media_type(response: httpx.Response) -> str:
    """The Content-Type without parameters, lower-case ('' when absent)."""
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def check_headers(response: httpx.Response, settings: Settings) -> None:
    """Refuse non-HTML content types and declared lengths over the cap before reading the body."""
    kind = media_type(response)
    if kind and kind not in HTML_TYPES:
        raise PermanentError(f"content type {kind!r} is not HTML: {response.url}", reason=Reason.NOT_HTML)
    length = response.headers.get("content-length", "")
    # Content-Length counts encoded bytes; decoded size is checked again while streaming.
    if length.isdigit() and int(length) > settings.max_bytes:
        raise PermanentError(f"Content-Length {length} over {settings.max_bytes}", reason=Reason.TOO_LARGE)


PAGE_ASK = Ask(PAGE_HEADERS, judge=check_page)


def build_page(url: str, answer: Answer) -> FetchedPage:
    """Check and decode a final answer into a FetchedPage."""
    response, raw = answer.response, answer.body
    if not raw.strip():
        raise PermanentError(f"empty body from {response.url}", reason=Reason.EMPTY_BODY)
    kind = media_type(response)
    if not kind and not looks_like_html(raw):
        raise PermanentError(f"no Content-Type and not HTML: {response.url}", reason=Reason.NOT_HTML)
    if looks_binary(raw):
        raise PermanentError(f"binary body labelled {kind or 'nothing'}: {response.url}", reason=Reason.NOT_HTML)
    html, encoding = decode_html(raw, response.charset_encoding)
    if not html.strip():
        raise PermanentError(f"empty page from {response.url}", reason=Reason.EMPTY_BODY)
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return FetchedPage(url=url, final_url=answer.url, status=answer.status, headers=headers,
                       content_type=kind or "text/html", encoding=encoding, html=html, raw=raw,
                       fetched_at=datetime.now(timezone.utc), redirects=tuple(hop.url for hop in answer.redirects))


def looks_like_html(raw: bytes) -> bool:
    """Whether the start of a body looks like HTML markup (for responses without Content-Type)."""
    return bool(HTML_SNIFF_RE.search(raw[:SNIFF_BYTES]))
