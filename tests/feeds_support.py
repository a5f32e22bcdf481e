"""Feed fixtures and helpers for test_feeds_*, test_replay_* and benchmarks/bench_feeds.py (not a test module)."""

from __future__ import annotations

from email.utils import format_datetime
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape


def rss(items: list[tuple[str, str]], title: str = "Test Wire", ttl: int | None = None,
        now: datetime | None = None) -> str:
    """An RSS 2.0 document; items are (title, link) pairs, newest first."""
    now = now or datetime.now(UTC)
    parts = []
    for i, (headline, link) in enumerate(items):
        when = format_datetime(now - timedelta(minutes=10 * (i + 1)), usegmt=True)
        parts.append(f"<item><title>{escape(headline)}</title><link>{escape(link)}</link>"
                     f"<pubDate>{when}</pubDate><description>About {escape(headline)}.</description></item>")
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>http://wire.example/</link><description>test</description>{ttl_tag}{''.join(parts)}</channel></rss>\n")


def stories(base: str, prefix: str, count: int) -> list[tuple[str, str]]:
    """``count`` (title, link) pairs of distinct stories on a server."""
    return [(f"{prefix} story {i}", f"{base}/{prefix}/story-{i}.html") for i in range(count)]


def write_registry(path: Path, feeds: dict[str, str], **extra) -> Path:
    """A feeds.yaml with the given name -> url entries (extra keys applied to every entry)."""
    lines = ["feeds:"]
    for name, url in feeds.items():
        lines += [f"  - name: {name}", f"    url: {url}"]
        lines += [f"    {key}: {value}" for key, value in extra.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def with_registry(settings, path: Path, **updates):
    """The test's settings pointing at a registry file (Settings is frozen: copy with updates)."""
    return settings.model_copy(update={"feeds_file": path, **updates})
