"""
### Ingest new articles

Runs when a poll cycle announces new items (`wiredesk://articles/pending`). Claims pending items
(and older pending or retry-due failed ones) for this run only, then maps over chunks: fetch the page
politely, keep the raw HTML, extract body and metadata, find entities and quotes, and index. Permanent
failures are marked *failed* with their reason; the summary task totals the counts and announces
`wiredesk://articles/indexed` with them. When more than `alert_failure_rate` of the claimed items
failed, the last task fails so the run shows red.
"""

from datetime import timedelta

import pendulum
from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback, dag, task

from wiredesk_assets import INDEXED_ARTICLES, PENDING_ITEMS


@dag(
    schedule=[PENDING_ITEMS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=2,
    default_args={"retries": 3, "retry_delay": timedelta(seconds=30), "retry_exponential_backoff": True,
                  "execution_timeout": timedelta(minutes=20)},
    deadline=DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=timedelta(minutes=30),
                           callback=SyncCallback("pipeline.tasks.report_late_run")),
    tags=["wiredesk", "ingest"],
    doc_md=__doc__,
)
def wiredesk_ingest_articles():
    @task
    def claim_items(*, run_id=None) -> list[list[str]]:
        from pipeline import tasks
        return tasks.claim_chunks(run_id)

    @task(pool="elasticsearch", max_active_tis_per_dag=2)
    def process_chunk(ids: list[str], *, run_id=None) -> dict:
        from pipeline import tasks
        return tasks.process_chunk(ids, run_id)

    @task(outlets=[INDEXED_ARTICLES], trigger_rule="all_done")
    def summarize(results: list[dict], *, outlet_events=None, dag_run=None) -> dict:
        from pipeline import tasks
        summary = tasks.summarize_ingest(results)
        tasks.record_run("ingest", summary, dag_run.dag_id, dag_run.run_id, dag_run.start_date)
        outlet_events[INDEXED_ARTICLES].extra = tasks.event_extra(summary)
        return summary

    @task(retries=0)  # an alert, not a transient failure: retrying would only delay the red run
    def check_failure_rate(summary: dict) -> None:
        from pipeline import tasks
        tasks.check_failure_rate("ingest", summary)

    check_failure_rate(summarize(process_chunk.expand(ids=claim_items())))


wiredesk_ingest_articles()
