"""Index and search benchmark on the real local Elasticsearch.

Indexing: 20,000 realistic article documents (about 600 words each, with entities and quotes)
through ``index_articles`` (facet arrays, streaming_bulk chunked by count and bytes, failure
accounting), against the baseline of the same documents sent with a bare
``elasticsearch.helpers.bulk`` into an identical index. Reported: documents per second (wall
clock) for both and the ratio.

Search: 200 mixed searches at that size (query text, filters, date ranges, both sorts, facets,
highlights, collapsed near-duplicates, some quote searches), after 20 warm-up searches, against the
baseline of a bare ``match`` on the text for the same words. Reported: p50/p95 client-side latency.

Targets on the 2-core dev machine: >= 1,000 docs/s indexing, search p95 <= 150 ms.

Run: ``python benchmarks/bench_index_search.py [--docs N] [--searches N]`` (WIREDESK_ES_URL picks
the cluster); writes benchmarks/results/bench_index_search.json. Uses its own index prefix and
deletes it afterwards.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

from pipeline.search.query import SearchRequest, build_request, search_articles, search_quotes
from pipeline.settings import Settings
from pipeline.store import documents
from pipeline.store.bulk import index_articles
from pipeline.store.client import connect
from pipeline.store.indices import cluster_info, delete_indices, ensure_indices

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from index_support import PEOPLE, PLACES, SOURCES, TOPICS, make_articles  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "bench_index_search.json"
WORDS = ["oil", "minister", "sanctions", "trade talks", "interest rates", "wildfire", "semiconductor plant",
         "election", "climate", "inflation", "\"output cuts\"", "Iran", "jobs", "summit financing"]


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def bulk_seconds(es, settings: Settings, docs: list[dict], ours: bool) -> float:
    """Seconds to write docs into a fresh index: index_articles, or a bare helpers.bulk baseline."""
    from elasticsearch import helpers

    ensure_indices(es, settings)
    start = time.perf_counter()
    if ours:
        assert index_articles(es, settings, docs).failed == 0
    else:
        helpers.bulk(es, ({"_index": settings.articles_alias, "_id": documents.doc_id(d["canonical_url"]), "_source": d}
                          for d in docs), chunk_size=500)
    return time.perf_counter() - start


def bench_indexing(es, settings: Settings, docs: list[dict], rounds: int) -> dict:
    """Median docs/s of index_articles and of the bare baseline, alternating, each on a fresh index."""
    baseline, ours = [], []
    for r in range(rounds):
        base_settings = settings.model_copy(update={"index_prefix": f"{settings.index_prefix}-base{r}"})
        baseline.append(bulk_seconds(es, base_settings, docs, ours=False))
        delete_indices(es, base_settings)
        if r:  # only the last round's index stays for the searches
            delete_indices(es, settings)
        ours.append(bulk_seconds(es, settings, docs, ours=True))
    es.indices.refresh(index=settings.articles_alias)
    base_s, ours_s = statistics.median(baseline), statistics.median(ours)
    return {
        "docs": len(docs),
        "rounds": rounds,
        "baseline_bulk_docs_per_second": round(len(docs) / base_s),
        "index_articles_docs_per_second": round(len(docs) / ours_s),
        "ratio_ours_over_baseline": round(base_s / ours_s, 3),
    }


def random_request(settings: Settings, rng: random.Random) -> tuple[str, SearchRequest]:
    """One mixed search: text, some filters, a date range, a sort; sometimes a quote search."""
    options: dict = {"size": 10, "sort": rng.choice(["relevance", "relevance", "date"])}
    if rng.random() < 0.3:
        options["source"] = rng.choice(SOURCES)
    if rng.random() < 0.3:
        options["person"] = rng.choice(PEOPLE)[0]
    if rng.random() < 0.2:
        options["place"] = rng.choice(PLACES)
    if rng.random() < 0.3:
        day = rng.randint(1, 9)
        options["since"], options["until"] = f"2026-11-0{day}", f"2026-11-{day + 1:02d}"
    kind = "quotes" if rng.random() < 0.15 else "articles"
    if kind == "quotes":
        options.pop("person", None)
        options["speaker"] = rng.choice(PEOPLE)[0].split()[-1]
    query = rng.choice(WORDS) if rng.random() < 0.9 else rng.choice(TOPICS)[0] + " " + rng.choice(PLACES)
    return kind, build_request(settings, query, **options)


def timed(func) -> float:
    """Milliseconds one call of func takes (wall clock, client side)."""
    start = time.perf_counter()
    func()
    return (time.perf_counter() - start) * 1000


def bench_searches(es, settings: Settings, count: int) -> dict:
    """p50/p95 of mixed searches with facets and highlights, and of a bare match baseline."""
    rng = random.Random(11)
    requests = [random_request(settings, rng) for _ in range(count + 20)]
    run = {"articles": search_articles, "quotes": search_quotes}
    for kind, req in requests[:20]:  # warm-up: caches and JIT, not measured
        run[kind](es, settings, req)
    ours, bare = [], []
    for kind, req in requests[20:]:
        ours.append(timed(lambda: run[kind](es, settings, req)))
        bare.append(timed(lambda: es.search(index=settings.articles_alias, size=10,
                                            query={"match": {"text": req.query}})))
    return {
        "searches": count,
        "quote_searches": sum(kind == "quotes" for kind, _ in requests[20:]),
        "p50_ms": round(statistics.median(ours), 1),
        "p95_ms": round(percentile(ours, 95), 1),
        "baseline_match_p50_ms": round(statistics.median(bare), 1),
        "baseline_match_p95_ms": round(percentile(bare, 95), 1),
        "ratio_p50_ours_over_baseline": round(statistics.median(ours) / statistics.median(bare), 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Run both benchmarks, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--words", type=int, default=500, help="extra words per article text")
    parser.add_argument("--rounds", type=int, default=2, help="alternating indexing rounds")
    args = parser.parse_args(argv)
    settings = Settings(index_prefix=f"wdbench-{uuid.uuid4().hex[:8]}")
    es = connect(settings)
    docs = [documents.prepare_article(d) for d in make_articles(args.docs, words=args.words)]
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)
    try:
        indexing = bench_indexing(es, settings, docs, args.rounds)
        print(json.dumps({"indexing": indexing}, indent=2))
        searching = bench_searches(es, settings, args.searches)
        print(json.dumps({"search": searching}, indent=2))
    finally:
        delete_indices(es, settings)
    words = statistics.median(d["word_count"] for d in docs)
    result = {"cluster": cluster_info(es), "median_words_per_doc": words, "indexing": indexing,
              "search": searching, "targets": {"docs_per_second": 1000, "search_p95_ms": 150}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
