"""Shared fixtures: the real local Elasticsearch and a fresh index prefix per test."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# Airflow reads its home at import: keep tests off ~/airflow and away from a running `make up`.
os.environ.setdefault("AIRFLOW_HOME", str(REPO / ".data" / "airflow-test"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
# Airflow's DAG processor puts the DAG folder on sys.path (for dags/wiredesk_assets.py); so do we.
sys.path.insert(0, str(REPO / "dags"))


def pytest_report_header(config):
    return f"wiredesk: shared data {'found' if SHARED.is_dir() else 'absent'} at {SHARED}"


@pytest.fixture(scope="session")
def es_url() -> str:
    """URL of the real cluster: WIREDESK_ES_URL, else the local node (started if needed)."""
    if url := os.environ.get("WIREDESK_ES_URL"):
        return url
    from pipeline.ops.local_es import LocalElasticsearch

    status = LocalElasticsearch(Settings()).start()
    return status["url"]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only evaluation folder beside the repository; skips the test when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED


@pytest.fixture
def settings(es_url, tmp_path) -> Settings:
    """Settings for one test: its own index prefix and data folder, loopback allowed."""
    return Settings(
        es_url=es_url,
        index_prefix=f"wdtest-{uuid.uuid4().hex[:10]}",
        data_dir=tmp_path / "data",
        allow_private_addresses=True,
        per_host_delay=0.0,
        respect_robots=True,
    )


@pytest.fixture
def es(settings):
    """A client for the real cluster; the test's indices and templates are deleted afterwards."""
    from pipeline.store.client import connect
    from pipeline.store.indices import delete_indices

    client = connect(settings)
    yield client
    delete_indices(client, settings)
    client.close()
