"""Unit tests of the shared politeness component: SSRF guard, host limiter, robots, Retry-After."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from pipeline.errors import PermanentError, RetryableError
from pipeline.http import (
    HostLimiter,
    RobotsCache,
    build_client,
    check_url,
    host_key,
    parse_retry_after,
    polite_get,
)
from pipeline.settings import Settings


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


def test_client_guard_applies_to_every_request(strict):
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))
    with build_client(strict, transport=transport) as client:
        with pytest.raises(PermanentError):
            client.get("http://127.0.0.1/secret")
        assert client.headers["User-Agent"] == strict.user_agent


def test_client_guard_applies_to_redirect_hops(strict):
    def handler(request):
        if request.url.host == "8.8.8.8":
            return httpx.Response(302, headers={"Location": "http://169.254.169.254/"})
        return httpx.Response(200, text="metadata!")

    with build_client(strict, transport=httpx.MockTransport(handler), follow_redirects=True) as client:
        with pytest.raises(PermanentError):
            client.get("http://8.8.8.8/")


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
            return httpx.Response(status, text=text)
        return httpx.Response(200, text="page")

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


def test_polite_get_refuses_robots_disallowed():
    settings = Settings(allow_private_addresses=True, per_host_delay=0)
    with _robots_client("User-agent: *\nDisallow: /\n") as client:
        with pytest.raises(PermanentError) as info:
            polite_get(client, "http://site.example/a", settings, robots=RobotsCache(settings, client))
    assert info.value.reason == "robots_disallowed"


def test_polite_get_caps_body_size():
    settings = Settings(allow_private_addresses=True, per_host_delay=0, max_bytes=1000)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * 5000))
    with build_client(settings, transport=transport) as client:
        with pytest.raises(PermanentError) as info:
            polite_get(client, "http://site.example/big", settings)
    assert info.value.reason == "too_large"


def test_polite_get_timeout_is_retryable():
    settings = Settings(allow_private_addresses=True, per_host_delay=0)

    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    with build_client(settings, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(RetryableError) as info:
            polite_get(client, "http://site.example/slow", settings)
    assert info.value.reason == "timeout"


def test_robots_reads_only_a_prefix_of_a_huge_file():
    huge = "User-agent: *\nDisallow: /private/\n" + "# padding\n" * 200_000
    settings = Settings(allow_private_addresses=True)
    with _robots_client(huge) as client:
        cache = RobotsCache(settings, client)
        assert not cache.allowed("http://site.example/private/x") and cache.allowed("http://site.example/ok")


def test_robots_redirect_to_a_private_address_counts_as_unreachable(strict):
    def handler(request):
        return httpx.Response(301, headers={"Location": "http://10.0.0.5/robots.txt"})

    with build_client(strict, transport=httpx.MockTransport(handler)) as client:
        cache = RobotsCache(strict, client)
        with pytest.raises(RetryableError) as info:
            cache.check("http://8.8.8.8/feed.xml")
    assert info.value.reason == "robots_unreachable"
