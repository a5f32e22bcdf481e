"""When a feed is polled next: adaptive intervals, publisher hints as floors, backoff."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pipeline.feeds.registry import Feed
from pipeline.feeds.state import iso, parse_iso
from pipeline.settings import Settings

MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
QUIET_FACTOR = 1.5  # each poll that finds nothing new stretches the interval by this much


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
