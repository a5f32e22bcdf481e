"""Polite, guarded HTTP: the one download path of feeds, pages and robots.txt.

:func:`fetch_url` GETs a URL, following redirects by hand; every hop (:func:`request_hop`) passes

- the SSRF guard :func:`check_url` (non-HTTP schemes and private, loopback, link-local, multicast,
  reserved and cloud-metadata addresses refused, also after DNS resolution), once per hop, and
  :func:`check_peer` on the address actually connected to (DNS rebinding);
- robots.txt (:class:`RobotsCache`, RFC 9309 semantics, itself downloaded through this path) and
  the per-host slot of :class:`HostLimiter` (concurrency limit and minimum delay between starts);
- a total time budget over the whole redirect chain (:class:`Budget`, time queueing for a host slot
  is free), enforced by :class:`Watchdog` against servers trickling bytes;
- bounded decompression and a size cap (:class:`BoundedDecoder`), so a small gzip "bomb" never
  inflates in memory.

httpx exceptions map to one set of reasons (:func:`translate_errors`) and HTTP statuses to one rule
(:func:`check_status`: 408/425/429/5xx retryable, other errors permanent). Callers say what they ask
with an :class:`Ask` (headers, a check before the body is read, the size rule) and get an
:class:`Answer` (final response, body, the redirect chain and any permanent move).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
import time
import urllib.robotparser
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from pipeline.errors import PermanentError, Reason, RetryableError, WiredeskError
from pipeline.settings import Settings

LOGGER = logging.getLogger(__name__)

ALLOWED_SCHEMES = ("http", "https")
# Metadata endpoints that are reachable on public-looking addresses in some clouds.
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"})
METADATA_ADDRESSES = frozenset({"169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"})
ROBOTS_TTL_SECONDS = 24 * 3600
ROBOTS_ERROR_TTL_SECONDS = 15 * 60  # an unreachable robots.txt is retried sooner
ROBOTS_MAX_BYTES = 512 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
RETRYABLE_4XX = frozenset({408, 425, 429})
MAX_URL_CHARS = 4000  # a redirect target longer than this is refused (URLs are stored as keyword terms)
# Only the encodings BoundedDecoder can decode with an output bound (httpx would also offer zstd).
ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate, br"}


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
        raise RetryableError(f"cannot resolve {host}: {exc}", reason=Reason.DNS_ERROR) from exc
    return sorted({info[4][0] for info in infos})


def is_allowlisted(host: str, port: int | None, settings: Settings) -> bool:
    """True when private addresses are allowed, globally or for this host:port."""
    return settings.allow_private_addresses or f"{host.lower()}:{port}" in settings.private_allowlist


def check_url(url: str, settings: Settings) -> None:
    """Raise PermanentError unless ``url`` is http(s) to a public host (SSRF guard)."""
    parts = urlsplit(str(url))
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise PermanentError(f"scheme not allowed: {url}", reason=Reason.BAD_SCHEME)
    host = (parts.hostname or "").lower()
    if not host:
        raise PermanentError(f"no host in URL: {url}", reason=Reason.BAD_URL)
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError as exc:
        raise PermanentError(f"bad port in URL: {url}", reason=Reason.BAD_URL) from exc
    if is_allowlisted(host, port, settings):
        return
    if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        raise PermanentError(f"address not allowed: {host}", reason=Reason.BLOCKED_ADDRESS)
    for address in resolve_host(host, port):
        if not is_public_address(address):
            raise PermanentError(f"{host} resolves to non-public address {address}", reason=Reason.BLOCKED_ADDRESS)


# -- client -------------------------------------------------------------------------------------


def build_timeout(settings: Settings) -> httpx.Timeout:
    """httpx timeouts from the settings (the total budget is enforced by callers' deadlines)."""
    return httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout, pool=settings.total_timeout)


def build_client(settings: Settings, **kwargs) -> httpx.Client:
    """An httpx client with our User-Agent and timeouts; requests go through :func:`fetch_url`, which
    follows redirects by hand so that every hop passes the guard."""
    return httpx.Client(
        headers={"User-Agent": settings.user_agent, **kwargs.pop("headers", {})},
        timeout=kwargs.pop("timeout", build_timeout(settings)),
        follow_redirects=False,
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


# -- the one download path ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """What a caller asks of a download besides the URL."""

    headers: Mapping[str, str] = field(default_factory=dict)  # Accept, conditional headers...
    # Refuses a final (non-redirect) answer before its body is read; None: every status is returned.
    judge: Callable[[httpx.Response, Settings], None] | None = None
    max_bytes: int | None = None  # decoded body cap; None: settings.max_bytes
    prefix: bool = False  # keep the first max_bytes and ignore the rest (robots.txt) instead of too_large


ROBOTS_ASK = Ask(max_bytes=ROBOTS_MAX_BYTES, prefix=True)


@dataclass(frozen=True)
class Redirect:
    """One redirect hop: who answered it, with which status, pointing where."""

    url: str
    status: int
    target: str


@dataclass(frozen=True)
class Answer:
    """The final answer of a download: its response (headers), decoded body and redirect chain."""

    response: httpx.Response
    body: bytes
    redirects: tuple[Redirect, ...] = ()

    @property
    def status(self) -> int:
        """The HTTP status of the final answer."""
        return self.response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The final answer's headers (case-insensitive)."""
        return self.response.headers

    @property
    def url(self) -> str:
        """The URL that gave the final answer (after redirects)."""
        return str(self.response.url)

    @property
    def moved_to(self) -> str | None:
        """Where the last permanent redirect (301/308) of the chain points, if there was one."""
        moves = [hop.target for hop in self.redirects if hop.status in PERMANENT_REDIRECTS]
        return moves[-1] if moves else None


def fetch_url(url: str, settings: Settings, client: httpx.Client, politeness: Politeness, ask: Ask = Ask()) -> Answer:
    """GET ``url`` following redirects by hand, every hop guarded, polite and within one time budget."""
    budget, current, redirects = Budget(settings.total_timeout), str(url), []
    for _ in range(settings.max_redirects + 1):
        response, body = request_hop(current, settings, client, politeness, budget, ask)
        if response.status_code not in REDIRECT_STATUSES:
            return Answer(response, body, tuple(redirects))
        target = redirect_target(response)
        redirects.append(Redirect(current, response.status_code, target))
        current = target
    raise PermanentError(f"more than {settings.max_redirects} redirects from {url}", reason=Reason.TOO_MANY_REDIRECTS)


def request_hop(url: str, settings: Settings, client: httpx.Client, politeness: Politeness, budget: Budget,
                ask: Ask) -> tuple[httpx.Response, bytes]:
    """GET one URL without following redirects; returns the response and its decoded body."""
    with translate_errors(url):
        check_url(url, settings)
        delay = check_robots(url, politeness)
        with politeness.limiter.slot(url, delay), budget.running() as deadline, Watchdog(deadline) as watchdog:
            headers, timeout = {**ACCEPT_ENCODING, **ask.headers}, hop_timeout(settings, deadline)
            with client.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=False,
                               extensions={"trace": watchdog.trace}) as response:
                watchdog.watch(response.extensions.get("network_stream"))
                check_peer(response, settings)
                if response.status_code in REDIRECT_STATUSES:
                    return response, b""
                if ask.judge is not None:
                    ask.judge(response, settings)
                return response, read_body(response, ask.max_bytes or settings.max_bytes, deadline, ask.prefix)


class Budget:
    """Network time left for one download, across its redirect hops; waiting for a host slot is free."""

    def __init__(self, seconds: float):
        self.left = seconds

    @contextlib.contextmanager
    def running(self) -> Iterator[float]:
        """Spend from the budget while the block runs; yields the monotonic deadline."""
        started = time.monotonic()
        try:
            yield started + self.left
        finally:
            self.left -= time.monotonic() - started


class Watchdog:
    """Cuts a request's connection when the budget runs out.

    httpx bounds each read, not the whole exchange: a server trickling one header byte per read
    timeout would hold a worker for hours. The trace extension hands us each new connection; on
    expiry its socket is shut down, which wakes the blocked read. A reused keep-alive connection is
    not seen by the trace, so it is watched from the moment its response headers have arrived.
    """

    def __init__(self, deadline: float):
        self.fired = False
        self._socket = None
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True

    def trace(self, event: str, info: dict) -> None:
        """httpcore trace callback: remember the socket of a newly opened connection."""
        if event == "connection.connect_tcp.complete":
            self.watch(info.get("return_value"))

    def watch(self, stream) -> None:
        """Watch the socket under an httpcore network stream (also a reused one, once headers are in)."""
        if self._socket is None and stream is not None:
            self._socket = stream.get_extra_info("socket")

    def _fire(self) -> None:
        self.fired = True
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._timer.cancel()
        # After a cut, a body without Content-Length just "ends": what was read is not the page.
        if self.fired and not (exc_type is not None and issubclass(exc_type, PermanentError)):
            raise RetryableError("total timeout: connection cut by the watchdog", reason=Reason.TIMEOUT) from exc


@contextlib.contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """The one map from httpx exceptions to our error tree (our own errors pass through)."""
    try:
        yield
    except WiredeskError:
        raise
    except httpx.TimeoutException as exc:
        raise RetryableError(f"timeout fetching {url}: {exc!r}", reason=Reason.TIMEOUT) from exc
    except httpx.ConnectError as exc:
        raise RetryableError(f"cannot connect to {url}: {exc}", reason=Reason.CONNECT_ERROR) from exc
    except httpx.DecodingError as exc:
        raise PermanentError(f"undecodable body from {url}: {exc}", reason=Reason.DECODE_ERROR) from exc
    except httpx.InvalidURL as exc:  # not an HTTPError: e.g. a Location header with a bad port
        raise PermanentError(f"invalid URL {url!r}: {exc}", reason=Reason.BAD_URL) from exc
    except httpx.HTTPError as exc:  # resets, protocol errors, truncated bodies
        raise RetryableError(f"network error fetching {url}: {exc!r}", reason=Reason.NETWORK_ERROR) from exc


def check_robots(url: str, politeness: Politeness) -> float | None:
    """Raise unless robots.txt allows ``url``; returns the site's Crawl-delay, if any."""
    robots = politeness.robots
    if robots is None:
        return None
    robots.check(url)  # robots_disallowed (permanent) or robots_unreachable (retryable, RFC 9309)
    return robots.crawl_delay(url)


def hop_timeout(settings: Settings, deadline: float) -> httpx.Timeout:
    """Per-hop httpx timeouts, never beyond what is left of the total deadline."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise RetryableError(f"total timeout of {settings.total_timeout}s exceeded", reason=Reason.TIMEOUT)
    return httpx.Timeout(min(settings.read_timeout, left), connect=min(settings.connect_timeout, left),
                         write=min(settings.read_timeout, left), pool=left)


def check_peer(response: httpx.Response, settings: Settings) -> None:
    """Refuse an answer from a non-public peer: DNS can change between the guard's lookup and connect.

    With a forward proxy the peer is the proxy; a private proxy then needs allow_private_addresses.
    """
    if is_allowlisted(response.url.host, response.url.port or DEFAULT_PORTS.get(response.url.scheme), settings):
        return
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and not is_public_address(str(peer[0])):
        raise PermanentError(f"{response.url} connected to non-public address {peer[0]}",
                             reason=Reason.BLOCKED_ADDRESS)


def check_status(status: int, headers: Mapping[str, str], url: str) -> None:
    """Raise for an answer that is neither success nor a redirect: 408/425/429/5xx retryable, others permanent."""
    if 200 <= status < 300 or status in REDIRECT_STATUSES:
        return
    message = f"HTTP {status} from {url}"
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status in RETRYABLE_4XX or status >= 500:
        raise RetryableError(message, reason=Reason.for_status(status), retry_after=retry_after)
    reason = Reason.BAD_REDIRECT if status < 400 else Reason.for_status(status)
    raise PermanentError(message, reason=reason, retry_after=retry_after)


def redirect_target(response: httpx.Response) -> str:
    """The absolute URL a redirect points to (relative Locations resolved, fragment dropped)."""
    location = response.headers.get("location", "").strip()
    if not location:
        raise PermanentError(f"HTTP {response.status_code} without Location from {response.url}",
                             reason=Reason.BAD_REDIRECT)
    try:
        target = str(response.url.join(location).copy_with(fragment=None))
    except (httpx.InvalidURL, ValueError) as exc:
        raise PermanentError(f"bad redirect Location {location!r}", reason=Reason.BAD_REDIRECT) from exc
    if len(target) > MAX_URL_CHARS:
        raise PermanentError(f"redirect target longer than {MAX_URL_CHARS} characters", reason=Reason.BAD_REDIRECT)
    return target


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


def read_body(response: httpx.Response, max_bytes: int, deadline: float, prefix: bool = False) -> bytes:
    """Stream the body, decoding Content-Encoding with bounded output, within size and deadline.

    Over ``max_bytes`` is ``too_large``, unless ``prefix``: then the first ``max_bytes`` are kept.
    """
    decoder = BoundedDecoder(response.headers.get("content-encoding", ""), max_bytes, truncate=prefix)
    chunks = []
    for chunk in response.iter_raw():
        chunks.append(decoder.decode(chunk))
        if time.monotonic() > deadline:
            raise RetryableError(f"total timeout exceeded reading {response.url}", reason=Reason.TIMEOUT)
        if decoder.full:
            return b"".join(chunks)
    chunks.append(decoder.finish())
    return b"".join(chunks)


class BoundedDecoder:
    """gzip / deflate / br / identity decoding that refuses to produce more than ``limit`` bytes.

    With ``truncate`` it stops at ``limit`` instead (``full`` turns true) and never inflates further.
    """

    def __init__(self, content_encoding: str, limit: int, truncate: bool = False):
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise PermanentError(f"stacked Content-Encoding {content_encoding!r}", reason=Reason.DECODE_ERROR)
        self.coding = codings[0] if codings else ""
        if self.coding not in ("", "gzip", "x-gzip", "deflate", "br"):
            raise PermanentError(f"unsupported Content-Encoding {self.coding!r}", reason=Reason.DECODE_ERROR)
        self.limit, self.produced, self.seen = limit, 0, False
        self.truncate, self.full = truncate, False
        self._zlib = self._new_zlib()
        self._brotli = self._new_brotli()

    def _new_zlib(self):
        if self.coding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj() if self.coding == "deflate" else None

    def _new_brotli(self):
        if self.coding != "br":
            return None
        import brotli  # only when a server actually sends br

        return brotli.Decompressor()

    def decode(self, data: bytes) -> bytes:
        """Decode one raw chunk; PermanentError too_large past the limit, decode_error if corrupt."""
        if not data:
            return b""
        room = self.limit - self.produced + 1  # one byte over the limit proves "too large"
        if self.coding == "":
            out = data
        elif self._zlib is not None:
            out = self._decode_zlib(data, room)
        else:
            out = self._decode_brotli(data, room)
        self.seen = True
        return self._count(out)

    def _count(self, out: bytes) -> bytes:
        room = self.limit - self.produced
        if len(out) > room:
            if not self.truncate:
                raise PermanentError(f"body larger than {self.limit} bytes", reason=Reason.TOO_LARGE)
            out, self.full = out[:room], True
        self.produced += len(out)
        return out

    def _decode_zlib(self, data: bytes, room: int) -> bytes:
        try:
            return self._zlib.decompress(data, room)  # stops at `room`: the rest stays compressed
        except zlib.error as exc:
            if self.coding == "deflate" and not self.seen:
                # Some servers send raw deflate without the zlib header: retry that way once.
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._decode_zlib(data, room)
            raise PermanentError(f"corrupt {self.coding} body: {exc}", reason=Reason.DECODE_ERROR) from exc

    def _decode_brotli(self, data: bytes, room: int) -> bytes:
        import brotli

        try:
            out = self._brotli.process(data, output_buffer_limit=room)
            while len(out) < room and not self._brotli.can_accept_more_data():
                out += self._brotli.process(b"", output_buffer_limit=room - len(out))
        except brotli.error as exc:
            raise PermanentError(f"corrupt br body: {exc}", reason=Reason.DECODE_ERROR) from exc
        return out

    def finish(self) -> bytes:
        """Flush the decoder; a compressed stream that stops mid-way is a decode_error."""
        if self._zlib is not None and self.seen:
            out = self._count(self._zlib.flush())
            if not self._zlib.eof:
                raise PermanentError(f"truncated {self.coding} body", reason=Reason.DECODE_ERROR)
            return out
        if self._brotli is not None and self.seen and not self._brotli.is_finished():
            raise PermanentError("truncated br body", reason=Reason.DECODE_ERROR)
        return b""
