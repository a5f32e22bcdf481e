"""One feed-health vocabulary for the command line, the stored state and the Feed Health page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.feeds.state import parse_iso, utcnow
from pipeline.settings import Settings
from pipeline.store.client import es_boundary

HEALTH_LABELS = ("disabled", "unhealthy", "failing", "never_polled", "silent", "slow", "ok")
SILENT_HOURS = 24  # default: a feed with nothing new for this long is silent
SLOW_POLL_SECONDS = 10.0


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


@es_boundary
def feed_health_report(es, settings: Settings, silent_hours: float = SILENT_HOURS) -> dict:
    """Every feed's health row plus counts by health."""
    resp = es.search(index=settings.feeds_alias, size=10000, query={"match_all": {}})
    now = datetime.now(UTC)
    rows = []
    for hit in resp["hits"]["hits"]:
        state = hit["_source"]
        health = health_of(state, settings, now, silent_hours)
        rows.append({"name": state.get("name"), "url": state.get("url"), "health": health,
                     "consecutive_failures": state.get("consecutive_failures", 0),
                     "last_status": state.get("last_status"), "last_poll_at": state.get("last_poll_at"),
                     "error": (state.get("error") or {}).get("message")})
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["health"]] = counts.get(row["health"], 0) + 1
    return {"feeds": sorted(rows, key=lambda r: (r["health"] == "ok", r["name"] or "")), "by_health": counts}
