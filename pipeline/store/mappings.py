"""Index templates and mappings of the article and feed indices."""

from __future__ import annotations

from typing import Any

from pipeline.settings import Settings
from pipeline.store.documents import FACET_FIELDS

TEXT_ANALYZER = "wd_text"


# Filters the English chain needs; all come from the analysis-common module.
ENGLISH_FILTERS = {
    "wd_english_possessive": {"type": "stemmer", "language": "possessive_english"},
    "wd_english_stop": {"type": "stop", "stopwords": "_english_"},
    "wd_english_stemmer": {"type": "stemmer", "language": "english"},
}


def has_english_analysis(es) -> bool:
    """True when the cluster has the English analysis chain (analysis-common module)."""
    from elasticsearch import ApiError

    chain = [*ENGLISH_FILTERS.values(), "lowercase", "asciifolding"]
    try:
        es.indices.analyze(tokenizer="standard", filter=chain, text="The editor's cafés were running")
    except ApiError as exc:
        if exc.status_code == 400:
            return False
        raise
    return True


def build_analysis(english: bool) -> dict:
    """Index analysis settings: the English chain when available, the standard analyzer otherwise."""
    if not english:
        return {"analyzer": {TEXT_ANALYZER: {"type": "standard", "stopwords": "_english_"}}}
    chain = ["wd_english_possessive", "lowercase", "asciifolding", "wd_english_stop", "wd_english_stemmer"]
    return {
        "filter": dict(ENGLISH_FILTERS),
        "analyzer": {TEXT_ANALYZER: {"type": "custom", "tokenizer": "standard", "filter": chain}},
    }


def text_field(keyword: bool = True, ignore_above: int = 512) -> dict:
    """An analysed text field, with a ``.keyword`` sub-field for exact filters and sorting."""
    spec: dict[str, Any] = {"type": "text", "analyzer": TEXT_ANALYZER}
    if keyword:
        spec["fields"] = {"keyword": {"type": "keyword", "ignore_above": ignore_above}}
    return spec


def keyword_field(text: bool = False) -> dict:
    """A keyword field, optionally with an analysed ``.text`` sub-field for matching by words."""
    spec: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
    if text:
        spec["fields"] = {"text": {"type": "text", "analyzer": TEXT_ANALYZER}}
    return spec


def error_field() -> dict:
    """The recorded error of an item: short reason code and message."""
    return {
        "properties": {
            "reason": {"type": "keyword"},
            "message": {"type": "text", "analyzer": TEXT_ANALYZER},
            "retryable": {"type": "boolean"},
            "status": {"type": "keyword"},
        }
    }


def nested_entities() -> dict:
    """Entities as nested objects: name, label, count and aliases stay together per entity."""
    return {
        "type": "nested",
        "dynamic": False,
        "properties": {
            "name": keyword_field(text=True),
            "label": {"type": "keyword"},
            "count": {"type": "integer"},
            "aliases": keyword_field(text=True),
        },
    }


def nested_quotes() -> dict:
    """Quotes as nested objects, so "text by speaker" matches within one quote."""
    kw, num = {"type": "keyword"}, {"type": "integer"}
    return {
        "type": "nested",
        "dynamic": False,
        "properties": {
            "text": text_field(keyword=False),
            "speaker": keyword_field(text=True),
            **{name: kw for name in ("speaker_label", "cue", "kind")},
            **{name: num for name in ("position", "start", "end")},
        },
    }


def build_articles_mappings() -> dict:
    """Article mapping (DESIGN.md): ``dynamic: false`` keeps junk in _source but out of the mapping."""
    kw, date = {"type": "keyword"}, {"type": "date"}
    props: dict[str, Any] = {
        **{name: kw for name in ("url", "canonical_url", "feed", "source", "language", "guid")},
        **{name: kw for name in ("status", "claimed_by", "raw_path", "pipeline_version")},
        **{name: kw for name in ("fingerprint", "fingerprint_bands", "duplicate_group", "tags", "site_name")},
        **{name: kw for name in ("final_url", "page_canonical_url")},
        **{name: kw for name in ("fingerprint_bands", "tags")},  # near-duplicate candidates (ingest), feed tags
        # Flat facet arrays; the .text sub-field lets "Momani" filter "Marwan Momani".
        **{name: keyword_field(text=True) for name in FACET_FIELDS},
        "title": text_field(),
        "summary": text_field(keyword=False),
        "text": text_field(keyword=False),
        "authors": keyword_field(text=True),
        "word_count": {"type": "integer"},
        "image": {"type": "keyword", "index": False, "doc_values": False},
        "attempts": {"type": "integer"},
        "error": error_field(),
        "entities": nested_entities(),
        "quotes": nested_quotes(),
    }
    dates = ("published_at", "modified_at", "fetched_at", "discovered_at", "claimed_at", "next_attempt_at")
    for name in (*dates, "updated_at"):
        props[name] = date
    return {"dynamic": False, "properties": props}


def build_feeds_mappings() -> dict:
    """Feed state mapping: one document per feed."""
    kw, date, num = {"type": "keyword"}, {"type": "date"}, {"type": "integer"}
    props: dict[str, Any] = {
        **{name: kw for name in ("url", "name", "source", "language", "etag", "last_modified", "last_status")},
        **{name: kw for name in ("health", "site_url", "kind", "config_url", "moved_from", "disabled_reason")},
        **{name: {"type": "float"} for name in ("interval_minutes", "ttl_minutes", "last_duration")},
        "http_status": num,
        "title": text_field(),
        "enabled": {"type": "boolean"},
        "consecutive_failures": num,
        "error": error_field(),
        "counts": {"type": "object", "dynamic": False, "properties": {k: num for k in ("seen", "new", "errors")}},
    }
    for name in ("last_poll_at", "last_success_at", "last_new_at", "next_poll_at", "updated_at"):
        props[name] = date
    return {"dynamic": False, "properties": props}


def build_template(settings: Settings, kind: str, english: bool) -> dict:
    """Body of the composable index template for one kind (pure: no cluster access)."""
    mappings = build_articles_mappings() if kind == "articles" else build_feeds_mappings()
    return {
        "index_patterns": [f"{settings.index_prefix}-{kind}-v*"],
        "priority": 200,  # above the built-in templates
        "template": {
            # One shard suits a news desk's volume; a replica appears as soon as a second node joins.
            "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1", "analysis": build_analysis(english)},
            "mappings": mappings,
        },
        "_meta": {"managed_by": "wiredesk", "english_analysis": english},
    }
