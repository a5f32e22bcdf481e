"""Feed state in the ``<prefix>-feeds`` alias, and the schedule: adaptive interval and backoff.

One document per feed (``_id`` = hash of ``feed:<name>``): current URL (after permanent moves),
ETag, Last-Modified, last poll and status, consecutive failures, health, next poll time, counts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pipeline.documents import doc_id
from pipeline.esclient import es_boundary
from pipeline.feed_registry import Feed
from pipeline.index import ensure_indices
from pipeline.settings import Settings

MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
QUIET_FACTOR = 1.5  # each poll that finds nothing new stretches the interval by this much
STATE_PAGE = 10000
HEALTH_LABELS = ("disabled", "unhealthy", "failing", "never_polled", "silent", "slow", "ok")
SILENT_HOURS = 24  # default: a feed with nothing new for this long is silent
SLOW_POLL_SECONDS = 10.0


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(when: datetime) -> str:
    """ISO-8601 string of an aware datetime."""
    return when.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(value: object) -> datetime | None:
    """An aware datetime from a stored ISO string, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def state_id(name: str) -> str:
    """The state document id of a feed (by name: its URL may move)."""
    return doc_id(f"feed:{name}")


# -- Elasticsearch access -------------------------------------------------------------------


@es_boundary
def load_state(es, settings: Settings, feed: Feed) -> dict:
    """The stored state of a feed merged with its configuration (a fresh state when new)."""
    from elasticsearch import NotFoundError

    try:
        found = es.get(index=settings.feeds_alias, id=state_id(feed.name)).body
        stored = found.get("_source") or {}
    except NotFoundError as exc:
        if exc.error == "index_not_found_exception":  # the first poll on a fresh cluster
            ensure_indices(es, settings, if_missing=True)
        stored = {}
    return merge_config(feed, stored)


@es_boundary
def load_states(es, settings: Settings) -> dict[str, dict]:
    """Every stored feed state by feed name (empty when the index does not exist yet)."""
    from elasticsearch import NotFoundError

    try:
        found = es.search(index=settings.feeds_alias, size=STATE_PAGE, query={"match_all": {}}).body
    except NotFoundError:
        return {}
    return {hit["_source"].get("name"): hit["_source"] for hit in found["hits"]["hits"]}


@es_boundary
def save_state(es, settings: Settings, state: dict) -> None:
    """Write a feed's state document (whole document, idempotent)."""
    state["updated_at"] = iso(utcnow())
    es.index(index=settings.feeds_alias, id=state_id(state["name"]), document=state)


def merge_config(feed: Feed, stored: dict) -> dict:
    """Stored state updated from the registry; a changed configured URL resets the moved URL."""
    state = dict(stored)
    if state.get("config_url") != feed.url:
        state.update(url=feed.url, config_url=feed.url, etag=None, last_modified=None, moved_from=None, disabled_reason=None)
    state.update(name=feed.name, source=feed.source, enabled=feed.enabled, tags=list(feed.tags))
    state.setdefault("counts", {"seen": 0, "new": 0, "errors": 0})
    state.setdefault("consecutive_failures", 0)
    if feed.language and not state.get("language"):
        state["language"] = feed.language
    return state


# -- schedule -------------------------------------------------------------------------------


def base_interval(feed: Feed, settings: Settings) -> float:
    """The feed's configured poll interval in minutes."""
    return float(feed.interval_minutes or settings.feed_interval_minutes)


def cache_max_age_minutes(cache_control: str | None) -> float | None:
    """``max-age`` of a Cache-Control header, in minutes."""
    match = MAX_AGE.search(cache_control or "")
    return int(match.group(1)) / 60 if match else None


def success_interval(feed: Feed, state: dict, settings: Settings, got_new: bool, hints: list[float | None]) -> float:
    """Minutes until the next poll after a success: back to base when busy, slower when quiet."""
    base = base_interval(feed, settings)
    current = float(state.get("interval_minutes") or base)
    interval = base if got_new else min(max(current, base) * QUIET_FACTOR, max(base, settings.feed_max_interval_minutes))
    # The publisher's own hints (ttl, sy:updatePeriod, Cache-Control, Retry-After) are floors.
    floor = max((h for h in hints if h), default=0.0)
    return max(interval, min(floor, settings.feed_max_backoff_minutes))


def failure_interval(feed: Feed, settings: Settings, failures: int, retry_after_s: float | None) -> float:
    """Minutes until the next poll after a failure: exponential backoff, capped, never below Retry-After."""
    base = base_interval(feed, settings)
    interval = min(base * 2 ** max(0, failures - 1), float(settings.feed_max_backoff_minutes))
    if retry_after_s:
        interval = max(interval, min(retry_after_s / 60, settings.feed_max_backoff_minutes))
    return interval


def health_of(state: dict, settings: Settings, now: datetime | None = None, silent_hours: float = SILENT_HOURS) -> str:
    """One feed's health, the one label set of ``wiredesk feeds list``, the stored state and the Feed Health page.

    ``disabled``, ``unhealthy`` (failing so long it is retried only slowly), ``failing``,
    ``never_polled``, ``silent`` (nothing new for ``silent_hours``), ``slow`` or ``ok``.
    """
    if state.get("disabled_reason") or state.get("enabled") is False:
        return "disabled"
    failures = int(state.get("consecutive_failures") or 0)
    if failures:
        return "unhealthy" if failures >= settings.unhealthy_after_failures else "failing"
    if not state.get("last_poll_at"):
        return "never_polled"
    last_new = parse_iso(state.get("last_new_at")) or parse_iso(state.get("last_success_at"))
    if last_new and (now or utcnow()) - last_new > timedelta(hours=silent_hours):
        return "silent"
    if float(state.get("last_duration") or 0) > SLOW_POLL_SECONDS:
        return "slow"
    return "ok"


def schedule(state: dict, interval_minutes: float, now: datetime) -> None:
    """Store the interval and the next poll time on the state."""
    state["interval_minutes"] = round(interval_minutes, 2)
    state["next_poll_at"] = iso(now + timedelta(minutes=interval_minutes))


def is_due(feed: Feed, state: dict | None, now: datetime) -> bool:
    """Whether a feed should be polled now."""
    if not feed.enabled or (state or {}).get("disabled_reason"):
        return False
    next_poll = parse_iso((state or {}).get("next_poll_at"))
    return next_poll is None or next_poll <= now
