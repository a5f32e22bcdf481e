"""Bulk writes: streaming_bulk with retries on 429/5xx and per-item failure accounting."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Iterable, Iterator

from pipeline.errors import PermanentError, Reason, RetryableError
from pipeline.settings import Settings
from pipeline.store.client import es_boundary, map_es_errors
from pipeline.store.documents import article_id, prepare_article, rejection_update

LOGGER = logging.getLogger(__name__)

RETRY_STATUSES = (429, 502, 503, 504)


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class BulkResult:
    """Outcome of a bulk write: how many landed, and every failed item with status and reason."""

    succeeded: int = 0
    failures: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Number of items that did not land."""
        return len(self.failures)

    def merge(self, other: "BulkResult") -> "BulkResult":
        """Both results together."""
        return BulkResult(self.succeeded + other.succeeded, self.failures + other.failures)


class BulkWriteError(RetryableError):
    """Elasticsearch went away during a bulk write; ``partial`` holds what landed (or failed) before.

    Writes are idempotent: the caller (a task retry) sends the whole batch again.
    """

    def __init__(self, message: str, partial: BulkResult):
        super().__init__(message, reason=Reason.ES_UNAVAILABLE)
        self.partial = partial


def describe_failure(info: dict) -> dict:
    """One failed bulk item as ``{_id, status, reason, message}``."""
    error = info.get("error")
    if isinstance(error, dict):
        reason, message = error.get("type", "error"), error.get("reason", "")
        if error.get("caused_by", {}).get("reason"):
            message = f"{message}: {error['caused_by']['reason']}"
    else:
        reason, message = "request_failed", str(error or "")
    return {"_id": info.get("_id"), "status": info.get("status", 500), "reason": reason, "message": message[:1000]}


def stream_bulk(es, settings: Settings, actions: Iterable[dict], refresh: bool) -> BulkResult:
    """One ``streaming_bulk`` pass: chunked by count and bytes, 429/5xx retried with backoff."""
    from elasticsearch.helpers import streaming_bulk

    result = BulkResult()
    extra = {"refresh": "wait_for"} if refresh else {}
    stream = streaming_bulk(
        es,
        actions,
        chunk_size=settings.bulk_chunk_docs,
        max_chunk_bytes=settings.bulk_chunk_bytes,
        raise_on_error=False,
        raise_on_exception=False,  # whole-request 429/503 become per-item failures, then retried
        max_retries=settings.bulk_max_retries,
        initial_backoff=settings.bulk_initial_backoff,
        max_backoff=30,
        retry_on_status=RETRY_STATUSES,
        **extra,
    )
    try:
        with map_es_errors(settings):
            for ok, item in stream:
                info = next(iter(item.values()))
                if ok:
                    result.succeeded += 1
                else:
                    result.failures.append(describe_failure(info))
    except RetryableError as exc:
        raise BulkWriteError(f"bulk write stopped: {exc}", result) from exc
    return result


def batched(actions: Iterable[dict], size: int) -> Iterator[list[dict]]:
    """Lists of up to ``size`` actions."""
    batch: list[dict] = []
    for action in actions:
        batch.append(action)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@es_boundary
def bulk_write(es, settings: Settings, actions: Iterable[dict], *, refresh: bool = False) -> BulkResult:
    """Write actions with ``settings.bulk_workers`` concurrent streaming_bulk passes; every failure reported."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    if settings.bulk_workers <= 1:
        result = stream_bulk(es, settings, actions, refresh)
    else:
        # Concurrent requests keep the client's serialising and the node's indexing overlapped.
        result, errors, pending = BulkResult(), [], set()
        with ThreadPoolExecutor(settings.bulk_workers, thread_name_prefix="bulk") as pool:
            for batch in batched(actions, settings.bulk_chunk_docs):
                if len(pending) >= 2 * settings.bulk_workers:  # bounded: never the whole input in memory
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    result = collect(done, result, errors)
                pending.add(pool.submit(stream_bulk, es, settings, batch, refresh))
            result = collect(wait(pending).done, result, errors)
        if errors:
            raise BulkWriteError(str(errors[0]), result) from errors[0]
    for failure in result.failures:
        LOGGER.warning("bulk item %s failed: %s %s", failure["_id"], failure["status"], failure["reason"])
    return result


def collect(done, result: BulkResult, errors: list) -> BulkResult:
    """Merge finished bulk passes into ``result``; their BulkWriteErrors go to ``errors``."""
    for future in done:
        try:
            result = result.merge(future.result())
        except BulkWriteError as exc:
            errors.append(exc)
            result = result.merge(exc.partial)
    return result


def index_actions(alias: str, docs: Iterable[dict], rejected: list[dict]) -> Iterator[dict]:
    """Bulk ``index`` actions for whole article documents; documents without an id go to ``rejected``."""
    stamp = now_iso()
    for doc in docs:
        try:
            _id = article_id(doc)
        except PermanentError as exc:
            rejected.append({"_id": None, "status": 400, "reason": exc.reason, "message": str(exc)})
            continue
        source = {k: v for k, v in doc.items() if k != "_id"}
        source.setdefault("updated_at", stamp)
        yield {"_op_type": "index", "_index": alias, "_id": _id, "_source": source}


@es_boundary
def index_articles(es, settings: Settings, docs: Iterable[dict], *, refresh: bool = False) -> BulkResult:
    """Index whole article documents by canonical-URL id; rejected items are recorded as failed."""
    docs = [prepare_article(doc) for doc in docs]
    rejected: list[dict] = []
    alias = settings.articles_alias
    result = bulk_write(es, settings, index_actions(alias, docs, rejected), refresh=refresh)
    result.failures.extend(rejected)
    record_rejections(es, settings, docs, result.failures, refresh)
    return result


def record_rejections(es, settings: Settings, docs: list[dict], failures: list[dict], refresh: bool) -> None:
    """Record each document Elasticsearch rejected for good on the document itself (released, failed)."""
    permanent = [f for f in failures if f["status"] not in RETRY_STATUSES and f["_id"]]
    if not permanent:
        return
    by_id = {article_id(d): d for d in docs if d.get("canonical_url") or d.get("url") or d.get("_id")}
    now = datetime.now(UTC)
    updates = {f["_id"]: rejection_update(by_id[f["_id"]], f, now) for f in permanent if f["_id"] in by_id}
    update_documents(es, settings, settings.articles_alias, updates, refresh=refresh)


@es_boundary
def update_documents(es, settings: Settings, alias: str, updates: dict[str, dict], *, refresh: bool = False) -> BulkResult:
    """Partial updates (``doc_as_upsert``) by id, e.g. pipeline status changes."""
    stamp = now_iso()
    actions = (
        {"_op_type": "update", "_index": alias, "_id": _id, "doc": {"updated_at": stamp, **doc}, "doc_as_upsert": True}
        for _id, doc in updates.items()
    )
    return bulk_write(es, settings, actions, refresh=refresh)
