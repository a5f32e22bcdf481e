"""docker-compose.yaml keeps the production shape (no Docker engine here: the structure is checked)."""

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker"]
LONG_RUNNING = AIRFLOW_SERVICES + ["postgres", "redis", "elasticsearch"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


def pinned_airflow_version() -> str:
    match = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.lock").read_text(), re.M)
    return match.group(1)


@pytest.mark.parametrize("service", LONG_RUNNING + ["airflow-init"])
def test_service_exists(compose, service):
    assert service in compose["services"]


@pytest.mark.parametrize("service", LONG_RUNNING)
def test_service_has_healthcheck(compose, service):
    assert compose["services"][service].get("healthcheck", {}).get("test")


def test_images_are_pinned(compose):
    for name, service in compose["services"].items():
        image = service.get("image")
        assert image, f"{name} has no image"
        tag = image.rpartition(":")[2]
        assert ":" in image and tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"


def test_airflow_image_matches_pinned_version(compose):
    version = pinned_airflow_version()
    assert f"FROM apache/airflow:{version}-" in (REPO / "Dockerfile").read_text()
    assert compose["services"]["airflow-scheduler"]["image"].endswith(f":{version}")


def test_celery_executor_and_shared_jwt_secret(compose):
    env = compose["services"]["airflow-worker"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "${AIRFLOW_JWT_SECRET}"
    assert compose["services"]["airflow-apiserver"]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] == env[
        "AIRFLOW__API_AUTH__JWT_SECRET"]


def test_elasticsearch_security_enabled_with_secret_from_env(compose):
    es = compose["services"]["elasticsearch"]
    assert es["environment"]["xpack.security.enabled"] == "true"
    assert es["environment"]["ELASTIC_PASSWORD"] == "${ELASTIC_PASSWORD}"


def test_env_example_committed_and_env_ignored():
    assert (REPO / ".env.example").exists()
    assert ".env" in (REPO / ".gitignore").read_text().split()
    for key in ("AIRFLOW_JWT_SECRET", "ELASTIC_PASSWORD", "POSTGRES_PASSWORD"):
        assert re.search(rf"^{key}=", (REPO / ".env.example").read_text(), re.M)
