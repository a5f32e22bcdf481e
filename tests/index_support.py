"""Realistic article documents and Elasticsearch fixtures for the index, search and API tests.

Not a test module (no ``test_`` prefix): test_index_*, test_search_* and test_api_* import it, and
benchmarks/bench_index_search.py builds its 20,000 documents with :func:`make_articles`.
"""

from __future__ import annotations

import random
import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.settings import Settings

PEOPLE = [
    ("Marwan Momani", "Jordan's trade minister"),
    ("François-Philippe Champagne", "Canada's industry minister"),
    ("Ursula von der Leyen", "the European Commission president"),
    ("Jerome Powell", "the Federal Reserve chair"),
    ("Kristalina Georgieva", "the IMF managing director"),
    ("Narendra Modi", "India's prime minister"),
    ("Olaf Scholz", "the German chancellor"),
    ("Ngozi Okonjo-Iweala", "the WTO director-general"),
]
ORGS = ["Reuters", "European Commission", "Federal Reserve", "International Monetary Fund", "World Trade Organization",
        "OPEC", "Siemens", "Toyota", "United Nations", "Bank of Canada"]
ORG_ALIASES = {"International Monetary Fund": ["IMF"], "World Trade Organization": ["WTO"], "European Commission": ["EC"]}
PLACES = ["Iran", "Jordan", "Canada", "Brussels", "Washington", "India", "Germany", "Geneva", "Tokyo", "Ottawa"]
SOURCES = ["Reuters", "AP", "BBC News", "The Guardian", "Al Jazeera", "CBC News"]
TOPICS = [
    ("oil prices", "Crude oil prices climbed as OPEC signalled further output cuts"),
    ("trade talks", "Negotiators resumed trade talks after weeks of stalled progress"),
    ("interest rates", "The central bank held interest rates steady amid cooling inflation"),
    ("sanctions on Iran", "New sanctions on Iran targeted shipping and energy exports"),
    ("semiconductor plant", "A new semiconductor plant promises thousands of jobs"),
    ("climate summit", "Delegates at the climate summit argued over financing for poorer nations"),
    ("election campaign", "The election campaign entered its final week with polls tightening"),
    ("wildfire season", "Firefighters braced for a severe wildfire season after a dry spring"),
]
CUES = ["said", "told reporters", "warned", "added", "according to", "stressed"]
FILLER = (
    "Officials declined to give a timetable. Analysts said markets had largely priced in the move. "
    "The announcement followed a series of meetings between ministers and industry representatives. "
    "Critics argued the measures would do little for households facing higher costs. "
)


SENTENCE_TEMPLATES = [
    "{person} met officials from {org} in {place} on {day} to discuss {topic}.",
    "Shares of {org} fell {n} percent in early trading in {place} after the announcement.",
    "The {topic} dispute has weighed on investment across {place} for {n} months.",
    "In a statement, {org} said it would review the proposals before the end of the year.",
    "Opposition lawmakers in {place} demanded an inquiry into the handling of {topic}.",
    "{person} is expected to travel to {place} next week for further talks.",
    "Economists polled by {org} expect growth of {n} percent this year, down from last year.",
    "Residents of {place} said prices for fuel and food had risen sharply since {day}.",
    "A spokesperson for {org} declined to comment on the report about {topic}.",
    "The agreement, if ratified, would take effect in {n} stages over the coming years.",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend"]


def extra_sentences(rng: random.Random, words: int) -> str:
    """Varied background sentences until about ``words`` words (real articles run to hundreds)."""
    out, count = [], 0
    while count < words:
        sentence = rng.choice(SENTENCE_TEMPLATES).format(
            person=rng.choice(PEOPLE)[0], org=rng.choice(ORGS), place=rng.choice(PLACES),
            topic=rng.choice(TOPICS)[0], day=rng.choice(DAYS), n=rng.randint(2, 40))
        out.append(sentence)
        count += len(sentence.split())
    return " ".join(out)


def make_article(i: int, rng: random.Random, base: datetime | None = None, words: int = 0) -> dict:
    """One realistic article document (entities, quotes, facets, pipeline state); ``words`` lengthens the text."""
    base = base or datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    topic, lead = TOPICS[i % len(TOPICS)]
    person, role = PEOPLE[i % len(PEOPLE)]
    other, _ = PEOPLE[(i * 3 + 1) % len(PEOPLE)]
    org, place, source = rng.choice(ORGS), PLACES[i % len(PLACES)], SOURCES[i % len(SOURCES)]
    quote = f"We will not accept any deal on {topic} that ignores {place}"
    text = (f"{lead}, {person}, {role}, said on Tuesday. \"{quote},\" {person} {rng.choice(CUES)}. "
            f"{other} said talks with {org} in {place} would continue. " + FILLER * rng.randint(2, 6))
    if words:
        text += " " + extra_sentences(rng, words)
    published = base + timedelta(hours=i % 240, minutes=i % 60)
    url = f"https://news.example.org/{source.lower().replace(' ', '-')}/{published:%Y/%m/%d}/story-{i}"
    return {
        "url": url + "?utm_source=rss",
        "canonical_url": url,
        "feed": f"{source.lower().replace(' ', '-')}-world",
        "source": source,
        "title": f"{lead.split(' as ')[0].split(' after ')[0]} ({place}) #{i}",
        "summary": lead + ".",
        "authors": [f"Reporter {i % 17}"],
        "published_at": published.isoformat(),
        "fetched_at": (published + timedelta(minutes=5)).isoformat(),
        "language": "en" if i % 10 else "fr",
        "text": text,
        "word_count": len(text.split()),
        "image": f"https://img.example.org/{i}.jpg",
        "status": "indexed",
        "attempts": 1,
        "pipeline_version": "1",
        "fingerprint": f"fp{i // 2}",
        "duplicate_group": f"dg{i // 2}" if (i // 2) % 5 == 0 else f"dg-{i}",  # pairs 0-1, 10-11, ...
        "entities": [
            {"name": person, "label": "PERSON", "count": 2, "aliases": [person.split()[-1]]},
            {"name": other, "label": "PERSON", "count": 1, "aliases": []},
            {"name": org, "label": "ORG", "count": 1, "aliases": ORG_ALIASES.get(org, [])},
            {"name": place, "label": "GPE", "count": 2, "aliases": []},
        ],
        "quotes": [
            {"text": quote, "speaker": person, "speaker_label": "PERSON", "cue": "said", "kind": "direct",
             "position": 0, "start": text.index(quote), "end": text.index(quote) + len(quote)},
            {"text": f"talks with {org} in {place} would continue", "speaker": other, "speaker_label": "PERSON",
             "cue": "said", "kind": "indirect", "position": 1},
        ],
    }


def make_articles(n: int, seed: int = 7, start: int = 0, words: int = 0) -> list[dict]:
    """``n`` realistic article documents, deterministic for a seed."""
    rng = random.Random(seed)
    return [make_article(i, rng, words=words) for i in range(start, start + n)]


def fresh_settings(tmp_path, **overrides) -> Settings:
    """Settings with a unique index prefix on the configured cluster (WIREDESK_ES_URL, else the local node)."""
    overrides.setdefault("index_prefix", f"wdidx-{uuid.uuid4().hex[:10]}")
    return Settings(data_dir=tmp_path, **overrides)


@pytest.fixture
def es_settings(settings):
    """The shared per-test settings (tests/conftest.py): a fresh index prefix on the real cluster."""
    return settings


@pytest.fixture
def es_client(es, settings):
    """The shared client with this test's indices created (conftest deletes them afterwards)."""
    from pipeline.store.indices import ensure_indices

    ensure_indices(es, settings)
    return es


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound once, then released): a stopped cluster."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
