"""Ingest: claim pending items, then fetch → archive → extract → enrich → index each one.

Claims use optimistic concurrency (``if_seq_no``/``if_primary_term``), so two runs never process
the same item. Every item ends *indexed* or *failed* with its reason, attempt count and, for
retryable failures, the time of its next attempt; nothing claimed is dropped.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pipeline import PIPELINE_VERSION
from pipeline.errors import PermanentError, Reason, RetryableError, WiredeskError
from pipeline.settings import Settings

LOGGER = logging.getLogger(__name__)

CLAIM_FIELDS = ["url", "canonical_url", "feed", "source", "title", "summary", "published_at", "authors",
                "tags", "guid", "attempts", "discovered_at", "status"]
MAX_ATTEMPTS = 6
STALE_CLAIM = timedelta(minutes=30)  # a claim older than this belongs to a dead run
BACKOFF_BASE = timedelta(minutes=5)


@dataclass
class IngestCounts:
    """What one chunk or run did, for logs, asset extras and the run summary."""

    claimed: int = 0
    fetched: int = 0
    extracted: int = 0
    enriched: int = 0
    indexed: int = 0
    failed: int = 0
    failed_by_reason: Counter = field(default_factory=Counter)
    ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-friendly dict (XCom, asset extras)."""
        out = {k: getattr(self, k) for k in ("claimed", "fetched", "extracted", "enriched", "indexed", "failed")}
        out["failed_by_reason"] = dict(self.failed_by_reason)
        return out


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def claimable_query(now: datetime) -> dict:
    """Pending items, retry-due failures and stale claims."""
    stale = (now - STALE_CLAIM).isoformat()
    return {"bool": {"minimum_should_match": 1, "should": [
        {"term": {"status": "pending"}},
        {"bool": {"filter": [
            {"term": {"status": "failed"}}, {"term": {"error.retryable": True}},
            {"range": {"next_attempt_at": {"lte": now.isoformat()}}},
            {"range": {"attempts": {"lt": MAX_ATTEMPTS}}},
        ]}},
        {"bool": {"filter": [{"term": {"status": "claimed"}}, {"range": {"claimed_at": {"lt": stale}}}]}},
    ]}}


def claim_items(es, settings: Settings, run_id: str, limit: int = 200) -> list[str]:
    """Claim up to ``limit`` items for this run; ids another run claimed first are left to it."""
    now = utcnow()
    # Pending items written a moment ago (crawl --once polls then claims at once) must be visible.
    es.indices.refresh(index=settings.articles_alias)
    resp = es.search(index=settings.articles_alias, query=claimable_query(now), size=limit,
                     sort=[{"discovered_at": {"order": "asc", "unmapped_type": "date"}}],
                     seq_no_primary_term=True, source=False)
    hits = resp["hits"]["hits"]
    if not hits:
        return []
    ops = []
    for hit in hits:
        ops.append({"update": {"_index": hit["_index"], "_id": hit["_id"], "if_seq_no": hit["_seq_no"],
                               "if_primary_term": hit["_primary_term"]}})
        ops.append({"doc": {"status": "claimed", "claimed_by": run_id, "claimed_at": now.isoformat()}})
    result = es.bulk(operations=ops, refresh="wait_for")
    claimed = [item["update"]["_id"] for item in result["items"] if item["update"].get("status") == 200]
    LOGGER.info("claimed %d of %d claimable items for %s", len(claimed), len(hits), run_id)
    return claimed


def chunked(ids: list[str], size: int) -> list[list[str]]:
    """Split ids into chunks for mapped tasks."""
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def load_claimed(es, settings: Settings, ids: list[str], run_id: str) -> list[dict]:
    """The claimed documents that still belong to this run."""
    resp = es.mget(index=settings.articles_alias, ids=ids, source_includes=CLAIM_FIELDS + ["claimed_by"])
    docs = []
    for found in resp["docs"]:
        src = found.get("_source")
        if found.get("found") and src and src.get("claimed_by") == run_id and src.get("status") == "claimed":
            docs.append({"_id": found["_id"], **src})
    return docs


def build_article_doc(item: dict, article, enrichment, raw_path: str, page) -> dict:
    """The full article document from the pending item, the extraction and the enrichment."""
    from pipeline.fingerprint import fingerprint_fields

    art = article.to_dict()
    enriched = enrichment.to_dict()
    doc = {
        "_id": item["_id"], "url": item.get("url"), "canonical_url": item.get("canonical_url"),
        "guid": item.get("guid"), "feed": item.get("feed"), "source": item.get("source"),
        "tags": item.get("tags") or [], "discovered_at": item.get("discovered_at"),
        "title": art.get("title") or item.get("title"), "summary": art.get("summary") or item.get("summary"),
        "authors": art.get("authors") or item.get("authors") or [],
        "published_at": art.get("published_at") or item.get("published_at"),
        "modified_at": art.get("modified_at"), "site_name": art.get("site_name"),
        "language": art.get("language"), "text": art.get("text") or "", "word_count": art.get("word_count", 0),
        "image": art.get("image"), "page_canonical_url": art.get("canonical_url"),
        "final_url": page.final_url if page else None,
        "fetched_at": page.fetched_at.isoformat() if page else None,
        "entities": enriched.get("entities", []), "quotes": enriched.get("quotes", []),
        "raw_path": raw_path, "status": "indexed", "attempts": int(item.get("attempts") or 0) + 1,
        "error": None, "claimed_by": None, "pipeline_version": PIPELINE_VERSION,
    }
    for i, quote in enumerate(doc["quotes"]):
        quote.setdefault("position", i)
    doc.update(fingerprint_fields(doc["text"]))
    return doc


def build_from_html(item: dict, html: str, url: str | None, settings: Settings, raw_path: str, page=None) -> dict:
    """Extract and enrich a page's HTML into the full article document (ingest and reprocessing)."""
    from pipeline.extract import extract_article
    from pipeline.nlp.enrich import enrich_text

    article = extract_article(html, url=url, settings=settings)
    return build_article_doc(item, article, enrich_text(article.text, settings, article.language), raw_path, page)


def process_item(item: dict, settings: Settings, client=None) -> dict:
    """Fetch, archive, extract and enrich one item; raises a WiredeskError on failure."""
    from pipeline.archive import store_raw
    from pipeline.fetch import fetch_page

    page = fetch_page(item["url"], settings, client=client)
    # The decoded text, stored as UTF-8: re-extraction needs no HTTP header to find the charset.
    raw_path = store_raw(item["_id"], page.html, settings)
    return build_from_html(item, page.html, page.final_url, settings, raw_path, page)


def failure_update(item: dict, exc: WiredeskError, now: datetime) -> dict:
    """The partial update recording a failed item: reason, attempts, next attempt when retryable."""
    attempts = int(item.get("attempts") or 0) + 1
    retryable = isinstance(exc, RetryableError) and attempts < MAX_ATTEMPTS
    update = {"status": "failed", "attempts": attempts, "claimed_by": None,
              "error": {"reason": exc.reason, "message": str(exc)[:1000], "retryable": retryable}}
    if retryable:
        wait = max(BACKOFF_BASE * (2 ** (attempts - 1)), timedelta(seconds=exc.retry_after or 0))
        update["next_attempt_at"] = (now + wait).isoformat()
    return update


def process_chunk(es, settings: Settings, ids: list[str], run_id: str, progress=None) -> IngestCounts:
    """Process one chunk of claimed ids end to end and write every outcome."""
    from pipeline.fingerprint import assign_duplicate_groups
    from pipeline.http import build_client
    from pipeline.index import index_articles, update_documents

    counts = IngestCounts(claimed=len(ids))
    items = load_claimed(es, settings, ids, run_id)
    docs, failures = [], {}
    with build_client(settings) as client:
        for item in items:
            try:
                docs.append(process_item(item, settings, client))
                counts.fetched += 1
                counts.extracted += 1
                counts.enriched += 1
            except WiredeskError as exc:
                LOGGER.warning("item %s (%s) failed: %s %s", item["_id"], item.get("url"), exc.reason, exc)
                failures[item["_id"]] = failure_update(item, exc, utcnow())
                counts.failed_by_reason[exc.reason] += 1
            except Exception as exc:  # a library bug on odd input must not lose the item or the chunk
                LOGGER.exception("item %s (%s) failed unexpectedly", item["_id"], item.get("url"))
                failures[item["_id"]] = failure_update(item, ensure_permanent(exc), utcnow())
                counts.failed_by_reason["internal_error"] += 1
            if progress:
                progress()
    assign_duplicate_groups(es, settings, docs)
    result = index_articles(es, settings, docs) if docs else None
    if result:
        counts.indexed = result.succeeded
        for failure in result.failures:
            counts.failed_by_reason[Reason.INDEX_REJECTED] += 1
    if failures:
        update_documents(es, settings, settings.articles_alias, failures)
    counts.failed = sum(counts.failed_by_reason.values())
    counts.ids = [d["_id"] for d in docs]
    LOGGER.info("chunk done: %s", counts.to_dict())
    return counts


def merge_counts(results: list[dict]) -> dict:
    """Total the per-chunk count dicts into one run summary."""
    total: Counter = Counter()
    reasons: Counter = Counter()
    for result in results:
        if not result:
            continue
        reasons.update(result.get("failed_by_reason", {}))
        total.update({k: v for k, v in result.items() if isinstance(v, int)})
    summary = {k: total.get(k, 0) for k in ("claimed", "fetched", "extracted", "enriched", "indexed", "failed")}
    summary["failed_by_reason"] = dict(reasons)
    summary["chunks"] = len(results)
    return summary


def ingest_pending(es, settings: Settings, run_id: str, limit: int = 500, chunk_size: int = 25,
                   progress=None) -> dict:
    """Claim and process everything claimable, chunk by chunk (the in-process path of `crawl`)."""
    ids = claim_items(es, settings, run_id, limit)
    results = [process_chunk(es, settings, chunk, run_id, progress).to_dict() for chunk in chunked(ids, chunk_size)]
    return merge_counts(results)


def release_stale_claims(es, settings: Settings) -> int:
    """Put items whose claim is older than STALE_CLAIM back to pending (their run died)."""
    stale = (utcnow() - STALE_CLAIM).isoformat()
    query = {"bool": {"filter": [{"term": {"status": "claimed"}}, {"range": {"claimed_at": {"lt": stale}}}]}}
    resp = es.search(index=settings.articles_alias, query=query, size=1000, source=False)
    ids = [hit["_id"] for hit in resp["hits"]["hits"]]
    if ids:
        from pipeline.index import update_documents

        update_documents(es, settings, settings.articles_alias, {i: {"status": "pending", "claimed_by": None}
                                                                 for i in ids})
    return len(ids)


def ensure_permanent(exc: Exception) -> PermanentError:
    """Wrap an unexpected library exception so the item is recorded instead of crashing the worker."""
    return PermanentError(f"{type(exc).__name__}: {exc}", reason="internal_error")
