"""One error hierarchy for the whole pipeline, and one registry of the reasons it gives.

    WiredeskError                 base; carries a ``reason``, a member of :class:`Reason`
    ├── RetryableError            transient: try again later (Airflow retries the task)
    │     timeouts, connection resets, HTTP 408/425/429 and 5xx, cluster unavailable
    ├── PermanentError            this item will not succeed as it is: record it and move on
    │     bad feed, 404/410, unparsable or empty page, content type not HTML, too large
    └── ConfigError               a person must fix the configuration (file, line, reason)

Retryable errors propagate so Airflow (or the CLI's retry loop) retries. Permanent per-item
failures are recorded on the item with ``reason`` and counted, never silently dropped.

Every reason any stage records is a member of :class:`Reason`; an error raised with anything else
fails at once (``ValueError``), so the stored ``error.reason`` values, the run counts and the
README's table can never drift apart. Where one word would mean two things in two stages, the
member is qualified by its stage (``extract_timeout`` is not a network ``timeout``).
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why an item, a feed or a request failed. ``Reason.describe()`` gives the README's table."""

    # -- fetch: the one HTTP path for feeds, pages and robots.txt
    TIMEOUT = "timeout"
    CONNECT_ERROR = "connect_error"
    NETWORK_ERROR = "network_error"
    DNS_ERROR = "dns_error"
    HTTP_401 = "http_401"
    HTTP_403 = "http_403"
    HTTP_404 = "http_404"
    HTTP_408 = "http_408"
    HTTP_410 = "http_410"
    HTTP_425 = "http_425"
    HTTP_429 = "http_429"
    HTTP_451 = "http_451"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    BAD_REDIRECT = "bad_redirect"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    TOO_LARGE = "too_large"
    NOT_HTML = "not_html"
    ROBOTS_DISALLOWED = "robots_disallowed"
    ROBOTS_UNREACHABLE = "robots_unreachable"
    BLOCKED_ADDRESS = "blocked_address"
    BAD_SCHEME = "bad_scheme"
    BAD_URL = "bad_url"
    DECODE_ERROR = "decode_error"
    EMPTY_BODY = "empty_body"
    # -- feeds
    NOT_A_FEED = "not_a_feed"
    HTML_NOT_FEED = "html_not_feed"
    # -- extract
    BINARY = "binary"
    UNPARSABLE = "unparsable"
    TOO_DEEP = "too_deep"
    EXTRACT_TIMEOUT = "extract_timeout"
    EXTRACT_FAILED = "extract_failed"
    NO_ARTICLE = "no_article"
    UNREADABLE = "unreadable"
    BAD_INPUT = "bad_input"
    # -- store: Elasticsearch, raw archive
    ES_UNAVAILABLE = "es_unavailable"
    ES_ERROR = "es_error"
    INDEX_REJECTED = "index_rejected"
    MISSING_URL = "missing_url"
    NO_INDEX = "no_index"
    BAD_INDEX_NAME = "bad_index_name"
    MIGRATION_FAILED = "migration_failed"
    COUNT_MISMATCH = "count_mismatch"
    BAD_DOC_ID = "bad_doc_id"
    NOT_ARCHIVED = "not_archived"
    ARCHIVE_CORRUPT = "archive_corrupt"
    ES_START_FAILED = "es_start_failed"
    # -- everything else
    INVALID_PARAMETER = "invalid_parameter"
    CONFIG = "config"
    INTERNAL_ERROR = "internal_error"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"

    @classmethod
    def for_status(cls, status: int) -> Reason:
        """The reason an HTTP error status stands for (``http_503`` is ``http_5xx``)."""
        if status >= 500:
            return cls.HTTP_5XX
        try:
            return cls(f"http_{status}")
        except ValueError:
            return cls.HTTP_4XX

    @classmethod
    def describe(cls) -> dict[Reason, str]:
        """Every reason with one line saying what it means (the README's table is checked against it)."""
        return dict(DESCRIPTIONS)


DESCRIPTIONS: dict[Reason, str] = {
    Reason.TIMEOUT: "a connect, read or total network deadline passed (retried)",
    Reason.CONNECT_ERROR: "the server refused or dropped the connection (retried)",
    Reason.NETWORK_ERROR: "the exchange broke off: reset, protocol error, truncated body (retried)",
    Reason.DNS_ERROR: "the host name did not resolve (retried)",
    Reason.HTTP_401: "the server asks for credentials",
    Reason.HTTP_403: "the server refuses us",
    Reason.HTTP_404: "no such page or feed",
    Reason.HTTP_408: "the server timed the request out (retried)",
    Reason.HTTP_410: "gone for good; a feed answering 410 is disabled",
    Reason.HTTP_425: "too early (retried)",
    Reason.HTTP_429: "rate-limited; Retry-After honoured (retried)",
    Reason.HTTP_451: "unavailable for legal reasons",
    Reason.HTTP_4XX: "another 4xx answer",
    Reason.HTTP_5XX: "a server error; Retry-After honoured (retried)",
    Reason.BAD_REDIRECT: "a redirect without a usable Location",
    Reason.TOO_MANY_REDIRECTS: "more redirects than WIREDESK_MAX_REDIRECTS",
    Reason.TOO_LARGE: "more bytes than the cap, while streaming, decompressing or extracting",
    Reason.NOT_HTML: "the page is not HTML (a PDF, JSON, an image)",
    Reason.ROBOTS_DISALLOWED: "robots.txt forbids us this URL",
    Reason.ROBOTS_UNREACHABLE: "robots.txt answered 5xx or could not be read: the host waits (retried)",
    Reason.BLOCKED_ADDRESS: "the SSRF guard refused a private, loopback or metadata address",
    Reason.BAD_SCHEME: "not an http(s) URL",
    Reason.BAD_URL: "a URL that cannot be requested",
    Reason.DECODE_ERROR: "the body's Content-Encoding or charset could not be decoded",
    Reason.EMPTY_BODY: "the answer or the page had no content",
    Reason.NOT_A_FEED: "the answer did not parse as RSS, Atom or JSON Feed",
    Reason.HTML_NOT_FEED: "an HTML page where a feed was expected",
    Reason.BINARY: "binary bytes where HTML was expected",
    Reason.UNPARSABLE: "HTML that no parser could read",
    Reason.TOO_DEEP: "element nesting deeper than WIREDESK_EXTRACT_MAX_DEPTH",
    Reason.EXTRACT_TIMEOUT: "extraction took longer than WIREDESK_EXTRACT_TIMEOUT",
    Reason.EXTRACT_FAILED: "an extractor failed unexpectedly on the page",
    Reason.NO_ARTICLE: "no article text found on the page",
    Reason.UNREADABLE: "an input file could not be read",
    Reason.BAD_INPUT: "an input line or file is not what the command reads",
    Reason.ES_UNAVAILABLE: "Elasticsearch did not answer or was overloaded (retried)",
    Reason.ES_ERROR: "Elasticsearch refused a request",
    Reason.INDEX_REJECTED: "Elasticsearch rejected the document (the message names its error type)",
    Reason.MISSING_URL: "a document with neither canonical_url nor url",
    Reason.NO_INDEX: "the index does not exist yet (run `wiredesk index setup`)",
    Reason.BAD_INDEX_NAME: "an index name that is not one of our versioned indices",
    Reason.MIGRATION_FAILED: "documents did not fit the new index during a migration",
    Reason.COUNT_MISMATCH: "a migration copied fewer documents than the old index holds",
    Reason.BAD_DOC_ID: "an id that cannot name an archive entry",
    Reason.NOT_ARCHIVED: "no raw page was archived for the document",
    Reason.ARCHIVE_CORRUPT: "the archived page cannot be read back",
    Reason.ES_START_FAILED: "the local Elasticsearch did not start",
    Reason.INVALID_PARAMETER: "a search or API parameter is not valid",
    Reason.CONFIG: "a configuration a person must fix (file, line, reason)",
    Reason.INTERNAL_ERROR: "a bug met odd input; the item is kept with the exception's message",
    Reason.RETRYABLE: "a transient failure with no more specific reason (retried)",
    Reason.PERMANENT: "a permanent failure with no more specific reason",
}


def reasons_table() -> str:
    """The README's table of reasons, one row per :class:`Reason` (tests/test_errors.py checks README.md)."""
    rows = ["| reason | what it means |", "|---|---|"]
    rows += [f"| `{reason}` | {text} |" for reason, text in DESCRIPTIONS.items()]
    return "\n".join(rows)


class WiredeskError(Exception):
    """Base class; ``reason`` is a :class:`Reason` such as ``timeout`` or ``http_404``."""

    reason: Reason = Reason.PERMANENT

    def __init__(self, message: str, *, reason: Reason | str | None = None, retry_after: float | None = None):
        super().__init__(message)
        if reason is not None:
            self.reason = Reason(reason)  # an unregistered reason is a bug: fail where it is raised
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later."""
        return isinstance(self, RetryableError)

    def to_dict(self) -> dict:
        """A JSON-friendly record of the error, for storing on the item."""
        return {"reason": str(self.reason), "message": str(self)[:1000], "retryable": self.retryable}


class RetryableError(WiredeskError):
    """A transient failure: the same call may succeed later."""

    reason = Reason.RETRYABLE


class PermanentError(WiredeskError):
    """A failure that will repeat: record it on the item with its reason."""

    reason = Reason.PERMANENT


class ConfigError(WiredeskError):
    """Configuration a person must fix; the message names the file, line and reason."""

    reason = Reason.CONFIG
