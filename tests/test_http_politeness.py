"""Unit tests of the one download path: SSRF guard, host limiter, robots, Retry-After, fetch_url."""

from __future__ import annotations

import gzip
import threading
import time

import httpx
import pytest

from pipeline.errors import PermanentError, RetryableError
from pipeline.fetch.guard import check_url
from pipeline.fetch.hop import ROBOTS_ASK, Ask, build_client, check_status, fetch_url, parse_retry_after
from pipeline.fetch.politeness import ROBOTS_MAX_BYTES, HostLimiter, Politeness, RobotsCache, host_key
from pipeline.settings import Settings


class Streamed(httpx.SyncByteStream):
    """A body the client streams (a plain ``content=`` response is read, and decoded, up front)."""

    def __init__(self, data: bytes):
        self.data = data

    def __iter__(self):
        yield self.data


def reply(status: int, body: bytes | str = b"", headers: dict | None = None) -> httpx.Response:
    """A MockTransport response whose body is streamed through fetch_url's bounded reader."""
    data = body.encode() if isinstance(body, str) else body
    return httpx.Response(status, headers=headers, stream=Streamed(data))


@pytest.fixture
def strict():
    return Settings(allow_private_addresses=False)


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1/feed", "blocked_address"),
        ("http://localhost:8080/", "blocked_address"),
        ("http://10.1.2.3/", "blocked_address"),
        ("http://192.168.0.1/", "blocked_address"),
        ("http://172.16.5.4/", "blocked_address"),
        ("http://169.254.169.254/latest/meta-data/", "blocked_address"),
        ("http://[::1]/", "blocked_address"),
        ("http://[::ffff:127.0.0.1]/", "blocked_address"),
        ("http://[fe80::1]/", "blocked_address"),
        ("http://100.100.100.200/", "blocked_address"),
        ("http://0.0.0.0/", "blocked_address"),
        ("http://metadata.google.internal/", "blocked_address"),
        ("ftp://example.com/x", "bad_scheme"),
        ("file:///etc/passwd", "bad_scheme"),
        ("http:///nohost", "bad_url"),
    ],
)
def test_check_url_refuses(url, reason, strict):
    with pytest.raises(PermanentError) as info:
        check_url(url, strict)
    assert info.value.reason == reason


@pytest.mark.parametrize("url", ["http://8.8.8.8/", "https://1.1.1.1:8443/x", "http://[2606:4700::1111]/"])
def test_check_url_allows_public(url, strict):
    check_url(url, strict)


def test_check_url_allows_loopback_when_configured():
    check_url("http://127.0.0.1:8765/feed.xml", Settings(allow_private_addresses=True))


def get(url: str, settings: Settings, handler, robots: bool = False):
    """fetch_url through a MockTransport; returns the answer and the URLs the transport saw."""
    seen = []

    def record(request):
        seen.append(str(request.url))
        return handler(request)

    with build_client(settings, transport=httpx.MockTransport(record)) as client:
        politeness = Politeness(HostLimiter(2, 0.0), RobotsCache(settings, client) if robots else None)
        return fetch_url(url, settings, client, politeness, Ask()), seen


def test_guard_applies_to_every_request(strict):
    seen = []
    with pytest.raises(PermanentError) as info:
        seen = get("http://127.0.0.1/secret", strict, lambda request: reply(200, "ok"))[1]
    assert info.value.reason == "blocked_address" and seen == []


def test_guard_applies_to_redirect_hops(strict):
    def handler(request):
        if request.url.host == "8.8.8.8":
            return httpx.Response(302, headers={"Location": "http://169.254.169.254/"})
        return reply(200, "metadata!")

    with pytest.raises(PermanentError) as info:
        get("http://8.8.8.8/", strict, handler)
    assert info.value.reason == "blocked_address"


def test_client_sends_our_user_agent_and_follows_no_redirects(strict):
    with build_client(strict) as client:
        assert client.headers["User-Agent"] == strict.user_agent and not client.follow_redirects


def test_answer_reports_the_redirect_chain_and_the_permanent_move():
    settings = Settings(allow_private_addresses=True, per_host_delay=0)
    moves = {"/a": (301, "/b"), "/b": (302, "/c"), "/c": (308, "/d"), "/d": (307, "/e")}

    def handler(request):
        if request.url.path in moves:
            status, target = moves[request.url.path]
            return httpx.Response(status, headers={"Location": target})
        return reply(200, "feed")

    answer, seen = get("http://site.example/a", settings, handler)
    assert (answer.status, answer.body, answer.url) == (200, b"feed", "http://site.example/e")
    assert [(hop.url, hop.status) for hop in answer.redirects] == [(url, moves[url[-2:]][0]) for url in seen[:-1]]
    assert answer.moved_to == "http://site.example/d"  # the target of the last 301/308


@pytest.mark.parametrize("status, kind, reason", [
    (408, RetryableError, "http_408"), (425, RetryableError, "http_425"), (429, RetryableError, "http_429"),
    (503, RetryableError, "http_5xx"), (404, PermanentError, "http_404"), (451, PermanentError, "http_451"),
    (418, PermanentError, "http_4xx"), (300, PermanentError, "bad_redirect"),
])
def test_one_status_rule(status, kind, reason):
    with pytest.raises((RetryableError, PermanentError)) as info:
        check_status(status, {"retry-after": "30"}, "http://site.example/")
    assert (type(info.value), info.value.reason, info.value.retry_after) == (kind, reason, 30.0)


@pytest.mark.parametrize(
    "value, expected",
    [("120", 120.0), ("0", 0.0), (None, None), ("", None), ("soon", None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_future_date():
    assert 59 <= parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", now=0.0) <= 60


@pytest.mark.parametrize(
    "url, key", [("http://Example.COM/a", "example.com"), ("https://a.b:8443/x", "a.b:8443")]
)
def test_host_key(url, key):
    assert host_key(url) == key


def test_limiter_spaces_requests_to_one_host():
    limiter = HostLimiter(concurrency=4, delay=0.05)
    starts = []

    def hit():
        with limiter.slot("http://h.example/x"):
            starts.append(time.monotonic())

    threads = [threading.Thread(target=hit) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 0.045


def test_limiter_bounds_concurrency_per_host():
    limiter = HostLimiter(concurrency=2, delay=0.0)
    active, peak, lock = [0], [0], threading.Lock()

    def hit(host):
        with limiter.slot(f"http://{host}/x"):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.05)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=hit, args=("one.example",)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2


def test_limiter_does_not_delay_other_hosts():
    limiter = HostLimiter(concurrency=1, delay=5.0)
    began = time.monotonic()
    for i in range(5):
        with limiter.slot(f"http://host{i}.example/"):
            pass
    assert time.monotonic() - began < 1.0


def _robots_client(text: str, status: int = 200):
    def handler(request):
        if request.url.path == "/robots.txt":
            return reply(status, text)
        return reply(200, "page")

    return build_client(Settings(allow_private_addresses=True), transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    "robots, status, path, allowed",
    [
        ("User-agent: *\nDisallow: /private/\n", 200, "/private/x", False),
        ("User-agent: *\nDisallow: /private/\n", 200, "/public/x", True),
        ("User-agent: WiredeskBot\nDisallow: /\n", 200, "/any", False),
        ("", 404, "/any", True),
        ("", 503, "/any", False),
    ],
)
def test_robots_cache(robots, status, path, allowed):
    settings = Settings(allow_private_addresses=True)
    with _robots_client(robots, status) as client:
        cache = RobotsCache(settings, client)
        assert cache.allowed(f"http://site.example{path}") is allowed


def test_fetch_url_refuses_robots_disallowed():
    settings = Settings(allow_private_addresses=True, per_host_delay=0)

    def handler(request):
        return reply(200, "User-agent: *\nDisallow: /\n")

    with pytest.raises(PermanentError) as info:
        get("http://site.example/a", settings, handler, robots=True)
    assert info.value.reason == "robots_disallowed"


def test_fetch_url_caps_body_size():
    settings = Settings(allow_private_addresses=True, per_host_delay=0, max_bytes=1000)
    with pytest.raises(PermanentError) as info:
        get("http://site.example/big", settings, lambda request: reply(200, b"x" * 5000))
    assert info.value.reason == "too_large"


def test_fetch_url_timeout_is_retryable():
    settings = Settings(allow_private_addresses=True, per_host_delay=0)

    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(RetryableError) as info:
        get("http://site.example/slow", settings, handler)
    assert info.value.reason == "timeout"


def test_robots_reads_only_a_prefix_of_a_huge_file():
    huge = "User-agent: *\nDisallow: /private/\n" + "# padding\n" * 200_000
    settings = Settings(allow_private_addresses=True)
    with _robots_client(huge) as client:
        cache = RobotsCache(settings, client)
        assert not cache.allowed("http://site.example/private/x") and cache.allowed("http://site.example/ok")


def test_robots_redirect_to_a_private_address_counts_as_unreachable(strict):
    seen = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(301, headers={"Location": "http://10.0.0.5/robots.txt"})

    with build_client(strict, transport=httpx.MockTransport(handler)) as client:
        cache = RobotsCache(strict, client)
        with pytest.raises(RetryableError) as info:
            cache.check("http://8.8.8.8/feed.xml")
    assert info.value.reason == "robots_unreachable" and seen == ["http://8.8.8.8/robots.txt"]


def test_robots_prefix_of_a_compressed_file_is_decoded_with_a_bound():
    huge = b"User-agent: *\nDisallow: /private/\n" + b"#" * (20 * 1024 * 1024)
    settings = Settings(allow_private_addresses=True)

    def handler(request):
        return reply(200, gzip.compress(huge), {"Content-Encoding": "gzip"})

    with build_client(settings, transport=httpx.MockTransport(handler)) as client:
        answer = fetch_url("http://site.example/robots.txt", settings, client, Politeness(HostLimiter(2, 0.0)),
                           ROBOTS_ASK)
        cache = RobotsCache(settings, client)
        assert not cache.allowed("http://site.example/private/x") and cache.allowed("http://site.example/ok")
    assert answer.body == huge[:ROBOTS_MAX_BYTES]
