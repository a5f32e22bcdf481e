"""An Elasticsearch restart between two writes loses nothing.

Runs a second, private node (pipeline/ops/local_es.py) on a free port in a temporary folder: the shared
cluster is never restarted. The node is killed hard (SIGKILL, like a crash), so only what
Elasticsearch acknowledged as durable can survive.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest
from index_support import make_articles

from pipeline.errors import RetryableError
from pipeline.ops.local_es import LocalElasticsearch
from pipeline.settings import Settings
from pipeline.store import documents
from pipeline.store.bulk import index_articles
from pipeline.store.client import connect
from pipeline.store.indices import ensure_indices

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed_download(node: LocalElasticsearch, version: str) -> None:
    """Link an already-downloaded distribution into the private node's folder (no network needed)."""
    candidates = [
        *Settings().es_home.glob(f"downloads/elasticsearch-{version}*"),
        Path.home() / f".m2/repository/org/elasticsearch/distribution/integ-test-zip/elasticsearch/{version}"
        / f"elasticsearch-{version}.zip",
    ]
    node.downloads.mkdir(parents=True, exist_ok=True)
    for archive in candidates:
        if archive.is_file() and archive.suffix in (".zip", ".gz") and archive.stat().st_size > 0:
            os.symlink(archive, node.downloads / archive.name)
            return


@pytest.fixture
def private_node():
    """A private single node in a world-traversable temp folder; stopped and removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="wd-restart-", dir="/tmp"))
    home.chmod(0o755)  # the node runs as an unprivileged user when we are root
    settings = Settings(data_dir=home, es_url=None, es_port=free_port(), es_heap="512m",
                        index_prefix="wdrestart", es_request_timeout=20, es_max_retries=1)
    node = LocalElasticsearch(settings)
    seed_download(node, settings.es_version)
    node.start()
    yield settings, node
    node.stop()
    shutil.rmtree(home, ignore_errors=True)


def crash(node: LocalElasticsearch) -> None:
    """Kill the node hard (our own node, by its pid) and wait until it is gone."""
    pid = node.pid()
    assert pid is not None
    os.kill(pid, 9)
    deadline = time.monotonic() + 30
    while node.pid() is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    node.pid_file.unlink(missing_ok=True)


def test_restart_between_two_writes_loses_nothing(private_node):
    settings, node = private_node
    es = connect(settings)
    ensure_indices(es, settings)
    first, second = make_articles(200), make_articles(200, start=200)
    # No refresh: acknowledged means durable (translog), not necessarily searchable yet.
    assert index_articles(es, settings, first).failed == 0
    crash(node)
    with pytest.raises(RetryableError):  # a write while the node is down is refused, not lost silently
        index_articles(es, settings, second)
    node.start()
    es = connect(settings)
    es.cluster.health(index=settings.articles_alias, wait_for_status="yellow", timeout="60s")
    assert index_articles(es, settings, second, refresh=True).failed == 0  # the caller's retry
    ids = [documents.doc_id(d["canonical_url"]) for d in first + second]
    found = es.mget(index=settings.articles_alias, ids=ids, source=False).body["docs"]
    assert all(d["found"] for d in found)
    assert es.count(index=settings.articles_alias).body["count"] == 400
