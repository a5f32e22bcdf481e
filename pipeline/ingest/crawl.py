"""One poll-and-ingest cycle in-process: what `wiredesk crawl --once` runs.

The same library functions the DAGs call, for a person without Airflow running.
"""

from __future__ import annotations

import uuid

from pipeline.settings import Settings


def crawl_once(settings: Settings, feed_names: list[str] | None = None, progress=None) -> dict:
    """One poll-and-ingest cycle; returns the poll summary and the ingest counts."""
    from pipeline.feeds.poll import poll_feeds, summarize_polls
    from pipeline.ingest.process import ingest_pending
    from pipeline.store.client import connect

    es = connect(settings)
    # The poller's own concurrent, host-interleaved cycle (due feeds, or the named ones); it sets up
    # the indices when they are missing.
    results = [result.to_dict() for result in poll_feeds(es, settings, feed_names)]
    if progress:
        for result in results:
            progress("poll", result["feed"])
    polls = summarize_polls(results)
    run_id = f"crawl__{uuid.uuid4().hex[:12]}"
    counts = ingest_pending(es, settings, run_id, progress=(lambda: progress("ingest", "")) if progress else None)
    return {"poll": {k: v for k, v in polls.items() if k != "new_ids"}, "ingest": counts}
