"""Enrichment of article texts: canonical entities and quotes with speakers, and `wiredesk enrich`."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from pipeline.nlp.entities import Entity, extract_entities
from pipeline.nlp.model import load_nlp, parse_texts
from pipeline.nlp.quotes import Quote, attribute_quotes

LOGGER = logging.getLogger(__name__)

PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})
MAX_TEXT_CHARS = 200_000  # beyond this an "article" is a dump: only its head is analysed


@dataclass
class Enrichment:
    """Entities and quotes of one text, plus flat name lists for facets."""

    entities: list[Entity] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)

    def names(self, labels) -> list[str]:
        """Canonical names of entities with one of ``labels``, most mentioned first."""
        return [e.name for e in self.entities if e.label in labels]

    @property
    def people(self) -> list[str]:
        """People named in the text."""
        return self.names({"PERSON"})

    @property
    def organizations(self) -> list[str]:
        """Organisations named in the text."""
        return self.names({"ORG"})

    @property
    def places(self) -> list[str]:
        """Countries, cities, regions and facilities named in the text."""
        return self.names(PLACE_LABELS)

    @property
    def speakers(self) -> list[str]:
        """Distinct speakers of the quotes, in order of first quote."""
        return list(dict.fromkeys(q.speaker.name for q in self.quotes if q.speaker.name))

    def to_dict(self) -> dict:
        """The JSON shape of DESIGN.md (without "path")."""
        return {"entities": [e.to_dict() for e in self.entities], "quotes": [q.to_dict() for q in self.quotes]}


def analyse_chunks(text: str, chunks) -> Enrichment:
    """Entities and quotes of one parsed text."""
    if not chunks:
        return Enrichment()
    index = extract_entities(chunks)
    return Enrichment(index.entities, attribute_quotes(text, chunks, index))


def bounded(text: str) -> str:
    """The text to analyse: not a str becomes empty, a huge one is cut at MAX_TEXT_CHARS."""
    if not isinstance(text, str):
        return ""
    return text[:MAX_TEXT_CHARS]


def enrich_texts(texts: Iterable[str], settings) -> Iterator[Enrichment]:
    """Enrich many texts in one batched ``nlp.pipe`` stream, in order."""
    nlp = load_nlp(settings)
    texts = [bounded(t) for t in texts]
    for text, chunks in zip(texts, parse_texts(texts, nlp)):
        yield analyse_chunks(text, chunks)


def enrich_text(text: str, settings) -> Enrichment:
    """Enrich one text (entities and quotes)."""
    return next(enrich_texts([text], settings))


def read_input(path: str) -> Iterator[tuple[str, str]]:
    """(path, text) pairs from a plain-text file or the JSON lines of ``wiredesk extract``."""
    raw = Path(path).read_text(encoding="utf-8", errors="replace")
    if path.endswith((".jsonl", ".json")) or raw.lstrip().startswith("{"):
        for line in raw.splitlines():
            if line.strip():
                obj = json.loads(line)
                yield obj.get("path") or path, obj.get("text") or ""
    else:
        yield path, raw


def run_enrich_command(args, settings) -> int:
    """`wiredesk enrich PATH...`: one JSON object per text on stdout."""
    items = [item for path in args.paths for item in read_input(path)]
    for (path, _), result in zip(items, enrich_texts((text for _, text in items), settings)):
        sys.stdout.write(json.dumps({"path": path, **result.to_dict()}, ensure_ascii=False) + "\n")
    return 0
