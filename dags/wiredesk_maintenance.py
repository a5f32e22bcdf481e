"""
### Maintenance

Daily, and on demand with params: report feed health (failing, silent, slow feeds), release items
stuck in *claimed* and requeue failed items whose backoff has passed, re-enrich documents from the raw
archive when the pipeline version changed (optionally only a date range or one source), and
refresh/force-merge housekeeping on the article index.
"""

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": True,
                  "execution_timeout": timedelta(hours=2)},
    params={
        "since": Param(None, type=["null", "string"], format="date", description="only articles published since"),
        "until": Param(None, type=["null", "string"], format="date", description="only articles published until"),
        "source": Param(None, type=["null", "string"], description="only this source"),
        "silent_hours": Param(24, type="integer", minimum=1, description="a feed silent this long is flagged"),
    },
    tags=["wiredesk", "maintenance"],
    doc_md=__doc__,
)
def wiredesk_maintenance():
    @task
    def feed_health(params=None) -> dict:
        from pipeline import tasks
        return tasks.feed_health(params["silent_hours"])

    @task
    def requeue_failed() -> dict:
        from pipeline import tasks
        return tasks.requeue_failed()

    @task(pool="elasticsearch")
    def reenrich(params=None) -> dict:
        from pipeline import tasks
        return tasks.reenrich(params["since"], params["until"], params["source"])

    @task(pool="elasticsearch")
    def housekeeping() -> dict:
        from pipeline import tasks
        return tasks.housekeeping()

    feed_health() >> requeue_failed() >> reenrich() >> housekeeping()


wiredesk_maintenance()
