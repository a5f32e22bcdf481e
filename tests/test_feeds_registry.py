"""The feed registry: the shipped config, validation with file and line, OPML import."""

from __future__ import annotations

import re

import pytest

from pipeline.errors import ConfigError
from pipeline.feeds.registry import import_opml, load_feeds, read_opml
from pipeline.settings import Settings

OPML = """<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>Desk subscriptions</title></head><body>
  <outline text="Canada">
    <outline type="rss" text="Prairie Post" title="Prairie Post" xmlUrl="https://prairie.example/rss.xml"/>
    <outline type="rss" text="Harbour Herald" xmlUrl="https://harbour.example/feed/"/>
  </outline>
  <outline type="rss" text="Demo World" xmlUrl="http://127.0.0.1:8765/world.xml"/>
  <outline type="rss" text="Broken" xmlUrl="ftp://nowhere.example/feed"/>
</body></opml>
"""


def registry(tmp_path, text: str) -> Settings:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return Settings(feeds_file=path)


def test_shipped_registry_loads():
    feeds = load_feeds(Settings())
    names = [f.name for f in feeds]
    assert len(names) == len(set(names)) >= 15
    assert {"demo-world", "demo-canada"} <= set(names)
    assert all(f.url.startswith(("http://", "https://")) for f in feeds)
    assert sum("canada" in f.tags for f in feeds) >= 5
    assert all(f.url.startswith("http://127.0.0.1:8765/") for f in feeds if "demo" in f.tags)


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("feeds:\n  - name: a\n    url: https://a.example/rss\n    colour: red\n", 4, "unknown key 'colour'"),
        ("feeds:\n  - name: a\n    url: ftp://a.example/rss\n", 3, "scheme must be http or https"),
        ("feeds:\n  - name: a\n    url: https:///rss\n", 3, "no host"),
        ("feeds:\n  - name: a\n", 2, "url must be a non-empty string"),
        ("feeds:\n  - name: a\n    url: http://a.example:99999/\n", 3, "bad url"),
        ("feeds:\n  - name: a\n    url: https://a.example/\n  - name: a\n    url: https://b.example/\n", 4, "duplicate feed name"),
        ("feeds:\n  - name: a\n    url: https://a.example/\n    interval_minutes: 0\n", 4, "interval_minutes"),
        ("feeds:\n  - name: a\n    url: https://a.example/\n    tags: world\n", 4, "tags must be a list"),
        ("feeds:\n  - name: a\n    url: https://a.example/\n    enabled: maybe\n", 4, "enabled must be true or false"),
        ("feed:\n  - url: https://a.example/\n", 1, "unknown key 'feed'"),
        ("feeds:\n  - name: a\n    url: [https://a.example/\n", 4, "invalid YAML"),
        ("feeds:\n  - just-a-string\n", 1, "must be a mapping"),
    ],
)
def test_bad_registry_names_file_line_and_reason(tmp_path, text, line, reason):
    settings = registry(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_feeds(settings)
    message = str(info.value)
    assert message.startswith(f"{settings.feeds_file}:{line}:"), message
    assert reason in message


def test_missing_registry_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_feeds(Settings(feeds_file=tmp_path / "nope.yaml"))


def test_defaults_fill_name_and_source(tmp_path):
    [feed] = load_feeds(registry(tmp_path, "feeds:\n  - url: https://News.example/rss/world.xml\n"))
    assert feed.name == "news-example-rss-world-xml"
    assert feed.source == feed.name and feed.enabled and feed.interval_minutes is None


def test_read_opml(tmp_path):
    path = tmp_path / "subs.opml"
    path.write_text(OPML, encoding="utf-8")
    feeds = read_opml(path)
    assert [f.url for f in feeds] == ["https://prairie.example/rss.xml", "https://harbour.example/feed/",
                                      "http://127.0.0.1:8765/world.xml"]
    assert feeds[0].name == "prairie-post" and "Canada" in feeds[0].tags


def test_import_opml_appends_only_new_feeds(tmp_path):
    settings = registry(tmp_path, "# my feeds\nfeeds:\n  - name: demo-world\n    url: http://127.0.0.1:8765/world.xml\n")
    opml = tmp_path / "subs.opml"
    opml.write_text(OPML, encoding="utf-8")
    added = import_opml(opml, settings)
    assert [f.name for f in added] == ["prairie-post", "harbour-herald"]
    text = settings.feeds_file.read_text(encoding="utf-8")
    assert text.startswith("# my feeds\n")
    assert [f.name for f in load_feeds(settings)] == ["demo-world", "prairie-post", "harbour-herald"]
    assert import_opml(opml, settings) == []  # a second import adds nothing
    assert len(re.findall(r"^  - name:", settings.feeds_file.read_text(), re.M)) == 3


def test_import_rejects_non_opml(tmp_path):
    settings = registry(tmp_path, "feeds:\n")
    bad = tmp_path / "bad.opml"
    bad.write_text("this is not xml <<<", encoding="utf-8")
    with pytest.raises(ConfigError):
        import_opml(bad, settings)
