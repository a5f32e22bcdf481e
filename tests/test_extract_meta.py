"""Article metadata and body cleaning on small original pages (tests/fixtures/extract/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.extract.article import extract_article
from pipeline.extract.meta import clean_author_names, date_from_url, parse_datetime, strip_site_suffix
from pipeline.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
PAGE_URL = "https://news.example/2022/07/14/story.html"


@pytest.fixture(scope="module")
def articles() -> dict:
    """Every fixture page extracted once, keyed by file stem."""
    settings = Settings()
    return {p.stem: extract_article(p.read_bytes(), url=PAGE_URL, settings=settings) for p in sorted(FIXTURES.glob("*.html"))}


@pytest.mark.parametrize(
    ("page", "field", "expected"),
    [
        # JSON-LD: the visible headline without "| Outlet", people only, dates converted to UTC
        ("jsonld_two_authors", "title", "Ferry service to Gull Island resumes after winter repairs"),
        ("jsonld_two_authors", "authors", ["Priya Raman", "Owen Castellano"]),
        ("jsonld_two_authors", "published_at", "2024-03-06T04:30:00Z"),
        ("jsonld_two_authors", "modified_at", "2024-03-06T14:10:00Z"),
        ("jsonld_two_authors", "canonical_url", "https://harbourgazette.example/news/ferry-resumes"),
        ("jsonld_two_authors", "image", "https://harbourgazette.example/images/ferry-dock.jpg"),
        ("jsonld_two_authors", "site_name", "The Harbour Gazette"),
        ("jsonld_two_authors", "summary", "The island ferry is back on its summer timetable after three months in dry dock."),
        ("jsonld_two_authors", "language", "en"),
        # "By A and B" byline markup, OpenGraph dates with an offset, a relative canonical link
        ("byline_by_and", "title", "Allotment waiting list doubles as growers seek more plots"),
        ("byline_by_and", "authors", ["Maria Lopez", "Tom O'Brien"]),
        ("byline_by_and", "published_at", "2023-06-18T05:45:00Z"),
        ("byline_by_and", "modified_at", "2023-06-18T10:00:00Z"),
        ("byline_by_and", "canonical_url", "https://news.example/local/allotment-waiting-list"),
        ("byline_by_and", "image", "https://cdn.riverside.example/img/allotments.jpg"),
        # a "Staff" credit is no author; <time datetime> crosses midnight into the previous UTC day
        ("staff_byline_time", "authors", []),
        ("staff_byline_time", "published_at", "2023-11-01T23:15:00Z"),
        ("staff_byline_time", "title", "Night market returns to the old tram depot"),
        # no date anywhere but in the URL; og:title with the site suffix and no <h1>
        ("url_date_only", "published_at", "2022-07-14T00:00:00Z"),
        ("url_date_only", "title", "Library extends opening hours during exam season"),
        ("url_date_only", "canonical_url", PAGE_URL),
        # the byline is only the body's first line; the outlet in meta author is dropped
        ("body_first_line_byline", "authors", ["Ana Silva"]),
        ("body_first_line_byline", "title", "A potter's second career"),
    ],
)
def test_metadata_field(articles, page, field, expected):
    assert getattr(articles[page], field) == expected


@pytest.mark.parametrize(
    ("page", "absent"),
    [
        ("jsonld_two_authors", "Sign up for our newsletter"),
        ("jsonld_two_authors", "Read more:"),
        ("jsonld_two_authors", "By Priya Raman"),
        ("jsonld_two_authors", "Ferry service to Gull Island resumes"),  # the headline is not body
        ("body_first_line_byline", "Ana Silva"),
        ("staff_byline_time", "Posted"),
    ],
)
def test_body_leaves_out(articles, page, absent):
    assert absent not in articles[page].text


@pytest.mark.parametrize("page", ["jsonld_two_authors", "byline_by_and", "staff_byline_time", "url_date_only"])
def test_body_keeps_paragraph_breaks(articles, page):
    paragraphs = articles[page].text.split("\n\n")
    assert len(paragraphs) >= 3
    assert articles[page].word_count == len(articles[page].text.split())


@pytest.mark.parametrize(
    ("title", "sites", "expected"),
    [
        ("Storm closes coast road | Bay Chronicle", ["Bay Chronicle"], "Storm closes coast road"),
        ("Bay Chronicle - Storm closes coast road", ["Bay Chronicle"], "Storm closes coast road"),
        ("Storm closes coast road - Opinion", [], "Storm closes coast road"),
        ("BUDGET | Council agrees a four-year spending plan for roads", [], "BUDGET | Council agrees a four-year spending plan for roads"),
        ("Storm closes coast road", ["Bay Chronicle"], "Storm closes coast road"),
    ],
)
def test_strip_site_suffix(title, sites, expected):
    assert strip_site_suffix(title, sites) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["By Jane Doe and John Roe"], ["Jane Doe", "John Roe"]),
        (["By: Jane Doe, John Roe & Ann Poe"], ["Jane Doe", "John Roe", "Ann Poe"]),
        (["Jane Doe", "JANE DOE", "jane doe"], ["Jane Doe"]),
        (["Bay Chronicle Staff"], []),
        (["Bay Chronicle"], []),
        (["https://example.com/profile/jane"], []),
        (["Jane Doe | Updated 3 May 2024"], ["Jane Doe"]),
    ],
)
def test_clean_author_names(raw, expected):
    assert clean_author_names(raw, ["Bay Chronicle"]) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-09-03T04:03:19Z", "2024-09-03T04:03:19+00:00"),
        ("2024-09-02T17:07:00+05:30", "2024-09-02T11:37:00+00:00"),
        ("2024-09-03", "2024-09-03T00:00:00+00:00"),
        ("Tue, 03 Sep 2024 04:03:19 GMT", "2024-09-03T04:03:19+00:00"),
        ("1725336199", "2024-09-03T04:03:19+00:00"),
        ("not a date", None),
        ("", None),
    ],
)
def test_parse_datetime(value, expected):
    parsed = parse_datetime(value)
    assert (parsed.isoformat() if parsed else None) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.example/news/2021/02/28/a-story", "2021-02-28"),
        ("https://x.example/2021-2-8/story", "2021-02-08"),
        ("https://x.example/story-20210228.html", "2021-02-28"),
        ("https://x.example/news/2021/13/40/story", None),
        ("https://x.example/news/story", None),
    ],
)
def test_date_from_url(url, expected):
    found = date_from_url(url)
    assert (found.date().isoformat() if found else None) == expected


@pytest.mark.parametrize(
    ("raw", "outlets", "expected"),
    [
        (["Analysis by Jane Doe"], [], ["Jane Doe"]),
        (["Jane Doe, MS, RDN"], [], ["Jane Doe"]),
        (["Jane Doe", "CNN Business"], ["CNN"], ["Jane Doe"]),
        (["Jane Doe", "Cleveland.com"], [], ["Jane Doe"]),
        (["Jane Doe", "About Jane Doe"], [], ["Jane Doe"]),
    ],
)
def test_clean_author_names_drops_credits_that_are_not_people(raw, outlets, expected):
    assert clean_author_names(raw, outlets) == expected


def test_jsonld_headline_is_unescaped(tmp_path):
    page = (
        '<html><head><title>Other | Site</title><script type="application/ld+json">'
        '{"@type": "NewsArticle", "headline": "Mayor&#039;s &amp; council&#8217;s plan"}</script></head>'
        "<body><h1>Mayor's plan</h1>" + "<p>The mayor and the council set out a joint plan for the harbour district today.</p>" * 4 + "</body></html>"
    )
    article = extract_article(page, settings=Settings(data_dir=tmp_path))
    assert article.title == "Mayor's & council\u2019s plan"


def test_article_jsonld_is_the_one_matching_the_page(tmp_path):
    related = '{"@type": "NewsArticle", "headline": "Unrelated story about a bakery", "author": {"name": "Someone Else"}}'
    own = '{"@type": "NewsArticle", "headline": "Harbour wall repairs finished early", "author": {"name": "Rita Okafor"}}'
    page = (
        f'<html><head><meta property="og:title" content="Harbour wall repairs finished early">'
        f'<script type="application/ld+json">[{related}, {own}]</script></head><body>'
        + "<p>Engineers finished the harbour wall repairs two weeks ahead of the schedule set in spring.</p>" * 4
        + "</body></html>"
    )
    article = extract_article(page, settings=Settings(data_dir=tmp_path))
    assert (article.title, article.authors) == ("Harbour wall repairs finished early", ["Rita Okafor"])


@pytest.mark.parametrize("value", ["Tuesday", "3 hours ago", "12:30", "Updated"])
def test_parse_datetime_needs_a_year(value):
    assert parse_datetime(value) is None


def test_lone_surrogate_in_jsonld_is_replaced(tmp_path):
    page = (
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle", "headline": "Storm \\ud83d warning"}</script>'
        "</head><body>" + "<p>The coastguard issued a storm warning for the whole bay on Friday evening.</p>" * 4 + "</body></html>"
    )
    article = extract_article(page, settings=Settings(data_dir=tmp_path))
    assert article.title == "Storm ? warning"
    json_line = __import__("json").dumps(article.to_dict(), ensure_ascii=False)
    json_line.encode("utf-8")  # printable and indexable


@pytest.mark.parametrize(
    ("text", "authors", "expected_text", "expected_authors"),
    [
        ("By Jane Doe and John Roe\n\nBody.", [], "Body.", ["Jane Doe", "John Roe"]),
        ("By Jane Doe\n\nBody.", ["Jane Doe"], "Body.", ["Jane Doe"]),
        ("Jane Doe\n\nBody.", [], "Body.", ["Jane Doe"]),
        ("Key Findings\n\nBody.", [], "Key Findings\n\nBody.", []),
        ("GIRLS BASKETBALL\n\nBody.", [], "GIRLS BASKETBALL\n\nBody.", []),
        ("John Roe\n\nBody.", ["Jane Doe"], "John Roe\n\nBody.", ["Jane Doe"]),
        ("Bay Chronicle Staff\n\nBody.", [], "Bay Chronicle Staff\n\nBody.", []),
    ],
)
def test_split_body_byline(text, authors, expected_text, expected_authors):
    from pipeline.extract.meta import split_body_byline

    assert split_body_byline(text, authors, ["Bay Chronicle"]) == (expected_text, expected_authors)


@pytest.mark.parametrize(
    "markup, expected",
    [
        ('<a rel="author">Jane Doe</a>', ["Jane Doe"]),
        ('<div itemprop="author"><span itemprop="name">Jane Doe</span></div>', ["Jane Doe"]),
        ('<span itemprop="name">Not an author</span>', []),
        ('<p class="story\tbyline  small">By Jane Doe</p>', ["By Jane Doe"]),
        ('<p class="bylines">Not a byline</p>', []),
        ('<span class="c-byline__name">Jane Doe</span><span class="author__name">John Roe</span>', ["Jane Doe", "John Roe"]),
        ('<span class="x author-name-link">Jane Doe</span>', ["Jane Doe"]),
        ('<span class="author">Not matched</span>', []),
    ],
)
def test_markup_authors_single_pass_matches_union(markup, expected):
    """The one-pass byline XPath finds exactly what the four-way union did, in page order."""
    from pipeline.extract.meta import markup_authors, parse_html_tree

    tree = parse_html_tree(f"<html><body><h1>Title</h1>{markup}<p>Text.</p></body></html>")
    union = (
        "//*[@rel='author']|//*[@itemprop='author']//*[@itemprop='name']"
        "|//*[contains(concat(' ', normalize-space(@class), ' '), ' byline ')]"
        "|//*[contains(@class, 'author-name') or contains(@class, 'byline__name') or contains(@class, 'author__name')]"
    )
    assert markup_authors(tree) == expected == [" ".join(n.text_content().split()) for n in tree.xpath(union)]
