"""Feed state in the ``<prefix>-feeds`` alias: loaded, merged with the registry, saved.

One document per feed (``_id`` = hash of ``feed:<name>``): current URL (after permanent moves),
ETag, Last-Modified, last poll and status, consecutive failures, health, next poll time, counts.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.feeds.registry import Feed
from pipeline.settings import Settings
from pipeline.store.client import es_boundary
from pipeline.store.documents import doc_id
from pipeline.store.indices import ensure_indices

STATE_PAGE = 10000


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
