"""The pinned spaCy pipeline, loaded once per process, and paragraph chunking with exact offsets."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

LOGGER = logging.getLogger(__name__)

# Chunks are paragraphs (one line each); a longer line is cut at a sentence end or a space.
MAX_CHUNK_CHARS = 5_000
LINE_RE = re.compile(r"[^\n]+")
SENTENCE_END_RE = re.compile(r"[.!?][\"'”’)\]]*\s+")
BATCH_SIZE = 64
MIN_PIECES_PER_PROCESS = 500  # a forked worker loads the model (~1 s): below this, one process is faster


@dataclass(frozen=True)
class Chunk:
    """One parsed paragraph: ``doc`` covers ``text[offset:end]`` of the article."""

    offset: int
    end: int
    doc: object  # spacy.tokens.Doc; typed loosely so importing this module stays cheap


@lru_cache(maxsize=4)
def load_model(name: str):
    """Load a spaCy pipeline by name (cached: once per process and name)."""
    import spacy

    LOGGER.info("loading spaCy model %s", name)
    return spacy.load(name)


def load_nlp(settings):
    """The pinned spaCy model named by ``settings.spacy_model``, loaded once per process."""
    return load_model(settings.spacy_model)


def split_long(start: int, end: int, text: str) -> Iterator[tuple[int, int]]:
    """Cut ``text[start:end]`` into pieces of at most MAX_CHUNK_CHARS, preferring sentence ends."""
    while end - start > MAX_CHUNK_CHARS:
        limit = start + MAX_CHUNK_CHARS
        cut = max((m.end() for m in SENTENCE_END_RE.finditer(text, start, limit)), default=0)
        if cut <= start:
            cut = text.rfind(" ", start, limit) + 1
        if cut <= start:
            cut = limit
        yield start, cut
        start = cut
    if end > start:
        yield start, end


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """Character spans of the non-blank lines of ``text``, long lines cut into pieces."""
    spans = []
    for match in LINE_RE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        spans.extend(split_long(start, end, text))
    return spans


def parse_texts(texts: list[str], nlp, n_process: int = 1) -> Iterator[list[Chunk]]:
    """Parse texts paragraph by paragraph in one ``nlp.pipe`` stream; yield each text's chunks in order.

    ``n_process`` > 1 forks workers only when there are enough paragraphs to repay their start-up.
    """
    spans = [split_paragraphs(text) for text in texts]
    pieces = (text[s:e] for text, text_spans in zip(texts, spans) for s, e in text_spans)
    total = sum(len(text_spans) for text_spans in spans)
    processes = n_process if total >= MIN_PIECES_PER_PROCESS * n_process else 1
    docs = iter(nlp.pipe(pieces, batch_size=BATCH_SIZE, n_process=processes))
    for text_spans in spans:
        yield [Chunk(start, end, next(docs)) for start, end in text_spans]
