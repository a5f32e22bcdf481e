"""Fetch and archive benchmark: what the guarded, bounded fetcher costs over a plain httpx GET.

Serves real news pages (../shared/eval/article-extraction, else the demo wire pages) from the replay
server on 127.0.0.1 and, in the same run, fetches each page

- plainly: ``httpx.Client.get(url).text`` (the baseline: no guard, robots, limits or charset rules);
- with ``fetch_page`` (SSRF guard, robots.txt cached, per-host slot without delay, redirects by hand,
  streamed size cap, bounded decoding, charset rules);

and measures client-thread CPU and wall milliseconds per page (medians over all pages and rounds).
It also times ``store_raw``/``load_raw`` and the bounded gzip decoder against one-shot zlib.

Run: ``python benchmarks/bench_fetch.py [--rounds N]``; writes benchmarks/results/bench_fetch.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
import zlib
from pathlib import Path

import httpx

from pipeline.fetch.hop import BoundedDecoder, build_client
from pipeline.fetch.page import fetch_page
from pipeline.fetch.politeness import HostLimiter, Politeness, RobotsCache
from pipeline.ops.replay import DEMO_ROOT, ReplayServer
from pipeline.settings import Settings
from pipeline.store.archive import load_raw, store_raw

ROOT = Path(__file__).resolve().parents[1]
SHARED_PAGES = ROOT / ".." / "shared" / "eval" / "article-extraction" / "html"
RESULTS = ROOT / "benchmarks" / "results" / "bench_fetch.json"


def load_pages() -> tuple[str, list[bytes]]:
    """Real pages from ../shared when present, else the demo wire's pages."""
    files = sorted(SHARED_PAGES.glob("*.html.gz"))
    if files:
        return "shared/eval/article-extraction", [gzip.decompress(f.read_bytes()) for f in files]
    return "pipeline/demo_wire", [f.read_bytes() for f in sorted(DEMO_ROOT.rglob("*.html"))]


def timed(func) -> tuple[float, float]:
    """(CPU ms of this thread, wall ms) of one call."""
    cpu, wall = time.thread_time(), time.perf_counter()
    func()
    return (time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000


def bench_fetch(urls: list[str], settings: Settings, rounds: int) -> dict:
    """Median CPU and wall ms per page: plain httpx vs fetch_page, interleaved per page."""
    samples = {"httpx_get": [], "fetch_page": []}
    with httpx.Client() as plain, build_client(settings) as client:
        politeness = Politeness(HostLimiter(4, 0.0), RobotsCache(settings, client=client))
        fetch_page(urls[0], settings, client=client, politeness=politeness)  # warm robots.txt cache
        for _ in range(rounds):
            for url in urls:
                samples["httpx_get"].append(timed(lambda: plain.get(url).text))
                samples["fetch_page"].append(timed(lambda: fetch_page(url, settings, client, politeness)))
    return {name: {"cpu_ms": median(s, 0), "wall_ms": median(s, 1)} for name, s in samples.items()}


def bench_archive(pages: list[bytes], settings: Settings) -> dict:
    """Median ms to store and to load one page, and the compression ratio."""
    store, load, stored = [], [], 0
    for n, raw in enumerate(pages):
        html = raw.decode("utf-8", "replace")
        doc_id = f"{n:04d}bench{n:08x}"
        store.append(timed(lambda: store_raw(doc_id, html, settings))[1])
        load.append(timed(lambda: load_raw(doc_id, settings))[1])
        stored += len(gzip.compress(html.encode(), 6, mtime=0))
    original = sum(len(p.decode("utf-8", "replace").encode()) for p in pages)
    return {"store_ms": statistics.median(store), "load_ms": statistics.median(load),
            "compression_ratio": original / stored}


def bench_decoder(pages: list[bytes]) -> dict:
    """Bounded streaming gzip decoding (64 KB chunks) vs one-shot zlib, median ms per page."""
    bodies = [gzip.compress(p) for p in pages]
    bounded, oneshot = [], []
    for body in bodies:
        chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]
        bounded.append(timed(lambda: decode_chunks(chunks))[0])
        oneshot.append(timed(lambda: zlib.decompress(body, 16 + zlib.MAX_WBITS))[0])
    return {"bounded_cpu_ms": statistics.median(bounded), "zlib_cpu_ms": statistics.median(oneshot)}


def decode_chunks(chunks: list[bytes]) -> bytes:
    """Decode gzip chunks as fetch_page does."""
    decoder = BoundedDecoder("gzip", 5 * 1024 * 1024)
    return b"".join([decoder.decode(c) for c in chunks] + [decoder.finish()])


def median(samples: list[tuple[float, float]], index: int) -> float:
    """Median of one column of (cpu, wall) samples."""
    return statistics.median(s[index] for s in samples)


def main() -> int:
    """Run the benchmark, print the figures, write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    source, pages = load_pages()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), allow_private_addresses=True, per_host_delay=0.0)
        with ReplayServer() as wire:
            urls = []
            for n, raw in enumerate(pages):
                wire.put(f"/p/{n}.html", raw, "text/html")
                urls.append(wire.url(f"/p/{n}.html"))
            fetch = bench_fetch(urls, settings, args.rounds)
        archive = bench_archive(pages, settings)
    result = {"pages": len(pages), "source": source, "rounds": args.rounds, "fetch": fetch,
              "cpu_ratio_vs_httpx": fetch["fetch_page"]["cpu_ms"] / fetch["httpx_get"]["cpu_ms"],
              "wall_ratio_vs_httpx": fetch["fetch_page"]["wall_ms"] / fetch["httpx_get"]["wall_ms"],
              "archive": archive, "decoder": bench_decoder(pages)}
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
