"""Scoring extraction on the labelled dev sets (../shared/eval), for the benchmark and the quality gate.

The scorers themselves live in ``<shared>/tools`` and are loaded from there, so every number here is
the number the shared scorer prints. Nothing is copied from the shared folder.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import tempfile
from pathlib import Path

BODY_SET = "article-extraction"
NEWS_SET = "news-pages"
NEWS_LINE = re.compile(
    r"title (?P<title_exact>[\d.]+) \(word F1 (?P<title_f1>[\d.]+)\)\s+date (?P<date>[\d.]+).*?"
    r"authors F1 (?P<authors_f1>[\d.]+).*?body F1 (?P<body_f1>[\d.]+)"
)


def load_scorer(shared: Path, name: str):
    """Import one scorer module (score_body, score_metadata) from <shared>/tools."""
    tools = shared / "tools"
    spec = importlib.util.spec_from_file_location(name, tools / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.path.insert(0, str(tools))  # score_metadata imports score_body by name
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(tools))
    return module


def list_pages(shared: Path, dataset: str) -> list[tuple[str, Path]]:
    """(page id, path) of every page of a dev set, sorted."""
    folder = shared / "eval" / dataset / "html"
    return [(p.name.split(".")[0], p) for p in sorted(folder.glob("*.html.gz"))]


def score_bodies(shared: Path, bodies: dict[str, str]) -> dict[str, float]:
    """Body F1/P/R on the article-extraction set for {page id: text}."""
    scorer = load_scorer(shared, "score_body")
    truth = json.loads((shared / "eval" / BODY_SET / "ground-truth.json").read_text(encoding="utf-8"))
    predictions = {pid: {"articleBody": bodies.get(pid, "")} for pid in truth}
    f1, precision, recall = scorer.score(truth, predictions, sorted(truth))
    return {"body_f1": round(f1, 4), "body_precision": round(precision, 4), "body_recall": round(recall, 4)}


def score_news(shared: Path, records: dict[str, dict]) -> dict[str, float]:
    """Title, date, authors and body scores on news-pages for {page id: extract record}."""
    scorer = load_scorer(shared, "score_metadata")
    with tempfile.TemporaryDirectory() as tmp:
        predictions = Path(tmp) / "predictions.jsonl"
        lines = (json.dumps({**record, "path": f"{pid}.html.gz"}, ensure_ascii=False) for pid, record in records.items())
        predictions.write_text("\n".join(lines) + "\n", encoding="utf-8")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            scorer.main(str(shared / "eval" / NEWS_SET / "expected.json"), str(predictions))
    match = NEWS_LINE.search(printed.getvalue())
    if not match:
        raise ValueError(f"unexpected scorer output: {printed.getvalue()!r}")
    return {key: float(value) for key, value in match.groupdict().items()}


def run_wiredesk(shared: Path, settings) -> tuple[dict[str, str], dict[str, dict]]:
    """Our extractor over both dev sets: ({page id: body}, {page id: record}); failures give empty text."""
    from pipeline.errors import PermanentError
    from pipeline.extract.article import extract_article, read_html_file

    def extract(path: Path) -> dict:
        try:  # the bytes go through the one decoder, as with `wiredesk extract`
            return extract_article(read_html_file(path, settings.extract_max_bytes), settings=settings).to_dict()
        except PermanentError:
            return {"text": ""}

    bodies = {pid: extract(path)["text"] for pid, path in list_pages(shared, BODY_SET)}
    records = {pid: extract(path) for pid, path in list_pages(shared, NEWS_SET)}
    return bodies, records


def score_wiredesk(shared: Path, settings) -> dict[str, float]:
    """Every dev score of our extractor, keyed like tests/quality/extract_baseline.json."""
    bodies, records = run_wiredesk(shared, settings)
    scores = {f"{BODY_SET}/{k}": v for k, v in score_bodies(shared, bodies).items()}
    scores.update({f"{NEWS_SET}/{k}": v for k, v in score_news(shared, records).items()})
    return scores


def jsonl_to_body_predictions(lines) -> dict[str, dict]:
    """`wiredesk extract` JSON lines -> {page id: {"articleBody": text}}, the input of score_body.py."""
    records = (json.loads(line) for line in lines if line.strip())
    return {Path(r["path"]).name.split(".")[0]: {"articleBody": r.get("text") or ""} for r in records}


if __name__ == "__main__":
    # python -m pipeline.ops.extract_eval < extract.jsonl > predictions.json  (for score_body.py)
    import sys

    json.dump(jsonl_to_body_predictions(sys.stdin), sys.stdout, ensure_ascii=False)
