"""Per-host politeness: the concurrency limit and delay per host, and robots.txt (RFC 9309)."""

from __future__ import annotations

import logging
import threading
import time
import urllib.robotparser
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from pipeline.errors import PermanentError, Reason, RetryableError, WiredeskError
from pipeline.settings import Settings

LOGGER = logging.getLogger(__name__)

ROBOTS_TTL_SECONDS = 24 * 3600
ROBOTS_ERROR_TTL_SECONDS = 15 * 60  # an unreachable robots.txt is retried sooner
ROBOTS_MAX_BYTES = 512 * 1024


def host_key(url: str) -> str:
    """The politeness key of a URL: lower-case host and port."""
    parts = urlsplit(str(url))
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


@dataclass
class _HostState:
    semaphore: threading.BoundedSemaphore
    next_start: float = 0.0


class HostLimiter:
    """At most ``concurrency`` requests in flight per host, starts at least ``delay`` s apart."""

    def __init__(self, concurrency: int = 2, delay: float = 1.0, clock=time.monotonic, sleep=time.sleep):
        self.concurrency = max(1, int(concurrency))
        self.delay = max(0.0, float(delay))
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._hosts: dict[str, _HostState] = {}

    def _state(self, key: str) -> _HostState:
        with self._lock:
            state = self._hosts.get(key)
            if state is None:
                state = self._hosts[key] = _HostState(threading.BoundedSemaphore(self.concurrency))
            return state

    def _reserve_start(self, state: _HostState, delay: float) -> float:
        """Book the next start time for a host; returns how long this caller must wait."""
        with self._lock:
            now = self._clock()
            start = max(now, state.next_start)
            state.next_start = start + delay
            return start - now

    def defer(self, url: str, seconds: float) -> None:
        """Push back the next request to a host (a Retry-After or robots Crawl-delay)."""
        state = self._state(host_key(url))
        with self._lock:
            state.next_start = max(state.next_start, self._clock() + seconds)

    @contextmanager
    def slot(self, url: str, delay: float | None = None) -> Iterator[None]:
        """Hold one of the host's request slots, waiting for the minimum delay first."""
        state = self._state(host_key(url))
        state.semaphore.acquire()
        try:
            wait = self._reserve_start(state, self.delay if delay is None else max(self.delay, delay))
            if wait > 0:
                self._sleep(wait)
            yield
        finally:
            state.semaphore.release()


_LIMITERS: dict[tuple[int, float], HostLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def get_limiter(settings: Settings) -> HostLimiter:
    """The process-wide limiter for these settings, shared by every thread and stage."""
    key = (settings.per_host_concurrency, settings.per_host_delay)
    with _LIMITERS_LOCK:
        if key not in _LIMITERS:
            _LIMITERS[key] = HostLimiter(*key)
        return _LIMITERS[key]


@dataclass
class _Robots:
    parser: urllib.robotparser.RobotFileParser | None  # None: allow everything
    expires: float
    disallow_all: bool = False
    error: str = ""  # why robots.txt could not be read (shown in the feed's or item's error)


class RobotsCache:
    """robots.txt per scheme+host, fetched on first use and cached (thread-safe)."""

    def __init__(self, settings: Settings, client: httpx.Client | None = None, limiter: HostLimiter | None = None):
        self.settings = settings
        self.client = client
        self.limiter = limiter or get_limiter(settings)  # robots.txt takes the host's slot like any request
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}
        self._cache: dict[str, _Robots] = {}

    def _origin(self, url: str) -> str:
        parts = urlsplit(str(url))
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}"

    def _host_lock(self, origin: str) -> threading.Lock:
        with self._lock:
            return self._host_locks.setdefault(origin, threading.Lock())

    def _download(self, origin: str) -> _Robots:
        """Fetch and parse one robots.txt: 4xx allows all, 5xx or unreachable disallows (RFC 9309)."""
        from pipeline.fetch.hop import ROBOTS_ASK, build_client, fetch_url  # the hop module imports this one

        client = self.client or build_client(self.settings)
        robots_url = origin + "/robots.txt"
        try:
            answer = fetch_url(robots_url, self.settings, client, Politeness(self.limiter), ROBOTS_ASK)
        except WiredeskError as exc:
            LOGGER.info("robots.txt unreachable at %s: %s", robots_url, exc)
            return _Robots(None, time.monotonic() + ROBOTS_ERROR_TTL_SECONDS, disallow_all=True, error=repr(exc)[:300])
        finally:
            if self.client is None:
                client.close()
        now = time.monotonic()
        if answer.status >= 500 or answer.status == 429:
            return _Robots(None, now + ROBOTS_ERROR_TTL_SECONDS, disallow_all=True, error=f"HTTP {answer.status}")
        if answer.status >= 400:
            return _Robots(None, now + ROBOTS_TTL_SECONDS)
        parser = urllib.robotparser.RobotFileParser(robots_url)
        parser.parse(answer.body.decode("utf-8", "replace").splitlines())
        return _Robots(parser, now + ROBOTS_TTL_SECONDS)

    def _get(self, url: str) -> _Robots:
        origin = self._origin(url)
        with self._host_lock(origin):  # one download per host even when many threads ask at once
            entry = self._cache.get(origin)
            if entry is None or entry.expires < time.monotonic():
                entry = self._cache[origin] = self._download(origin)
            return entry

    def check(self, url: str) -> None:
        """Raise PermanentError(robots_disallowed), or RetryableError(robots_unreachable) while
        robots.txt cannot be read (RFC 9309: assume complete disallow, try again later)."""
        if not self.settings.respect_robots:
            return
        entry = self._get(url)
        if entry.disallow_all:
            raise RetryableError(f"robots.txt unreachable for {url}: {entry.error}", reason=Reason.ROBOTS_UNREACHABLE)
        if entry.parser is not None and not entry.parser.can_fetch(self.settings.user_agent, str(url)):
            raise PermanentError(f"robots.txt disallows {url}", reason=Reason.ROBOTS_DISALLOWED)

    def allowed(self, url: str) -> bool:
        """Whether our User-Agent may fetch ``url``."""
        if not self.settings.respect_robots:
            return True
        entry = self._get(url)
        if entry.disallow_all:
            return False
        return entry.parser is None or entry.parser.can_fetch(self.settings.user_agent, str(url))

    def crawl_delay(self, url: str) -> float | None:
        """The Crawl-delay robots.txt asks of us, if any."""
        if not self.settings.respect_robots:
            return None
        entry = self._get(url)
        if entry.parser is None:
            return None
        delay = entry.parser.crawl_delay(self.settings.user_agent)
        return float(delay) if delay is not None else None


_ROBOTS: dict[Settings, RobotsCache] = {}


def get_robots(settings: Settings) -> RobotsCache:
    """The process-wide robots.txt cache for these settings (shared by threads and stages)."""
    limiter = get_limiter(settings)
    with _LIMITERS_LOCK:
        if settings not in _ROBOTS:
            _ROBOTS[settings] = RobotsCache(settings, limiter=limiter)
        return _ROBOTS[settings]


@dataclass(frozen=True)
class Politeness:
    """Per-host limiter and robots.txt cache, shared by every download in the process."""

    limiter: HostLimiter
    robots: RobotsCache | None = None


def get_politeness(settings: Settings) -> Politeness:
    """The process-wide politeness for these settings: the limiter and robots cache every stage shares."""
    return Politeness(get_limiter(settings), get_robots(settings) if settings.respect_robots else None)
