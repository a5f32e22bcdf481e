"""Every state of an article document, shaped here and nowhere else, with the field lists derived from it.

    pending   a feed item announced by a poll            pending_doc       (feeds.write_items)
    claimed   an ingest run took the item                claim_update      (ingest.claim_items)
              ... or gave it back (the run died)          release_update    (ingest.release_stale_claims)
    indexed   fetched, extracted, enriched               indexed_doc       (ingest, reprocess)
    failed    a stage failed                             failure_update    (ingest)
              ... or Elasticsearch rejected the doc      rejection_update  (index.index_articles)

The flat facet arrays (people, organizations, places, speakers) are derived from entities and quotes by
:func:`facet_arrays` only. Pure functions: no Elasticsearch, no network.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any, Iterable

from pipeline import PIPELINE_VERSION
from pipeline.errors import PermanentError, Reason, RetryableError, WiredeskError
from pipeline.store.fingerprint import fingerprint_fields

ARTICLE_STATUSES = ("pending", "claimed", "fetched", "indexed", "failed")


# What a feed item tells about an article; an indexed document keeps these through reprocessing.
ITEM_FIELDS = ("url", "canonical_url", "guid", "feed", "source", "title", "summary", "published_at", "authors",
               "tags", "discovered_at")


# When and where the page was fetched: new on each fetch, kept as stored when reprocessing from the archive
# (http_charset: the Content-Type charset, which decodes the archived bytes again).
FETCH_FIELDS = ("final_url", "fetched_at", "http_charset")


# What a claim loads to process an item, and what reprocessing reads to rebuild an indexed document.
CLAIM_FIELDS = (*ITEM_FIELDS, "attempts", "status", "claimed_by")
KEEP_FIELDS = (*ITEM_FIELDS, "attempts", "raw_path", *FETCH_FIELDS)


# Identity of a document, copied onto a failure record so an upsert of a new document is findable.
IDENTITY_FIELDS = ("url", "canonical_url", "feed", "source", "guid")


# Entity labels (spaCy OntoNotes) feeding the flat facet arrays.
FACET_LABELS = {"PERSON": "people", "ORG": "organizations", "GPE": "places", "LOC": "places", "FAC": "places"}
FACET_FIELDS = ("people", "organizations", "places", "speakers")


# What a search result row shows, and the article shown beside a quote.
ARTICLE_CARD_FIELDS = ("title", "url", "canonical_url", "source", "published_at")
LIST_FIELDS = (*ARTICLE_CARD_FIELDS, "feed", "language", "summary", "authors", "image", *FACET_FIELDS,
               "duplicate_group", "word_count")
MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(minutes=5)


def doc_id(canonical_url: str) -> str:
    """The document id everywhere: sha1 hex of the canonical URL."""
    return hashlib.sha1(canonical_url.strip().encode("utf-8")).hexdigest()


def article_id(doc: dict) -> str:
    """The id of an article document: from ``_id``, else its canonical URL, else its URL."""
    if doc.get("_id"):
        return doc["_id"]
    url = doc.get("canonical_url") or doc.get("url")
    if not url:
        raise PermanentError("article has neither canonical_url nor url", reason=Reason.MISSING_URL)
    return doc_id(url)


def pending_doc(item, feed, discovered_at: str) -> dict:
    """The pending document announcing a parsed feed item (``item``) of a registry ``feed``."""
    return {
        "url": item.url, "canonical_url": item.canonical_url, "guid": item.guid, "feed": feed.name,
        "source": feed.source, "title": item.title, "summary": item.summary, "published_at": item.published_at,
        "authors": item.authors, "tags": item.tags, "discovered_at": discovered_at, "language": feed.language,
        "status": "pending", "attempts": 0, "updated_at": discovered_at, "pipeline_version": PIPELINE_VERSION,
    }


def claim_update(run_id: str, now: datetime) -> dict:
    """The partial update by which a run claims an item."""
    return {"status": "claimed", "claimed_by": run_id, "claimed_at": now.isoformat()}


def release_update() -> dict:
    """The partial update giving a dead run's claim back (pending again)."""
    return {"status": "pending", "claimed_by": None}


def fetch_facts(page) -> dict:
    """The FETCH_FIELDS of a freshly fetched page."""
    return {"final_url": page.final_url, "fetched_at": page.fetched_at.isoformat(), "http_charset": page.header_charset}


def indexed_doc(item: dict, article, enrichment, raw_path: str | None, fetched: dict, new_attempt: bool) -> dict:
    """The whole indexed document from the item, its Article, its Enrichment and the fetch facts.

    ``new_attempt`` counts this run as an attempt (ingest); reprocessing from the archive keeps the
    stored count and passes the stored ``fetched`` facts.
    """
    art, enriched = article.to_dict(), enrichment.to_dict()
    attempts = int(item.get("attempts") or 0) + (1 if new_attempt else 0)
    doc = {"_id": item["_id"], **{name: item.get(name) for name in ITEM_FIELDS}, "tags": item.get("tags") or [],
           "title": art.get("title") or item.get("title"), "summary": art.get("summary") or item.get("summary"),
           "authors": art.get("authors") or item.get("authors") or [],
           "published_at": art.get("published_at") or item.get("published_at"),
           "modified_at": art.get("modified_at"), "site_name": art.get("site_name"),
           "language": art.get("language"), "text": art.get("text") or "", "word_count": art.get("word_count", 0),
           "image": art.get("image"), "page_canonical_url": art.get("canonical_url"),
           **{name: fetched.get(name) for name in FETCH_FIELDS},
           "entities": enriched.get("entities", []), "quotes": enriched.get("quotes", []),
           "raw_path": raw_path, "status": "indexed", "attempts": attempts,
           "error": None, "claimed_by": None, "pipeline_version": PIPELINE_VERSION}
    for i, quote in enumerate(doc["quotes"]):
        quote.setdefault("position", i)
    doc.update(fingerprint_fields(doc["text"]))
    doc.update(facet_arrays(doc))
    return doc


def unique(values: Iterable[Any]) -> list[str]:
    """The string values without blanks or repeats, first occurrence first."""
    return list(dict.fromkeys(v for v in values if isinstance(v, str) and v))


def dicts_in(value: Any) -> list[dict]:
    """The dict items of a list field; malformed values are left for Elasticsearch to reject."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def facet_arrays(doc: dict) -> dict[str, list[str]]:
    """The flat facet arrays of a document from its ``entities`` and ``quotes`` (entity order kept)."""
    facets: dict[str, list[str]] = {name: [] for name in FACET_FIELDS}
    for entity in dicts_in(doc.get("entities")):
        facet = FACET_LABELS.get(str(entity.get("label", "")))
        if facet:
            facets[facet].append(entity.get("name"))
    facets["speakers"] = [q.get("speaker") for q in dicts_in(doc.get("quotes"))]
    return {name: unique(values) for name, values in facets.items()}


def prepare_article(doc: dict) -> dict:
    """A document ready to index: facet arrays filled when absent, and a duplicate group (collapse needs one)."""
    out = dict(doc)
    for name, values in facet_arrays(doc).items():
        out.setdefault(name, values)
    if not out.get("duplicate_group") and (out.get("canonical_url") or out.get("url")):
        out["duplicate_group"] = article_id(out)
    return out


def failure_update(attempts: int, exc: WiredeskError, now: datetime) -> dict:
    """The partial update recording a failed attempt (``attempts`` includes it): released, reason, next try."""
    retryable = isinstance(exc, RetryableError) and attempts < MAX_ATTEMPTS
    update = {"status": "failed", "attempts": attempts, "claimed_by": None,
              "error": {"reason": exc.reason, "message": str(exc)[:1000], "retryable": retryable}}
    if retryable:
        wait = max(BACKOFF_BASE * (2 ** (attempts - 1)), timedelta(seconds=exc.retry_after or 0))
        update["next_attempt_at"] = (now + wait).isoformat()
    return update


def rejection_error(failure: dict) -> WiredeskError:
    """The error of a bulk item Elasticsearch rejected (``index.describe_failure``), named by its type."""
    return PermanentError(f"{failure['reason']}: {failure['message']}", reason=Reason.INDEX_REJECTED)


def rejection_update(doc: dict, failure: dict, now: datetime) -> dict:
    """The upsert recording a document Elasticsearch rejected: its identity plus the failure (attempt counted once)."""
    identity = {key: doc[key] for key in IDENTITY_FIELDS if isinstance(doc.get(key), str)}
    attempts = doc["attempts"] if isinstance(doc.get("attempts"), int) else 0
    return {**identity, **failure_update(attempts, rejection_error(failure), now)}
