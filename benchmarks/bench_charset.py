"""Charset benchmark: the ../shared eval pages re-encoded in six legacy charsets under five label cases.

Prints the fraction decoded to exactly the original text by encoding x label case (see
:mod:`pipeline.ops.charset_eval`) and the seconds it took. Run: ``python benchmarks/bench_charset.py``;
writes benchmarks/results/bench_charset.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from pipeline.fetch.decode import decode_html
from pipeline.ops.charset_eval import build_corpus, format_table, measure, overall

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
RESULTS = ROOT / "benchmarks" / "results" / "bench_charset.json"


def main() -> int:
    """Build the corpus, decode every sample, print and save the table."""
    if not (SHARED / "eval").is_dir():
        print("../shared/eval is absent: nothing to measure")
        return 0
    started = time.perf_counter()
    samples = list(build_corpus(SHARED, decode_html))
    cells = measure(samples, decode_html)
    print(format_table(cells))
    print(f"{len(samples)} samples in {time.perf_counter() - started:.1f}s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"overall": overall(cells),
                                   "cells": {f"{e}/{c}": [r, n] for (e, c), (r, n) in cells.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
