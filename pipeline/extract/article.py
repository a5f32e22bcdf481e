"""HTML -> Article: body text and metadata, bounded in size, depth and time.

    extract_article(html, url)     bytes or str -> Article, or PermanentError(reason=...)
      decode_html                  fetch/decode.py, the one HTML decoder; binary is refused
      parse_html                   one lxml tree: metadata reads it, then trafilatura consumes it (no copy)
      read_page_meta               meta.py: headline, authors, dates, summary, image, URLs
      extract_body                 body.py: trafilatura modes, rescues, cleaning
      detect_language              language.py: py3langid on the body when sure, else the page's lang attribute

Reasons: empty_body, binary, decode_error, too_large, not_html, unparsable, too_deep, extract_timeout,
extract_failed, no_article.
"""

from __future__ import annotations

import gzip
import logging
import re
import signal
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from pipeline.errors import PermanentError, Reason
from pipeline.extract.language import detect_language
from pipeline.fetch.decode import decode_html

LOGGER = logging.getLogger(__name__)

HTML_MARKER = re.compile(r"<\s*(?:html|head|body|div|p|article|title|meta|!doctype)\b", re.I)
GZIP_MAGIC = b"\x1f\x8b"
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


# Share of control characters (other than whitespace) above which text is binary, not a page.
MAX_CONTROL_SHARE = 0.05


# Body shorter than this many words is not an article (paywall stub, index page, error page).
MIN_ARTICLE_WORDS = 8


@dataclass
class Article:
    """One extracted article: the fields of `wiredesk extract` (DESIGN.md) plus modified_at, site_name."""

    url: str | None = None
    canonical_url: str | None = None
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: str | None = None
    modified_at: str | None = None
    language: str | None = None
    summary: str | None = None
    text: str = ""
    image: str | None = None
    site_name: str | None = None
    word_count: int = 0
    extractor: str = ""  # which body candidate won (for diagnostics and benchmarks)

    def to_dict(self) -> dict:
        """A JSON-friendly dict of every field."""
        return asdict(self)


def ensure_text_is_html(text: str) -> None:
    """Refuse empty, control-character-heavy or tag-less input."""
    stripped = text.strip()
    if not stripped:
        raise PermanentError("page is empty", reason="empty_body")
    sample = stripped[:20_000]
    controls = len(CONTROL_CHARS.findall(sample))
    if controls > MAX_CONTROL_SHARE * len(sample) or "\x00" in sample:
        raise PermanentError("payload is binary, not HTML", reason="binary")
    if not HTML_MARKER.search(sample):
        raise PermanentError("no HTML markup found", reason="not_html")


def to_text(html: str | bytes, settings, header_charset: str | None = None) -> str:
    """Checked, decoded page text within the size limit (bytes decoded with the HTTP charset they came with)."""
    size = len(html)
    if size > settings.extract_max_bytes:
        raise PermanentError(f"page of {size} bytes exceeds {settings.extract_max_bytes}", reason="too_large")
    text = decode_html(html, header_charset)[0] if isinstance(html, bytes) else html
    ensure_text_is_html(text)
    return text.replace("\x00", "")


def strip_blocks(text: str, tag: str, keep: str | None = None) -> str:
    """Remove <tag ...>...</tag> blocks (except those whose opening tag contains ``keep``) in linear time."""
    lower, out, pos = text.lower(), [], 0
    while (start := lower.find(f"<{tag}", pos)) != -1:
        end = lower.find(f"</{tag}>", start)
        if end == -1:
            break  # unclosed: leave the rest to the parser
        opening = lower[start : lower.find(">", start) + 1]
        out.append(text[pos:start] if not (keep and keep in opening) else text[pos : end + len(tag) + 3])
        pos = end + len(tag) + 3
    out.append(text[pos:])
    return "".join(out)


def slim_html(text: str, max_chars: int) -> str:
    """Markup small enough to extract in bounded time: scripts, styles, SVG and comments go first, then the tail."""
    if len(text) <= max_chars:
        return text
    for tag, keep in (("script", "ld+json"), ("style", None), ("svg", None)):
        text = strip_blocks(text, tag, keep)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S) if len(text) > max_chars else text
    if len(text) > max_chars:
        LOGGER.info("page markup cut from %d to %d characters", len(text), max_chars)
        text = text[: text.rfind(">", 0, max_chars) + 1]
    return text


def parse_html(text: str, max_depth: int):
    """One lxml tree for the page; refuses unparsable or pathologically nested markup."""
    from lxml import etree
    from trafilatura.utils import load_html

    # trafilatura's loader (comments and processing instructions dropped, common breakage repaired)
    # gives every extractor the tree trafilatura is tuned on.
    try:
        tree = load_html(text)
    except (etree.ParserError, ValueError, TypeError) as exc:
        raise PermanentError(f"unparsable HTML: {exc}", reason="unparsable") from exc
    if tree is None:
        raise PermanentError("unparsable HTML", reason="unparsable")
    if depth_probe(max_depth)(tree):
        raise PermanentError(f"element nesting exceeds {max_depth}", reason="too_deep")
    return tree


@lru_cache(maxsize=4)
def depth_probe(max_depth: int):
    """A compiled XPath that is true when element nesting exceeds max_depth (compiled once per limit)."""
    from lxml import etree

    # An absolute path of max_depth + 1 steps exists only under deeper nesting (evaluated in C).
    return etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")")


class ExtractionTimeout(BaseException):
    """Raised inside extraction by the alarm of time_limit.

    A BaseException (like KeyboardInterrupt) because the third-party extractors catch Exception
    broadly and would otherwise swallow it and carry on.
    """


@contextmanager
def time_limit(seconds: float):
    """Raise ExtractionTimeout after ``seconds`` of wall time (main thread only; elsewhere a no-op).

    SIGALRM is the one way to stop pure-Python parsing loops from outside; an outer alarm (for
    example pytest-timeout's) is saved and restored.
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise ExtractionTimeout()

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    started = time.monotonic()
    previous_delay, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay:  # the outer alarm keeps its own deadline (fires at once if already past)
            signal.setitimer(signal.ITIMER_REAL, max(previous_delay - (time.monotonic() - started), 0.001))


def extract_article(html: str | bytes, url: str | None = None, settings=None,
                    header_charset: str | None = None) -> Article:
    """Parse one HTML page into an Article; raises PermanentError(reason=...) for unusable pages."""
    if settings is None:
        from pipeline.settings import get_settings

        settings = get_settings()
    from lxml.etree import LxmlError

    try:
        with time_limit(settings.extract_timeout):
            return build_article(to_text(html, settings, header_charset), url, settings)
    except ExtractionTimeout:
        raise PermanentError(f"extraction took over {settings.extract_timeout}s", reason="extract_timeout") from None
    except RecursionError as exc:
        raise PermanentError("markup too deeply nested to extract", reason="too_deep") from exc
    except (LxmlError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        # a third-party extractor tripping over odd markup: record the page, never crash the worker
        LOGGER.warning("extraction failed on %s", url or "page", exc_info=True)
        raise PermanentError(f"extraction failed: {type(exc).__name__}: {exc}", reason="extract_failed") from exc


def build_article(text: str, url: str | None, settings) -> Article:
    """Metadata and body for decoded page text."""
    from pipeline.extract.body import drop_author_bio, extract_body
    from pipeline.extract.meta import read_page_meta, split_body_byline

    text = slim_html(text, settings.extract_max_parse_chars)
    tree = parse_html(text, settings.extract_max_depth)
    meta = read_page_meta(tree, url)
    titles = [meta.title or "", *read_declared_titles(tree)]
    body, extractor = extract_body(tree, text, titles, meta.summary)  # consumes tree: read it before
    body, authors = split_body_byline(body, meta.authors, meta.outlets)
    body = drop_author_bio(body, authors)
    words = len(body.split())
    if words < MIN_ARTICLE_WORDS:
        raise PermanentError(f"no article text found ({words} words)", reason="no_article")
    return Article(
        url=url,
        canonical_url=meta.canonical_url,
        title=meta.title,
        authors=authors,
        published_at=meta.published_at,
        modified_at=meta.modified_at,
        language=detect_language(body, meta.html_language),
        summary=meta.summary,
        text=body,
        image=meta.image,
        site_name=meta.site_name,
        word_count=words,
        extractor=extractor,
    )


def read_declared_titles(tree) -> list[str]:
    """og:title and <title>, which bodies often repeat on their first line."""
    og_title, title = declared_title_paths()
    values = og_title(tree) + title(tree)
    return [" ".join(v.split()) for v in values[:2]]


@lru_cache(maxsize=1)
def declared_title_paths():
    """Compiled XPaths for og:title contents and <title> texts (compiled once: it costs about one evaluation)."""
    from lxml import etree

    return etree.XPath("//meta[@property='og:title']/@content"), etree.XPath("//title/text()")


def read_html_file(path: Path, max_bytes: int) -> bytes:
    """Bytes of an .html or .html.gz file, inflated by streaming and never past ``max_bytes``.

    PermanentError ``unreadable`` when the file cannot be read, ``too_large`` past the cap.
    """
    try:
        with path.open("rb") as raw:
            gzipped = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            # One byte over the cap proves "too large" without inflating the rest of a gzip bomb.
            data = (gzip.GzipFile(fileobj=raw) if gzipped else raw).read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise PermanentError(f"cannot read {path}: {exc}", reason=Reason.UNREADABLE) from exc
    if len(data) > max_bytes:
        state = "inflated gzip" if gzipped else "file"
        raise PermanentError(f"{path}: {state} larger than {max_bytes} bytes (extract_max_bytes)", reason=Reason.TOO_LARGE)
    return data
