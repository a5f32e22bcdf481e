"""Quality gate: the re-encoded eval pages (pipeline.ops.charset_eval) decode to their exact text."""

from pathlib import Path

import pytest

from pipeline.fetch.decode import decode_html
from pipeline.ops.charset_eval import CASES, ENCODINGS, build_corpus, format_table, measure, overall

pytestmark = pytest.mark.slow
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
MIN_OVERALL = 0.98  # 0.731 before cp1252-first and language-restricted detection; 0.983 after
MIN_DECLARED = 0.99  # a right label in the header or the <meta>


@pytest.fixture(scope="module")
def cells():
    """(right, total) per (encoding, label case) over the whole corpus."""
    if not (SHARED / "eval").is_dir():
        pytest.skip("../shared/eval is absent")
    return measure(list(build_corpus(SHARED, decode_html)), decode_html)


def test_overall_fraction_right_does_not_drop(cells):
    assert overall(cells) >= MIN_OVERALL, format_table(cells)


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("case", [case for case, (_, right) in CASES.items() if right])
def test_right_labels_decode_right(cells, encoding, case):
    right, total = cells[(encoding, case)]
    assert right >= MIN_DECLARED * total, format_table(cells)
