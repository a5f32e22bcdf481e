"""Feed polling benchmark: 2,000 feeds from the replay wire, 90% answering 304.

Set-up: 2,000 RSS feeds (10 stories each) are written to a temporary folder and served by the replay
wire (``python -m pipeline.replay``) in a separate process on 127.0.0.1, so the poller's memory and
CPU are measured alone. All feeds share one host, so per-host politeness is configured for the
benchmark (``per_host_delay=0``, ``per_host_concurrency`` = the worker count): with the default
1 s delay one host could only be polled once a second. Real feeds are spread over many hosts.

1. a cold cycle: every feed answers 200 and 20,000 pending items are created;
2. ``--rounds`` warm cycles: before each, 10% of the feeds get one new story, so 90% answer 304.

Reported per warm cycle (medians over rounds): wall time of the full cycle (registry load, state
reads, conditional GETs, parsing, create-only item writes, state writes), feeds per second, p95 of
the per-feed poll time, new items; peak RSS of the poller process. Baseline in the same run: the
same warm cycle with one worker (sequential), on a 200-feed sample, as feeds per second.

Run: ``python benchmarks/bench_feeds.py [--feeds 2000] [--rounds 3] [--workers 16]``;
needs Elasticsearch (``WIREDESK_ES_URL``, default http://127.0.0.1:9201); writes
benchmarks/results/bench_feeds.json. Target: a full warm cycle of 2,000 feeds in under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from feeds_support import rss, stories  # noqa: E402

from pipeline.feeds import poll_feeds  # noqa: E402
from pipeline.index import connect, delete_indices, ensure_indices  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "bench_feeds.json"
STORIES_PER_FEED = 10
CHANGED_SHARE = 0.10


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_feeds(folder: Path, base: str, count: int) -> list[str]:
    """``count`` feed files with distinct stories; returns their names."""
    names = []
    for i in range(count):
        name = f"feed-{i:05d}"
        (folder / f"{name}.xml").write_text(rss(stories(base, name, STORIES_PER_FEED), title=name), encoding="utf-8")
        names.append(name)
    return names


def write_registry(path: Path, base: str, names: list[str]) -> None:
    """A feeds.yaml listing every benchmark feed."""
    lines = ["feeds:"] + [f"  - name: {n}\n    url: {base}/{n}.xml\n    source: Bench Wire" for n in names]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def touch_feeds(folder: Path, base: str, names: list[str], round_no: int) -> None:
    """Give each named feed one new story on top (its ETag changes)."""
    for name in names:
        items = [(f"{name} fresh {round_no}", f"{base}/{name}/fresh-{round_no}.html"), *stories(base, name, STORIES_PER_FEED)]
        (folder / f"{name}.xml").write_text(rss(items, title=name), encoding="utf-8")


def start_wire(folder: Path, port: int) -> subprocess.Popen:
    """The replay wire in its own process, once it answers."""
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.replay", "--port", str(port), "--root", str(folder),
                             "--seed", str(folder / "no-seed")], cwd=ROOT, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/robots.txt", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("replay wire did not start")


def run_cycle(es, settings: Settings, names: list[str]) -> dict:
    """One poll of the named feeds; wall time, rate, p95 per feed, statuses, new items."""
    started = time.perf_counter()
    results = poll_feeds(es, settings, names)
    wall = time.perf_counter() - started
    per_feed = sorted(r.seconds for r in results)
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return {
        "feeds": len(results), "wall_s": round(wall, 2), "feeds_per_s": round(len(results) / wall, 1),
        "p95_feed_s": round(per_feed[int(0.95 * (len(per_feed) - 1))], 4),
        "median_feed_s": round(statistics.median(per_feed), 4),
        "new_items": sum(r.new_count for r in results), "statuses": statuses,
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def bench_settings(registry: Path, workers: int) -> Settings:
    """Settings for the run: own index prefix, loopback allowed, politeness sized for one host."""
    return Settings(
        es_url=os.environ.get("WIREDESK_ES_URL", "http://127.0.0.1:9201"), index_prefix=f"wdbench-feeds-{uuid.uuid4().hex[:8]}",
        feeds_file=registry, allow_private_addresses=True, per_host_delay=0.0,
        per_host_concurrency=workers, feed_poll_workers=workers,
    )


def main() -> int:
    """Run the benchmark and write its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    folder = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    names = write_feeds(folder, base, args.feeds)
    write_registry(folder / "feeds.yaml", base, names)
    settings = bench_settings(folder / "feeds.yaml", args.workers)
    wire, es = start_wire(folder, port), connect(settings)
    try:
        ensure_indices(es, settings)
        cold = run_cycle(es, settings, names)
        print(f"cold cycle (all 200): {cold}")
        rss_after_cold = peak_rss_mb()
        warm, changed = [], int(len(names) * CHANGED_SHARE)
        for round_no in range(args.rounds):
            touch_feeds(folder, base, names[round_no * changed % len(names):][:changed], round_no)
            warm.append(run_cycle(es, settings, names))
            print(f"warm cycle {round_no + 1} (90% 304): {warm[-1]}")
        sample = names[-200:]
        touch_feeds(folder, base, sample[:20], 99)
        baseline = run_cycle(es, settings.model_copy(update={"feed_poll_workers": 1}), sample)
        print(f"baseline (1 worker, {len(sample)} feeds): {baseline}")
        median = {k: statistics.median(w[k] for w in warm) for k in ("wall_s", "feeds_per_s", "p95_feed_s", "median_feed_s")}
        result = {
            "feeds": len(names), "workers": args.workers, "rounds": args.rounds, "politeness": "one host, per_host_delay=0",
            "cold": cold, "warm": warm, "warm_median": median, "baseline_sequential": baseline,
            "speedup_vs_sequential": round(median["feeds_per_s"] / baseline["feeds_per_s"], 2),
            "peak_rss_mb": peak_rss_mb(), "peak_rss_mb_after_cold": rss_after_cold,
            "target_met": median["wall_s"] < 60,
        }
    finally:
        delete_indices(es, settings)
        wire.terminate()
        wire.wait(timeout=10)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"warm median: {median['wall_s']} s for {len(names)} feeds = {median['feeds_per_s']} feeds/s, "
          f"p95 {median['p95_feed_s']} s/feed; {result['speedup_vs_sequential']}x the sequential baseline; "
          f"peak RSS {result['peak_rss_mb']} MB; target < 60 s: {'met' if result['target_met'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
