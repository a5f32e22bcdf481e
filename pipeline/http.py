"""Polite, guarded HTTP shared by the feed poller and the article fetcher.

Four pieces, each usable on its own and safe across threads:

- :func:`build_client` an ``httpx.Client`` with the configured User-Agent, timeouts and redirect cap,
  whose every request (redirect hops included) passes the SSRF guard;
- :func:`check_url` the SSRF guard: refuses non-HTTP schemes and private, loopback, link-local,
  multicast, reserved and cloud-metadata addresses, also after DNS resolution;
- :class:`HostLimiter` a per-host concurrency limit plus a minimum delay between request starts;
- :class:`RobotsCache` robots.txt fetched once per host, cached, honoured (RFC 9309 semantics).

:func:`polite_get` puts them together: guard, robots, host slot, bounded body.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
import urllib.robotparser
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from pipeline.errors import PermanentError, Reason, RetryableError
from pipeline.settings import Settings

LOGGER = logging.getLogger(__name__)

ALLOWED_SCHEMES = ("http", "https")
# Metadata endpoints that are reachable on public-looking addresses in some clouds.
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"})
METADATA_ADDRESSES = frozenset({"169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"})
ROBOTS_TTL_SECONDS = 24 * 3600
ROBOTS_ERROR_TTL_SECONDS = 15 * 60  # an unreachable robots.txt is retried sooner
ROBOTS_MAX_BYTES = 512 * 1024
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


# -- SSRF guard ---------------------------------------------------------------------------------


def is_public_address(address: str) -> bool:
    """True when an IP address is globally routable and not a known metadata endpoint."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if str(ip) in METADATA_ADDRESSES:
        return False
    return ip.is_global and not ip.is_multicast


def resolve_host(host: str, port: int) -> list[str]:
    """Every address a host name resolves to (an IP literal resolves to itself)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RetryableError(f"cannot resolve {host}: {exc}", reason="dns_error") from exc
    return sorted({info[4][0] for info in infos})


def is_allowlisted(host: str, port: int | None, settings: Settings) -> bool:
    """True when private addresses are allowed, globally or for this host:port."""
    return settings.allow_private_addresses or f"{host.lower()}:{port}" in settings.private_allowlist


def check_url(url: str, settings: Settings) -> None:
    """Raise PermanentError unless ``url`` is http(s) to a public host (SSRF guard)."""
    parts = urlsplit(str(url))
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise PermanentError(f"scheme not allowed: {url}", reason="bad_scheme")
    host = (parts.hostname or "").lower()
    if not host:
        raise PermanentError(f"no host in URL: {url}", reason="bad_url")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError as exc:
        raise PermanentError(f"bad port in URL: {url}", reason="bad_url") from exc
    if is_allowlisted(host, port, settings):
        return
    if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        raise PermanentError(f"address not allowed: {host}", reason="blocked_address")
    for address in resolve_host(host, port):
        if not is_public_address(address):
            raise PermanentError(f"{host} resolves to non-public address {address}", reason="blocked_address")


# -- client -------------------------------------------------------------------------------------


def build_timeout(settings: Settings) -> httpx.Timeout:
    """httpx timeouts from the settings (the total budget is enforced by callers' deadlines)."""
    return httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout, pool=settings.total_timeout)


def build_client(settings: Settings, *, follow_redirects: bool = False, **kwargs) -> httpx.Client:
    """An httpx client with our User-Agent and timeouts; every request passes :func:`check_url`."""

    def guard(request: httpx.Request) -> None:
        check_url(str(request.url), settings)

    hooks = kwargs.pop("event_hooks", {})
    hooks = {**hooks, "request": [guard, *hooks.get("request", [])]}
    return httpx.Client(
        headers={"User-Agent": settings.user_agent, **kwargs.pop("headers", {})},
        timeout=kwargs.pop("timeout", build_timeout(settings)),
        follow_redirects=follow_redirects,
        max_redirects=settings.max_redirects,
        event_hooks=hooks,
        limits=kwargs.pop("limits", httpx.Limits(max_connections=100, max_keepalive_connections=20)),
        **kwargs,
    )


# -- per-host politeness ------------------------------------------------------------------------


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


# -- robots.txt ---------------------------------------------------------------------------------


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
        self.limiter = limiter
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
        client = self.client or build_client(self.settings)
        robots_url = origin + "/robots.txt"
        try:
            with client.stream("GET", robots_url, follow_redirects=True) as response:
                content = read_prefix(response, ROBOTS_MAX_BYTES, time.monotonic() + self.settings.total_timeout)
        except (httpx.HTTPError, httpx.InvalidURL, RetryableError, PermanentError) as exc:
            LOGGER.info("robots.txt unreachable at %s: %s", robots_url, exc)
            return _Robots(None, time.monotonic() + ROBOTS_ERROR_TTL_SECONDS, disallow_all=True, error=repr(exc)[:300])
        finally:
            if self.client is None:
                client.close()
        now = time.monotonic()
        if response.status_code >= 500 or response.status_code == 429:
            return _Robots(None, now + ROBOTS_ERROR_TTL_SECONDS, disallow_all=True, error=f"HTTP {response.status_code}")
        if response.status_code >= 400:
            return _Robots(None, now + ROBOTS_TTL_SECONDS)
        parser = urllib.robotparser.RobotFileParser(robots_url)
        parser.parse(content.decode("utf-8", "replace").splitlines())
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
            raise RetryableError(f"robots.txt unreachable for {url}: {entry.error}", reason="robots_unreachable")
        if entry.parser is not None and not entry.parser.can_fetch(self.settings.user_agent, str(url)):
            raise PermanentError(f"robots.txt disallows {url}", reason="robots_disallowed")

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


# -- all together -------------------------------------------------------------------------------


def read_prefix(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    """At most the first ``max_bytes`` of a streamed body (robots.txt: the rest is ignored, RFC 9309)."""
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= max_bytes or time.monotonic() > deadline:
            break
    return b"".join(chunks)[:max_bytes]


def read_limited(response: httpx.Response, max_bytes: int, deadline: float | None = None) -> bytes:
    """Read a streamed body, refusing more than ``max_bytes`` or reading past ``deadline``."""
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise PermanentError(f"body larger than {max_bytes} bytes", reason="too_large")
        if deadline is not None and time.monotonic() > deadline:
            # httpx's read timeout is per chunk; a server dripping bytes must not hold us forever
            raise RetryableError(f"total timeout reading {response.url}", reason="timeout")
        chunks.append(chunk)
    return b"".join(chunks)


def raise_for_transient(response: httpx.Response) -> None:
    """Raise RetryableError for 429/5xx, carrying Retry-After seconds when given."""
    if response.status_code in RETRYABLE_STATUSES or response.status_code >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise RetryableError(f"HTTP {response.status_code} from {response.url}",
                             reason=Reason.for_status(response.status_code), retry_after=retry_after)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def polite_get(
    client: httpx.Client,
    url: str,
    settings: Settings,
    *,
    headers: dict | None = None,
    limiter: HostLimiter | None = None,
    robots: RobotsCache | None = None,
) -> tuple[httpx.Response, bytes]:
    """GET ``url`` politely: SSRF guard, robots.txt, per-host slot, size cap.

    Returns the response (not followed through redirects unless the client does) and its body.
    Raises PermanentError (blocked, robots_disallowed, too_large) or RetryableError (timeouts,
    connection errors). HTTP error statuses are returned for the caller to judge.
    """
    check_url(url, settings)
    limiter = limiter or get_limiter(settings)
    if robots is not None:
        robots.check(url)
    delay = robots.crawl_delay(url) if robots is not None else None
    with limiter.slot(url, delay):
        deadline = time.monotonic() + settings.total_timeout
        try:
            with client.stream("GET", url, headers=headers or {}) as response:
                body = read_limited(response, settings.max_bytes, deadline)
        except httpx.TimeoutException as exc:
            raise RetryableError(f"timeout fetching {url}: {exc!r}", reason="timeout") from exc
        except httpx.InvalidURL as exc:  # not an HTTPError: e.g. a Location header with a bad port
            raise PermanentError(f"invalid URL {url}: {exc}", reason="bad_url") from exc
        except httpx.TooManyRedirects as exc:
            raise PermanentError(f"too many redirects from {url}", reason="too_many_redirects") from exc
        except httpx.HTTPError as exc:
            raise RetryableError(f"error fetching {url}: {exc!r}", reason="connect_error") from exc
    return response, body
