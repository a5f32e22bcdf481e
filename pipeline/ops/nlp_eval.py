"""Dev-set scores for enrichment, with the shared scorers (used by the quality gate and the benchmark).

The evaluation data and scorers live outside the project (``../shared``); nothing is copied from them.
Each function writes predictions as `wiredesk enrich` JSON lines to a temporary folder and runs the
scorer script on them, so the numbers are exactly what the scorer prints.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.nlp.enrich import enrich_texts
from pipeline.nlp.model import load_nlp

POLNEAR = Path("eval/quotes/polnear-dev")
CONLL = Path("eval/ner/conll2003-dev.txt")
QUOTES_RE = re.compile(r"quote F1 ([\d.]+) P ([\d.]+) R ([\d.]+) speaker accuracy ([\d.]+)")
NER_RE = re.compile(r"NER F1 ([\d.]+) P ([\d.]+) R ([\d.]+)")
NER_TYPE_RE = re.compile(r"\b(PER|ORG|LOC|MISC) ([\d.]+)")


def run_scorer(script: Path, *args) -> str:
    """Run a shared scorer script and return what it prints."""
    done = subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True, check=True)
    return done.stdout


def write_predictions(paths: list[Path], records, out: Path) -> None:
    """Write one JSON line per text: {"path", ...record}."""
    with out.open("w", encoding="utf-8") as fh:
        for path, record in zip(paths, records):
            fh.write(json.dumps({"path": str(path), **record}, ensure_ascii=False) + "\n")


def score_quotes(shared: Path, settings) -> dict:
    """Quote F1, precision, recall and speaker accuracy of `enrich` on PolNeAR dev."""
    corpus = shared / POLNEAR
    paths = sorted((corpus / "text").glob("*.txt"))
    texts = [p.read_text(encoding="utf-8") for p in paths]
    with tempfile.TemporaryDirectory() as tmp:
        pred = Path(tmp) / "quotes.jsonl"
        write_predictions(paths, (r.to_dict() for r in enrich_texts(texts, settings)), pred)
        out = run_scorer(shared / "tools" / "score_quotes.py", corpus, pred)
    f1, p, r, spk = map(float, QUOTES_RE.search(out).groups())
    return {"quote_f1": f1, "quote_precision": p, "quote_recall": r, "speaker_accuracy": spk}


def raw_entities(doc) -> dict:
    """The bare model's entities in the enrich JSON shape (no normalisation)."""
    return {"entities": [{"label": e.label_, "mentions": [[e.start_char, e.end_char]]} for e in doc.ents]}


def parse_ner(out: str) -> dict:
    """Overall and per-type F1 from score_ner.py output."""
    scores = {f"f1_{t}": float(v) for t, v in NER_TYPE_RE.findall(out.splitlines()[0])}
    f1, p, r = map(float, NER_RE.search(out).groups())
    return {"f1": f1, "precision": p, "recall": r, **scores}


def score_ner(shared: Path, settings) -> dict:
    """NER scores on CoNLL-2003 dev: {"enrich": ..., "raw": ...} (raw = bare nlp.pipe, same texts)."""
    scorer, conll = shared / "tools" / "score_ner.py", shared / CONLL
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        run_scorer(scorer, "export", conll, docs)
        paths = sorted(docs.glob("*.txt"))
        texts = [p.read_text(encoding="utf-8") for p in paths]
        results = {}
        for name, records in (
            ("enrich", (r.to_dict() for r in enrich_texts(texts, settings))),
            ("raw", (raw_entities(d) for d in load_nlp(settings).pipe(texts))),
        ):
            pred = Path(tmp) / f"{name}.jsonl"
            write_predictions(paths, records, pred)
            results[name] = parse_ner(run_scorer(scorer, "score", conll, docs, pred))
    return results
