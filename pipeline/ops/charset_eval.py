"""A charset test corpus made at run time from the ../shared eval pages, for the benchmark and the quality gate.

Each page is decoded as it is, its own charset declarations are removed, and its text is re-encoded in
each legacy charset that can hold it (pages it cannot hold are skipped), labelled correctly, wrongly
(``utf-8``) or not at all, in the HTTP header or in a ``<meta charset>``. A decoding is right when it
gives back exactly the labelled text. Nothing is copied from the shared folder.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from pipeline.errors import PermanentError

DATASETS = ("news-pages", "news-pages-intl")


# Python codec -> the label a correct declaration uses.
ENCODINGS = {"cp1252": "windows-1252", "latin-1": "iso-8859-1", "cp1251": "windows-1251",
             "shift_jis": "shift_jis", "gb18030": "gb18030", "euc-kr": "euc-kr"}


# Label case -> (where the label goes, whether it is the right one); None: no label at all.
CASES = {"header ok": ("header", True), "meta ok": ("meta", True), "header utf-8": ("header", False),
         "meta utf-8": ("meta", False), "none": (None, None)}
DECLARATION_RE = re.compile(r"<meta[^>]{0,300}?charset[^>]{0,300}>|^\s*<\?xml[^>]{0,200}\?>", re.I)
HEAD_RE = re.compile(r"<head\b[^>]*>", re.I)


@dataclass(frozen=True)
class Sample:
    """One re-encoded page: its bytes, its header charset, and the text a right decoding gives."""

    page: str
    encoding: str
    case: str
    raw: bytes
    header: str | None
    expected: str


def read_pages(shared: Path, decode: Callable[[bytes], tuple[str, str]]) -> list[tuple[str, str]]:
    """(page id, text without charset declarations) of every eval page, decoded as it is."""
    pages = []
    for dataset in DATASETS:
        for path in sorted((shared / "eval" / dataset / "html").glob("*.html.gz")):
            text = decode(gzip.decompress(path.read_bytes()))[0]
            pages.append((path.name.split(".")[0], DECLARATION_RE.sub("", text)))
    return pages


def with_meta(text: str, label: str) -> str:
    """The page with a ``<meta charset>`` right after its <head> tag (or first, without one)."""
    meta = f'<meta charset="{label}">'
    match = HEAD_RE.search(text)
    return text[: match.end()] + meta + text[match.end() :] if match else meta + text


def labelled(page: str, text: str, encoding: str, case: str) -> Sample | None:
    """One sample of a page in ``encoding`` under a label case; None when the charset cannot hold the text."""
    where, right = CASES[case]
    label = ENCODINGS[encoding] if right else "utf-8"
    expected = with_meta(text, label) if where == "meta" else text
    try:
        raw = expected.encode(encoding)
    except UnicodeEncodeError:
        return None
    return Sample(page, encoding, case, raw, label if where == "header" else None, expected)


def build_corpus(shared: Path, decode: Callable[[bytes], tuple[str, str]]) -> Iterator[Sample]:
    """Every (page, encoding, label case) sample the charsets allow."""
    for page, text in read_pages(shared, decode):
        for encoding in ENCODINGS:
            for case in CASES:
                sample = labelled(page, text, encoding, case)
                if sample is not None:
                    yield sample


def is_right(sample: Sample, decode: Callable[[bytes, str | None], tuple[str, str]]) -> bool:
    """Whether ``decode`` gives back exactly the sample's text (a refusal is wrong)."""
    try:
        return decode(sample.raw, sample.header)[0] == sample.expected
    except PermanentError:  # refused: not the text
        return False


def measure(samples: list[Sample], decode) -> dict[tuple[str, str], tuple[int, int]]:
    """(right, total) per (encoding, label case)."""
    right, total = Counter(), Counter()
    for sample in samples:
        key = (sample.encoding, sample.case)
        total[key] += 1
        right[key] += is_right(sample, decode)
    return {key: (right[key], total[key]) for key in total}


def overall(cells: dict[tuple[str, str], tuple[int, int]]) -> float:
    """The fraction decoded right over every sample."""
    right = sum(r for r, _ in cells.values())
    return right / max(1, sum(n for _, n in cells.values()))


def format_table(cells: dict[tuple[str, str], tuple[int, int]]) -> str:
    """The encoding x label-case table of fractions right (with counts), and the overall figure."""
    width = max(map(len, CASES)) + 2
    lines = ["encoding".ljust(11) + "".join(case.rjust(width + 6) for case in CASES)]
    for encoding in ENCODINGS:
        row = encoding.ljust(11)
        for case in CASES:
            r, n = cells.get((encoding, case), (0, 0))
            row += (f"{r / n:.3f} ({r}/{n})" if n else "-").rjust(width + 6)
        lines.append(row)
    lines.append(f"overall {overall(cells):.4f} of {sum(n for _, n in cells.values())} samples")
    return "\n".join(lines)
