"""The ingest engine: fetch → archive → extract → enrich → index each claimed item.

Every item ends *indexed* or *failed* with its reason, attempt count and, for
retryable failures, the time of its next attempt; nothing claimed is dropped.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from pipeline.errors import PermanentError, Reason, WiredeskError
from pipeline.ingest.claims import chunked, claim_items, load_claimed, utcnow
from pipeline.settings import Settings
from pipeline.store.client import es_boundary
from pipeline.store.documents import failure_update, fetch_facts, indexed_doc

LOGGER = logging.getLogger(__name__)


@dataclass
class IngestCounts:
    """What one chunk or run did, for logs, asset extras and the run summary.

    Each stage counts the items that got through it, so a failure shows where it happened: a
    fetch failure counts nowhere past ``claimed``, an extraction failure only as ``fetched``.
    """

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


def build_from_html(item: dict, html: str | bytes, settings: Settings, raw_path: str | None, fetched: dict,
                    new_attempt: bool, counts: IngestCounts | None = None) -> dict:
    """Extract and enrich a page's HTML into the indexed document (ingest and reprocessing)."""
    from pipeline.extract.article import extract_article
    from pipeline.nlp.enrich import enrich_text

    counts = counts or IngestCounts()
    article = extract_article(html, url=fetched.get("final_url") or item.get("url"), settings=settings,
                              header_charset=fetched.get("http_charset"))
    counts.extracted += 1
    enrichment = enrich_text(article.text, settings, article.language)
    counts.enriched += 1
    return indexed_doc(item, article, enrichment, raw_path, fetched, new_attempt)


def process_item(item: dict, settings: Settings, client, counts: IngestCounts) -> dict:
    """Fetch, archive, extract and enrich one item, counting each stage it gets through; raises a WiredeskError."""
    from pipeline.fetch.page import fetch_page
    from pipeline.store.archive import store_raw

    page = fetch_page(item["url"], settings, client=client)
    counts.fetched += 1
    # The bytes as served: reprocessing decodes them again, with the header charset kept on the document.
    raw_path = store_raw(item["_id"], page.raw, settings)
    return build_from_html(item, page.html, settings, raw_path, fetch_facts(page), True, counts)


def record_failure(item: dict, exc: WiredeskError, counts: IngestCounts) -> dict:
    """The failure update of an item whose attempt failed, counted by reason."""
    counts.failed_by_reason[exc.reason] += 1
    return failure_update(int(item.get("attempts") or 0) + 1, exc, utcnow())


@es_boundary
def process_chunk(es, settings: Settings, ids: list[str], run_id: str, progress=None) -> IngestCounts:
    """Process one chunk of claimed ids end to end and write every outcome."""
    from pipeline.fetch.hop import build_client
    from pipeline.ingest.duplicates import assign_duplicate_groups
    from pipeline.store.bulk import index_articles, update_documents

    counts = IngestCounts(claimed=len(ids))
    items = load_claimed(es, settings, ids, run_id)
    docs, failures = [], {}
    with build_client(settings) as client:
        for item in items:
            try:
                docs.append(process_item(item, settings, client, counts))
            except WiredeskError as exc:
                LOGGER.warning("item %s (%s) failed: %s %s", item["_id"], item.get("url"), exc.reason, exc)
                failures[item["_id"]] = record_failure(item, exc, counts)
            except Exception as exc:  # a library bug on odd input must not lose the item or the chunk
                LOGGER.exception("item %s (%s) failed unexpectedly", item["_id"], item.get("url"))
                failures[item["_id"]] = record_failure(item, ensure_permanent(exc), counts)
            if progress:
                progress()
    assign_duplicate_groups(es, settings, docs)
    result = index_articles(es, settings, docs) if docs else None
    if result:
        counts.indexed = result.succeeded
        if result.failures:
            counts.failed_by_reason[Reason.INDEX_REJECTED] += len(result.failures)
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


def ensure_permanent(exc: Exception) -> PermanentError:
    """Wrap an unexpected library exception so the item is recorded instead of crashing the worker."""
    return PermanentError(f"{type(exc).__name__}: {exc}", reason=Reason.INTERNAL_ERROR)
