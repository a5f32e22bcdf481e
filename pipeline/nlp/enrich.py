"""Enrichment of article texts: canonical entities and quotes with speakers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import repeat
from typing import Iterable, Iterator

from pipeline.extract.language import detect_language, is_english
from pipeline.nlp.entities import Entity, extract_entities
from pipeline.nlp.model import load_nlp, parse_texts
from pipeline.nlp.quotes import Quote, attribute_quotes
from pipeline.store.documents import facet_arrays

LOGGER = logging.getLogger(__name__)


# "No language given": plain text that never went through extraction, so it is detected here.
DETECT = object()


@dataclass
class Enrichment:
    """Entities and quotes of one text; the flat facet lists come from :func:`pipeline.store.documents.facet_arrays`."""

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


def bounded(text, settings, language=DETECT) -> str:
    """The text to analyse: cut at ``nlp_max_chars``; empty for non-text and (optionally) non-English."""
    if not isinstance(text, str):
        return ""
    text = text[: settings.nlp_max_chars]
    if settings.nlp_english_only:
        language = detect_language(text) if language is DETECT else language
        if not is_english(language):
            LOGGER.debug("language %s, not English: skipped: %.60r", language, text)
            return ""
    return text


def enrich_texts(texts: Iterable[str], settings, languages: Iterable | None = None) -> Iterator[Enrichment]:
    """Enrich many texts in one batched ``nlp.pipe`` stream, in order (offsets index the input texts).

    ``languages`` (one per text, from extraction) decide which texts are English; without them the
    language of each text is detected here, with the same detector.
    """
    nlp = load_nlp(settings)
    texts = [bounded(t, settings, lang) for t, lang in zip(texts, repeat(DETECT) if languages is None else languages)]
    for text, chunks in zip(texts, parse_texts(texts, nlp, settings.nlp_processes)):
        yield analyse_chunks(text, chunks)


def enrich_text(text: str, settings, language=DETECT) -> Enrichment:
    """Enrich one text (entities and quotes); ``language`` is the article's, detected when not given."""
    return next(enrich_texts([text], settings, [language]))
