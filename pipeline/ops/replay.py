"""The replay wire: a small local HTTP server for feeds and article pages (tests, demo, benchmarks).

It serves files from a folder (and documents added in memory), answers conditional requests
(ETag / If-None-Match, Last-Modified / If-Modified-Since) with 304, and can be scripted to fail per
path: HTTP errors, slow answers, garbage bytes, HTML instead of XML, empty feeds, moves (301),
gone (410) and throttling (429 with Retry-After).

Text files may hold tokens rendered at serve time, relative to the moment the server started (so
ETags stay stable while it runs and the demo wire always looks live):
``{{base}}`` the server's base URL, ``{{rfc822-45m}}`` / ``{{iso-2h}}`` a time that long before
the start (``+`` for after; units m, h, d) and ``{{seed_item}}`` the feed item of the seed article
(rendered from ``../shared/seed/article.txt`` when that file exists, else nothing).

From tests::

    with ReplayServer(root) as wire:
        wire.fail("/world.xml", "status", 500, times=1)
        poll(wire.url("/world.xml"))

From the command line (the demo): ``python -m pipeline.ops.replay --port 8765 --root DIR``.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import logging
import mimetypes
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LOGGER = logging.getLogger(__name__)

DEMO_ROOT = Path(__file__).resolve().parent / "demo_wire"
SEED_PATH = Path(__file__).resolve().parents[3] / "shared" / "seed" / "article.txt"
SEED_ROUTE = "/world/seed-article.html"
TOKEN = re.compile(r"\{\{(base|seed_item|(rfc822|iso)([+-])(\d+)([mhd]))\}\}")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}
CONTENT_TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
}
TEXT_SUFFIXES = frozenset(CONTENT_TYPES)
DEFAULT_ROBOTS = b"User-agent: *\nAllow: /\n"
GARBAGE = bytes((i * 73 + 41) % 256 for i in range(2048))
NOT_A_FEED = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><p>Please enable cookies.</p></body></html>"
EMPTY_FEED = (b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Empty</title>'
              b"<link>http://example.invalid/</link><description>nothing</description></channel></rss>\n")
FAULT_KINDS = ("status", "slow", "garbage", "html", "empty", "empty_feed", "moved", "gone", "throttle")
DATELINE = re.compile(r"^([A-Z][A-Z .'-]{1,40}?)\s*(?:--|—|–)\s*")
HEADLINE_WORDS = 16


@dataclass
class Fault:
    """A scripted misbehaviour for one path; ``times`` None means every request."""

    kind: str
    value: object = None
    times: int | None = None


@dataclass
class Document:
    """Something the server can answer with."""

    body: bytes
    content_type: str
    last_modified: float
    etag: str = field(init=False)

    def __post_init__(self):
        self.etag = '"' + hashlib.sha1(self.body).hexdigest()[:20] + '"'


@dataclass
class Logged:
    """One request the server saw."""

    method: str
    path: str
    headers: dict


def render_time(anchor: datetime, style: str, sign: str, amount: int, unit: str) -> str:
    """A time relative to ``anchor`` as RFC 822 (RSS) or ISO 8601 (JSON-LD, Atom)."""
    delta = timedelta(**{UNITS[unit]: amount})
    when = anchor + delta if sign == "+" else anchor - delta
    return format_datetime(when, usegmt=True) if style == "rfc822" else when.isoformat(timespec="seconds")


def seed_parts(text: str) -> tuple[str, str, list[str]]:
    """Headline, dateline and paragraphs of a plain-text wire story (its first line is the lede)."""
    paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
    if not paragraphs:
        return "", "", []
    match = DATELINE.match(paragraphs[0])
    dateline = match.group(1).strip() if match else ""
    lede = paragraphs[0][match.end():] if match else paragraphs[0]
    # The text has no headline of its own: use the lede's first clause, cut at a word boundary.
    clause = re.split(r"(?<=\w)[,;:]\s| following | after ", lede, maxsplit=1)[0]
    words = clause.split()
    headline = " ".join(words[:HEADLINE_WORDS]) + ("…" if len(words) > HEADLINE_WORDS else "")
    if headline.count('"') % 2:  # a cut through a quotation: drop its marks rather than leave one open
        headline = headline.replace('"', "")
    return headline.strip(), dateline, paragraphs


def render_seed_page(text: str, published: str) -> bytes:
    """A simple article page (headline, dateline, JSON-LD NewsArticle) for the seed text."""
    headline, dateline, paragraphs = seed_parts(text)
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": headline,
          "datePublished": published, "dateline": dateline}
    body = "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(headline)}</title>
<meta property="og:title" content="{html.escape(headline)}">
<meta property="article:published_time" content="{published}">
<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script></head>
<body><header><nav><a href="/">Demo Wire</a></nav></header>
<main><article><h1>{html.escape(headline)}</h1>
<time datetime="{published}">{published}</time>
{body}
</article></main><footer><p>Demo wire: rendered locally for the demonstration.</p></footer></body></html>
"""
    return page.encode("utf-8")


def render_seed_item(text: str, base: str, anchor: datetime) -> str:
    """The RSS item announcing the seed article."""
    headline, _, paragraphs = seed_parts(text)
    summary = paragraphs[0] if paragraphs else ""
    return (f"<item><title>{html.escape(headline)}</title><link>{base}{SEED_ROUTE}</link>"
            f'<guid isPermaLink="true">{base}{SEED_ROUTE}</guid>'
            f"<pubDate>{render_time(anchor, 'rfc822', '-', 20, 'm')}</pubDate>"
            f"<description>{html.escape(summary)}</description></item>")


class ReplayServer:
    """A threaded HTTP server on 127.0.0.1 serving fixtures; a context manager for tests."""

    def __init__(self, root: Path | str | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 seed_path: Path | str | None = None, anchor: datetime | None = None):
        self.root = Path(root) if root else None
        self.seed_path = Path(seed_path) if seed_path else None
        self.anchor = anchor or datetime.now(UTC).replace(microsecond=0)
        self.started = self.anchor.timestamp()
        self.requests: list[Logged] = []
        self._docs: dict[str, Document] = {}
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), _Handler, bind_and_activate=False)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._httpd.request_queue_size = 512
        self._httpd.allow_reuse_address = True
        self._httpd.server_bind()
        self._httpd.server_activate()
        self._httpd.replay = self
        self._thread: threading.Thread | None = None

    # -- lifecycle
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` without a trailing slash."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def start(self) -> "ReplayServer":
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="replay-wire", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (slow answers in flight are cut short)."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the command line)."""
        try:
            self._httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._httpd.server_close()

    def __enter__(self) -> "ReplayServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- scripting
    def put(self, path: str, body: bytes | str, content_type: str | None = None) -> None:
        """Serve ``body`` at ``path`` from memory (replacing any earlier content)."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        ctype = content_type or guess_type(path)
        with self._lock:
            old = self._docs.get(path)
            # Last-Modified has one-second resolution: a change must move it forward.
            stamp = max(time.time(), old.last_modified + 1 if old else 0)
            self._docs[path] = Document(data, ctype, stamp)

    def remove(self, path: str) -> None:
        """Stop serving an in-memory document."""
        with self._lock:
            self._docs.pop(path, None)

    def fail(self, path: str, kind: str, value: object = None, times: int | None = None) -> None:
        """Script a failure for ``path`` (see FAULT_KINDS); ``times`` None means until cleared."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {FAULT_KINDS}")
        with self._lock:
            self._faults[path] = Fault(kind, value, times)

    def clear_faults(self, path: str | None = None) -> None:
        """Remove the scripted failure of one path, or all of them."""
        with self._lock:
            if path is None:
                self._faults.clear()
            else:
                self._faults.pop(path, None)

    def hits(self, path: str | None = None) -> int | Counter:
        """How many requests a path received (or a Counter of all paths)."""
        with self._lock:
            counts = Counter(r.path for r in self.requests)
        return counts if path is None else counts[path]

    # -- answering
    def take_fault(self, path: str) -> Fault | None:
        """The fault scripted for a path, counting down its remaining uses."""
        with self._lock:
            fault = self._faults.get(path)
            if fault is None:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[path]
            return fault

    def log(self, method: str, path: str, headers: dict) -> None:
        """Record a request (tests assert on conditional headers with it)."""
        with self._lock:
            self.requests.append(Logged(method, path, headers))

    def render(self, data: bytes) -> bytes:
        """Fill serve-time tokens in a text document."""
        if b"{{" not in data:
            return data
        text = data.decode("utf-8")
        return TOKEN.sub(self._token, text).encode("utf-8")

    def _token(self, match: re.Match) -> str:
        if match.group(1) == "base":
            return self.base_url
        if match.group(1) == "seed_item":
            seed = self.seed_text()
            return render_seed_item(seed, self.base_url, self.anchor) if seed else ""
        return render_time(self.anchor, match.group(2), match.group(3), int(match.group(4)), match.group(5))

    def seed_text(self) -> str | None:
        """The seed article's text when its file exists."""
        if self.seed_path and self.seed_path.is_file():
            return self.seed_path.read_text(encoding="utf-8")
        return None

    def lookup(self, path: str) -> Document | None:
        """The document for a path: in memory, the seed page, or a file under the root."""
        with self._lock:
            doc = self._docs.get(path)
        if doc is not None:
            return doc
        if path == SEED_ROUTE:
            seed = self.seed_text()
            if seed:
                published = render_time(self.anchor, "iso", "-", 20, "m")
                return Document(render_seed_page(seed, published), CONTENT_TYPES[".html"], self.started)
        return self.lookup_file(path)

    def lookup_file(self, path: str) -> Document | None:
        """A file under the root (never outside it); index.html for folders."""
        if self.root is None:
            return None
        target = (self.root / path.lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        root = self.root.resolve()
        if root not in target.parents or not target.is_file():
            return None
        data = target.read_bytes()
        if target.suffix in TEXT_SUFFIXES:
            data = self.render(data)
        return Document(data, guess_type(target.name), max(target.stat().st_mtime, self.started))

    def pause(self, seconds: float) -> None:
        """Sleep for a slow answer, cut short when the server stops."""
        self._stopping.wait(seconds)


def guess_type(path: str) -> str:
    """Content type by file name."""
    suffix = Path(path.split("?", 1)[0]).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def not_modified(doc: Document, headers) -> bool:
    """RFC 9110 conditional GET: If-None-Match wins; else If-Modified-Since."""
    inm = headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or doc.etag in tags
    ims = headers.get("If-Modified-Since")
    if ims:
        try:
            since = parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        return int(doc.last_modified) <= since
    return False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ReplayWire/1.0"

    @property
    def replay(self) -> ReplayServer:
        return self.server.replay

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        LOGGER.debug("%s %s", self.address_string(), format % args)

    def do_HEAD(self):
        self.answer(head=True)

    def do_GET(self):
        self.answer(head=False)

    def answer(self, head: bool) -> None:
        """Log the request, play any scripted fault, else serve the document (or 304/404)."""
        path = self.path.split("#", 1)[0]
        self.replay.log(self.command, path, dict(self.headers))
        fault = self.replay.take_fault(path)
        if fault is not None and self.answer_fault(fault, head):
            return
        doc = self.replay.lookup(path)
        if doc is None and path.split("?", 1)[0] == "/robots.txt":
            doc = Document(DEFAULT_ROBOTS, CONTENT_TYPES[".txt"], self.replay.started)
        if doc is None:
            doc = self.replay.lookup(path.split("?", 1)[0])
        if doc is None:
            self.send(404, b"not found", "text/plain", head=head)
        elif not_modified(doc, self.headers):
            self.send(304, b"", None, doc=doc, head=True)
        else:
            self.send(200, doc.body, doc.content_type, doc=doc, head=head)

    def answer_fault(self, fault: Fault, head: bool) -> bool:
        """Answer a scripted failure; False when the request should then be served normally."""
        kind, value = fault.kind, fault.value
        if kind == "slow":
            self.replay.pause(float(value or 10))
            return False
        if kind == "status":
            self.send(int(value or 500), b"scripted failure", "text/plain", head=head)
        elif kind == "garbage":
            self.send(200, GARBAGE, CONTENT_TYPES[".xml"], head=head)
        elif kind == "html":
            self.send(200, NOT_A_FEED, CONTENT_TYPES[".html"], head=head)
        elif kind == "empty":
            self.send(200, b"", CONTENT_TYPES[".xml"], head=head)
        elif kind == "empty_feed":
            self.send(200, EMPTY_FEED, CONTENT_TYPES[".xml"], head=head)
        elif kind == "moved":
            self.send(301, b"moved", "text/plain", head=head, extra={"Location": str(value)})
        elif kind == "gone":
            self.send(410, b"gone", "text/plain", head=head)
        elif kind == "throttle":
            self.send(429, b"slow down", "text/plain", head=head, extra={"Retry-After": str(value or 120)})
        return True

    def send(self, status: int, body: bytes, ctype: str | None, *, doc: Document | None = None,
             head: bool = False, extra: dict | None = None) -> None:
        """Write one response with validators and an exact Content-Length (keep-alive safe)."""
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        if doc is not None:
            self.send_header("ETag", doc.etag)
            self.send_header("Last-Modified", format_datetime(datetime.fromtimestamp(int(doc.last_modified), UTC), usegmt=True))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0" if status == 304 else str(len(body)))
        self.end_headers()
        if not head and status != 304:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                LOGGER.debug("client went away during %s", self.path)


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.ops.replay --port 8765 --root DIR``: serve the demo wire until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.ops.replay", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--root", type=Path, default=DEMO_ROOT, help="fixtures folder (default: the demo wire)")
    parser.add_argument("--seed", type=Path, default=SEED_PATH, help="plain-text seed article served when present")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = ReplayServer(args.root, host=args.host, port=args.port, seed_path=args.seed)
    LOGGER.info("replay wire serving %s at %s (seed article: %s)", args.root, server.base_url,
                "yes" if server.seed_text() else "absent")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
