"""The SSRF guard as fetch_page applies it: per address class, DNS names, and redirect hops.

Public addresses are simulated without leaving the machine: a wrapping transport delivers every
request to the local site on 127.0.0.1 after the guard has judged the URL it was given, and a small
resolver table stands in for DNS where a test needs a name to resolve to a chosen address.
"""

from __future__ import annotations

import socket

import httpx
import pytest
from test_fetch_server import site  # noqa: F401 (the fixture)

import pipeline.fetch.guard
from pipeline.errors import PermanentError, RetryableError
from pipeline.fetch.hop import build_client
from pipeline.fetch.page import fetch_page
from pipeline.fetch.politeness import HostLimiter, Politeness, RobotsCache
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

HTML = "<html><body><p>public page</p></body></html>"
PUBLIC_IP = "93.184.216.34"
FAKE_DNS = {"news.example": PUBLIC_IP, "intranet.example": "10.0.0.7", "meta.example": "169.254.169.254",
            "v6.example": "fd00::5"}


class DeliverToSite(httpx.BaseTransport):
    """Sends every request to the local site, whatever host the URL names (after the guard ran).

    ``hide_peer`` drops the socket from the response so the fetcher cannot see it reached 127.0.0.1
    (standing in for a real public server); with ``hide_peer=False`` this is DNS rebinding: the
    guard saw a public address, the connection went to loopback.
    """

    def __init__(self, port: int, hide_peer: bool = True):
        self.port, self.hide_peer = port, hide_peer
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        local = httpx.Request(request.method, request.url.copy_with(host="127.0.0.1", port=self.port),
                              headers=request.headers, stream=request.stream)
        response = self.inner.handle_request(local)  # the client reports the original URL
        if self.hide_peer:
            response.extensions = {k: v for k, v in response.extensions.items() if k != "network_stream"}
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def strict() -> Settings:
    """The production setting: private addresses refused."""
    return Settings(allow_private_addresses=False, per_host_delay=0.0, fetch_attempts=1, read_timeout=1.0)


@pytest.fixture
def fake_dns(monkeypatch):
    """Resolve the FAKE_DNS names to their addresses; every other name resolves normally."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in FAKE_DNS:
            address = FAKE_DNS[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port or 80))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(pipeline.fetch.guard.socket, "getaddrinfo", getaddrinfo)


def fetch_via_site(url: str, site, settings: Settings, hide_peer: bool = True):
    """fetch_page through a client whose connections all land on the local site."""
    port = site.server.server_address[1]
    with build_client(settings, transport=DeliverToSite(port, hide_peer)) as client:
        politeness = Politeness(HostLimiter(2, 0.0), RobotsCache(settings, client=client))
        return fetch_page(url, settings, client=client, politeness=politeness)


def blocked_reason(url: str, site, settings: Settings, hide_peer: bool = True) -> str:
    """The reason fetch_page refuses ``url`` with (fails the test when it does not)."""
    with pytest.raises(PermanentError) as info:
        fetch_via_site(url, site, settings, hide_peer)
    return info.value.reason


@pytest.mark.parametrize("host", [
    "10.1.2.3", "172.16.0.5", "172.31.255.254", "192.168.1.1", "127.0.0.1", "127.8.9.10", "0.0.0.0",
    "[::1]", "169.254.169.254", "169.254.1.1", "[fd00::1]", "[fe80::1]", "[::ffff:10.0.0.1]", "localhost",
])
def test_private_address_classes_are_blocked(site, strict, host):
    site.add("/page", body=HTML, headers={"Content-Type": "text/html"})
    assert blocked_reason(f"http://{host}/page", site, strict) == "blocked_address"
    assert site.requests == []  # refused before any connection


@pytest.mark.parametrize("host", [PUBLIC_IP, "8.8.8.8", "[2606:4700::1111]"])
def test_public_addresses_are_fetched(site, strict, host):
    site.add("/page", body=HTML, headers={"Content-Type": "text/html"})
    assert fetch_via_site(f"http://{host}/page", site, strict).html == HTML


def test_localhost_refused_by_default_settings(site):
    url = site.add("/page", body=HTML, headers={"Content-Type": "text/html"})
    with pytest.raises(PermanentError) as info:
        fetch_page(url, Settings(per_host_delay=0.0))
    assert info.value.reason == "blocked_address"
    assert site.requests == []


def test_localhost_allowed_when_configured(site):
    url = site.add("/page", body=HTML, headers={"Content-Type": "text/html"})
    settings = Settings(allow_private_addresses=True, per_host_delay=0.0)
    assert fetch_page(url, settings, politeness=Politeness(HostLimiter(2, 0.0))).html == HTML


def test_allowlisted_host_and_port_pass_the_guard(site):
    url = site.add("/page", body=HTML, headers={"Content-Type": "text/html"})
    netloc = url.split("/")[2]
    settings = Settings(private_allowlist=(netloc,), per_host_delay=0.0)
    assert fetch_page(url, settings, politeness=Politeness(HostLimiter(2, 0.0))).html == HTML


def test_allowlist_is_per_port(site):
    url = site.add("/page", body=HTML, headers={"Content-Type": "text/html"})
    host, port = url.split("/")[2].rsplit(":", 1)
    settings = Settings(private_allowlist=(f"{host}:{int(port) + 1}",), per_host_delay=0.0)
    with pytest.raises(PermanentError) as info:
        fetch_page(url, settings)
    assert info.value.reason == "blocked_address"


@pytest.mark.parametrize("name", ["intranet.example", "meta.example", "v6.example"])
def test_dns_name_resolving_to_private_address_is_blocked(site, strict, fake_dns, name):
    assert blocked_reason(f"http://{name}/page", site, strict) == "blocked_address"
    assert site.requests == []


def test_dns_name_resolving_to_public_address_is_fetched(site, strict, fake_dns):
    site.add("/page", body=HTML, headers={"Content-Type": "text/html"})
    page = fetch_via_site("http://news.example/page", site, strict)
    assert page.html == HTML and page.final_url == "http://news.example/page"


@pytest.mark.parametrize("target", [
    "http://127.0.0.1/admin",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/",
    "http://intranet.example/secret",
    "http://localhost/",
])
def test_redirect_from_allowed_name_to_blocked_address(site, strict, fake_dns, target):
    site.add("/story", status=302, headers={"Location": target})
    site.add("/admin", body=HTML, headers={"Content-Type": "text/html"})
    assert blocked_reason("http://news.example/story", site, strict) == "blocked_address"
    assert [path for path, _ in site.requests if path != "/robots.txt"] == ["/story"]


def test_dns_rebinding_to_loopback_is_refused_after_connect(site, strict, fake_dns):
    site.add("/page", body=HTML, headers={"Content-Type": "text/html"})
    no_robots = strict.model_copy(update={"respect_robots": False})
    assert blocked_reason("http://news.example/page", site, no_robots, hide_peer=False) == "blocked_address"


def test_dns_rebinding_is_refused_for_robots_txt_too(site, strict, fake_dns):
    site.add("/page", body=HTML, headers={"Content-Type": "text/html"})
    with pytest.raises(RetryableError) as info:  # robots.txt refused: unreachable, so the host waits (RFC 9309)
        fetch_via_site("http://news.example/page", site, strict, hide_peer=False)
    assert info.value.reason == "robots_unreachable"
    assert [path for path, _ in site.requests] == ["/robots.txt"]


def test_rebinding_check_is_off_when_private_addresses_are_allowed(site, fake_dns):
    site.add("/page", body=HTML, headers={"Content-Type": "text/html"})
    lenient = Settings(allow_private_addresses=True, per_host_delay=0.0, fetch_attempts=1)
    assert fetch_via_site("http://news.example/page", site, lenient, hide_peer=False).html == HTML


def test_dns_is_checked_once_per_hop(site, strict, monkeypatch):
    lookups, real = [], socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "news.example":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port or 80))]

    monkeypatch.setattr(pipeline.fetch.guard.socket, "getaddrinfo", getaddrinfo)
    site.add("/story", status=302, headers={"Location": "/page"})
    site.add("/page", body=HTML, headers={"Content-Type": "text/html"})
    assert fetch_via_site("http://news.example/story", site, strict).html == HTML
    assert len(lookups) == 3  # robots.txt, /story, /page: one guard lookup each, no second one in a hook
