"""``wiredesk search``: the command-line search and its printing."""

from __future__ import annotations

import json
import sys

from pipeline.search.query import InvalidParameter, SearchRequest, build_request, search_articles, search_quotes
from pipeline.settings import Settings


def request_from_args(args, settings: Settings) -> SearchRequest:
    """A :class:`SearchRequest` from ``wiredesk search`` flags."""
    return build_request(settings, args.query, size=args.size, since=args.since, until=args.until,
                         speaker=args.speaker, entity=args.entity, source=args.source)


def print_articles(result: dict) -> None:
    """A readable result list: title, source, date, snippet."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result['total']} articles", show_lines=True)
    for column in ("title", "source", "date", "snippet"):
        table.add_column(column, overflow="fold")
    for hit in result["hits"]:
        snippet = (hit["highlight"].get("text") or [hit.get("summary") or ""])[0]
        table.add_row(hit.get("title") or hit.get("url", ""), hit.get("source") or "",
                      (hit.get("published_at") or "")[:10], rich_snippet(snippet))
    Console().print(table)


def print_quotes(result: dict) -> None:
    """A readable quote list: speaker, cue, quote, article."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"quotes from {result['total_articles']} articles", show_lines=True)
    for column in ("speaker", "cue", "quote", "article"):
        table.add_column(column, overflow="fold")
    for quote in result["quotes"]:
        text = quote["highlight"][0] if quote["highlight"] else quote.get("text", "")
        article = quote["article"]
        where = f"{article.get('title', '')} ({article.get('source', '')}, {(article.get('published_at') or '')[:10]})"
        table.add_row(quote.get("speaker") or "?", quote.get("cue") or "", rich_snippet(text), where)
    Console().print(table)


def rich_snippet(html: str) -> str:
    """A highlighted snippet in rich markup (``<mark>`` -> bold)."""
    from rich.markup import escape

    return escape(html).replace("<mark>", "[bold yellow]").replace("</mark>", "[/bold yellow]")


def run_search_command(args, settings: Settings) -> int:
    """``wiredesk search QUERY [--speaker] [--entity] [--source] [--since] [--until] [--quotes] [--json]``."""
    from pipeline.store.client import connect

    try:
        req = request_from_args(args, settings)
    except InvalidParameter as exc:
        print(f"wiredesk search: {exc}", file=sys.stderr)
        return 2
    es = connect(settings)
    result = search_quotes(es, settings, req) if args.quotes else search_articles(es, settings, req)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif args.quotes:
        print_quotes(result)
    else:
        print_articles(result)
    return 0
