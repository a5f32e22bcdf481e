"""The ``wiredesk`` command: a stable contract (see DESIGN.md).

Each subcommand is a thin shim: it builds the settings once and calls a library function in the
stage's own module, imported only when that subcommand runs (so ``--help`` stays fast).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from pipeline.errors import WiredeskError

# command -> (module, function, help). The function takes (args, settings) and returns an exit code.
COMMANDS = {
    "extract": ("pipeline.cli.extract", "run_extract_command", "parse HTML files into article JSON lines"),
    "enrich": ("pipeline.cli.enrich", "run_enrich_command", "entities and quotes for texts, as JSON lines"),
    "search": ("pipeline.cli.search", "run_search_command", "search the indexed coverage"),
    "crawl": ("pipeline.cli.crawl", "run_crawl_command", "poll feeds and ingest new articles in-process"),
    "serve": ("pipeline.cli.serve", "run_serve_command", "the search API and page without Airflow"),
    "es": ("pipeline.ops.local_es", "run_es_command", "a local single-node Elasticsearch: start|stop|status"),
    "feeds": ("pipeline.cli.feeds", "run_feeds_command", "feed registry: list, poll, import OPML"),
    "index": ("pipeline.cli.index", "run_index_command", "index set-up and migration"),
}


def add_arguments(sub: argparse._SubParsersAction) -> dict[str, argparse.ArgumentParser]:
    """Declare every subcommand's arguments (the DESIGN.md contract)."""
    parsers = {name: sub.add_parser(name, help=help_, description=help_) for name, (_, _, help_) in COMMANDS.items()}
    p = parsers["extract"]
    p.add_argument("paths", nargs="+", metavar="PATH", help=".html or .html.gz files")
    p.add_argument("--url", help="the page address (for a single file)")
    p = parsers["enrich"]
    p.add_argument("paths", nargs="+", metavar="PATH", help="plain-text files or article JSON from extract")
    p = parsers["search"]
    p.add_argument("query", nargs="?", default="", metavar="QUERY")
    p.add_argument("--speaker")
    p.add_argument("--entity")
    p.add_argument("--source")
    p.add_argument("--since", metavar="DATE")
    p.add_argument("--until", metavar="DATE")
    p.add_argument("--quotes", action="store_true", help="search inside quotes")
    p.add_argument("--size", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print hits, highlights and facets as JSON")
    p = parsers["crawl"]
    p.add_argument("--once", action="store_true", help="one poll-and-ingest cycle, then exit")
    p.add_argument("--feed", help="only this feed (by name)")
    p = parsers["serve"]
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p = parsers["es"]
    p.add_argument("action", choices=["start", "stop", "status"])
    p = parsers["feeds"]
    p.add_argument("action", choices=["list", "poll", "import"])
    p.add_argument("file", nargs="?", help="OPML file for import")
    p.add_argument("--feed", help="only this feed (by name)")
    p = parsers["index"]
    p.add_argument("action", choices=["setup", "migrate", "status"])
    return parsers


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="wiredesk", description="Wiredesk: a news wire desk in a box.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_arguments(sub)
    return parser


def resolve_command(name: str):
    """The function behind a subcommand, or None when that stage is not built yet."""
    module_name, func_name, _ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    return getattr(module, func_name, None)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``wiredesk`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The client logs every failed attempt with its traceback; our error boundary says it in one line.
    logging.getLogger("elastic_transport").setLevel(logging.DEBUG if args.verbose else logging.ERROR)
    if not args.command:
        parser.print_help()
        return 2
    func = resolve_command(args.command)
    if func is None:
        print(f"wiredesk {args.command}: not built yet in this version", file=sys.stderr)
        return 3
    from pipeline.settings import get_settings

    try:
        return int(func(args, get_settings()) or 0)
    except WiredeskError as exc:
        print(f"wiredesk {args.command}: {exc}", file=sys.stderr)
        return 1

