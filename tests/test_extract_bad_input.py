"""Bad pages give a PermanentError with a reason, quickly; odd encodings are decoded correctly."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from pipeline.errors import PermanentError
from pipeline.extract.article import ExtractionTimeout, extract_article, strip_blocks, time_limit
from pipeline.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
ARTICLE = (FIXTURES / "byline_by_and.html").read_bytes()
PARAGRAPH = "<p>The council published its annual report on road repairs, bus shelters and street lighting today.</p>\n"


def nested(depth: int) -> str:
    """A page whose only paragraph sits under ``depth`` nested divs."""
    return "<html><body>" + "<div>" * depth + PARAGRAPH * 5 + "</div>" * depth + "</body></html>"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("page", "reason"),
    [
        pytest.param(b"", "empty_body", id="empty-bytes"),
        pytest.param("  \n\t ", "empty_body", id="whitespace"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "binary", id="png"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary", id="pdf"),
        pytest.param(b"<html>\x00\x01\x02\x03" + bytes(range(256)) * 4, "binary", id="nul-bytes"),
        pytest.param("\x01\x02\x03\x04\x05\x06 <p>x</p> \x07\x08\x0b\x0e\x0f", "binary", id="control-characters"),
        pytest.param("Just a sentence of plain text, no markup at all.", "not_html", id="plain-text"),
        pytest.param(ARTICLE[:300], "no_article", id="truncated-in-head"),
        pytest.param("<html><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></body></html>", "no_article", id="navigation-only"),
        pytest.param(nested(1000), "too_deep", id="nested-1000"),
        pytest.param(nested(200), "too_deep", id="nested-200"),
    ],
)
def test_bad_page_is_refused_with_reason(page, reason, settings):
    started = time.monotonic()
    with pytest.raises(PermanentError) as caught:
        extract_article(page, url="https://news.example/a", settings=settings)
    assert caught.value.reason == reason
    assert time.monotonic() - started < 30


def test_page_over_size_limit_is_refused(tmp_path):
    small = Settings(data_dir=tmp_path, extract_max_bytes=10_000)
    page = ("<html><body>" + PARAGRAPH * 200 + "</body></html>").encode()
    with pytest.raises(PermanentError) as caught:
        extract_article(page, settings=small)
    assert caught.value.reason == "too_large"


@pytest.mark.timeout(60)
def test_slow_extraction_is_cut_off(tmp_path):
    hurried = Settings(data_dir=tmp_path, extract_timeout=0.05)
    page = "<html><body>" + "<div><p>Street lighting report for the ward.</p><a href='/x'>link</a></div>" * 40_000 + "</body></html>"
    started = time.monotonic()
    with pytest.raises(PermanentError) as caught:
        extract_article(page, settings=hurried)
    assert caught.value.reason == "extract_timeout"
    assert time.monotonic() - started < 10


def test_moderate_nesting_still_extracts(settings):
    article = extract_article(nested(120), settings=settings)
    assert "annual report on road repairs" in article.text


def test_time_limit_restores_outer_alarm():
    outer_fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: outer_fired.append(True))
    signal.setitimer(signal.ITIMER_REAL, 5.0)
    try:
        with pytest.raises(ExtractionTimeout), time_limit(0.05):
            while True:
                pass
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 4.0 < remaining <= 5.0  # the outer deadline is kept, minus the time spent inside
        assert signal.getsignal(signal.SIGALRM) is not None and not outer_fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


ACCENTED = "Café owners in Zürich say the crème brûlée tax is naïve; a façade of reform."


def page_with_charset(declared: str, body: str = ACCENTED) -> str:
    return (
        f'<html><head><meta charset="{declared}"><title>Tax row</title></head>'
        f"<body><article><p>{body}</p><p>{body}</p><p>{body}</p></article></body></html>"
    )


@pytest.mark.parametrize(
    ("encoded", "label"),
    [
        (page_with_charset("utf-8").encode("cp1252"), "cp1252 bytes declared utf-8"),
        (page_with_charset("iso-8859-1").encode("utf-8"), "utf-8 bytes declared latin-1"),
        (page_with_charset("windows-1252").encode("cp1252"), "cp1252 declared correctly"),
        (page_with_charset("utf-8").encode("utf-16"), "utf-16 with BOM"),
        (b"\xef\xbb\xbf" + page_with_charset("utf-8").encode("utf-8"), "utf-8 with BOM"),
        (page_with_charset("no-such-charset").encode("utf-8"), "unknown charset name"),
        (('<?xml version="1.0" encoding="ISO-8859-1"?>' + page_with_charset("iso-8859-1")).encode("latin-1"), "XHTML with XML declaration"),
    ],
)
def test_misdeclared_charset_is_decoded(encoded, label, settings):
    article = extract_article(encoded, settings=settings)
    assert "Café owners in Zürich" in article.text, label
    assert "crème brûlée" in article.text, label


@pytest.mark.timeout(120)
def test_huge_page_of_scripts_still_extracts(settings):
    bloat = "<script>var x = '" + "a" * 4_000_000 + "';</script><style>" + ".c{}" * 10_000 + "</style>"
    page = "<html><head><title>Tax row</title>" + bloat + "</head><body><article>" + PARAGRAPH * 6 + "</article></body></html>"
    started = time.process_time()  # CPU time: what the page costs, whatever the machine's load
    article = extract_article(page, settings=settings)
    assert "annual report on road repairs" in article.text
    assert time.process_time() - started < 10


@pytest.mark.timeout(120)
def test_huge_markup_is_cut_and_bounded(tmp_path):
    small_cap = Settings(data_dir=tmp_path, extract_max_parse_chars=200_000)
    block = "<div><p>Street lighting report number {} for the ward, with repairs listed by road and month.</p><a href='/x'>More</a></div>\n"
    page = "<html><body><article>" + "".join(block.format(i) for i in range(40_000)) + "</article></body></html>"
    assert len(page) > 4_000_000
    started = time.process_time()
    article = extract_article(page, settings=small_cap)
    assert "Street lighting report number 0 " in article.text
    assert "number 39999 " not in article.text  # the tail beyond the cap is cut
    assert time.process_time() - started < 10


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("a<script>x()</script>b", "ab"),
        ('a<SCRIPT type="application/ld+json">{}</SCRIPT>b', 'a<SCRIPT type="application/ld+json">{}</SCRIPT>b'),
        ("a<script>never closed", "a<script>never closed"),
        ("<script>1</script><script>2</script>", ""),
    ],
)
def test_strip_blocks(markup, expected):
    assert strip_blocks(markup, "script", keep="ld+json") == expected
