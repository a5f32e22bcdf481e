"""The one Elasticsearch error boundary: every library entry point speaks WiredeskError, on the real cluster."""

from __future__ import annotations

import pytest
from index_support import closed_port  # noqa: F401

from pipeline.errors import PermanentError, RetryableError
from pipeline.feeds.health import feed_health_report
from pipeline.feeds.state import load_states
from pipeline.ingest import reprocess
from pipeline.ingest.claims import claim_items, count_retry_due, release_stale_claims, status_counts
from pipeline.search.query import build_request, search_articles
from pipeline.store import runs
from pipeline.store.client import connect
from pipeline.store.indices import current_index, ensure_indices, index_status

pytestmark = pytest.mark.integration

# Each library entry point that talks to Elasticsearch, called as its callers call it.
ENTRY_POINTS = {
    "claim_items": lambda es, s: claim_items(es, s, "run-1"),
    "release_stale_claims": release_stale_claims,
    "feed_health_report": feed_health_report,
    "status_counts": status_counts,
    "count_retry_due": count_retry_due,
    "reprocess_outdated": reprocess.reprocess_outdated,
    "recent_runs": runs.recent_runs,
    "record_run": lambda es, s: runs.record_run(es, s, "wiredesk_poll_feeds", "manual__1", "poll", {}),
    "load_states": load_states,
    "ensure_indices": ensure_indices,
    "index_status": index_status,
    "search_articles": lambda es, s: search_articles(es, s, build_request(s, "x")),
}


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_stopped_cluster_is_retryable_and_named(name, settings, closed_port):
    down = settings.model_copy(update={"es_url": f"http://127.0.0.1:{closed_port}", "es_max_retries": 0})
    with pytest.raises(RetryableError) as info:
        ENTRY_POINTS[name](connect(down), down)
    assert info.value.reason == "es_unavailable" and down.effective_es_url in str(info.value)


@pytest.mark.parametrize("name", ["claim_items", "status_counts", "count_retry_due", "search_articles"])
def test_missing_index_is_no_index(name, es, settings):
    with pytest.raises(PermanentError) as info:
        ENTRY_POINTS[name](es, settings)
    assert info.value.reason == "no_index" and "wiredesk index setup" in str(info.value)


def test_other_refusals_are_es_error(es, settings):
    ensure_indices(es, settings)
    es.indices.close(index=current_index(es, settings, "articles"))
    with pytest.raises(PermanentError) as info:
        status_counts(es, settings)
    assert info.value.reason == "es_error" and "index_closed_exception" in str(info.value)
