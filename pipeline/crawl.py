"""`wiredesk crawl --once`: poll the feeds and ingest what is new, in-process, with a progress display.

The same library functions the DAGs call, for a person without Airflow running.
"""

from __future__ import annotations

import uuid

from pipeline.settings import Settings


def crawl_once(settings: Settings, feed_names: list[str] | None = None, progress=None) -> dict:
    """One poll-and-ingest cycle; returns the poll summary and the ingest counts."""
    from pipeline.esclient import connect
    from pipeline.feeds import poll_feeds, summarize_polls
    from pipeline.ingest import ingest_pending

    es = connect(settings)
    # The poller's own concurrent, host-interleaved cycle (due feeds, or the named ones); it sets up
    # the indices when they are missing.
    results = [result.to_dict() for result in poll_feeds(es, settings, feed_names)]
    if progress:
        for result in results:
            progress("poll", result["feed"])
    polls = summarize_polls(results)
    run_id = f"crawl__{uuid.uuid4().hex[:12]}"
    counts = ingest_pending(es, settings, run_id, progress=(lambda: progress("ingest", "")) if progress else None)
    return {"poll": {k: v for k, v in polls.items() if k != "new_ids"}, "ingest": counts}


def run_crawl_command(args, settings: Settings) -> int:
    """`wiredesk crawl --once [--feed NAME]` with a rich progress display."""
    import json

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if not args.once:
        print("wiredesk crawl runs one cycle with --once; schedule repeated crawls with Airflow (make up)")
        return 2
    console = Console(stderr=True)
    # Transient: the summary below replaces the display, and an error is left as its one line.
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        polls = bar.add_task("polling feeds", total=None)
        ingest = bar.add_task("ingesting articles", total=None)

        def progress(stage: str, name: str) -> None:
            task = polls if stage == "poll" else ingest
            bar.update(task, advance=1, description=f"{'polled' if stage == 'poll' else 'ingested'} {name}".strip())

        summary = crawl_once(settings, [args.feed] if args.feed else None, progress)
    poll, counts = summary["poll"], summary["ingest"]
    console.print(f"[bold]{poll['feeds']}[/] feeds polled {poll['by_status']}, [bold]{poll['new_count']}[/] new; "
                  f"[bold]{counts['indexed']}[/] indexed, [bold]{counts['failed']}[/] failed {counts['failed_by_reason']}")
    print(json.dumps(summary, default=str))
    return 0
