"""Run records: one document per Airflow run with its counts, on the real Elasticsearch."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from pipeline.store import runs
from pipeline.store.indices import ensure_indices

POLL_SUMMARY = {"feeds": 3, "by_status": {"new": 2, "failed": 1}, "new_count": 7, "new_ids": ["a", "b"],
                "errors": {"broken": {"reason": "http_5xx", "message": "HTTP 500"}}}
INGEST_SUMMARY = {"claimed": 9, "fetched": 8, "extracted": 7, "enriched": 7, "indexed": 7, "failed": 2,
                  "failed_by_reason": {"http_404": 1, "no_text": 1}, "chunks": 1}
STARTED = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("kind, summary, counts, reasons", [
    ("poll", POLL_SUMMARY, {"feeds": 3, "new": 7, "failed": 1}, {"http_5xx": 1}),
    ("ingest", INGEST_SUMMARY, {"claimed": 9, "fetched": 8, "extracted": 7, "enriched": 7, "indexed": 7, "failed": 2},
     {"http_404": 1, "no_text": 1}),
    ("ingest", {}, {}, {}),
])
def test_build_run_record_counts(kind, summary, counts, reasons):
    record = runs.build_run_record("wiredesk_x", "manual__1", kind, summary, STARTED)
    assert record["counts"] == counts and record["failed_by_reason"] == reasons
    assert record["started_at"] == STARTED.isoformat() and record["finished_at"] >= record["started_at"]
    assert "new_ids" not in record  # records stay small


MOSTLY_FAILED_POLL = {"feeds": 19, "by_status": {"failed": 17, "ok": 2}, "new_count": 0, "new_ids": [],
                      "errors": {f"feed-{i}": {"reason": "http_5xx" if i % 2 else "timeout"} for i in range(17)}}


@pytest.mark.parametrize("kind, summary, threshold, alert", [
    ("poll", MOSTLY_FAILED_POLL, 0.5,
     "poll run: 17 of 19 feeds failed (89% > 50%); reasons: timeout=9, http_5xx=8; failing feeds: feed-0, feed-1,"),
    ("poll", POLL_SUMMARY, 0.5, None),  # 1 of 3 feeds
    ("poll", POLL_SUMMARY, 0.3, "poll run: 1 of 3 feeds failed (33% > 30%); reasons: http_5xx=1; failing feeds: broken"),
    ("ingest", INGEST_SUMMARY, 0.2, "ingest run: 2 of 9 items failed (22% > 20%); reasons: http_404=1, no_text=1"),
    ("ingest", INGEST_SUMMARY, 0.5, None),
    ("ingest", {}, 0.0, None),  # nothing claimed: nothing to alert on
])
def test_failure_rate_alert(kind, summary, threshold, alert):
    message = runs.failure_rate_alert(kind, summary, threshold)
    assert message is None if alert is None else message.startswith(alert)


@pytest.mark.parametrize("rate, raises", [("0.2", True), ("0.5", False)])
def test_check_failure_rate_fails_the_task_over_the_threshold(monkeypatch, rate, raises):
    from pipeline.errors import PermanentError
    from pipeline.settings import Settings
    from pipeline.tasks import check_failure_rate

    monkeypatch.setenv("WIREDESK_ALERT_FAILURE_RATE", rate)  # the alert task's settings come from the env
    settings = Settings()
    if raises:
        with pytest.raises(PermanentError, match="1 of 3 feeds failed.*failing feeds: broken"):
            check_failure_rate("poll", POLL_SUMMARY, settings)
    else:
        assert check_failure_rate("poll", POLL_SUMMARY, settings) is None


def test_build_run_record_rejects_unknown_kind():
    with pytest.raises(ValueError):
        runs.build_run_record("d", "r", "maintenance", {})


@pytest.mark.integration
def test_record_run_writes_one_document_per_run(es, settings):
    ensure_indices(es, settings)
    runs.record_run(es, settings, "wiredesk_poll_feeds", "scheduled__1", "poll", POLL_SUMMARY, STARTED)
    runs.record_run(es, settings, "wiredesk_ingest_articles", "asset__1", "ingest", INGEST_SUMMARY)
    # A retried summarize task writes the same run again: still one record for it.
    runs.record_run(es, settings, "wiredesk_ingest_articles", "asset__1", "ingest", INGEST_SUMMARY)
    es.indices.refresh(index=runs.runs_index(settings))
    found = runs.recent_runs(es, settings)
    assert [(r["dag_id"], r["kind"]) for r in found] == [("wiredesk_ingest_articles", "ingest"),
                                                         ("wiredesk_poll_feeds", "poll")]
    assert found[0]["counts"]["indexed"] == 7 and found[1]["feeds_failing"] == ["broken"]
    mapping = es.indices.get_mapping(index=runs.runs_index(settings)).body
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert props["counts"]["properties"]["indexed"] == {"type": "integer"}
    assert "properties" not in props["failed_by_reason"]  # reasons never grow the mapping


@pytest.mark.integration
def test_recent_runs_is_empty_before_the_first_run(es, settings):
    assert runs.recent_runs(es, settings) == []


@pytest.mark.integration
def test_record_run_logs_instead_of_failing(es, settings, caplog):
    """A refused write (here: the index is closed) is a warning; the task goes on."""
    ensure_indices(es, settings)
    es.indices.close(index=runs.runs_index(settings))
    with caplog.at_level(logging.WARNING, logger="pipeline.store.runs"):
        assert runs.record_run(es, settings, "wiredesk_poll_feeds", "scheduled__2", "poll", POLL_SUMMARY) is None
    assert "not written" in caplog.text


@pytest.mark.integration
def test_ensure_runs_index_is_idempotent(es, settings):
    assert runs.ensure_runs_index(es, settings) is True
    assert runs.ensure_runs_index(es, settings) is False
    ensure_indices(es, settings)
    assert es.indices.exists(index=runs.runs_index(settings))
