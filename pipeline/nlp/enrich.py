"""Enrichment of article texts: canonical entities and quotes with speakers, and `wiredesk enrich`."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from pipeline.documents import facet_arrays
from pipeline.errors import PermanentError
from pipeline.nlp.entities import Entity, extract_entities
from pipeline.nlp.model import load_nlp, parse_texts
from pipeline.nlp.quotes import Quote, attribute_quotes

LOGGER = logging.getLogger(__name__)

# A language guess on less text than this is noise: short texts are assumed English.
MIN_LANGUAGE_CHARS = 300
LANGUAGE_SAMPLE_CHARS = 3_000
# Only languages news feeds really carry: with the full set, result tables ("Partizan 4 3 1 0")
# come out as Pidgin or Shona; among these they stay below the confidence bar.
NEWS_LANGUAGES = "en de fr es it pt nl sv da no fi pl cs ru uk tr ar zh ja ko hi id vi el hu ro he fa".split()
LANGUAGE_CONFIDENCE = 0.99


@dataclass
class Enrichment:
    """Entities and quotes of one text; the flat facet lists come from :func:`pipeline.documents.facet_arrays`."""

    entities: list[Entity] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)

    def facets(self) -> dict[str, list[str]]:
        """People, organizations, places and speakers, as the indexed document's facet arrays."""
        return facet_arrays(self.to_dict())

    @property
    def people(self) -> list[str]:
        """People named in the text, most mentioned first."""
        return self.facets()["people"]

    @property
    def organizations(self) -> list[str]:
        """Organisations named in the text."""
        return self.facets()["organizations"]

    @property
    def places(self) -> list[str]:
        """Countries, cities, regions and facilities named in the text."""
        return self.facets()["places"]

    @property
    def speakers(self) -> list[str]:
        """Distinct speakers of the quotes, in order of first quote."""
        return self.facets()["speakers"]

    def to_dict(self) -> dict:
        """The JSON shape of DESIGN.md (without "path")."""
        return {"entities": [e.to_dict() for e in self.entities], "quotes": [q.to_dict() for q in self.quotes]}


def analyse_chunks(text: str, chunks) -> Enrichment:
    """Entities and quotes of one parsed text."""
    if not chunks:
        return Enrichment()
    index = extract_entities(text, chunks)
    return Enrichment(index.entities, attribute_quotes(text, chunks, index))


@lru_cache(maxsize=1)
def language_identifier():
    """A py3langid identifier of its own (probabilities, news languages only), built once."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(NEWS_LANGUAGES)
    return identifier


def is_other_language(text: str) -> bool:
    """True when py3langid is sure (given enough text) that it is not English."""
    if len(text) < MIN_LANGUAGE_CHARS:
        return False
    code, probability = language_identifier().classify(text[:LANGUAGE_SAMPLE_CHARS])
    return code != "en" and probability >= LANGUAGE_CONFIDENCE


def bounded(text, settings) -> str:
    """The text to analyse: cut at ``nlp_max_chars``; empty for non-text and (optionally) non-English."""
    if not isinstance(text, str):
        return ""
    text = text[: settings.nlp_max_chars]
    if settings.nlp_english_only and is_other_language(text):
        LOGGER.debug("not English, skipped: %.60r", text)
        return ""
    return text


def enrich_texts(texts: Iterable[str], settings) -> Iterator[Enrichment]:
    """Enrich many texts in one batched ``nlp.pipe`` stream, in order (offsets index the input texts)."""
    nlp = load_nlp(settings)
    texts = [bounded(t, settings) for t in texts]
    for text, chunks in zip(texts, parse_texts(texts, nlp, settings.nlp_processes)):
        yield analyse_chunks(text, chunks)


def enrich_text(text: str, settings) -> Enrichment:
    """Enrich one text (entities and quotes)."""
    return next(enrich_texts([text], settings))


def read_input(path: str) -> Iterator[tuple[str, str]]:
    """(path, text) pairs from a plain-text file or the JSON lines of ``wiredesk extract``.

    Unreadable files and malformed lines raise PermanentError (reason ``bad_input``).
    """
    try:
        raw = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise PermanentError(f"{path}: {exc.strerror or exc}", reason="bad_input") from exc
    if not (path.endswith((".jsonl", ".json")) or raw.lstrip().startswith("{")):
        yield path, raw
        return
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PermanentError(f"{path}:{number}: not a JSON object ({exc.msg})", reason="bad_input") from exc
        text = obj.get("text") if isinstance(obj, dict) else None
        yield (obj.get("path") if isinstance(obj, dict) else None) or path, text if isinstance(text, str) else ""


def read_inputs(paths: list[str]) -> tuple[list[tuple[str, str]], int]:
    """Every (path, text) of the given inputs, and how many inputs failed (reported on stderr)."""
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
    for (path, _), result in zip(items, enrich_texts((text for _, text in items), settings)):
        sys.stdout.write(json.dumps({"path": path, **result.to_dict()}, ensure_ascii=False) + "\n")
    return 1 if failed else 0
