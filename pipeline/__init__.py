"""Wiredesk: news ingestion library (feeds, fetch, extract, enrich, index, search). No Airflow imports."""

__version__ = "0.1.0"
# Bumped when extraction or enrichment changes output; maintenance re-enriches older documents.
PIPELINE_VERSION = "1"
