"""The local Elasticsearch launcher: status of a real node, clear failures for people to act on."""

import socket

import pytest

from pipeline.errors import ConfigError
from pipeline.ops import local_es
from pipeline.ops.local_es import LocalElasticsearch, probe_cluster
from pipeline.settings import Settings


@pytest.mark.integration
def test_probe_reports_version_and_health_of_the_real_node(es_url):
    status = probe_cluster(es_url)
    assert status["version"].split(".")[0] in ("8", "9")
    assert status["status"] in ("green", "yellow")


def test_probe_of_nothing_is_none():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert probe_cluster(f"http://127.0.0.1:{port}", timeout=0.5) is None


def test_port_taken_by_another_program_is_reported(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        node = LocalElasticsearch(Settings(data_dir=tmp_path, es_port=port))
        with pytest.raises(ConfigError, match=f"port {port} .* already taken"):
            node.start()


def test_no_download_and_no_maven_says_what_is_missing(tmp_path, monkeypatch):
    def unreachable(version, dest):
        raise OSError("download refused")

    monkeypatch.setattr(local_es, "download_release", unreachable)
    monkeypatch.setattr(local_es.shutil, "which", lambda name: None)
    node = LocalElasticsearch(Settings(data_dir=tmp_path, es_version="9.2.4"))
    with pytest.raises(ConfigError) as info:
        node.download()
    message = str(info.value)
    assert "mvn (Maven) is not installed" in message
    assert "WIREDESK_ES_URL" in message


def test_stop_without_a_started_node_stops_nothing(tmp_path):
    assert LocalElasticsearch(Settings(data_dir=tmp_path)).stop() is False


def test_log_tail_without_logs(tmp_path):
    assert LocalElasticsearch(Settings(data_dir=tmp_path)).log_tail() == "(no log yet)"
