"""One poll-and-ingest cycle in-process: what `wiredesk crawl --once` runs.

The same library functions the DAGs call, for a person without Airflow running.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pipeline.settings import Settings

CRAWL_DAG_ID = "crawl"  # the dag_id of crawl cycles in the run records (the Feed Health page's Recent runs)


def crawl_once(settings: Settings, feed_names: list[str] | None = None, progress=None) -> dict:
    """One poll-and-ingest cycle, kept as two run records (dag_id ``crawl``); returns both summaries."""
    from pipeline.feeds.poll import poll_feeds, summarize_polls
    from pipeline.ingest.process import ingest_pending
    from pipeline.store.client import connect
    from pipeline.store.runs import record_run

    es = connect(settings)
    run_id, started = f"crawl__{uuid.uuid4().hex[:12]}", datetime.now(UTC)
    # The poller's own concurrent, host-interleaved cycle (due feeds, or the named ones); it sets up
    # the indices when they are missing.
    results = [result.to_dict() for result in poll_feeds(es, settings, feed_names)]
    if progress:
        for result in results:
            progress("poll", result["feed"])
    polls = summarize_polls(results)
    record_run(es, settings, CRAWL_DAG_ID, run_id, "poll", polls, started)
    started = datetime.now(UTC)
    counts = ingest_pending(es, settings, run_id, progress=(lambda: progress("ingest", "")) if progress else None)
    record_run(es, settings, CRAWL_DAG_ID, run_id, "ingest", counts, started)
    return {"poll": {k: v for k, v in polls.items() if k != "new_ids"}, "ingest": counts, "run_id": run_id}
