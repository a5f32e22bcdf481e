"""Extraction benchmark: quality and CPU cost of `wiredesk extract` next to each open-source extractor alone.

On the dev sets in ../shared/eval (article-extraction: body; news-pages: title, date, authors, body) it
runs, page by page in the same process,

- wiredesk: ``extract_article`` (body and all metadata);
- trafilatura: ``trafilatura.bare_extraction(html, with_metadata=True)``, its defaults otherwise (the
  same job: body and metadata). This is the speed baseline;
- trafilatura body only: ``trafilatura.extract(html)`` with its defaults (no metadata; shown as traf_body);
- readability-lxml: ``Document(html).summary()`` as text (body only);
- newspaper3k: ``Article.set_html(html); parse()`` (body, title, authors, date);

scores each with the shared scorers and prints median CPU milliseconds per page and the ratios to
trafilatura with metadata (ratio) and to trafilatura body-only (vs body). Run: ``python benchmarks/bench_extract.py``; writes benchmarks/results/bench_extract.json.
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from pathlib import Path

from pipeline.errors import PermanentError
from pipeline.extract.article import extract_article, read_html_file
from pipeline.ops.extract_eval import BODY_SET, NEWS_SET, list_pages, score_bodies, score_news
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
RESULTS = ROOT / "benchmarks" / "results" / "bench_extract.json"


def run_wiredesk(data: bytes) -> dict:
    """Our extractor's record (empty text when it refuses the page)."""
    try:
        return extract_article(data, settings=Settings()).to_dict()
    except PermanentError:
        return {"text": ""}


def run_trafilatura(data: bytes) -> dict:
    """trafilatura with metadata, defaults otherwise."""
    from trafilatura import bare_extraction

    doc = bare_extraction(data.decode("utf-8", "replace"), with_metadata=True)
    if doc is None:
        return {"text": ""}
    authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    return {"text": doc.text or "", "title": doc.title, "authors": authors, "published_at": doc.date}


def run_trafilatura_body(data: bytes) -> dict:
    """trafilatura.extract with its defaults: body text only (the cheapest way to use it)."""
    from trafilatura import extract

    return {"text": extract(data.decode("utf-8", "replace")) or ""}


def run_readability(data: bytes) -> dict:
    """readability-lxml's main block as text."""
    from lxml import html as lxml_html
    from readability import Document

    try:
        summary = Document(data.decode("utf-8", "replace")).summary(html_partial=True)
        root = lxml_html.fragment_fromstring(summary, create_parent="div")
    except Exception:  # noqa: BLE001 - a baseline that fails scores zero on that page
        return {"text": ""}
    blocks = (" ".join(b.text_content().split()) for b in root.iter("p", "h2", "h3", "h4", "li", "blockquote", "pre"))
    return {"text": "\n".join(t for t in blocks if t)}


def run_newspaper(data: bytes) -> dict:
    """newspaper3k's parse of the page."""
    from newspaper import Article

    article = Article("http://localhost/")
    article.set_html(data.decode("utf-8", "replace"))
    try:
        article.parse()
    except Exception:  # noqa: BLE001
        return {"text": ""}
    date = article.publish_date.isoformat() if article.publish_date else None
    return {"text": article.text, "title": article.title, "authors": article.authors, "published_at": date}


SYSTEMS = {
    "wiredesk": run_wiredesk,
    "trafilatura": run_trafilatura,
    "traf_body": run_trafilatura_body,
    "readability": run_readability,
    "newspaper3k": run_newspaper,
}


def run_all(pages: list[tuple[str, Path]]) -> tuple[dict, dict]:
    """({system: {page id: record}}, {system: [CPU ms per page]}), systems interleaved per page."""
    records = {name: {} for name in SYSTEMS}
    cpu_ms = {name: [] for name in SYSTEMS}
    for pid, path in pages:
        data = read_html_file(path, Settings().extract_max_bytes)
        for name, runner in SYSTEMS.items():
            start = time.process_time()
            records[name][pid] = runner(data)
            cpu_ms[name].append((time.process_time() - start) * 1000)
    return records, cpu_ms


def main() -> int:
    """Run, print and save the benchmark."""
    if not (SHARED / "eval").is_dir():
        print("../shared/eval is absent: nothing to benchmark", file=sys.stderr)
        return 0
    logging.disable(logging.WARNING)  # the third-party extractors log every odd page
    body_pages, news_pages = list_pages(SHARED, BODY_SET), list_pages(SHARED, NEWS_SET)
    run_wiredesk(read_html_file(body_pages[0][1], Settings().extract_max_bytes))  # warm-up: imports and model loading are not per-page costs
    body_records, body_ms = run_all(body_pages)
    news_records, news_ms = run_all(news_pages)
    result = {"pages": {BODY_SET: len(body_pages), NEWS_SET: len(news_pages)}, "systems": {}}
    base = statistics.median(body_ms["trafilatura"] + news_ms["trafilatura"])
    body_only = statistics.median(body_ms["traf_body"] + news_ms["traf_body"])
    for name in SYSTEMS:
        median = statistics.median(body_ms[name] + news_ms[name])
        bodies = {pid: r.get("text") or "" for pid, r in body_records[name].items()}
        result["systems"][name] = {
            "median_cpu_ms": round(median, 1),
            "ratio_to_trafilatura": round(median / base, 2),
            "ratio_to_traf_body": round(median / body_only, 2),
            BODY_SET: score_bodies(SHARED, bodies),
            NEWS_SET: score_news(SHARED, news_records[name]),
        }
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {RESULTS}")
    return 0


def print_table(result: dict) -> None:
    """One line per system: CPU, ratio, body F1 on both sets, news-pages metadata."""
    print(f"{'system':<12} {'cpu ms':>7} {'ratio':>6} {'vs body':>7} {'AE body':>8} {'NP title':>9} {'NP date':>8} {'NP auth':>8} {'NP body':>8}")
    for name, row in result["systems"].items():
        news = row[NEWS_SET]
        print(
            f"{name:<12} {row['median_cpu_ms']:>7.1f} {row['ratio_to_trafilatura']:>6.2f} {row['ratio_to_traf_body']:>7.2f} "
            f"{row[BODY_SET]['body_f1']:>8.3f} "
            f"{news['title_f1']:>9.3f} {news['date']:>8.3f} {news['authors_f1']:>8.3f} {news['body_f1']:>8.3f}"
        )


if __name__ == "__main__":
    sys.exit(main())
