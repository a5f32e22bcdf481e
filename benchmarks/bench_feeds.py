"""Feed polling benchmark: 2,000 feeds from the replay wire, 90% answering 304.

Set-up: 2,000 RSS feeds (10 stories each) are written to a temporary folder and served by the replay
wire in a separate process on 127.0.0.1, so the poller's memory and CPU are measured alone.
Politeness is per host (host:port). By default all feeds share one port, so per-host politeness is
sized off for the run (``per_host_delay=0``, ``per_host_concurrency`` = workers): with the default
1 s delay one host could only be polled once a second. ``--hosts N`` serves the feeds round-robin
from N ports instead, each its own politeness host, with the default politeness (2 concurrent
requests and ``--delay`` 1 s between request starts per host): the realistic shape.

1. a cold cycle: every feed answers 200 and 20,000 pending items are created;
2. ``--rounds`` warm cycles: before each, 10% of the feeds get one new story, so 90% answer 304.

Reported per warm cycle (medians over rounds): wall time of the full cycle (registry load, state
reads, conditional GETs, parsing, create-only item writes, state writes), feeds per second, p95 of
the per-feed poll time, new items; peak RSS of the poller process. Baseline in the same run: the
same warm cycle with one worker (sequential), on a 200-feed sample, as feeds per second.

Run: ``python benchmarks/bench_feeds.py [--feeds 2000] [--rounds 3] [--workers 16] [--hosts 1] [--delay 1]``;
needs Elasticsearch (``WIREDESK_ES_URL``, else the local node of ``make bench``); writes
benchmarks/results/bench_feeds.json. Target: a full warm cycle of 2,000 feeds in under 60 s.
"""

from __future__ import annotations

import argparse
import json
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

from pipeline.feeds.poll import poll_feeds  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.store.client import connect  # noqa: E402
from pipeline.store.indices import delete_indices, ensure_indices  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "bench_feeds.json"
STORIES_PER_FEED = 10
CHANGED_SHARE = 0.10


# Serves one fixtures folder on several ports (each port is its own politeness "host").
WIRE_SCRIPT = """
import sys, time
from pipeline.ops.replay import ReplayServer
servers = [ReplayServer(sys.argv[1], port=int(p), seed_path=None).start() for p in sys.argv[2:]]
print("ready", flush=True)
while True:
    time.sleep(3600)
"""


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1."""
    import socket

    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def write_feed(folder: Path, name: str, base: str, round_no: int | None = None) -> None:
    """One feed file: ten stories, plus a fresh one on top for ``round_no`` (its ETag changes)."""
    items = stories(base, name, STORIES_PER_FEED)
    if round_no is not None:
        items = [(f"{name} fresh {round_no}", f"{base}/{name}/fresh-{round_no}.html"), *items]
    (folder / f"{name}.xml").write_text(rss(items, title=name), encoding="utf-8")


def write_feeds(folder: Path, ports: list[int], count: int) -> dict[str, str]:
    """``count`` feeds spread round-robin over the ports; returns name -> base URL."""
    bases = {f"feed-{i:05d}": f"http://127.0.0.1:{ports[i % len(ports)]}" for i in range(count)}
    for name, base in bases.items():
        write_feed(folder, name, base)
    lines = ["feeds:"] + [f"  - name: {n}\n    url: {b}/{n}.xml\n    source: Bench Wire" for n, b in bases.items()]
    (folder / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bases


def start_wire(folder: Path, ports: list[int]) -> subprocess.Popen:
    """The replay wire in its own process (so the poller is measured alone), once it answers."""
    proc = subprocess.Popen([sys.executable, "-c", WIRE_SCRIPT, str(folder), *map(str, ports)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("replay wire did not start")
    httpx.get(f"http://127.0.0.1:{ports[0]}/robots.txt", timeout=5)
    return proc


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


def bench_settings(registry: Path, args) -> Settings:
    """Settings for the run: own index prefix, loopback allowed, politeness as asked."""
    polite = {"per_host_delay": args.delay, "per_host_concurrency": 2} if args.hosts > 1 else \
        {"per_host_delay": 0.0, "per_host_concurrency": args.workers}  # one host: politeness sized off
    return Settings(
        index_prefix=f"wdbench-feeds-{uuid.uuid4().hex[:8]}",  # the cluster: WIREDESK_ES_URL, else the local node
        feeds_file=registry, allow_private_addresses=True, feed_poll_workers=args.workers, **polite,
    )


def run_rounds(es, settings: Settings, folder: Path, bases: dict[str, str], rounds: int) -> dict:
    """The cold cycle, ``rounds`` warm cycles (10% changed each) and the sequential baseline."""
    names = list(bases)
    cold = run_cycle(es, settings, names)
    print(f"cold cycle (all 200): {cold}")
    rss_after_cold = peak_rss_mb()
    warm, changed = [], int(len(names) * CHANGED_SHARE)
    for round_no in range(rounds):
        for name in names[round_no * changed % len(names):][:changed]:
            write_feed(folder, name, bases[name], round_no)
        warm.append(run_cycle(es, settings, names))
        print(f"warm cycle {round_no + 1} (90% 304): {warm[-1]}")
    sample = names[-200:]
    for name in sample[:20]:
        write_feed(folder, name, bases[name], 99)
    baseline = run_cycle(es, settings.model_copy(update={"feed_poll_workers": 1}), sample)
    print(f"baseline (1 worker, {len(sample)} feeds, 10% changed): {baseline}")
    median = {k: statistics.median(w[k] for w in warm) for k in ("wall_s", "feeds_per_s", "p95_feed_s", "median_feed_s")}
    return {"cold": cold, "warm": warm, "warm_median": median, "baseline_sequential": baseline,
            "speedup_vs_sequential": round(median["feeds_per_s"] / baseline["feeds_per_s"], 2),
            "peak_rss_mb_after_cold": rss_after_cold}


def main() -> int:
    """Run the benchmark and write its JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--hosts", type=int, default=1, help="ports serving the feeds; each is one politeness host")
    parser.add_argument("--delay", type=float, default=1.0, help="per-host delay when --hosts > 1")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    ports = free_ports(args.hosts)
    bases = write_feeds(folder, ports, args.feeds)
    settings = bench_settings(folder / "feeds.yaml", args)
    wire, es = start_wire(folder, ports), connect(settings)
    try:
        ensure_indices(es, settings)
        result = {"feeds": len(bases), "workers": args.workers, "rounds": args.rounds, "hosts": args.hosts,
                  "per_host_delay": settings.per_host_delay, "per_host_concurrency": settings.per_host_concurrency,
                  **run_rounds(es, settings, folder, bases, args.rounds), "peak_rss_mb": peak_rss_mb()}
        result["target_met"] = result["warm_median"]["wall_s"] < 60
    finally:  # the wire first: a cluster that went away must not leave its process running
        wire.terminate()
        wire.wait(timeout=10)
        delete_indices(es, settings)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    median = result["warm_median"]
    print(f"warm median: {median['wall_s']} s for {len(bases)} feeds on {args.hosts} host(s) = {median['feeds_per_s']} "
          f"feeds/s, p95 {median['p95_feed_s']} s/feed; {result['speedup_vs_sequential']}x the sequential baseline; "
          f"peak RSS {result['peak_rss_mb']} MB; target < 60 s: {'met' if result['target_met'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
