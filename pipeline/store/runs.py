"""One summary document per Airflow run, so a person reads every run's counts in one table.

The summarize tasks of the poll and ingest DAGs call :func:`record_run` with their dag_id and run_id,
and so does ``wiredesk crawl --once`` (dag_id ``crawl``, one poll and one ingest record per cycle); the
Feed Health page lists :func:`recent_runs`. The document id is ``<dag_id>::<run_id>::<kind>`` (a crawl
cycle's two records share dag_id and run_id), so a retried summarize task overwrites its own record
instead of adding a second one. :func:`failure_rate_alert` says when a run failed too often to show green.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pipeline.errors import PermanentError
from pipeline.settings import Settings
from pipeline.store.client import es_boundary, map_es_errors

LOGGER = logging.getLogger(__name__)

RUN_KINDS = ("poll", "ingest")
COUNT_FIELDS = ("feeds", "new", "claimed", "fetched", "extracted", "enriched", "indexed", "failed")
FEEDS_FAILING_CAP = 50  # a run record stays small even when every feed of a large list fails
RECENT_LIMIT = 20


def runs_index(settings: Settings) -> str:
    """The index holding the run records."""
    return f"{settings.index_prefix}-runs"


def build_runs_mappings() -> dict:
    """Run record mapping: ids, times and integer counts; reasons are kept in _source only."""
    kw, date, num = {"type": "keyword"}, {"type": "date"}, {"type": "integer"}
    return {"dynamic": False, "properties": {
        "dag_id": kw, "run_id": kw, "kind": kw, "feeds_failing": kw,
        "started_at": date, "finished_at": date,
        "counts": {"type": "object", "dynamic": False, "properties": {k: num for k in COUNT_FIELDS}},
        # Reasons are open-ended codes: unmapped (dynamic false) so a new one never grows the mapping.
        "failed_by_reason": {"type": "object", "dynamic": False},
        "skipped_by_reason": {"type": "object", "dynamic": False},
        "by_status": {"type": "object", "dynamic": False},
    }}


@es_boundary
def ensure_runs_index(es, settings: Settings) -> bool:
    """Create the runs index when it is missing; True when this call created it."""
    from elasticsearch import BadRequestError

    if es.indices.exists(index=runs_index(settings)):
        return False
    try:
        es.indices.create(index=runs_index(settings), mappings=build_runs_mappings(),
                          settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"})
    except BadRequestError as exc:
        if exc.error == "resource_already_exists_exception":  # a concurrent caller won
            return False
        raise
    return True


def poll_counts(summary: dict) -> dict:
    """Counts of a poll cycle summary (``feeds.summarize_polls``)."""
    errors = summary.get("errors") or {}
    reasons = Counter(str((e or {}).get("reason") if isinstance(e, dict) else "error") for e in errors.values())
    return {"counts": {"feeds": summary.get("feeds", 0), "new": summary.get("new_count", 0), "failed": len(errors)},
            "failed_by_reason": dict(reasons), "feeds_failing": sorted(errors)[:FEEDS_FAILING_CAP],
            "by_status": summary.get("by_status") or {}, "skipped_by_reason": summary.get("skipped_by_reason") or {}}


def ingest_counts(summary: dict) -> dict:
    """Counts of an ingest run summary (``ingest.merge_counts``)."""
    counts = {k: summary.get(k, 0) for k in COUNT_FIELDS if k in summary}
    return {"counts": counts, "failed_by_reason": dict(summary.get("failed_by_reason") or {})}


def run_facts(kind: str, summary: dict) -> dict:
    """The counts, reasons and failing feeds of a poll or ingest summary."""
    return poll_counts(summary) if kind == "poll" else ingest_counts(summary)


def failure_rate_alert(kind: str, summary: dict, threshold: float) -> str | None:
    """Why a run failed too often (failed feeds or items over the total above ``threshold``), else None."""
    facts = run_facts(kind, summary)
    counts = facts["counts"]
    total, failed = counts.get("feeds" if kind == "poll" else "claimed", 0), counts.get("failed", 0)
    if not total or failed / total <= threshold:
        return None
    unit = "feeds" if kind == "poll" else "items"
    reasons = ", ".join(f"{reason}={n}" for reason, n in Counter(facts["failed_by_reason"]).most_common())
    message = f"{kind} run: {failed} of {total} {unit} failed ({failed / total:.0%} > {threshold:.0%}); reasons: {reasons}"
    failing = facts.get("feeds_failing") or []
    return message + (f"; failing feeds: {', '.join(failing)}" if failing else "")


def build_run_record(dag_id: str, run_id: str, kind: str, summary: dict,
                     started_at: Any = None, finished_at: datetime | None = None) -> dict:
    """The run document: who, when, and the counts of its summary."""
    if kind not in RUN_KINDS:
        raise ValueError(f"run kind must be one of {RUN_KINDS}, not {kind!r}")
    facts = run_facts(kind, summary)
    finished = finished_at or datetime.now(UTC)
    started = started_at.isoformat() if isinstance(started_at, datetime) else started_at
    return {"dag_id": dag_id, "run_id": run_id, "kind": kind, "started_at": started,
            "finished_at": finished.isoformat(), **facts}


def run_doc_id(dag_id: str, run_id: str, kind: str) -> str:
    """One document per run and kind: a retry overwrites it."""
    return f"{dag_id}::{run_id}::{kind}"


def record_run(es, settings: Settings, dag_id: str, run_id: str, kind: str, summary: dict,
               started_at: Any = None) -> dict | None:
    """Write the run's record; an Elasticsearch refusal is logged, never raised (cluster down is retryable)."""
    record = build_run_record(dag_id, run_id, kind, summary, started_at)
    try:
        with map_es_errors(settings):
            ensure_runs_index(es, settings)
            es.index(index=runs_index(settings), id=run_doc_id(dag_id, run_id, kind), document=record)
    except PermanentError as exc:
        LOGGER.warning("run record of %s %s not written: %s", dag_id, run_id, exc)
        return None
    LOGGER.info("run record %s %s: %s %s", dag_id, run_id, record["counts"], record["failed_by_reason"])
    return record


@es_boundary
def recent_runs(es, settings: Settings, limit: int = RECENT_LIMIT) -> list[dict]:
    """The latest run records, newest first (empty before the first run)."""
    from elasticsearch import NotFoundError

    try:
        found = es.search(index=runs_index(settings), size=limit, sort=[{"finished_at": "desc"}],
                          query={"match_all": {}}).body
    except NotFoundError:
        return []
    return [hit["_source"] for hit in found["hits"]["hits"]]
