"""Polite, bounded fetching of article pages.

:func:`fetch_page` GETs one page and returns a :class:`FetchedPage` with the decoded HTML, or raises
a ``RetryableError`` / ``PermanentError`` with a short reason code. Bounds on everything a remote
site controls:

- time: connect and read timeouts per hop, and a total budget over the whole redirect chain (time
  spent queueing for a host slot does not count);
- size: ``settings.max_bytes`` of *decoded* body, enforced while streaming, with our own bounded
  gzip/deflate/brotli decoding so a small compressed "bomb" never inflates in memory;
- redirects: followed by hand, at most ``settings.max_redirects``, and every hop passes the SSRF
  guard, robots.txt and the per-host politeness slot of :mod:`pipeline.http`; the connected peer is
  checked again (DNS rebinding: a name may resolve differently when httpx connects);
- retries: a few attempts on 429/5xx/timeouts, honouring Retry-After up to a cap; a longer
  Retry-After is raised at once (``retry_after`` set) so the task retries later instead of blocking.

Reason codes: timeout, connect_error, network_error, dns_error, http_429, http_408, http_5xx,
http_404, http_410, http_<4xx>, bad_redirect, too_many_redirects, too_large, not_html,
robots_disallowed, robots_unreachable, blocked_address, bad_scheme, bad_url, decode_error,
empty_body.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import httpx

from pipeline.errors import PermanentError, Reason, RetryableError, WiredeskError
from pipeline.http import (HostLimiter, RobotsCache, build_client, check_url, get_limiter, get_robots,
                           is_allowlisted, is_public_address, parse_retry_after)
from pipeline.settings import Settings

LOGGER = logging.getLogger(__name__)
DEFAULT_PORTS = {"http": 80, "https": 443}

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRYABLE_4XX = frozenset({408, 425, 429})
# Transient, but cached for minutes (robots.txt): retrying within this call cannot help.
NOT_RETRIED_HERE = frozenset({"robots_unreachable"})
# Headers worth keeping with the page (dates for freshness, language, caching validators).
KEPT_HEADERS = ("content-type", "content-length", "content-encoding", "content-language", "date",
                "last-modified", "etag", "cache-control", "x-robots-tag", "link")
# Only the encodings BoundedDecoder can decode with an output bound (httpx would also offer zstd).
REQUEST_HEADERS = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1", "Accept-Encoding": "gzip, deflate, br"}
SNIFF_BYTES = 1024
META_SCAN_BYTES = 8192  # the HTML spec prescans 1024 bytes; real pages put <meta charset> later
META_CHARSET_RE = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_:.+-]{1,40})", re.I)
XML_ENCODING_RE = re.compile(rb"^\s*<\?xml[^>]{0,100}?encoding\s*=\s*[\"']([A-Za-z0-9_:.+-]{1,40})", re.I)
HTML_SNIFF_RE = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|meta|p|div)[\s>/]", re.I)
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# WHATWG encoding rules: these labels mean windows-1252 on the web.
CHARSET_ALIASES = {"iso8859-1": "cp1252", "ascii": "cp1252"}


@dataclass(frozen=True)
class FetchedPage:
    """One fetched page: where it came from, what the server said, and its decoded HTML."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]  # the KEPT_HEADERS subset, lower-case names
    content_type: str  # media type without parameters
    encoding: str  # the codec used to decode ``raw``
    html: str
    raw: bytes  # decoded from Content-Encoding, not from the charset
    fetched_at: datetime  # UTC
    redirects: tuple[str, ...] = ()  # the URLs that redirected, in order
    attempts: int = 1


@dataclass(frozen=True)
class Politeness:
    """Per-host limiter and robots.txt cache, shared by every fetch in the process."""

    limiter: HostLimiter
    robots: RobotsCache | None = None


def get_politeness(settings: Settings) -> Politeness:
    """The process-wide politeness for these settings: the limiter and robots cache every stage shares."""
    return Politeness(get_limiter(settings), get_robots(settings) if settings.respect_robots else None)


def fetch_page(url: str, settings: Settings, client: httpx.Client | None = None,
               politeness: Politeness | None = None) -> FetchedPage:
    """GET an HTML page politely and within bounds; raises RetryableError or PermanentError."""
    politeness = politeness or get_politeness(settings)
    own_client = client is None
    client = client or build_client(settings)
    try:
        return fetch_with_retries(url, settings, client, politeness)
    finally:
        if own_client:
            client.close()


def fetch_with_retries(url: str, settings: Settings, client: httpx.Client, politeness: Politeness) -> FetchedPage:
    """Fetch with a few attempts on transient failures, waiting per Retry-After or backoff."""
    attempts = max(1, settings.fetch_attempts)
    for attempt in range(1, attempts + 1):
        try:
            return replace(fetch_once(url, settings, client, politeness), attempts=attempt)
        except RetryableError as exc:
            wait = retry_wait(exc, attempt, settings)
            if attempt >= attempts or wait is None:
                raise
            LOGGER.info("retrying %s in %.1fs after %s (attempt %d/%d)", url, wait, exc.reason, attempt, attempts)
            if exc.retry_after is not None:  # the site asked to slow down: other threads wait too
                politeness.limiter.defer(url, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")  # the loop either returns or raises


def retry_wait(exc: RetryableError, attempt: int, settings: Settings) -> float | None:
    """Seconds to wait before the next attempt, or None when retrying now is pointless or too long."""
    if exc.reason in NOT_RETRIED_HERE:
        return None
    if exc.retry_after is not None:
        return exc.retry_after if exc.retry_after <= settings.fetch_max_retry_wait else None
    return min(settings.fetch_backoff * 2 ** (attempt - 1), settings.fetch_max_retry_wait)


def fetch_once(url: str, settings: Settings, client: httpx.Client, politeness: Politeness) -> FetchedPage:
    """One attempt: follow redirects by hand (guard, robots, politeness per hop) and read the page."""
    budget, current, redirects = Budget(settings.total_timeout), str(url), []
    for _ in range(settings.max_redirects + 1):
        response, raw = request_hop(current, settings, client, politeness, budget)
        if response.status_code not in REDIRECT_STATUSES:
            return build_page(str(url), response, raw, tuple(redirects))
        redirects.append(current)
        current = redirect_target(response)
    raise PermanentError(f"more than {settings.max_redirects} redirects from {url}", reason="too_many_redirects")


def request_hop(url: str, settings: Settings, client: httpx.Client, politeness: Politeness,
                budget: Budget) -> tuple[httpx.Response, bytes]:
    """GET one URL without following redirects; returns the response and its decoded body."""
    with translate_errors(url):
        check_url(url, settings)
        delay = check_robots(url, politeness)
        with politeness.limiter.slot(url, delay), budget.running() as deadline, Watchdog(deadline) as watchdog:
            timeout = hop_timeout(settings, deadline)
            extensions = {"trace": watchdog.trace}
            with client.stream("GET", url, headers=REQUEST_HEADERS, timeout=timeout, follow_redirects=False,
                               extensions=extensions) as response:
                watchdog.watch(response.extensions.get("network_stream"))
                check_peer(response, settings)
                check_status(response)
                if response.status_code in REDIRECT_STATUSES:
                    return response, b""
                check_headers(response, settings)
                return response, read_body(response, settings.max_bytes, deadline)


class Budget:
    """Network time left for one attempt, across its redirect hops; waiting for a host slot is free."""

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
            raise RetryableError("total timeout: connection cut by the watchdog", reason="timeout") from exc


@contextlib.contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Map httpx exceptions to our error tree, and the guard's reason to ours."""
    try:
        yield
    except WiredeskError:
        raise
    except httpx.TimeoutException as exc:
        raise RetryableError(f"timeout fetching {url}: {exc!r}", reason="timeout") from exc
    except httpx.ConnectError as exc:
        raise RetryableError(f"cannot connect to {url}: {exc}", reason="connect_error") from exc
    except httpx.DecodingError as exc:
        raise PermanentError(f"undecodable body from {url}: {exc}", reason="decode_error") from exc
    except httpx.InvalidURL as exc:
        raise PermanentError(f"invalid URL {url!r}: {exc}", reason="bad_url") from exc
    except httpx.HTTPError as exc:  # resets, protocol errors, truncated bodies
        raise RetryableError(f"network error fetching {url}: {exc!r}", reason="network_error") from exc


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
        raise RetryableError(f"total timeout of {settings.total_timeout}s exceeded", reason="timeout")
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
        raise PermanentError(f"{response.url} connected to non-public address {peer[0]}", reason="blocked_address")


def check_status(response: httpx.Response) -> None:
    """Raise for any status that is neither success nor a usable redirect."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status in REDIRECT_STATUSES:
        if not response.headers.get("location", "").strip():
            raise PermanentError(f"HTTP {status} without Location from {response.url}", reason="bad_redirect")
        return
    message = f"HTTP {status} from {response.url}"
    if status in RETRYABLE_4XX:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise RetryableError(message, reason=Reason.for_status(status), retry_after=retry_after)
    if status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise RetryableError(message, reason="http_5xx", retry_after=retry_after)
    reason = "bad_redirect" if status < 400 else Reason.for_status(status)
    raise PermanentError(message, reason=reason)


def redirect_target(response: httpx.Response) -> str:
    """The absolute URL a redirect points to (relative Locations resolved, fragment dropped)."""
    location = response.headers["location"].strip()
    try:
        target = response.url.join(location).copy_with(fragment=None)
    except (httpx.InvalidURL, ValueError) as exc:
        raise PermanentError(f"bad redirect Location {location!r}", reason="bad_redirect") from exc
    return str(target)


def media_type(response: httpx.Response) -> str:
    """The Content-Type without parameters, lower-case ('' when absent)."""
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def check_headers(response: httpx.Response, settings: Settings) -> None:
    """Refuse non-HTML content types and declared lengths over the cap before reading the body."""
    kind = media_type(response)
    if kind and kind not in HTML_TYPES:
        raise PermanentError(f"content type {kind!r} is not HTML: {response.url}", reason="not_html")
    length = response.headers.get("content-length", "")
    # Content-Length counts encoded bytes; decoded size is checked again while streaming.
    if length.isdigit() and int(length) > settings.max_bytes:
        raise PermanentError(f"Content-Length {length} over {settings.max_bytes}", reason="too_large")


def read_body(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    """Stream the body, decoding Content-Encoding with bounded output, within size and deadline."""
    decoder = BoundedDecoder(response.headers.get("content-encoding", ""), max_bytes)
    chunks = []
    for chunk in response.iter_raw():
        chunks.append(decoder.decode(chunk))
        if time.monotonic() > deadline:
            raise RetryableError(f"total timeout exceeded reading {response.url}", reason="timeout")
    chunks.append(decoder.finish())
    return b"".join(chunks)


class BoundedDecoder:
    """gzip / deflate / br / identity decoding that refuses to produce more than ``limit`` bytes."""

    def __init__(self, content_encoding: str, limit: int):
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise PermanentError(f"stacked Content-Encoding {content_encoding!r}", reason="decode_error")
        self.coding = codings[0] if codings else ""
        if self.coding not in ("", "gzip", "x-gzip", "deflate", "br"):
            raise PermanentError(f"unsupported Content-Encoding {self.coding!r}", reason="decode_error")
        self.limit, self.produced, self.seen = limit, 0, False
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
        self.produced += len(out)
        if self.produced > self.limit:
            raise PermanentError(f"body larger than {self.limit} bytes", reason="too_large")
        return out

    def _decode_zlib(self, data: bytes, room: int) -> bytes:
        try:
            return self._zlib.decompress(data, room)  # stops at `room`: the rest stays compressed
        except zlib.error as exc:
            if self.coding == "deflate" and not self.seen:
                # Some servers send raw deflate without the zlib header: retry that way once.
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._decode_zlib(data, room)
            raise PermanentError(f"corrupt {self.coding} body: {exc}", reason="decode_error") from exc

    def _decode_brotli(self, data: bytes, room: int) -> bytes:
        import brotli

        try:
            out = self._brotli.process(data, output_buffer_limit=room)
            while len(out) < room and not self._brotli.can_accept_more_data():
                out += self._brotli.process(b"", output_buffer_limit=room - len(out))
        except brotli.error as exc:
            raise PermanentError(f"corrupt br body: {exc}", reason="decode_error") from exc
        return out

    def finish(self) -> bytes:
        """Flush the decoder; a compressed stream that stops mid-way is a decode_error."""
        if self._zlib is not None and self.seen:
            out = self._count(self._zlib.flush())
            if not self._zlib.eof:
                raise PermanentError(f"truncated {self.coding} body", reason="decode_error")
            return out
        if self._brotli is not None and self.seen and not self._brotli.is_finished():
            raise PermanentError("truncated br body", reason="decode_error")
        return b""


def build_page(url: str, response: httpx.Response, raw: bytes, redirects: tuple[str, ...]) -> FetchedPage:
    """Check and decode a final response into a FetchedPage."""
    if not raw.strip():
        raise PermanentError(f"empty body from {response.url}", reason="empty_body")
    kind = media_type(response)
    if not kind and not looks_like_html(raw):
        raise PermanentError(f"no Content-Type and not HTML: {response.url}", reason="not_html")
    if looks_binary(raw):
        raise PermanentError(f"binary body labelled {kind or 'nothing'}: {response.url}", reason="not_html")
    html, encoding = decode_html(raw, response.charset_encoding)
    if not html.strip():
        raise PermanentError(f"empty page from {response.url}", reason="empty_body")
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return FetchedPage(url=url, final_url=str(response.url), status=response.status_code, headers=headers,
                       content_type=kind or "text/html", encoding=encoding, html=html, raw=raw,
                       fetched_at=datetime.now(timezone.utc), redirects=redirects)


def looks_like_html(raw: bytes) -> bool:
    """Whether the start of a body looks like HTML markup (for responses without Content-Type)."""
    return bool(HTML_SNIFF_RE.search(raw[:SNIFF_BYTES]))


def looks_binary(raw: bytes) -> bool:
    """NUL bytes near the start mean an image or archive, unless the text is UTF-16/32 with a BOM."""
    head = raw[:SNIFF_BYTES]
    return b"\x00" in head and bom_charset(raw) is None


def bom_charset(raw: bytes) -> str | None:
    """The codec a byte-order mark announces, if the body starts with one."""
    for bom, codec in BOMS:
        if raw.startswith(bom):
            return codec
    return None


def declared_charsets(raw: bytes, header_charset: str | None) -> list[str]:
    """Charset labels in precedence order: BOM, HTTP header, <meta>, XML declaration."""
    head = raw[:META_SCAN_BYTES]
    labels = [bom_charset(raw), header_charset]
    for pattern in (META_CHARSET_RE, XML_ENCODING_RE):
        match = pattern.search(head)
        labels.append(match.group(1).decode("ascii") if match else None)
    return [label for label in labels if label]


def normalise_charset(label: str) -> str | None:
    """A Python codec name for a charset label, None when unknown."""
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except (LookupError, ValueError):
        return None
    return CHARSET_ALIASES.get(name, name)


def decode_html(raw: bytes, header_charset: str | None) -> tuple[str, str]:
    """Decode a page: declared charsets first (skipping ones that do not fit), then detection."""
    for label in declared_charsets(raw, header_charset):
        codec = normalise_charset(label)
        if codec is None:
            continue
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError:
            LOGGER.debug("declared charset %s does not fit the bytes; trying the next", codec)
    return detect_and_decode(raw)


def detect_and_decode(raw: bytes) -> tuple[str, str]:
    """Decode by UTF-8 if valid, else charset detection; PermanentError decode_error if hopeless."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise PermanentError("cannot determine the character encoding", reason="decode_error")
    return str(best), normalise_charset(best.encoding) or best.encoding
