"""Settings at the Airflow edge: the ``wiredesk_elasticsearch`` Connection fills in the Elasticsearch
address and credentials; an explicit ``WIREDESK_ES_*`` variable wins; without either, the defaults."""

from __future__ import annotations

import json

import pytest

from pipeline.settings import Settings
from pipeline.tasks import airflow_settings

CONNECTION_ENV = "AIRFLOW_CONN_WIREDESK_ELASTICSEARCH"
AS_JSON = json.dumps({"conn_type": "generic", "host": "es.example.org", "port": 9243, "schema": "https",
                      "login": "wiredesk", "password": "s3cret", "extra": {"ca_certs": "/certs/ca.crt"}})
AS_URI = "generic://wiredesk:s3cret@es.example.org:9243/https?ca_certs=%2Fcerts%2Fca.crt"
FROM_CONNECTION = {"es_url": "https://es.example.org:9243", "es_username": "wiredesk", "es_password": "s3cret",
                   "es_ca_certs": "/certs/ca.crt"}
DEFAULTS = {name: Settings.model_fields[name].default for name in FROM_CONNECTION}


@pytest.fixture
def edge(monkeypatch):
    """A clean environment for the Elasticsearch settings; ``airflow_settings`` rebuilt per test."""
    for name in ("WIREDESK_ES_URL", "WIREDESK_ES_USERNAME", "WIREDESK_ES_PASSWORD", "WIREDESK_ES_CA_CERTS", CONNECTION_ENV):
        monkeypatch.delenv(name, raising=False)
    airflow_settings.cache_clear()
    yield monkeypatch
    airflow_settings.cache_clear()


def es_fields(settings: Settings) -> dict:
    return {name: getattr(settings, name) for name in FROM_CONNECTION}


@pytest.mark.parametrize("connection", [AS_JSON, AS_URI], ids=["json", "uri"])
def test_connection_gives_the_url_and_credentials(edge, connection):
    edge.setenv(CONNECTION_ENV, connection)
    assert es_fields(airflow_settings()) == FROM_CONNECTION


@pytest.mark.parametrize("connection", [AS_JSON, AS_URI], ids=["json", "uri"])
def test_explicit_es_url_wins_over_the_connection(edge, connection):
    edge.setenv(CONNECTION_ENV, connection)
    edge.setenv("WIREDESK_ES_URL", "http://127.0.0.1:9201")
    assert es_fields(airflow_settings()) == {**DEFAULTS, "es_url": "http://127.0.0.1:9201"}


def test_explicit_credential_wins_over_the_connection(edge):
    edge.setenv(CONNECTION_ENV, AS_JSON)
    edge.setenv("WIREDESK_ES_PASSWORD", "from-env")
    assert es_fields(airflow_settings()) == {**FROM_CONNECTION, "es_password": "from-env"}


def test_without_connection_or_env_the_defaults(edge):
    settings = airflow_settings()
    assert es_fields(settings) == DEFAULTS and settings.effective_es_url == settings.local_es_url


def test_host_holding_a_whole_url(edge):
    edge.setenv(CONNECTION_ENV, json.dumps({"conn_type": "generic", "host": "https://es.internal:443"}))
    assert airflow_settings().es_url == "https://es.internal:443"
