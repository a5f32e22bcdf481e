"""The one HTML decoder: page bytes to text, for the fetcher, the archive and extraction alike.

Precedence, as right for the web:

1. a byte-order mark (when the bytes decode under it);
2. the declared charsets, in order: the HTTP Content-Type charset (the fetcher has one), a
   ``<meta charset>`` / ``http-equiv`` declaration, an XML declaration. Labels follow the WHATWG
   encoding rules (latin-1, iso-8859-1, ascii, us-ascii mean windows-1252; a utf-16/32 label on
   bytes without a BOM means utf-8). A declaration is trusted only if the bytes decode strictly under
   it; and bytes that are valid, non-ASCII UTF-8 are UTF-8 whatever legacy charset they claim (a
   strict UTF-8 decode of legacy text almost never succeeds by accident, while servers labelling
   UTF-8 pages ISO-8859-1 by default are common);
3. with no usable declaration: strict UTF-8; else windows-1252 (by far the most common mislabel) when
   the bytes are all defined in it and its non-ASCII words read as text (charset-normalizer's mess
   measure); else detection restricted to the encodings that can carry the page's ``<html lang>``
   (plus gb18030, which carries every language), then to the web's legacy encodings.

A declaration is "usable" when the bytes decode strictly under it and, for a single-byte codec, give no
C1 control characters (U+0080-U+009F: windows-1252's punctuation under another label); a guess must pass
the same check, so no C1 controls come out while another plausible decoding has none.

Binary payloads (images, PDFs, archives, NUL bytes without a BOM) are refused with ``binary``;
bytes no codec explains are a ``decode_error``.
"""

from __future__ import annotations

import codecs
import functools
import importlib
import itertools
import logging
import re
from typing import Iterator

from pipeline.errors import PermanentError, Reason

LOGGER = logging.getLogger(__name__)

SNIFF_BYTES = 2048
META_SCAN_BYTES = 8192  # the HTML spec prescans 1024 bytes; real pages put <meta charset> later
DETECT_BYTES = 200_000  # detection cost grows with the sample; this much settles any real page
META_CHARSET_RE = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_:.+-]{1,40})", re.I)
XML_ENCODING_RE = re.compile(rb"^\s*<\?xml[^>]{0,100}?encoding\s*=\s*[\"']([A-Za-z0-9_:.+-]{1,40})", re.I)
HTML_LANG_RE = re.compile(rb"<html\b[^>]{0,500}?\blang\s*=\s*[\"']?\s*([A-Za-z]{2,3})\b", re.I)
C1_CONTROLS_RE = re.compile("[\x80-\x9f]")
NON_ASCII_WORD_RE = re.compile(r"[^\s<>\"']{0,20}[^\x00-\x7f][^\s<>\"']{0,20}")
MESS_SAMPLE_WORDS = 400  # words with non-ASCII letters: enough to tell text from mojibake
MAX_MESS = 0.2  # charset-normalizer's own threshold between readable text and mess
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"OggS", b"RIFF",
                b"\x00\x00\x01\x00")


# WHATWG encoding rules, by Python codec name: what these labels mean on the web.
CHARSET_ALIASES = {"iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254",
                   "utf-16": "utf-8", "utf-16-le": "utf-8", "utf-16-be": "utf-8",
                   "utf-32": "utf-8", "utf-32-le": "utf-8", "utf-32-be": "utf-8"}


# Detector guesses among Latin-script code pages: windows-1252, the web's default, wins the tie.
# (Python codec names after the aliases above: latin_1 is already cp1252, iso8859_9 cp1254.)
LATIN_CODE_PAGES = frozenset({"cp1250", "cp1252", "cp1254", "cp1257", "iso8859-2", "iso8859-15", "mac-roman"})


# Encodings a page in a language is plausibly served in (charset-normalizer names), by <html lang> subtag.
WESTERN = ("cp1252", "iso8859_15")
CENTRAL = ("cp1250", "iso8859_2")
CYRILLIC = ("cp1251", "koi8_r", "koi8_u", "iso8859_5", "cp866")
LANGUAGE_CODECS = {
    **dict.fromkeys(("en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "no", "nb", "nn", "fi", "is", "ca", "eu",
                     "gl", "ga", "af", "sw", "id", "ms", "lb", "fo", "kl", "rm"), WESTERN),
    **dict.fromkeys(("pl", "cs", "sk", "hu", "sl", "hr", "ro", "bs", "sq"), CENTRAL),
    **dict.fromkeys(("ru", "uk", "bg", "sr", "be", "mk"), CYRILLIC),
    "tr": ("cp1254", "iso8859_9"), "el": ("cp1253", "iso8859_7"), "lt": ("cp1257", "iso8859_13"),
    "lv": ("cp1257", "iso8859_13"), "et": ("cp1257", "iso8859_15"), "vi": ("cp1258",),
    "ja": ("shift_jis", "cp932", "euc_jp", "iso2022_jp"), "ko": ("euc_kr", "cp949"),
    "zh": ("gb18030", "big5", "big5hkscs"), "he": ("cp1255", "iso8859_8"), "ar": ("cp1256", "iso8859_6"),
    "th": ("cp874", "tis_620"),
}


# Legacy encodings that hold all of Unicode, so a page in any language may come in them.
UNICODE_CODECS = ("gb18030",)


# The encodings real pages are served in (the WHATWG legacy set), when the language does not settle it.
WEB_CODECS = ("cp1252", "gb18030", "shift_jis", "euc_jp", "euc_kr", "big5", "cp1251", "koi8_r", "cp1250",
              "iso8859_2", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp874", "iso8859_15")


def bom_charset(raw: bytes) -> str | None:
    """The codec a byte-order mark announces, if the bytes start with one."""
    for bom, codec in BOMS:
        if raw.startswith(bom):
            return codec
    return None


def looks_binary(raw: bytes) -> bool:
    """Magic numbers of images, PDFs and archives, or NUL bytes near the start without a BOM."""
    if bom_charset(raw) is not None:
        return False
    head = raw[:SNIFF_BYTES]
    return head.startswith(BINARY_MAGIC) or b"\x00" in head


def ensure_not_binary(raw: bytes) -> None:
    """Refuse images, PDFs, archives and other non-text payloads."""
    if looks_binary(raw):
        raise PermanentError("payload is binary, not HTML", reason=Reason.BINARY)


def declared_charsets(raw: bytes, header_charset: str | None = None) -> list[str]:
    """Charset labels in precedence order: HTTP header, <meta>, XML declaration."""
    head = raw[:META_SCAN_BYTES]
    labels = [header_charset]
    for pattern in (META_CHARSET_RE, XML_ENCODING_RE):
        match = pattern.search(head)
        labels.append(match.group(1).decode("ascii") if match else None)
    return [label for label in labels if label]


def normalise_charset(label: str) -> str | None:
    """The Python codec a charset label means on the web (WHATWG aliases), None when unknown."""
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except (LookupError, ValueError):
        return None
    return CHARSET_ALIASES.get(name, name)


def decode_strict(raw: bytes, codec: str) -> str | None:
    """The bytes decoded under ``codec``, or None when they do not fit it."""
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        return None


def decode_html(raw: bytes, header_charset: str | None = None) -> tuple[str, str]:
    """Page bytes to (text, codec used): BOM, declared charsets (checked), UTF-8, then guessing."""
    bom = bom_charset(raw)
    text = decode_strict(raw, bom) if bom is not None else None
    if text is not None:
        return text, bom
    ensure_not_binary(raw)
    utf8 = decode_strict(raw, "utf-8")
    for codec in filter(None, map(normalise_charset, declared_charsets(raw, header_charset))):
        if utf8 is not None and codec != "utf-8" and not raw.isascii():
            return utf8, "utf-8"  # valid UTF-8 mislabelled with a legacy charset
        text = decode_clean(raw, codec)
        if text is not None:
            return text, codec
        LOGGER.debug("declared charset %s does not fit the bytes; trying the next", codec)
    if utf8 is not None:
        return utf8, "utf-8"
    return guess_and_decode(raw)


def decode_clean(raw: bytes, codec: str) -> str | None:
    """The bytes decoded strictly under ``codec``, else None; a single-byte codec must give no C1 controls."""
    text = decode_strict(raw, codec)
    if text is not None and is_single_byte(codec) and C1_CONTROLS_RE.search(text):
        return None  # bytes 0x80-0x9f read as controls: windows-1252's characters under another label
    return text


@functools.lru_cache(maxsize=64)
def is_single_byte(codec: str) -> bool:
    """Whether a codec maps each byte to one character (a table codec: cp*, iso8859-*, koi8-*, mac-*)."""
    try:
        module = importlib.import_module("encodings." + codecs.lookup(codec).name.replace("-", "_"))
    except (ImportError, LookupError):
        return False
    return hasattr(module, "decoding_table") or hasattr(module, "decoding_map")


def page_language(raw: bytes) -> str | None:
    """The primary subtag of the page's ``<html lang>``, lower-case, when it declares one."""
    match = HTML_LANG_RE.search(raw[:META_SCAN_BYTES])
    return match.group(1).decode("ascii").lower() if match else None


def reads_cleanly(text: str) -> bool:
    """Whether the non-ASCII words of a decoding read like text, not mojibake (charset-normalizer's mess measure)."""
    from charset_normalizer.md import mess_ratio

    words = NON_ASCII_WORD_RE.finditer(text[:DETECT_BYTES])
    sample = " ".join(match.group() for _, match in zip(range(MESS_SAMPLE_WORDS), words))
    return mess_ratio(sample, MAX_MESS) < MAX_MESS


def guess_and_decode(raw: bytes) -> tuple[str, str]:
    """Undeclared or wrongly declared bytes: the first plausible codec whose reading is clean and reads as text."""
    fallback = None
    for codec in guess_codecs(raw):
        text = decode_clean(raw, codec)
        if text is None:
            continue
        if reads_cleanly(text):
            return text, codec
        fallback = fallback or (text, codec)  # no C1 controls, if not convincing: better than a guess with
    return fallback or decode_best_effort(raw)


def guess_codecs(raw: bytes) -> Iterator[str]:
    """Codecs to try, most likely first: windows-1252, then those that can carry the page's language, then the web's."""
    language = LANGUAGE_CODECS.get(page_language(raw) or "")
    plausible = language + UNICODE_CODECS if language else None
    groups = [group for group in (plausible, WEB_CODECS) if group]
    seen = set()
    codecs_in_order = itertools.chain(
        ("cp1252",) if plausible is None or "cp1252" in plausible else (),
        *((*detected_codecs(raw, group), *map(normalise_charset, group)) for group in groups))
    for codec in codecs_in_order:
        if codec and codec not in seen:
            seen.add(codec)
            yield codec


def detected_codecs(raw: bytes, candidates: tuple[str, ...]) -> Iterator[str]:
    """charset-normalizer's guesses among ``candidates``, best first (Latin code pages try windows-1252 first)."""
    from charset_normalizer import from_bytes

    for match in from_bytes(raw[:DETECT_BYTES], cp_isolation=list(candidates)):
        codec = normalise_charset(match.encoding) or match.encoding
        if codec in LATIN_CODE_PAGES:
            yield "cp1252"
        yield codec


def decode_best_effort(raw: bytes) -> tuple[str, str]:
    """charset-normalizer's best guess with replacement characters; PermanentError decode_error when it has none."""
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:DETECT_BYTES]).best()
    if best is None:
        raise PermanentError("cannot determine the character encoding", reason=Reason.DECODE_ERROR)
    codec = normalise_charset(best.encoding) or best.encoding
    return raw.decode(codec, errors="replace"), codec
