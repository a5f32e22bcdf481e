"""Quotation marks: where quoted spans start and end in a text, and how each sits in its paragraph.

Curly and straight double quotes, « » and „ “ are recognised; single quotes nested inside are part of
the quote. Typewriter pairs ('' and ``) count as straight marks, a closing mark typed at the start of a
word opens, and a quote typed with mixed styles closes on the other style when its own never comes.
A quote left open at the end of a paragraph continues when the next paragraph opens with a mark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

OPENERS = {"“": "”", "«": "»", "„": "“", '"': '"'}
CLOSERS = {"”", "»", '"'}
MARK_CHARS = "\"'`“”«»„"
# A quoted title ("Face the Nation") is in title case: capitalised words and these small ones.
TITLE_SMALL_WORDS = frozenset("a an the and or of in on at to for with by from as is it's vs".split())
MAX_TITLE_WORDS = 8


@dataclass
class QuoteSpan:
    """Character span of a quotation's content (marks excluded) and how it sits in its paragraph."""

    start: int
    end: int
    opens_paragraph: bool
    continued: bool = False  # continues a quote left open in the previous paragraph


def marks_in(text: str, start: int, end: int) -> Iterator[tuple[int, int, str]]:
    """(position, width, mark) of the double quotation marks in ``text[start:end]``, normalised.

    Typewriter pairs '' and `` count as a straight mark (some wires and archives use them), and a
    closing ” at the start of a paragraph or word is a mistyped opening mark.
    """
    i = start
    while i < end:
        pair = text[i:i + 2]
        if pair in ("''", "``") and i + 2 <= end:
            yield i, 2, '"'
            i += 2
            continue
        ch = text[i]
        if ch == "”" and (i == start or text[i - 1].isspace()) and i + 1 < end and text[i + 1].isalnum():
            yield i, 1, "“"
        elif ch in OPENERS or ch in CLOSERS:
            yield i, 1, ch
        i += 1


def scan_paragraph(text: str, start: int, end: int, open_at_start: bool) -> tuple[list[tuple[int, int]], bool]:
    """Quote content spans of one paragraph, and whether a quote is still open at its end."""
    spans, closer, begin = [], None, start
    marks = list(marks_in(text, start, end))
    last = {mark: k for k, (_, _, mark) in enumerate(marks)}  # where each mark is seen for the last time
    for k, (i, width, mark) in enumerate(marks):
        if open_at_start and i == start:
            closer, begin = ('"' if mark == '"' else "”"), i + width
        elif closer is None and mark in OPENERS and is_opening(text, i, start, mark):
            closer, begin = OPENERS[mark], i + width
        elif closer is not None and closes(mark, closer, last.get(closer, -1) > k):
            if i > begin:
                spans.append((begin, i))
            closer = None
    if closer is not None and end > begin:
        spans.append((begin, end))
    return spans, closer is not None


def closes(mark: str, closer: str, closer_comes_later: bool) -> bool:
    """Does ``mark`` end the open quote? Curly and straight marks nest inside each other, unless
    the expected closer never comes: then the other style closes it (mixed “..." typing)."""
    if mark == closer:
        return True
    if mark not in CLOSERS:
        return False
    same_style = (mark == '"') == (closer == '"')
    return same_style or not closer_comes_later


def is_opening(text: str, i: int, para_start: int, mark: str) -> bool:
    """A straight mark opens a quote when it is not glued to a preceding word."""
    if mark != '"':
        return True
    return i == para_start or not (text[i - 1].isalnum() or text[i - 1] in ".,!?")


def opens_with_mark(text: str, start: int, end: int) -> bool:
    """True when a paragraph begins with an opening quotation mark."""
    first = next(marks_in(text, start, min(end, start + 2)), None)
    return first is not None and first[0] == start and first[2] in OPENERS


def find_quote_spans(text: str, paragraphs: list[tuple[int, int]]) -> list[QuoteSpan]:
    """Quote spans of an article; a quote left open continues into a paragraph that opens with a mark."""
    found, left_open = [], False
    for p_start, p_end in paragraphs:
        opens = opens_with_mark(text, p_start, p_end)
        continues = left_open and opens
        spans, left_open = scan_paragraph(text, p_start, p_end, open_at_start=continues)
        for n, (s, e) in enumerate(spans):
            s2, e2 = strip_span(text, s, e)
            if e2 > s2:
                first = n == 0 and opens
                found.append(QuoteSpan(s2, e2, opens_paragraph=first, continued=continues and n == 0))
    return found


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim whitespace from both ends of a span, and the comma that hands over to the attribution."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] == ","):
        end -= 1
    return start, end


def quote_kind(text: str, span: QuoteSpan, para_start: int) -> str:
    """``direct`` when the quote stands as its own utterance, ``partial`` when embedded in a clause."""
    i = span.start - 1
    while i >= para_start and (text[i].isspace() or text[i] in MARK_CHARS):
        i -= 1
    if i < para_start or span.continued:
        return "direct"
    return "direct" if text[i] in ":,.!?;—–-([" else "partial"


def is_title(content: str) -> bool:
    """Title case from start to end ("Morning Joe", "A Change Is Gonna Come"): a name, not words said."""
    words = re.findall(r"[^\W\d_][\w'’-]*", content)
    if not words or len(words) > MAX_TITLE_WORDS:
        return False
    return all(w[0].isupper() or w.lower() in TITLE_SMALL_WORDS for w in words) and words[0][0].isupper()
