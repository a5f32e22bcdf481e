"""Feed polling: conditional GET, parse, record new items durably as pending, then save feed state.

The public API the DAGs and ``wiredesk crawl`` call:

- :func:`load_feeds` the registry (``config/feeds.yaml``);
- :func:`due_feeds` the feeds whose next poll time has come;
- :func:`poll_feed` one feed, never raising for a bad feed (its error is recorded on the feed
  state); only :class:`RetryableError` when Elasticsearch is unavailable;
- :func:`poll_feeds` several feeds on a thread pool with one shared polite client.

Order matters for durability: new items are written (create-only, keyed by the canonical-URL id)
*before* the feed's new ETag/Last-Modified is saved, so a crash in between re-polls and never skips.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from pipeline.errors import PermanentError, Reason, RetryableError, WiredeskError
from pipeline.feeds.health import health_of
from pipeline.feeds.parse import FeedItem, ParsedFeed, parse_feed
from pipeline.feeds.registry import Feed, load_feeds
from pipeline.feeds.schedule import cache_max_age_minutes, failure_interval, is_due, schedule, success_interval
from pipeline.feeds.state import iso, load_state, load_states, save_state, utcnow
from pipeline.fetch.hop import MAX_URL_CHARS, Answer, Ask, build_client, check_status, fetch_url, parse_retry_after
from pipeline.fetch.politeness import Politeness, RobotsCache, get_limiter, get_robots, host_key
from pipeline.settings import Settings
from pipeline.store.bulk import bulk_write
from pipeline.store.client import es_boundary
from pipeline.store.documents import doc_id, pending_doc
from pipeline.store.indices import ensure_indices

LOGGER = logging.getLogger(__name__)

EVENT_ID_CAP = 50  # poll summaries and asset event extras carry at most this many ids
__all__ = ["Feed", "FeedItem", "PollResult", "load_feeds", "due_feeds", "poll_feed", "poll_feeds", "run_feeds_command"]
FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"


# Answers the poller handles itself: not modified, and gone (the feed is disabled).
HANDLED_STATUSES = frozenset({304, 410})
HTML_START = (b"<!doctype html", b"<html")
MAX_VALIDATOR_CHARS = 512


@dataclass
class PollResult:
    """What one poll of one feed did (``result.to_dict()`` for XCom)."""

    feed: str
    status: str  # new | ok | not_modified | failed | disabled
    http_status: int | None = None
    new_ids: list[str] = field(default_factory=list)
    new_count: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    error: dict | None = None
    url: str = ""
    items_seen: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """A JSON-friendly dict."""
        return asdict(self)


def conditional_headers(state: dict) -> dict:
    """If-None-Match / If-Modified-Since from the stored validators."""
    headers = {"Accept": FEED_ACCEPT}
    if state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    return headers


def fetch_feed(client, state: dict, settings: Settings, robots: RobotsCache | None) -> Answer:
    """GET the feed conditionally through the one download path; a permanent move is ``moved_to``.

    Every status is returned (:func:`check_answer` judges it), so a failed poll records the status.
    """
    politeness = Politeness(get_limiter(settings), robots)
    return fetch_url(state["url"], settings, client, politeness, Ask(conditional_headers(state)))


def not_a_feed_reason(body: bytes) -> Reason:
    """Why bytes that did not parse as a feed failed: empty, HTML, or something else."""
    head = body.lstrip()[:200].lower()
    if not head:
        return Reason.EMPTY_BODY
    if head.startswith(HTML_START) or b"<html" in head:
        return Reason.HTML_NOT_FEED
    return Reason.NOT_A_FEED


def check_answer(fetched: Answer) -> None:
    """Raise the error an HTTP answer stands for; 304 and 410 are handled by the caller."""
    if fetched.status not in HANDLED_STATUSES:
        check_status(fetched.status, fetched.headers, fetched.url)


def known_ids(es, settings: Settings, ids: list[str]) -> set[str]:
    """Which of these article ids already exist (one mget; the create-only write stays the guarantee)."""
    if not ids:
        return set()
    found = es.mget(index=settings.articles_alias, ids=ids, source=False).body
    return {doc["_id"] for doc in found.get("docs", []) if doc.get("found")}


@es_boundary
def write_items(es, settings: Settings, feed: Feed, items: list[FeedItem]) -> tuple[list[str], dict[str, int]]:
    """Create pending documents for unseen items; returns new ids and rejected counts by reason.

    Create-only writes keyed by the canonical-URL id: a re-poll or another feed carrying the same
    story gets a 409 and creates nothing. Raises RetryableError when items could not be stored.
    """
    stamp = iso(utcnow())
    docs = {doc_id(item.canonical_url): pending_doc(item, feed, stamp) for item in items}
    for _id in known_ids(es, settings, list(docs)):
        del docs[_id]
    if not docs:
        return [], {}
    actions = ({"_op_type": "create", "_index": settings.articles_alias, "_id": _id, "_source": doc}
               for _id, doc in docs.items())
    result = bulk_write(es, settings, actions)
    not_created, rejected = set(), {}
    for failure in result.failures:
        not_created.add(failure["_id"])
        if failure["status"] == 409:
            continue
        if failure["status"] in (429, 500, 502, 503, 504):
            raise RetryableError(f"could not store items of {feed.name}: {failure}", reason=Reason.ES_UNAVAILABLE)
        rejected[Reason.INDEX_REJECTED] = rejected.get(Reason.INDEX_REJECTED, 0) + 1
    return [i for i in docs if i not in not_created], rejected


def record_failure(es, settings: Settings, feed: Feed, state: dict, error: WiredeskError, http_status: int | None) -> dict:
    """Count a failed poll on the feed state, back off, save; returns the error record."""
    now = utcnow()
    failures = int(state.get("consecutive_failures") or 0) + 1
    record = {**error.to_dict(), "status": str(http_status or "")}
    state.update(consecutive_failures=failures, last_status="failed", http_status=http_status, error=record,
                 last_poll_at=iso(now))
    state["counts"]["errors"] = state["counts"].get("errors", 0) + 1
    state["health"] = health_of(state, settings)
    schedule(state, failure_interval(feed, settings, failures, error.retry_after), now)
    save_state(es, settings, state)
    LOGGER.warning("feed %s failed (%s, %d in a row): %s", feed.name, error.reason, failures, error)
    return record


def record_disabled(es, settings: Settings, state: dict, fetched: Answer) -> dict:
    """A 410 Gone: the feed is disabled with its reason (still listed, no longer polled)."""
    record = {"reason": "http_410", "message": f"feed gone (HTTP 410) at {fetched.url}", "retryable": False, "status": "410"}
    state.update(disabled_reason="http_410", enabled=False, last_status="disabled", http_status=410, error=record,
                 last_poll_at=iso(utcnow()), next_poll_at=None)
    state["health"] = health_of(state, settings)
    save_state(es, settings, state)
    LOGGER.warning("feed %s is gone (410): disabled", state["name"])
    return record


def usable_validator(value: str | None) -> str | None:
    """An ETag/Last-Modified worth storing: absurdly long ones are dropped (they are keyword terms)."""
    return value if value and len(value) <= MAX_VALIDATOR_CHARS else None


def record_success(es, settings: Settings, feed: Feed, state: dict, fetched: Answer,
                   parsed: ParsedFeed | None, new_count: int) -> None:
    """Save validators, counts and the next poll time after items are stored."""
    now = utcnow()
    etag, last_modified = (usable_validator(fetched.headers.get(k)) for k in ("etag", "last-modified"))
    if fetched.status == 304:  # a 304 may omit the validators: keep the ones that worked
        etag, last_modified = etag or state.get("etag"), last_modified or state.get("last_modified")
    state.update(etag=etag, last_modified=last_modified,
                 last_status="not_modified" if fetched.status == 304 else "ok", http_status=fetched.status,
                 consecutive_failures=0, error=None, last_poll_at=iso(now), last_success_at=iso(now))
    if parsed is not None:
        state["counts"]["seen"] = state["counts"].get("seen", 0) + len(parsed.items)
        state.update(title=parsed.title or state.get("title"), site_url=parsed.site_url[:MAX_URL_CHARS] or state.get("site_url"),
                     kind=parsed.version, parse_error=parsed.error, ttl_minutes=parsed.ttl_minutes)
        if parsed.language and not state.get("language"):
            state["language"] = parsed.language
    if new_count:
        state["counts"]["new"] = state["counts"].get("new", 0) + new_count
        state["last_new_at"] = iso(now)
    state["health"] = health_of(state, settings)
    hints = [state.get("ttl_minutes"), cache_max_age_minutes(fetched.headers.get("cache-control")),
             (parse_retry_after(fetched.headers.get("retry-after")) or 0) / 60]
    schedule(state, success_interval(feed, state, settings, bool(new_count), hints), now)
    save_state(es, settings, state)


def note_move(state: dict, fetched: Answer) -> None:
    """Remember a permanent move: the stored feed URL follows it from now on."""
    if fetched.moved_to and fetched.moved_to != state["url"]:
        LOGGER.info("feed %s moved permanently: %s -> %s", state["name"], state["url"], fetched.moved_to)
        state["moved_from"] = state["url"]
        state["url"] = fetched.moved_to
        state["etag"] = state["last_modified"] = None


def poll_feed(feed: Feed, es, settings: Settings, *, client=None, robots: RobotsCache | None = None) -> PollResult:
    """Poll one feed once: never raises for a bad feed; RetryableError only when the cluster is down."""
    started = time.monotonic()
    state = load_state(es, settings, feed)
    result = PollResult(feed=feed.name, status="disabled", url=state["url"])
    if state.get("disabled_reason") or not feed.enabled:
        return result
    own_client = client is None
    client = client or build_client(settings)
    robots = robots or get_robots(settings)
    try:
        poll_into(result, feed, es, settings, state, client, robots)
    finally:
        if own_client:
            client.close()
    result.seconds = round(time.monotonic() - started, 4)
    return result


def poll_into(result: PollResult, feed: Feed, es, settings: Settings, state: dict, client, robots) -> None:
    """The body of :func:`poll_feed`: fetch and parse (errors recorded), then write and save."""
    fetched, started = None, time.monotonic()
    try:
        fetched = fetch_feed(client, state, settings, robots)
        note_move(state, fetched)
        result.http_status, result.url = fetched.status, state["url"]
        check_answer(fetched)
        parsed = None
        if fetched.status == 200:
            parsed = parse_feed(fetched.body, feed.name, fetched.url, content_type=fetched.headers.get("content-type", ""),
                                summary_chars=settings.feed_summary_max_chars)
            if not parsed.is_feed:
                raise PermanentError(f"{fetched.url} did not parse as a feed: {parsed.error}",
                                     reason=not_a_feed_reason(fetched.body))
    except (PermanentError, RetryableError) as exc:
        if exc.reason == "es_unavailable":
            raise
        result.status = "failed"
        state["last_duration"] = round(time.monotonic() - started, 3)
        result.error = record_failure(es, settings, feed, state, exc, fetched.status if fetched else None)
        return
    state["last_duration"] = round(time.monotonic() - started, 3)  # health reports flag slow feeds
    if fetched.status == 410:
        result.status, result.error = "disabled", record_disabled(es, settings, state, fetched)
        return
    if parsed is not None:
        result.items_seen, result.skipped = len(parsed.items), dict(parsed.skipped)
        result.new_ids, rejected = write_items(es, settings, feed, parsed.items)
        result.skipped.update(rejected)
        result.new_count = len(result.new_ids)
    # Only now, with the items durable, may the new validators be saved.
    record_success(es, settings, feed, state, fetched, parsed, result.new_count)
    result.status = "not_modified" if fetched.status == 304 else ("new" if result.new_count else "ok")


def due_feeds(es, settings: Settings, now=None) -> list:
    """Enabled feeds whose next poll time has come (or that were never polled)."""
    now = now or utcnow()
    states = load_states(es, settings)
    return [feed for feed in load_feeds(settings) if is_due(feed, states.get(feed.name), now)]


def select_feeds(es, settings: Settings, names) -> list[Feed]:
    """The named feeds (polled even when not due), or the due ones."""
    if not names:
        return due_feeds(es, settings)
    wanted = set(names)
    feeds = [feed for feed in load_feeds(settings) if feed.name in wanted]
    missing = wanted - {feed.name for feed in feeds}
    if missing:
        LOGGER.warning("no such feed in %s: %s", settings.feeds_file, ", ".join(sorted(missing)))
    return feeds


def interleave_by_host(feeds: list[Feed]) -> list[Feed]:
    """Feeds reordered round-robin across hosts, so workers do not queue behind one host's delay."""
    by_host: dict[str, list[Feed]] = {}
    for feed in feeds:
        by_host.setdefault(host_key(feed.url), []).append(feed)
    queues = list(by_host.values())
    ordered = []
    for i in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[i] for q in queues if i < len(q))
    return ordered


def poll_feeds(es, settings: Settings, names=None) -> list[PollResult]:
    """Poll the due feeds (or the named ones) concurrently; per-host politeness still applies."""
    ensure_indices(es, settings, if_missing=True)
    feeds = interleave_by_host(select_feeds(es, settings, names))
    if not feeds:
        return []
    with build_client(settings) as client:
        robots = get_robots(settings)
        workers = max(1, min(settings.feed_poll_workers, len(feeds)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
            futures = [pool.submit(poll_feed, feed, es, settings, client=client, robots=robots) for feed in feeds]
            outcomes = [future.exception() or future.result() for future in futures]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:  # every other feed's work is already durable; the task retries the rest
        raise errors[0]
    return outcomes


def summarize_polls(results: list[dict]) -> dict:
    """One readable summary of a poll cycle: feeds by status, new items, errors, skipped entries by reason."""
    results = [r for r in results if r]
    statuses = Counter(str(r.get("status")) for r in results)
    new_ids = [i for r in results for i in r.get("new_ids", [])]
    errors = {r["feed"]: r.get("error") for r in results if r.get("error")}
    skipped: Counter = Counter()
    for result in results:
        skipped.update(result.get("skipped") or {})
    # XCom carries references, and only a capped sample of them: the items themselves are in the index.
    summary = {"feeds": len(results), "by_status": dict(statuses), "new_count": len(new_ids),
               "new_ids": new_ids[:EVENT_ID_CAP], "errors": errors,
               "skipped": sum(skipped.values()), "skipped_by_reason": dict(skipped)}
    LOGGER.info("poll cycle: %d feeds %s, %d new items, %d feeds with errors, skipped entries %s",
                len(results), dict(statuses), len(new_ids), len(errors), dict(skipped))
    for feed, error in errors.items():
        LOGGER.warning("feed %s: %s", feed, error)
    return summary
