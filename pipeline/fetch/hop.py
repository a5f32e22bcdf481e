"""The one download path of feeds, pages and robots.txt: polite, guarded, bounded.

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
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import httpx

from pipeline.errors import PermanentError, Reason, RetryableError, WiredeskError
from pipeline.fetch.guard import check_peer, check_url
from pipeline.fetch.politeness import ROBOTS_MAX_BYTES, Politeness
from pipeline.settings import Settings

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
RETRYABLE_4XX = frozenset({408, 425, 429})
MAX_URL_CHARS = 4000  # a redirect target longer than this is refused (URLs are stored as keyword terms)


# Only the encodings BoundedDecoder can decode with an output bound (httpx would also offer zstd).
ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate, br"}


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
