"""A real threaded HTTP server on 127.0.0.1 for the fetch tests, plus checks of the server itself.

Routes are registered per test: a fixed response, a sequence of responses (one per hit, the last
repeating), or a callable taking the request handler for anything unusual (slow drips, hangs,
connections cut mid-body). Every request is recorded (path and headers) for assertions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest


@dataclass
class Reply:
    """One canned response."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the status line
    content_length: bool = True  # False: no Content-Length, the body ends when the connection closes

    def send(self, handler: BaseHTTPRequestHandler) -> None:
        """Write this reply on a request handler."""
        body = self.body.encode("utf-8") if isinstance(self.body, str) else self.body
        if self.delay:
            time.sleep(self.delay)
        handler.send_response(self.status)
        for name, value in self.headers.items():
            handler.send_header(name, value)
        if self.content_length and not any(n.lower() == "content-length" for n in self.headers):
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


Route = Reply | list[Reply] | Callable[[BaseHTTPRequestHandler], None]


class LocalSite:
    """A tiny web site on 127.0.0.1 with per-test routes and a request log."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._hits: dict[str, int] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        """Absolute URL of a path on this site."""
        return self.base + path

    def add(self, path: str, route: Route | None = None, **reply) -> str:
        """Register a route (a Reply, a list of Replies, a callable, or Reply fields); returns its URL."""
        self.routes[path] = route if route is not None else Reply(**reply)
        return self.url(path)

    def hits(self, path: str) -> int:
        """How many requests reached a path."""
        return self._hits.get(path, 0)

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        with self._lock:
            count = self._hits[path] = self._hits.get(path, 0) + 1
            self.requests.append((path, {k.lower(): v for k, v in handler.headers.items()}))
        route = self.routes.get(path)
        if route is None:
            Reply(404, b"not found", {"Content-Type": "text/plain"}).send(handler)
        elif isinstance(route, Reply):
            route.send(handler)
        elif isinstance(route, list):
            route[min(count, len(route)) - 1].send(handler)
        else:
            route(handler)

    def _handler_class(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: bodies end at close

            def do_GET(self):  # noqa: N802 (http.server naming)
                try:
                    site._dispatch(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (size cap, timeout): expected in these tests

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> LocalSite:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    """A fresh local web site for one test."""
    with LocalSite() as running:
        yield running


@pytest.mark.parametrize("route, expected", [
    (Reply(200, "hello"), [(200, b"hello")]),
    ([Reply(503), Reply(200, "ok")], [(503, b""), (200, b"ok"), (200, b"ok")]),
])
def test_site_serves_replies_in_order(site, route, expected):
    url = site.add("/x", route)
    got = []
    for _ in expected:
        response = httpx.get(url)
        got.append((response.status_code, response.content))
    assert got == expected
    assert site.hits("/x") == len(expected)


def test_site_answers_404_for_unknown_paths(site):
    assert httpx.get(site.url("/nothing")).status_code == 404
