"""The feed registry: ``config/feeds.yaml`` (validated with file and line) and OPML import.

The file holds one top-level key, ``feeds``, a list of entries::

    feeds:
      - name: demo-world              # unique; the feed's identity in the state index
        url: http://127.0.0.1:8765/world.xml
        source: Demo Wire             # publisher shown in search facets (default: the name)
        tags: [demo, world]
        interval_minutes: 5           # base poll interval (default: settings.feed_interval_minutes)
        enabled: true
        language: en
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from pipeline.errors import ConfigError
from pipeline.settings import Settings

LOGGER = logging.getLogger(__name__)

FEED_KEYS = frozenset({"name", "url", "source", "tags", "interval_minutes", "enabled", "language"})
TOP_KEYS = frozenset({"feeds"})
NAME_CHARS = re.compile(r"[^a-z0-9]+")
MIN_INTERVAL, MAX_INTERVAL = 1, 7 * 24 * 60


@dataclass(frozen=True)
class Feed:
    """One configured feed."""

    name: str
    url: str
    source: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    interval_minutes: int | None = None
    enabled: bool = True
    language: str | None = None


def slug(text: str) -> str:
    """A lower-case, hyphenated name for a feed."""
    return NAME_CHARS.sub("-", text.lower()).strip("-")[:80] or "feed"


def url_problem(url: object) -> str | None:
    """Why a feed URL is unusable, or None when it is fine."""
    if not isinstance(url, str) or not url.strip():
        return "url must be a non-empty string"
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"bad url {url!r}: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"bad url {url!r}: scheme must be http or https"
    if not parts.hostname:
        return f"bad url {url!r}: no host"
    return None


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping and of each key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    mapping["__key_lines__"] = {
        loader.construct_object(key): key.start_mark.line + 1 for key, _ in node.value if isinstance(key, yaml.ScalarNode)
    }
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> dict:
    """The parsed registry file, with line numbers; ConfigError when it is missing or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read feed registry: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_LineLoader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping with a 'feeds' list")
    return data


def check_keys(path: Path, entry: dict, allowed: frozenset[str], what: str) -> None:
    """ConfigError naming the line of the first unknown key."""
    for key, line in entry.get("__key_lines__", {}).items():
        if key not in allowed:
            raise ConfigError(f"{path}:{line}: unknown key {key!r} in {what} (allowed: {', '.join(sorted(allowed))})")


def build_feed(path: Path, entry: object, default_line: int) -> Feed:
    """One Feed from a YAML entry, or ConfigError with file, line and reason."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}:{default_line}: each feed must be a mapping with at least a url")
    line = entry["__line__"]
    check_keys(path, entry, FEED_KEYS, "feed")
    key_line = entry["__key_lines__"].get
    problem = url_problem(entry.get("url"))
    if problem:
        raise ConfigError(f"{path}:{key_line('url', line)}: {problem}")
    url = entry["url"].strip()
    name = entry.get("name") or slug(f"{urlsplit(url).hostname}{urlsplit(url).path}")
    interval = entry.get("interval_minutes")
    if interval is not None and (not isinstance(interval, int) or not MIN_INTERVAL <= interval <= MAX_INTERVAL):
        raise ConfigError(f"{path}:{key_line('interval_minutes', line)}: interval_minutes must be an integer "
                          f"between {MIN_INTERVAL} and {MAX_INTERVAL}")
    tags = entry.get("tags") or []
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f"{path}:{key_line('tags', line)}: tags must be a list of strings")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{path}:{key_line('enabled', line)}: enabled must be true or false")
    return Feed(name=str(name), url=url, source=str(entry.get("source") or name), tags=tuple(tags),
                interval_minutes=interval, enabled=enabled, language=entry.get("language"))


def load_feeds(settings: Settings) -> list[Feed]:
    """Every feed of the registry file; ConfigError (file, line, reason) on any problem."""
    path = Path(settings.feeds_file)
    data = read_yaml(path)
    check_keys(path, data, TOP_KEYS, "the registry")
    entries = data.get("feeds") or []
    if not isinstance(entries, list):
        raise ConfigError(f"{path}:{data['__key_lines__'].get('feeds', 1)}: 'feeds' must be a list")
    feeds, seen = [], {}
    for entry in entries:
        feed = build_feed(path, entry, data["__key_lines__"].get("feeds", 1))
        line = entry["__line__"]
        if feed.name in seen:
            raise ConfigError(f"{path}:{line}: duplicate feed name {feed.name!r} (first at line {seen[feed.name]})")
        seen[feed.name] = line
        feeds.append(feed)
    return feeds


def read_opml(path: Path) -> list[Feed]:
    """Feeds listed in an OPML file (listparser); ConfigError when it holds none."""
    import listparser

    try:
        result = listparser.parse(Path(path).read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read OPML: {exc}") from exc
    feeds = []
    for entry in result.feeds:
        if url_problem(entry.get("url")):
            LOGGER.warning("%s: skipping outline with unusable url %r", path, entry.get("url"))
            continue
        title = (entry.get("title") or "").strip()
        tags = tuple(t for cat in entry.get("categories") or [] for t in cat if t)
        name = slug(title) if title else slug(urlsplit(entry["url"]).hostname or "feed")
        feeds.append(Feed(name=name, url=entry["url"].strip(), source=title or name, tags=tags))
    if not feeds and (result.get("bozo") or not result.get("version")):
        raise ConfigError(f"{path}: not an OPML file: {result.get('bozo_exception') or 'no OPML version found'}")
    return feeds


def yaml_entry(feed: Feed) -> str:
    """A registry entry as YAML text (appended; the rest of the file is left as written)."""
    entry = {"name": feed.name, "url": feed.url, "source": feed.source, "tags": list(feed.tags)}
    lines = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, default_flow_style=None).splitlines()
    return "".join(f"  {line}\n" for line in lines)


def import_opml(path: Path, settings: Settings) -> list[Feed]:
    """Append the OPML file's feeds that the registry lacks (by URL and name); returns them."""
    existing = load_feeds(settings)
    urls, names = {f.url for f in existing}, {f.name for f in existing}
    added = []
    for feed in read_opml(path):
        if feed.url in urls:
            continue
        name, n = feed.name, 2
        while name in names:
            name, n = f"{feed.name}-{n}", n + 1
        feed = Feed(name=name, url=feed.url, source=feed.source, tags=feed.tags)
        urls.add(feed.url)
        names.add(name)
        added.append(feed)
    if added:
        append_entries(Path(settings.feeds_file), added, settings)
    return added


def append_entries(path: Path, feeds: list[Feed], settings: Settings) -> None:
    """Append entries under ``feeds:`` and re-validate; the original is restored on failure."""
    original = path.read_text(encoding="utf-8")
    text = original if original.endswith("\n") else original + "\n"
    if not re.search(r"^feeds:", text, re.MULTILINE):
        text += "feeds:\n"
    path.write_text(text + "".join(yaml_entry(f) for f in feeds), encoding="utf-8")
    try:
        load_feeds(settings)
    except ConfigError:
        path.write_text(original, encoding="utf-8")
        raise
