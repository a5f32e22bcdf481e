# Wiredesk inside the official Airflow image: the same pinned packages as every other install path.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root requirements.lock pyproject.toml README.md /opt/wiredesk/
COPY --chown=airflow:root pipeline /opt/wiredesk/pipeline
COPY --chown=airflow:root config /opt/wiredesk/config
# Airflow itself is already in the image at the pinned version; install everything else from the lock.
RUN grep -v -E '^(apache-airflow|apache-airflow-core|apache-airflow-task-sdk)==' /opt/wiredesk/requirements.lock \
      > /tmp/requirements.txt \
 && pip install --no-cache-dir "apache-airflow==3.3.2" -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps /opt/wiredesk
