"""``wiredesk crawl --once``: poll and ingest in-process with a progress display."""

from __future__ import annotations

from pipeline.ingest.crawl import crawl_once
from pipeline.settings import Settings


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
