"""Parsing feed bytes into normalised items.

feedparser handles RSS 0.9x/1.0/2.0, Atom 0.3/1.0, RDF and CDF; JSON Feed (which this feedparser
version does not read) is parsed here into the same shape. A bozo (ill-formed) feed yields whatever
parsed and records its error; entries without a usable link are counted and skipped with a reason.
"""

from __future__ import annotations

import calendar
import html
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import feedparser

from pipeline.feeds.urls import canonical_url

LOGGER = logging.getLogger(__name__)

TAG = re.compile(r"<[^>]+>")
SPACE = re.compile(r"\s+")
ABSOLUTE = re.compile(r"^\s*https?://", re.IGNORECASE)
JSON_FEED_VERSION = re.compile(r"jsonfeed\.org/version/", re.IGNORECASE)
FUTURE_SLACK = timedelta(days=1)  # publishers' clocks and time zones are often a little off
OLDEST_YEAR = 1990
UPDATE_PERIOD_MINUTES = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}


@dataclass
class FeedItem:
    """One entry of a feed, normalised."""

    url: str
    canonical_url: str
    guid: str
    title: str
    summary: str
    published_at: str | None  # ISO 8601, UTC
    authors: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    feed: str = ""

    def to_dict(self) -> dict:
        """A JSON-friendly dict."""
        return asdict(self)


@dataclass
class ParsedFeed:
    """Everything one fetch of a feed yielded."""

    items: list[FeedItem]
    skipped: dict[str, int]  # reason -> count
    version: str
    title: str
    site_url: str
    language: str
    error: str | None  # the bozo exception of an ill-formed feed, when there was one
    ttl_minutes: int | None  # the feed's own hint at how often to poll (ttl or sy:updatePeriod)

    @property
    def is_feed(self) -> bool:
        """False when the bytes were not a feed at all (HTML, garbage, empty)."""
        return bool(self.version or self.items or self.title)


def clean_text(value: object, limit: int | None = None) -> str:
    """Plain text from an entry field that may hold HTML; whitespace collapsed."""
    if not isinstance(value, str):
        return ""
    text = SPACE.sub(" ", html.unescape(TAG.sub(" ", value))).strip()
    return text[:limit] if limit else text


def to_utc_iso(parsed: object, now: datetime) -> str | None:
    """An ISO-8601 UTC timestamp from feedparser's UTC struct_time; None when absent or absurd."""
    if parsed is None:
        return None
    try:
        when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    if when.year < OLDEST_YEAR or when > now + FUTURE_SLACK:
        return None
    return when.isoformat()


def entry_link(entry: dict) -> str | None:
    """The entry's article link: ``link``, an alternate link, or a permalink guid."""
    link = entry.get("link")
    # feedparser copies the id into a missing link; an id like urn:... is no link at all.
    copied_id = entry.get("guidislink") and link == entry.get("id")
    if isinstance(link, str) and link.strip() and not (copied_id and not ABSOLUTE.match(link)):
        return link
    for candidate in entry.get("links") or []:
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return candidate["href"]
    guid = entry.get("id")
    return guid if isinstance(guid, str) and ABSOLUTE.match(guid) else None


def entry_authors(entry: dict) -> list[str]:
    """Author names of an entry, without blanks or repeats."""
    names = [clean_text(a.get("name")) for a in entry.get("authors") or [] if isinstance(a, dict)]
    if not any(names):
        names = [clean_text(entry.get("author"))]
    return list(dict.fromkeys(n for n in names if n))


def entry_tags(entry: dict) -> list[str]:
    """Category terms of an entry."""
    terms = [clean_text(t.get("term") or t.get("label")) for t in entry.get("tags") or [] if isinstance(t, dict)]
    return list(dict.fromkeys(t for t in terms if t))


def normalise_entry(entry: dict, feed_name: str, base_url: str, now: datetime, summary_chars: int) -> FeedItem | str:
    """A FeedItem, or the reason the entry is skipped."""
    link = entry_link(entry)
    if not link:
        return "no_link"
    canonical = canonical_url(link, base_url)
    if canonical is None:
        return "bad_link"
    published = to_utc_iso(entry.get("published_parsed") or entry.get("updated_parsed"), now)
    guid = entry.get("id") if isinstance(entry.get("id"), str) and entry.get("id").strip() else canonical
    summary = entry.get("summary") or ""
    if not summary and entry.get("content"):
        summary = entry["content"][0].get("value", "")
    url = str(link).strip() if str(link).startswith(("http://", "https://")) else canonical
    return FeedItem(
        url=url, canonical_url=canonical, guid=guid.strip(), title=clean_text(entry.get("title"), 1000),
        summary=clean_text(summary, summary_chars), published_at=published,
        authors=entry_authors(entry), tags=entry_tags(entry), feed=feed_name,
    )


def looks_like_json_feed(body: bytes) -> bool:
    """True for a JSON Feed document (jsonfeed.org)."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:2000]
    return head.startswith(b"{") and bool(JSON_FEED_VERSION.search(head.decode("utf-8", "replace")))


def parse_json_feed(body: bytes) -> feedparser.FeedParserDict:
    """A JSON Feed in feedparser's result shape (feed, entries, version, bozo)."""
    from feedparser.datetimes import _parse_date

    result = feedparser.FeedParserDict(feed=feedparser.FeedParserDict(), entries=[], bozo=0, version="json1")
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        result.update(bozo=1, bozo_exception=exc, version="")
        return result
    if not isinstance(data, dict):
        result.update(bozo=1, bozo_exception=ValueError("JSON Feed is not an object"), version="")
        return result
    result.feed.update(title=data.get("title", ""), link=data.get("home_page_url", ""), language=data.get("language", ""))
    for item in data.get("items") or []:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        date = item.get("date_published") or item.get("date_modified")
        result.entries.append(feedparser.FeedParserDict(
            id=str(item.get("id", "")), link=item.get("url") or item.get("external_url"), title=item.get("title", ""),
            summary=item.get("summary") or item.get("content_html") or item.get("content_text") or "",
            published_parsed=_parse_date(date) if isinstance(date, str) else None,
            authors=[a for a in authors if isinstance(a, dict)], tags=[{"term": t} for t in item.get("tags") or []],
        ))
    return result


def feed_ttl_minutes(feed: dict) -> int | None:
    """How often the feed says it changes: RSS ``ttl`` or ``sy:updatePeriod``/``updateFrequency``."""
    hints = []
    ttl = str(feed.get("ttl") or "").strip()
    if ttl.isdigit() and int(ttl) > 0:
        hints.append(int(ttl))
    period = UPDATE_PERIOD_MINUTES.get(str(feed.get("sy_updateperiod") or "").strip().lower())
    if period:
        frequency = str(feed.get("sy_updatefrequency") or "1").strip()
        hints.append(max(1, period // max(1, int(frequency) if frequency.isdigit() else 1)))
    return max(hints) if hints else None


def parse_feed(body: bytes, feed_name: str, base_url: str, *, content_type: str = "",
               summary_chars: int = 2000, now: datetime | None = None) -> ParsedFeed:
    """Parse feed bytes into items; never raises for bad input (errors are recorded)."""
    now = now or datetime.now(UTC)
    if looks_like_json_feed(body):
        parsed = parse_json_feed(body)
    else:
        headers = {"content-location": base_url, "content-type": content_type or "application/xml"}
        try:
            parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=True)
        except Exception as exc:  # noqa: BLE001 - feedparser's failure modes are open-ended; bad input must not crash
            LOGGER.warning("feedparser failed on %s: %r", base_url, exc)
            parsed = feedparser.FeedParserDict(feed={}, entries=[], bozo=1, bozo_exception=exc, version="")
    items, skipped = [], {}
    for entry in parsed.entries:
        outcome = normalise_entry(entry, feed_name, base_url, now, summary_chars)
        if isinstance(outcome, str):
            skipped[outcome] = skipped.get(outcome, 0) + 1
        else:
            items.append(outcome)
    feed = parsed.get("feed") or {}
    error = repr(parsed.get("bozo_exception"))[:500] if parsed.get("bozo") else None
    return ParsedFeed(items=items, skipped=skipped, version=parsed.get("version") or "", title=clean_text(feed.get("title"), 500),
                      site_url=str(feed.get("link") or ""), language=str(feed.get("language") or ""), error=error,
                      ttl_minutes=feed_ttl_minutes(feed))
