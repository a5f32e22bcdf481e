"""URL canonicalisation: variants of one story URL fold into one canonical URL."""

from __future__ import annotations

import pytest

from pipeline.feeds.urls import canonical_url, is_tracking_param, unwrap_redirect

STORY = "https://news.example.com/world/story-123"


@pytest.mark.parametrize(
    "variant",
    [
        "https://news.example.com/world/story-123",
        "HTTPS://NEWS.Example.COM/world/story-123",
        "https://news.example.com:443/world/story-123",
        "https://news.example.com/world/story-123#comments",
        "https://news.example.com/world/story-123?utm_source=rss&utm_medium=feed",
        "https://news.example.com/world/story-123?fbclid=abc123",
        "https://news.example.com/world/story-123?gclid=x&mc_cid=y&mc_eid=z&cmpid=q",
        "  https://news.example.com/world/story-123  ",
        "https://redirect.example.net/out?url=https%3A%2F%2Fnews.example.com%2Fworld%2Fstory-123%3Futm_campaign%3Dx",
        "https://www.google.com/url?q=https://news.example.com/world/story-123&sa=D",
    ],
)
def test_variants_fold_to_one(variant):
    assert canonical_url(variant) == STORY


@pytest.mark.parametrize(
    "url, base, expected",
    [
        ("/world/story-123", "https://news.example.com/feeds/world.xml", STORY),
        ("story-123", "https://news.example.com/world/", STORY),
        ("../world/story-123?ref_src=twsrc", "https://news.example.com/feeds/x.xml", STORY),
        ("http://news.example.com:80/a", None, "http://news.example.com/a"),
        ("http://news.example.com:8080/a", None, "http://news.example.com:8080/a"),
        ("https://news.example.com", None, "https://news.example.com/"),
        ("https://news.example.com/a?b=2&a=1", None, "https://news.example.com/a?a=1&b=2"),
        ("https://news.example.com/a?id=7&utm_term=z", None, "https://news.example.com/a?id=7"),
        ("https://user:pw@news.example.com/a", None, "https://news.example.com/a"),
        ("https://news.example.com/caf%C3%A9 story", None, "https://news.example.com/caf%C3%A9%20story"),
        ("https://bücher.example/x", None, "https://xn--bcher-kva.example/x"),
    ],
)
def test_canonical_url_cases(url, base, expected):
    assert canonical_url(url, base) == expected


@pytest.mark.parametrize(
    "bad", ["", None, "mailto:desk@news.example.com", "javascript:void(0)", "ftp://x.example/a", "http://", "http://x:99999/"]
)
def test_unusable_urls_give_none(bad):
    assert canonical_url(bad) is None


@pytest.mark.parametrize("name, tracking", [("utm_source", True), ("UTM_Medium", True), ("fbclid", True), ("id", False), ("page", False)])
def test_is_tracking_param(name, tracking):
    assert is_tracking_param(name) is tracking


def test_unwrap_leaves_ordinary_urls_alone():
    assert unwrap_redirect("https://a.example/search?q=climate") == "https://a.example/search?q=climate"
