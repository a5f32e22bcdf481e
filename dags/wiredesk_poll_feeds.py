"""
### Poll the news feeds

Every few minutes: list the feeds that are due, poll each one (a mapped task per feed, conditional
GET, per-host politeness), record new items as *pending* in Elasticsearch, and announce them with
the `wiredesk://articles/pending` asset so the ingest DAG starts. Nothing new, no asset event.
When more than `alert_failure_rate` of the feeds failed, the last task fails so the run shows red.
"""

from datetime import timedelta

import pendulum
from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback, dag, task

from pipeline.settings import get_settings
from wiredesk_assets import PENDING_ITEMS


@dag(
    schedule=timedelta(minutes=get_settings().poll_minutes),  # WIREDESK_POLL_MINUTES, 5 by default
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "retry_exponential_backoff": True,
                  "execution_timeout": timedelta(minutes=5)},
    deadline=DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=timedelta(minutes=4),
                           callback=SyncCallback("pipeline.tasks.report_late_run")),
    tags=["wiredesk", "feeds"],
    doc_md=__doc__,
)
def wiredesk_poll_feeds():
    @task
    def list_due_feeds() -> list[str]:
        from pipeline import tasks
        return tasks.list_due_feeds()

    @task(max_active_tis_per_dag=8)
    def poll_feed(feed_name: str) -> dict:
        from pipeline import tasks
        return tasks.poll_feed(feed_name)

    @task
    def summarize(results: list[dict], *, dag_run=None) -> dict:
        from pipeline import tasks
        summary = tasks.summarize_polls(results)
        tasks.record_run("poll", summary, dag_run.dag_id, dag_run.run_id, dag_run.start_date)
        return summary

    @task(outlets=[PENDING_ITEMS])
    def announce_new_items(summary: dict, *, outlet_events=None):
        from airflow.sdk.exceptions import AirflowSkipException

        from pipeline import tasks
        if not summary["new_count"]:
            raise AirflowSkipException("no new items: no asset event")
        outlet_events[PENDING_ITEMS].extra = tasks.event_extra(summary)

    @task(retries=0)  # an alert, not a transient failure: retrying would only delay the red run
    def check_failure_rate(summary: dict) -> None:
        from pipeline import tasks
        tasks.check_failure_rate("poll", summary)

    summary = summarize(poll_feed.expand(feed_name=list_due_feeds()))
    announce_new_items(summary)
    check_failure_rate(summary)


wiredesk_poll_feeds()
