"""``wiredesk extract PATH...``: article JSON lines from HTML files."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from pipeline.errors import PermanentError
from pipeline.extract.article import Article, extract_article, read_html_file

LOGGER = logging.getLogger(__name__)


def extract_file(path: Path, url: str | None, settings) -> dict:
    """One output record for a file: the article fields, or empty fields and the error with its reason."""
    record: dict = {"path": str(path)}
    try:
        record.update(extract_article(read_html_file(path, settings.extract_max_bytes), url=url, settings=settings).to_dict())
    except PermanentError as exc:
        record.update({**Article(url=url).to_dict(), "error": exc.to_dict()})
    return record


def run_extract_command(args, settings) -> int:
    """`wiredesk extract PATH... [--url URL]`: one JSON object per line; exit 1 if any page failed."""
    if args.url and len(args.paths) > 1:
        print("wiredesk extract: --url needs exactly one PATH", file=sys.stderr)
        return 2
    failures = 0
    for name in args.paths:
        record = extract_file(Path(name), args.url, settings)
        failures += "error" in record
        if "error" in record:
            LOGGER.warning("%s: %s", name, record["error"]["message"])
        print(json.dumps(record, ensure_ascii=False), flush=True)
    return 1 if failures else 0
