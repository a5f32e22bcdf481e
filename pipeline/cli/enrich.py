"""``wiredesk enrich PATH...``: entities and quotes of texts or extracted articles, as JSON lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator

from pipeline.errors import PermanentError, Reason
from pipeline.fetch.decode import decode_html
from pipeline.nlp.enrich import DETECT, enrich_texts


def decode_input(path: str, raw: bytes) -> str:
    """The text of an input file: BOM, strict UTF-8, else detection; binary or undecodable is ``bad_input``."""
    try:
        return decode_html(raw)[0]  # the one decoder: binary refused, then BOM, UTF-8, charset detection
    except PermanentError as exc:
        if exc.reason == Reason.BINARY:
            message = f"{path}: binary file, not text: give UTF-8 text or the JSON lines of `wiredesk extract`"
        else:
            message = f"{path}: {exc}: convert it to UTF-8 (iconv -f CHARSET -t UTF-8)"
        raise PermanentError(message, reason=Reason.BAD_INPUT) from exc


def read_input(path: str) -> Iterator[tuple[str, str, object]]:
    """(path, text, language) from a plain-text file or the JSON lines of ``wiredesk extract``.

    An article's "language" field is its extraction's decision; plain text gets DETECT.
    Unreadable, binary or undecodable files and malformed lines raise PermanentError (reason ``bad_input``).
    """
    try:
        text = decode_input(path, Path(path).read_bytes())
    except OSError as exc:
        raise PermanentError(f"{path}: {exc.strerror or exc}", reason=Reason.BAD_INPUT) from exc
    if not (path.endswith((".jsonl", ".json")) or text.lstrip().startswith("{")):
        yield path, text, DETECT
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PermanentError(f"{path}:{number}: not a JSON object ({exc.msg})", reason=Reason.BAD_INPUT) from exc
        obj = obj if isinstance(obj, dict) else {}
        text = obj.get("text")
        yield obj.get("path") or path, text if isinstance(text, str) else "", obj.get("language", DETECT)


def read_inputs(paths: list[str]) -> tuple[list[tuple[str, str, object]], int]:
    """Every (path, text, language) of the given inputs, and how many inputs failed (reported on stderr)."""
    items, failed = [], 0
    for path in paths:
        try:
            items.extend(list(read_input(path)))  # a file counts whole or not at all
        except PermanentError as exc:
            print(f"wiredesk enrich: {exc}", file=sys.stderr)
            failed += 1
    return items, failed


def run_enrich_command(args, settings) -> int:
    """`wiredesk enrich PATH...`: one JSON object per text on stdout; exit 1 when an input was bad."""
    items, failed = read_inputs(args.paths)
    results = enrich_texts([text for _, text, _ in items], settings, [language for _, _, language in items])
    for (path, _, _), result in zip(items, results):
        sys.stdout.write(json.dumps({"path": path, **result.to_dict()}, ensure_ascii=False) + "\n")
    return 1 if failed else 0
