"""``wiredesk feeds list|poll|import``: the feed registry and its health in the terminal."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.table import Table

from pipeline.feeds.health import health_of
from pipeline.feeds.poll import poll_feeds
from pipeline.feeds.registry import import_opml, load_feeds
from pipeline.feeds.state import load_states, merge_config, utcnow
from pipeline.settings import Settings

WIDE = 200  # when piped or captured, do not fold the table into 80 columns
STATUS_STYLE = {"new": "green", "ok": "green", "not_modified": "dim", "failed": "red", "disabled": "yellow"}


def console() -> Console:
    """A console as wide as the terminal, or WIDE when output is not a terminal."""
    out = Console()
    return out if out.is_terminal else Console(width=WIDE)


def short_time(value: object) -> str:
    """A stored ISO time as ``MM-DD HH:MM`` (UTC), or a dash."""
    return f"{value[5:10]} {value[11:16]}" if isinstance(value, str) and len(value) >= 16 else "-"


def print_feed_list(feeds, states: dict, settings, only: str | None = None) -> int:
    """The registry with health columns from the stored feed state (the Feed Health page's labels)."""
    now = utcnow()
    table = Table(title="Feeds", show_lines=False)
    for column in ("name", "source", "url", "tags", "health", "last poll", "last status", "failures", "seen", "next poll"):
        table.add_column(column, overflow="fold")
    for feed in feeds:
        if only and feed.name != only:
            continue
        state = states.get(feed.name, {})
        health = health_of(merge_config(feed, state), settings, now).replace("_", " ")
        status = state.get("last_status") or "-"
        if state.get("error") and status == "failed":
            status = f"failed: {state['error'].get('reason')}"
        table.add_row(feed.name, feed.source, state.get("url") or feed.url, ",".join(feed.tags), health,
                      short_time(state.get("last_poll_at")), status, str(state.get("consecutive_failures", 0)),
                      str((state.get("counts") or {}).get("seen", 0)), short_time(state.get("next_poll_at")))
    console().print(table)
    return 0


def print_poll_summary(results) -> int:
    """One row per polled feed and a totals line; exit code 0 (failures are recorded, not fatal)."""
    table = Table(title="Poll")
    for column in ("feed", "status", "http", "new", "seen", "skipped", "error", "seconds"):
        table.add_column(column, overflow="fold")
    for r in results:
        style = STATUS_STYLE.get(r.status, "")
        skipped = ", ".join(f"{k}={v}" for k, v in r.skipped.items()) or "-"
        error = f"{r.error['reason']}: {r.error['message'][:80]}" if r.error else "-"
        table.add_row(r.feed, f"[{style}]{r.status}[/]", str(r.http_status or "-"), str(r.new_count),
                      str(r.items_seen), skipped, error, f"{r.seconds:.2f}")
    out = console()
    out.print(table)
    by_status: dict[str, int] = {}
    for r in results:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    total_new = sum(r.new_count for r in results)
    out.print(f"polled {len(results)} feed(s): {by_status or 'none due'}; {total_new} new pending item(s)")
    return 0


def run_feeds_command(args, settings: Settings) -> int:
    """``wiredesk feeds list|poll|import FILE.opml [--feed NAME]``."""
    if not getattr(args, "verbose", False):  # one line per HTTP request drowns the summary
        logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.action == "import":
        if not args.file:
            print("wiredesk feeds import: give the OPML file")
            return 2
        added = import_opml(args.file, settings)
        print(f"added {len(added)} feed(s) to {settings.feeds_file}: {', '.join(f.name for f in added) or '-'}")
        return 0
    from pipeline.store.client import connect

    es = connect(settings)
    if args.action == "list":
        return print_feed_list(load_feeds(settings), load_states(es, settings), settings, args.feed)
    results = poll_feeds(es, settings, [args.feed] if args.feed else None)
    return print_poll_summary(results)
