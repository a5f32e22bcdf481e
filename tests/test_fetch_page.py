"""fetch_page against a real HTTP server on 127.0.0.1: success paths and every failure class."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import brotli
import pytest
from test_fetch_server import Reply, site  # noqa: F401 (the fixture)

from pipeline.errors import PermanentError, RetryableError
from pipeline.fetch.page import FetchedPage, fetch_page
from pipeline.fetch.politeness import HostLimiter, Politeness, RobotsCache
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

HTML = "<!doctype html><html><head><title>Café</title></head><body><p>Grüße aus Köln</p></body></html>"
HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture
def fetch_settings(tmp_path) -> Settings:
    """Loopback allowed, no per-host delay, short timeouts and waits so failures are quick."""
    return Settings(data_dir=tmp_path, allow_private_addresses=True, per_host_delay=0.0,
                    connect_timeout=1.0, read_timeout=0.5, total_timeout=2.0, max_bytes=64 * 1024,
                    fetch_attempts=3, fetch_backoff=0.01, fetch_max_retry_wait=2.0)


def fetch(url: str, settings: Settings, **changes) -> FetchedPage:
    """fetch_page with a fresh robots cache and limiter (no state shared between tests)."""
    settings = settings.model_copy(update=changes)
    politeness = Politeness(HostLimiter(settings.per_host_concurrency, settings.per_host_delay), RobotsCache(settings))
    return fetch_page(url, settings, politeness=politeness)


def failure(url: str, settings: Settings, **changes) -> PermanentError | RetryableError:
    """The error fetch_page raises for ``url`` (fails the test when it succeeds)."""
    with pytest.raises((PermanentError, RetryableError)) as info:
        fetch(url, settings, **changes)
    return info.value


# -- success ------------------------------------------------------------------------------------


def test_fetches_html_page(site, fetch_settings):
    url = site.add("/a", body=HTML, headers={**HTML_TYPE, "Last-Modified": "Wed, 25 Nov 2026 10:00:00 GMT"})
    page = fetch(url, fetch_settings)
    assert (page.url, page.final_url, page.status, page.content_type) == (url, url, 200, "text/html")
    assert page.html == HTML and page.raw == HTML.encode() and page.encoding == "utf-8"
    assert page.headers["last-modified"].startswith("Wed")
    assert page.fetched_at.utcoffset().total_seconds() == 0
    assert page.attempts == 1 and page.redirects == ()


def test_sends_user_agent_and_accept(site, fetch_settings):
    fetch(site.add("/a", body=HTML, headers=HTML_TYPE), fetch_settings)
    headers = dict(site.requests)["/a"]
    assert headers["user-agent"] == fetch_settings.user_agent
    assert "text/html" in headers["accept"] and "zstd" not in headers["accept-encoding"]


@pytest.mark.parametrize("coding, compress", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, no zlib header
    ("br", brotli.compress),
])
def test_decodes_content_encoding(site, fetch_settings, coding, compress):
    body = compress((HTML * 50).encode())
    url = site.add("/z", body=body, headers={**HTML_TYPE, "Content-Encoding": coding})
    assert fetch(url, fetch_settings).html == HTML * 50


@pytest.mark.parametrize("content_type", ["application/xhtml+xml", "TEXT/HTML; charset=UTF-8", ""])
def test_accepts_html_content_types(site, fetch_settings, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    assert fetch(site.add("/x", body=HTML, headers=headers), fetch_settings).html == HTML


def test_follows_redirects_to_final_url(site, fetch_settings):
    site.add("/old", status=301, headers={"Location": "/mid#frag"})
    site.add("/mid", status=302, headers={"Location": site.url("/new")})
    site.add("/new", body=HTML, headers=HTML_TYPE)
    page = fetch(site.url("/old"), fetch_settings)
    assert page.final_url == site.url("/new")
    assert page.redirects == (site.url("/old"), site.url("/mid"))


def test_body_without_content_length_is_read_to_close(site, fetch_settings):
    url = site.add("/stream", body=HTML, headers=HTML_TYPE, content_length=False)
    assert fetch(url, fetch_settings).html == HTML


# -- retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [
    Reply(503, "busy"),
    Reply(500, "oops"),
    Reply(429, "slow down", {"Retry-After": "0"}),
    Reply(200, HTML, HTML_TYPE, delay=1.0),  # read timeout on the first try
])
def test_retries_transient_failure_then_succeeds(site, fetch_settings, first):
    url = site.add("/r", [first, Reply(200, HTML, HTML_TYPE)])
    page = fetch(url, fetch_settings)
    assert page.html == HTML and page.attempts == 2


def test_retry_after_is_honoured(site, fetch_settings):
    url = site.add("/r", [Reply(429, "", {"Retry-After": "1"}), Reply(200, HTML, HTML_TYPE)])
    started = time.monotonic()
    assert fetch(url, fetch_settings).attempts == 2
    assert time.monotonic() - started >= 0.95


def test_retry_after_holds_back_other_requests_to_the_host(site, fetch_settings):
    site.add("/r", [Reply(429, "", {"Retry-After": "1"}), Reply(200, HTML, HTML_TYPE)])
    site.add("/other", body=HTML, headers=HTML_TYPE)
    politeness = Politeness(HostLimiter(2, 0.0), None)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(fetch_page, site.url("/r"), fetch_settings, None, politeness)
        while site.hits("/r") == 0:
            time.sleep(0.01)
        time.sleep(0.2)  # let the 429 arrive
        fetch_page(site.url("/other"), fetch_settings, politeness=politeness)
        assert time.monotonic() - started >= 0.95
        assert first.result().attempts == 2


def test_long_retry_after_is_raised_not_slept(site, fetch_settings):
    url = site.add("/r", status=429, headers={"Retry-After": "3600"})
    started = time.monotonic()
    error = failure(url, fetch_settings)
    assert isinstance(error, RetryableError) and error.reason == "http_429" and error.retry_after == 3600
    assert site.hits("/r") == 1 and time.monotonic() - started < 1


def test_attempts_are_bounded(site, fetch_settings):
    url = site.add("/down", status=503, body="down")
    error = failure(url, fetch_settings)
    assert isinstance(error, RetryableError) and error.reason == "http_5xx"
    assert site.hits("/down") == fetch_settings.fetch_attempts


# -- failure classes ----------------------------------------------------------------------------


def drip(handler) -> None:
    """Send headers, then a byte every 0.3 s: each read is in time, the whole is too slow."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.end_headers()
    for _ in range(30):
        handler.wfile.write(b"<p>x</p>")
        handler.wfile.flush()
        time.sleep(0.3)


def drip_headers(handler) -> None:
    """A status line, then a header line every 0.3 s, never ending the headers."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
    for n in range(40):
        handler.wfile.write(b"X-Slow-%d: y\r\n" % n)
        handler.wfile.flush()
        time.sleep(0.3)


def cut_short(handler) -> None:
    """Promise 1000 bytes, send 10, close."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.write(b"<html><p>x")


BOMB = 10 * 1024 * 1024  # decoded size of the compressed bombs below (far over the 64 KB cap)

FAILURES = [
    # (name, route, settings changes, error class, reason)
    ("read timeout", Reply(200, HTML, HTML_TYPE, delay=1.5), {}, RetryableError, "timeout"),
    ("total timeout", drip, {"total_timeout": 1.0}, RetryableError, "timeout"),
    ("trickled headers", drip_headers, {"total_timeout": 1.0}, RetryableError, "timeout"),
    ("429", Reply(429, "slow down"), {}, RetryableError, "http_429"),
    ("500", Reply(500, "oops"), {}, RetryableError, "http_5xx"),
    ("502", Reply(502, "bad gateway"), {}, RetryableError, "http_5xx"),
    ("cut mid-body", cut_short, {}, RetryableError, "network_error"),
    ("404", Reply(404, "gone"), {}, PermanentError, "http_404"),
    ("410", Reply(410, "gone"), {}, PermanentError, "http_410"),
    ("403", Reply(403, "no"), {}, PermanentError, "http_403"),
    ("declared too large", Reply(200, "x", {"Content-Type": "text/html", "Content-Length": "99999999"}),
     {}, PermanentError, "too_large"),
    ("streamed too large", Reply(200, b"<p>" * 40000, {"Content-Type": "text/html"}, content_length=False),
     {}, PermanentError, "too_large"),
    ("gzip bomb", Reply(200, gzip.compress(b" " * BOMB), {"Content-Type": "text/html", "Content-Encoding": "gzip"}),
     {}, PermanentError, "too_large"),
    ("brotli bomb", Reply(200, brotli.compress(b" " * BOMB), {"Content-Type": "text/html", "Content-Encoding": "br"}),
     {}, PermanentError, "too_large"),
    ("pdf", Reply(200, b"%PDF-1.4", {"Content-Type": "application/pdf"}), {}, PermanentError, "not_html"),
    ("json", Reply(200, b"{}", {"Content-Type": "application/json"}), {}, PermanentError, "not_html"),
    ("untyped binary", Reply(200, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), {}, PermanentError, "not_html"),
    ("binary labelled html", Reply(200, b"GIF89a\x00\x00\x01\x00<html>", {"Content-Type": "text/html"}),
     {}, PermanentError, "not_html"),
    ("corrupt gzip", Reply(200, b"not gzip at all", {"Content-Type": "text/html", "Content-Encoding": "gzip"}),
     {}, PermanentError, "decode_error"),
    ("truncated gzip", Reply(200, gzip.compress(HTML.encode() * 20)[:60],
                             {"Content-Type": "text/html", "Content-Encoding": "gzip"}), {}, PermanentError, "decode_error"),
    ("unknown encoding", Reply(200, b"xx", {"Content-Type": "text/html", "Content-Encoding": "compress"}),
     {}, PermanentError, "decode_error"),
    ("empty body", Reply(200, b"", {"Content-Type": "text/html"}), {}, PermanentError, "empty_body"),
    ("blank body", Reply(200, b" \n\t ", {"Content-Type": "text/html"}), {}, PermanentError, "empty_body"),
    ("204", Reply(204), {}, PermanentError, "empty_body"),
    ("redirect without Location", Reply(302), {}, PermanentError, "bad_redirect"),
    ("300 multiple choices", Reply(300, "pick"), {}, PermanentError, "bad_redirect"),
]


@pytest.mark.parametrize("name, route, changes, kind, reason", FAILURES, ids=[f[0] for f in FAILURES])
def test_failure_maps_to_reason(site, fetch_settings, name, route, changes, kind, reason):
    url = site.add("/f", route)
    error = failure(url, fetch_settings, fetch_attempts=1, **changes)
    assert (type(error), error.reason) == (kind, reason), str(error)


@pytest.mark.parametrize("status", [404, 410, 403, 400])
def test_permanent_statuses_are_not_retried(site, fetch_settings, status):
    url = site.add("/p", status=status, body="no")
    assert isinstance(failure(url, fetch_settings), PermanentError)
    assert site.hits("/p") == 1


def test_connect_error_on_closed_port(fetch_settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = failure(f"http://127.0.0.1:{port}/", fetch_settings, fetch_attempts=1, respect_robots=False)
    assert (type(error), error.reason) == (RetryableError, "connect_error")


def test_too_many_redirects(site, fetch_settings):
    for n in range(10):
        site.add(f"/hop{n}", status=302, headers={"Location": f"/hop{n + 1}"})
    error = failure(site.url("/hop0"), fetch_settings, max_redirects=3)
    assert (type(error), error.reason) == (PermanentError, "too_many_redirects")
    assert site.hits("/hop3") == 1 and site.hits("/hop4") == 0


def test_redirect_loop_is_bounded(site, fetch_settings):
    url = site.add("/loop", status=301, headers={"Location": "/loop"})
    assert failure(url, fetch_settings).reason == "too_many_redirects"
    assert site.hits("/loop") == fetch_settings.max_redirects + 1


@pytest.mark.parametrize("url, reason", [
    ("ftp://127.0.0.1/file.html", "bad_scheme"),
    ("file:///etc/passwd", "bad_scheme"),
    ("http:///no-host", "bad_url"),
])
def test_bad_urls_are_permanent(fetch_settings, url, reason):
    error = failure(url, fetch_settings)
    assert (type(error), error.reason) == (PermanentError, reason)


def test_redirect_to_bad_scheme_is_refused(site, fetch_settings):
    url = site.add("/r", status=302, headers={"Location": "file:///etc/passwd"})
    assert failure(url, fetch_settings).reason == "bad_scheme"


# -- robots.txt and politeness ------------------------------------------------------------------

ROBOTS = "User-agent: *\nDisallow: /private\n"


def test_robots_disallowed(site, fetch_settings):
    site.add("/robots.txt", body=ROBOTS, headers={"Content-Type": "text/plain"})
    url = site.add("/private/story", body=HTML, headers=HTML_TYPE)
    error = failure(url, fetch_settings)
    assert (type(error), error.reason) == (PermanentError, "robots_disallowed")
    assert site.hits("/private/story") == 0


def test_robots_allows_other_paths_and_is_fetched_once(site, fetch_settings):
    site.add("/robots.txt", body=ROBOTS, headers={"Content-Type": "text/plain"})
    site.add("/public", body=HTML, headers=HTML_TYPE)
    politeness = Politeness(HostLimiter(2, 0.0), RobotsCache(fetch_settings))
    for _ in range(3):
        fetch_page(site.url("/public"), fetch_settings, politeness=politeness)
    assert site.hits("/robots.txt") == 1 and site.hits("/public") == 3


def test_redirect_into_disallowed_path_is_refused(site, fetch_settings):
    site.add("/robots.txt", body=ROBOTS, headers={"Content-Type": "text/plain"})
    url = site.add("/go", status=302, headers={"Location": "/private/x"})
    assert failure(url, fetch_settings).reason == "robots_disallowed"


def test_robots_ignored_when_configured(site, fetch_settings):
    site.add("/robots.txt", body=ROBOTS, headers={"Content-Type": "text/plain"})
    url = site.add("/private/story", body=HTML, headers=HTML_TYPE)
    politeness = Politeness(HostLimiter(2, 0.0), None)
    assert fetch_page(url, fetch_settings, politeness=politeness).html == HTML


def test_unreachable_robots_is_retryable(site, fetch_settings):
    site.add("/robots.txt", status=503, body="busy")
    url = site.add("/story", body=HTML, headers=HTML_TYPE)
    error = failure(url, fetch_settings)
    assert (type(error), error.reason) == (RetryableError, "robots_unreachable")
    assert site.hits("/story") == 0
    assert site.hits("/robots.txt") == 1  # not retried in-process: the verdict is cached for minutes


def test_per_host_delay_spaces_requests(site, fetch_settings):
    site.add("/a", body=HTML, headers=HTML_TYPE)
    politeness = Politeness(HostLimiter(1, 0.4), None)
    started = time.monotonic()
    for _ in range(3):
        fetch_page(site.url("/a"), fetch_settings, politeness=politeness)
    assert time.monotonic() - started >= 0.75  # three starts, two gaps of 0.4 s


def test_robots_txt_download_takes_the_host_slot(site, fetch_settings):
    starts = {}

    def timed(path: str, reply: Reply):
        def route(handler) -> None:
            starts[path] = time.monotonic()
            reply.send(handler)
        return route

    site.add("/robots.txt", timed("/robots.txt", Reply(200, "User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"})))
    site.add("/a", timed("/a", Reply(200, HTML, HTML_TYPE)))
    limiter = HostLimiter(1, 0.5)
    politeness = Politeness(limiter, RobotsCache(fetch_settings, limiter=limiter))
    assert fetch_page(site.url("/a"), fetch_settings, politeness=politeness).html == HTML
    assert starts["/a"] - starts["/robots.txt"] >= 0.45  # robots.txt is a request to the host like any other


def test_waiting_for_a_host_slot_does_not_use_the_time_budget(site, fetch_settings):
    site.add("/a", body=HTML, headers=HTML_TYPE)
    politeness = Politeness(HostLimiter(1, 0.9), None)
    settings = fetch_settings.model_copy(update={"total_timeout": 0.5, "fetch_attempts": 1})
    for _ in range(2):  # the second call queues 0.9 s for its slot, longer than the whole budget
        assert fetch_page(site.url("/a"), settings, politeness=politeness).html == HTML


def test_host_concurrency_limit_holds_across_threads(site, fetch_settings):
    active, peak, lock = [0], [0], threading.Lock()

    def slow(handler) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.15)
        with lock:
            active[0] -= 1
        Reply(200, HTML, HTML_TYPE).send(handler)

    site.add("/slow", slow)
    politeness = Politeness(HostLimiter(2, 0.0), None)
    with ThreadPoolExecutor(max_workers=6) as pool:
        pages = list(pool.map(lambda _: fetch_page(site.url("/slow"), fetch_settings, politeness=politeness), range(6)))
    assert all(page.html == HTML for page in pages) and peak[0] == 2


@pytest.mark.parametrize("route", [drip, drip_headers])
def test_total_timeout_bounds_trickling_servers(site, fetch_settings, route):
    url = site.add("/slow", route)
    started = time.monotonic()
    assert failure(url, fetch_settings, total_timeout=1.0, fetch_attempts=1).reason == "timeout"
    assert time.monotonic() - started < 4.0  # the server would trickle for 9-12 s
