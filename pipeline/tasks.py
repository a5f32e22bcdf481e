"""The functions Airflow tasks call: the edge where settings and the cluster client are built.

Each function takes and returns small JSON values (ids, names, counts) so XCom carries references,
never article bodies. The DAG files wrap these in ``@task``. Airflow is imported only inside
:func:`es_connection_fields`, when a task (or the plugin) first builds its settings, never at parse time.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from pipeline.settings import Settings

LOGGER = logging.getLogger(__name__)

CLAIM_LIMIT = 500
CHUNK_SIZE = 20
ES_CONNECTION_ID = "wiredesk_elasticsearch"  # Admin -> Connections: host, port, schema, login, password
ES_DEFAULT_PORT = 9200


def connection_url(conn) -> str | None:
    """``schema://host:port`` of an Airflow Connection (schema http by default), or None without a host."""
    if not conn.host:
        return None
    if "://" in conn.host:  # a whole URL typed into the host field
        return conn.host
    return f"{conn.schema or 'http'}://{conn.host}:{conn.port or ES_DEFAULT_PORT}"


def es_connection_fields(conn_id: str = ES_CONNECTION_ID) -> dict:
    """Elasticsearch settings from the Airflow Connection ``conn_id``; {} when it is not defined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return {}
    fields = {"es_url": connection_url(conn), "es_username": conn.login, "es_password": conn.password,
              "es_ca_certs": conn.extra_dejson.get("ca_certs")}
    return {name: value for name, value in fields.items() if value}


@lru_cache(maxsize=1)
def airflow_settings() -> Settings:
    """Settings at the Airflow edge (tasks, plugin): ``WIREDESK_*`` env, then the Connection, then defaults.

    An explicit ``WIREDESK_ES_URL`` names the cluster on its own: the Connection is then not used.
    """
    settings = Settings()
    if "es_url" in settings.model_fields_set:
        return settings
    from_connection = {k: v for k, v in es_connection_fields().items() if k not in settings.model_fields_set}
    return Settings(**from_connection) if from_connection else settings  # keywords rank above the environment


@lru_cache(maxsize=1)
def cluster(settings: Settings | None = None):
    """A client for the configured cluster (once per worker process); it sends no request."""
    from pipeline.store.client import connect

    return connect(settings or airflow_settings())


def ready_cluster(settings: Settings):
    """The client, after one cheap check that the indices exist (created if not): a run's first task calls it."""
    from pipeline.store.indices import ensure_indices

    es = cluster(settings)
    ensure_indices(es, settings, if_missing=True)
    return es


def list_due_feeds(settings: Settings | None = None) -> list[str]:
    """Names of the enabled feeds due for a poll."""
    from pipeline.feeds.poll import due_feeds

    settings = settings or airflow_settings()
    names = [feed.name for feed in due_feeds(ready_cluster(settings), settings)]
    LOGGER.info("%d feeds due: %s", len(names), ", ".join(names[:20]))
    return names


def poll_feed(feed_name: str, settings: Settings | None = None) -> dict:
    """Poll one feed by name; a bad feed is recorded in its state, never raised."""
    from pipeline.feeds.poll import poll_feed as poll
    from pipeline.feeds.registry import load_feeds

    settings = settings or airflow_settings()
    feeds = {feed.name: feed for feed in load_feeds(settings)}
    if feed_name not in feeds:
        return {"feed": feed_name, "status": "unknown_feed", "new_count": 0, "new_ids": []}
    result = poll(feeds[feed_name], cluster(settings), settings)
    out = result.to_dict()
    LOGGER.info("feed %s: %s, %d new", feed_name, out.get("status"), out.get("new_count", 0))
    return out




def summarize_polls(results: list[dict]) -> dict:
    """The poll cycle's summary (feeds by status, new items, errors), logged."""
    from pipeline.feeds.poll import summarize_polls as summarize

    return summarize(results)


def event_extra(summary: dict) -> dict:
    """The small Metadata extra of an asset event: counts and a capped list of ids."""
    from pipeline.feeds.poll import EVENT_ID_CAP

    extra = {k: v for k, v in summary.items() if isinstance(v, (int, str)) or k in ("by_status", "failed_by_reason")}
    ids = summary.get("new_ids") or summary.get("ids") or []
    extra["ids"] = ids[:EVENT_ID_CAP]
    extra["ids_truncated"] = summary.get("new_count", len(ids)) > len(ids[:EVENT_ID_CAP])
    return extra


def claim_chunks(run_id: str, settings: Settings | None = None) -> list[list[str]]:
    """Claim claimable items for this run and split them into chunks for mapped tasks."""
    from pipeline.ingest.claims import chunked, claim_items

    settings = settings or airflow_settings()
    ids = claim_items(ready_cluster(settings), settings, run_id, CLAIM_LIMIT)
    return chunked(ids, CHUNK_SIZE)


def process_chunk(ids: list[str], run_id: str, settings: Settings | None = None) -> dict:
    """Fetch, extract, enrich and index one chunk; returns its counts."""
    from pipeline.ingest.process import process_chunk as process

    settings = settings or airflow_settings()
    counts = process(cluster(settings), settings, ids, run_id).to_dict()
    return counts


def summarize_ingest(results: list[dict]) -> dict:
    """Total the chunk counts into the run summary shown in the log and the asset event."""
    from pipeline.ingest.process import merge_counts

    summary = merge_counts([r for r in results if r])
    LOGGER.info("ingest run: %s", summary)
    return summary


def record_run(kind: str, summary: dict, dag_id: str, run_id: str, started_at=None,
               settings: Settings | None = None) -> None:
    """Keep the run's counts as one record for the Feed Health page's "Recent runs" table."""
    from pipeline.store.runs import record_run as record

    settings = settings or airflow_settings()
    record(cluster(settings), settings, dag_id, run_id, kind, summary, started_at)


def check_failure_rate(kind: str, summary: dict, settings: Settings | None = None) -> None:
    """Fail the alert task, so the run shows red in Airflow, when too many feeds or items failed."""
    from pipeline.errors import PermanentError
    from pipeline.store.runs import failure_rate_alert

    settings = settings or airflow_settings()
    message = failure_rate_alert(kind, summary, settings.alert_failure_rate)
    if message:
        LOGGER.error("%s", message)
        raise PermanentError(message)


def feed_health(silent_hours: int = 24, settings: Settings | None = None) -> dict:
    """Failing, silent and slow feeds, logged as a table and returned."""
    from pipeline.feeds.health import feed_health_report

    settings = settings or airflow_settings()
    report = feed_health_report(ready_cluster(settings), settings, silent_hours)
    for row in report["feeds"]:
        if row["health"] != "ok":
            LOGGER.warning("feed %-30s %-10s failures=%s last_status=%s", row["name"], row["health"],
                           row.get("consecutive_failures"), row.get("last_status"))
    return {k: v for k, v in report.items() if k != "feeds"}


def requeue_failed(settings: Settings | None = None) -> dict:
    """Release stale claims; retry-due failures are claimed again by the next ingest run."""
    from pipeline.ingest.claims import count_retry_due, release_stale_claims

    settings = settings or airflow_settings()
    es = cluster(settings)
    return {"released_claims": release_stale_claims(es, settings), "retry_due": count_retry_due(es, settings)}


def reenrich(since: str | None, until: str | None, source: str | None, settings: Settings | None = None) -> dict:
    """Re-extract and re-enrich documents of an older pipeline version from the raw archive."""
    from pipeline.ingest.reprocess import reprocess_outdated

    settings = settings or airflow_settings()
    return reprocess_outdated(cluster(settings), settings, since=since, until=until, source=source)


def housekeeping(settings: Settings | None = None) -> dict:
    """Refresh and merge segments of the article index; report document counts by status."""
    from pipeline.ingest.claims import status_counts
    from pipeline.store.client import map_es_errors

    settings = settings or airflow_settings()
    es = cluster(settings)
    with map_es_errors(settings):
        es.indices.refresh(index=settings.articles_alias)
        es.indices.forcemerge(index=settings.articles_alias, only_expunge_deletes=True, wait_for_completion=False)
    return {"by_status": status_counts(es, settings)}


def report_late_run(context: dict | None = None, **kwargs) -> None:
    """Deadline-alert callback: a poll cycle or ingest run is late."""
    dag_run = (context or {}).get("dag_run")
    LOGGER.error("Wiredesk run is late: %s %s", getattr(dag_run, "dag_id", kwargs.get("dag_id")),
                 getattr(dag_run, "run_id", ""))
