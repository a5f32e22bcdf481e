"""The assets that chain Wiredesk's stages, declared once here and imported by every DAG."""

from airflow.sdk import Asset

# New items recorded as pending by a poll cycle: the ingest DAG is scheduled on this.
PENDING_ITEMS = Asset("wiredesk://articles/pending", group="wiredesk")
# Articles fetched, extracted, enriched and indexed by an ingest run.
INDEXED_ARTICLES = Asset("wiredesk://articles/indexed", group="wiredesk")
