"""Character-set handling of fetched pages: BOM, header, <meta>, XML declaration, then detection."""

from __future__ import annotations

import codecs

import pytest
from test_fetch_server import site  # noqa: F401 (the fixture)

from pipeline.errors import PermanentError
from pipeline.fetch.decode import decode_html
from pipeline.fetch.page import fetch_page
from pipeline.fetch.politeness import HostLimiter, Politeness
from pipeline.settings import Settings

FRENCH = ("Le président a déclaré à la presse que l'économie française progressait, "
          "malgré les inquiétudes exprimées par les élus régionaux et les syndicats. ") * 4
RUSSIAN = "Президент заявил журналистам, что экономика страны растёт, несмотря на опасения. " * 4
JAPANESE = "首相は記者団に対し、経済は回復していると述べた。専門家は慎重な見方を示している。" * 4


def page(text: str, head: str = "") -> str:
    """A minimal HTML page around ``text``."""
    return f"<html><head>{head}<title>t</title></head><body><p>{text}</p></body></html>"


@pytest.mark.parametrize("html, codec, header, expected_codec", [
    (page(FRENCH), "utf-8", "utf-8", "utf-8"),
    (page(FRENCH), "cp1252", "iso-8859-1", "cp1252"),  # WHATWG: latin-1 means windows-1252
    (page("“quoted” — " + FRENCH), "cp1252", "us-ascii", "cp1252"),
    (page(RUSSIAN, "<meta charset='windows-1251'>"), "cp1251", None, "cp1251"),
    (page(RUSSIAN, '<meta http-equiv="Content-Type" content="text/html; charset=KOI8-R">'), "koi8-r", None, "koi8-r"),
    (page(JAPANESE, '<meta charset="Shift_JIS">'), "shift_jis", None, "shift_jis"),
    ('<?xml version="1.0" encoding="ISO-8859-15"?>' + page(FRENCH + " €"), "iso-8859-15", None, "iso8859-15"),
    (page(RUSSIAN, "<meta charset='windows-1251'>"), "cp1251", "utf-8", "cp1251"),  # header lies: meta fits
    (page(FRENCH, "<meta charset='x-no-such-charset'>"), "utf-8", None, "utf-8"),  # unknown label skipped
    (page(FRENCH), "utf-8", "iso-8859-1", "utf-8"),  # valid UTF-8 beats a legacy label (server default)
    (page(FRENCH, "<meta charset='utf-16'>"), "utf-8", None, "utf-8"),  # WHATWG: utf-16 without BOM is utf-8
    (page("“quoted” — " + FRENCH, "<meta charset='latin-1'>"), "cp1252", None, "cp1252"),
])
def test_declared_charset(html, codec, header, expected_codec):
    text, used = decode_html(html.encode(codec), header)
    assert text == html and used == expected_codec


@pytest.mark.parametrize("bom_codec", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_byte_order_mark_beats_header(bom_codec):
    html = page(RUSSIAN)
    raw = html.encode(bom_codec)
    if bom_codec == "utf-16-be":
        raw = codecs.BOM_UTF16_BE + raw
    text, _ = decode_html(raw, "iso-8859-1")
    assert text == html


@pytest.mark.parametrize("html, codec", [
    (page(FRENCH), "cp1252"),
    (page(RUSSIAN), "cp1251"),
    (page(JAPANESE), "euc_jp"),
])
def test_undeclared_charset_is_detected(html, codec):
    text, _ = decode_html(html.encode(codec), None)
    assert text == html


def test_header_that_does_not_fit_falls_back_to_detection():
    html = page(FRENCH)
    text, used = decode_html(html.encode("cp1252"), "utf-8")
    assert text == html and used != "utf-8"


MONTREAL = "Le café de Montréal rouvre : « Ça fait du bien », dit François. " * 3


@pytest.mark.parametrize("html, header", [
    (page(MONTREAL), "utf-8"),  # issue 15: decoded as cp775 ("Montrķal cafķ")
    (page(MONTREAL, "<meta charset='utf-8'>"), None),
    (page(MONTREAL), None),
    ("<html lang='fr'>" + page(MONTREAL)[6:], "utf-8"),
    (page("“Quoted” — it’s " + FRENCH), "utf-8"),
])
def test_cp1252_mislabelled_as_utf8_is_cp1252(html, header):
    assert decode_html(html.encode("cp1252"), header) == (html, "cp1252")


@pytest.mark.parametrize("html, codec", [
    (page(RUSSIAN), "cp1251"),
    ("<html lang='ru'>" + page(RUSSIAN)[6:], "cp1251"),
    (page(JAPANESE), "shift_jis"),
    (page("대통령은 기자들에게 경제가 성장하고 있다고 말했다. " * 4), "euc_kr"),
    (page("国家主席对记者说，经济正在增长，尽管存在担忧。" * 4), "gb18030"),
])
def test_other_charsets_labelled_utf8_are_not_read_as_cp1252(html, codec):
    assert decode_html(html.encode(codec), "utf-8")[0] == html


def test_no_c1_controls_when_a_clean_decoding_exists():
    html = page(MONTREAL + "“ok” – ‘fine’ … € ™ œ Ÿ")
    text, _ = decode_html(html.encode("cp1252"), "iso-8859-2")  # iso-8859-2 reads 0x80-0x9f as C1 controls
    assert text == html and not any("\x80" <= ch <= "\x9f" for ch in text)


def test_fetched_page_uses_meta_charset_when_header_has_none(site):
    html = page(RUSSIAN, "<meta charset='windows-1251'>")
    url = site.add("/ru", body=html.encode("cp1251"), headers={"Content-Type": "text/html"})
    settings = Settings(allow_private_addresses=True, per_host_delay=0.0)
    fetched = fetch_page(url, settings, politeness=Politeness(HostLimiter(2, 0.0)))
    assert fetched.html == html and fetched.encoding == "cp1251"
    assert fetched.raw == html.encode("cp1251")


def test_hopeless_bytes_are_a_decode_error(monkeypatch):
    import charset_normalizer

    from pipeline.fetch import decode

    class NoMatch(list):
        def best(self):
            return None

    # charset-normalizer finds *some* codec for nearly anything, and gb18030 decodes most bytes:
    # force the "no idea" answer and an empty candidate list.
    monkeypatch.setattr(charset_normalizer, "from_bytes", lambda raw, **kwargs: NoMatch())
    monkeypatch.setattr(decode, "WEB_CODECS", ())
    with pytest.raises(PermanentError) as info:
        decode_html(b"\x81\x8d\x8f" * 10 + b"\xc3", None)
    assert info.value.reason == "decode_error"
