"""Enrichment benchmark: speed of `enrich` against bare ``nlp.pipe``, and dev-set quality.

Speed: the same article texts (PolNeAR dev, ../shared) go through

- bare ``nlp.pipe`` of the pinned model, whole texts (the baseline: model only, nothing after it);
- ``enrich_texts`` (paragraph chunking, the same model, entity normalisation, quotes and speakers);

alternating for ``--rounds`` rounds; each pass is timed in process CPU seconds, so words per second
is per core and robust to other load on the machine. Reported: medians and the ratio enrich / bare.

Quality: quote F1 and speaker accuracy on PolNeAR dev (score_quotes.py), NER F1 overall and per
type on CoNLL-2003 dev (score_ner.py) for `enrich` next to the raw model in the same run.

Run: ``python benchmarks/bench_enrich.py [--rounds N] [--no-quality]``; writes
benchmarks/results/bench_enrich.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from pipeline.nlp.enrich import enrich_texts
from pipeline.nlp.model import load_nlp
from pipeline.ops.nlp_eval import POLNEAR, score_ner, score_quotes
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
RESULTS = ROOT / "benchmarks" / "results" / "bench_enrich.json"


def cpu_seconds(func) -> float:
    """Process CPU seconds one call of ``func`` takes."""
    start = time.process_time()
    func()
    return time.process_time() - start


def bench_speed(texts: list[str], settings: Settings, rounds: int) -> dict:
    """Median words per CPU second for bare nlp.pipe and for enrich over the same texts."""
    nlp = load_nlp(settings)
    words = sum(len(t.split()) for t in texts)
    bare, enrich = [], []
    for _ in range(rounds):
        bare.append(cpu_seconds(lambda: list(nlp.pipe(texts, batch_size=64))))
        enrich.append(cpu_seconds(lambda: list(enrich_texts(texts, settings))))
    bare_wps, enrich_wps = words / statistics.median(bare), words / statistics.median(enrich)
    return {
        "texts": len(texts),
        "words": words,
        "rounds": rounds,
        "bare_words_per_cpu_second": round(bare_wps),
        "enrich_words_per_cpu_second": round(enrich_wps),
        "ratio_enrich_over_bare": round(enrich_wps / bare_wps, 3),
    }


def main() -> int:
    """Run the benchmark, print the figures and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-quality", action="store_true", help="speed only")
    args = parser.parse_args()
    if not (SHARED / POLNEAR).is_dir():
        print("../shared is absent: nothing to benchmark on", file=sys.stderr)
        return 0
    settings = Settings()
    texts = [p.read_text(encoding="utf-8") for p in sorted((SHARED / POLNEAR / "text").glob("*.txt"))]
    load_nlp(settings)  # loading is not part of either timing
    result = {"speed": bench_speed(texts, settings, args.rounds)}
    speed = result["speed"]
    print(f"speed over {speed['texts']} texts, {speed['words']} words, median of {args.rounds} rounds (per core):")
    print(f"  bare nlp.pipe  {speed['bare_words_per_cpu_second']:>8} words/s")
    print(f"  enrich         {speed['enrich_words_per_cpu_second']:>8} words/s  ratio {speed['ratio_enrich_over_bare']}")
    if not args.no_quality:
        result["quotes"] = score_quotes(SHARED.resolve(), settings)
        result["ner"] = score_ner(SHARED.resolve(), settings)
        print("quotes (PolNeAR dev):", json.dumps(result["quotes"]))
        print("NER enrich (CoNLL dev):", json.dumps(result["ner"]["enrich"]))
        print("NER raw    (CoNLL dev):", json.dumps(result["ner"]["raw"]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
