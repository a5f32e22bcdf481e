"""Query building and search: full text, filters, facets, highlights, paging, quotes, more-like-this.

Every entry point takes a validated :class:`SearchRequest`; :func:`build_request` turns loose
strings (CLI flags, HTTP parameters) into one and raises :class:`InvalidParameter` with a message a
person can act on. Paging uses an opaque cursor: with near-duplicates collapsed (the default) it
holds an offset, because Elasticsearch only combines ``collapse`` with ``search_after`` when sorting
on the collapse field; without collapsing it holds the ``search_after`` sort values (and, for
relevance order, a point in time so scores stay fixed while new documents arrive).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from pipeline.errors import PermanentError, Reason
from pipeline.settings import Settings
from pipeline.store.client import es_boundary
from pipeline.store.documents import ARTICLE_CARD_FIELDS
from pipeline.store.documents import LIST_FIELDS as DOC_LIST_FIELDS

LOGGER = logging.getLogger(__name__)

SORTS = ("relevance", "date")
SEARCH_FIELDS = ["title^3", "summary^2", "text"]


# facet name -> keyword field
FACETS = {
    "sources": "source",
    "people": "people",
    "organizations": "organizations",
    "places": "places",
    "speakers": "speakers",
}


# filter name -> flat keyword field (matched exactly, case-insensitively, or as a phrase of the name)
FLAT_FILTERS = {"person": "people", "organization": "organizations", "place": "places", "speaker": "speakers"}
EXACT_FILTERS = {"source": "source", "feed": "feed", "language": "language"}
LIST_FIELDS = list(DOC_LIST_FIELDS)  # what a result row shows (pipeline.store.documents)
RELATIVE_DATE = re.compile(r"^(\d{1,4})([dhw])$")  # "7d", "24h", "2w": that long ago
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# "what did Momani say about Iran?" -> speaker "Momani", topic "Iran" (quote search only)
QUOTE_QUESTION = re.compile(
    r"^\s*what\s+(?:did|does|do|has|have)\s+(?P<speaker>.+?)\s+(?:say|said|says|tell\s+\w+|told\s+\w+|think)"
    r"\s+(?:about|on|of|regarding)\s+(?P<topic>.+?)\s*\??\s*$",
    re.IGNORECASE,
)
MAX_OFFSET = 10_000  # index.max_result_window
PIT_KEEP_ALIVE = "5m"


class InvalidParameter(PermanentError):
    """A search parameter a person must correct; ``param`` names it."""

    reason = Reason.INVALID_PARAMETER

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param = param
        self.detail = message


@dataclass(frozen=True)
class SearchRequest:
    """One validated search: query, filters (OR within a field, AND across fields), paging, options."""

    query: str = ""
    source: tuple[str, ...] = ()
    feed: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    entity: tuple[str, ...] = ()
    person: tuple[str, ...] = ()
    organization: tuple[str, ...] = ()
    place: tuple[str, ...] = ()
    speaker: tuple[str, ...] = ()
    since: str | None = None  # Elasticsearch date or date math, already validated
    until: str | None = None
    sort: str = "relevance"
    size: int = 10
    cursor: dict = field(default_factory=dict)
    collapse: bool = True
    facets: bool = True
    highlight: bool = True
    facet_size: int = 10


def parse_when(param: str, value: str | date | None, *, end: bool = False) -> str | None:
    """A date for a range bound: ISO date or time, or ``7d``/``24h``/``2w`` ago; date-only ``until`` is inclusive."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        value = value.isoformat()
    text = str(value).strip()
    relative = RELATIVE_DATE.match(text)
    if relative:
        return f"now-{relative.group(1)}{relative.group(2)}"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(param, f"expected a date like 2026-11-26, an ISO-8601 time or 7d/24h, got {text!r}")
    if DATE_ONLY.match(text):
        # "until 2026-11-03" means through the end of that day.
        return f"{text}||/d" if end else text
    return parsed.isoformat()


def as_tuple(values: Any) -> tuple[str, ...]:
    """Filter values as a tuple of non-empty strings (accepts None, a string or a list)."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    return tuple(str(v).strip() for v in values if v is not None and str(v).strip())


def encode_cursor(cursor: dict) -> str:
    """An opaque, URL-safe paging token."""
    return base64.urlsafe_b64encode(json.dumps(cursor, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str | None) -> dict:
    """The paging state inside a token; a damaged token is a 422, not a crash."""
    if not token:
        return {}
    try:
        cursor = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError):
        raise InvalidParameter("cursor", "not a cursor returned by a previous page")
    if not isinstance(cursor, dict) or not ({"after", "from"} & set(cursor)):
        raise InvalidParameter("cursor", "not a cursor returned by a previous page")
    return cursor


def check_range(lower: str | None, upper: str | None) -> None:
    """Refuse a range whose start is after its end (relative bounds are left to Elasticsearch)."""
    if not lower or not upper or lower.startswith("now") or upper.startswith("now"):
        return
    upper = upper.removesuffix("||/d")
    # A date-only bound covers its whole day: compare days, and whole times only when both have one.
    if lower[:10] > upper[:10] or (len(lower) > 10 and len(upper) > 10 and lower > upper):
        raise InvalidParameter("since", f"{lower} is after until {upper}")


def build_request(settings: Settings, query: str = "", *, sort: str = "relevance", size: int = 10,
                  since: Any = None, until: Any = None, cursor: str | None = None, **options: Any) -> SearchRequest:
    """Validate loose parameters (CLI, HTTP) into a :class:`SearchRequest`."""
    if sort not in SORTS:
        raise InvalidParameter("sort", f"must be one of {', '.join(SORTS)}, got {sort!r}")
    if not 0 <= int(size) <= settings.search_max_size:
        raise InvalidParameter("size", f"must be between 0 and {settings.search_max_size}, got {size}")
    lower, upper = parse_when("since", since), parse_when("until", until, end=True)
    check_range(lower, upper)
    filters = {name: as_tuple(options.pop(name, None)) for name in (*EXACT_FILTERS, *FLAT_FILTERS, "entity")}
    unknown = set(options) - {"collapse", "facets", "highlight", "facet_size"}
    if unknown:
        raise InvalidParameter(sorted(unknown)[0], "unknown parameter")
    return SearchRequest(query=(query or "").strip(), sort=sort, size=int(size), since=lower, until=upper,
                         cursor=decode_cursor(cursor), **filters, **options)


def text_query(query: str, fields: list[str], strict: bool = True) -> dict:
    """Full text: query-string syntax with AND by default; ``strict=False`` never fails to parse."""
    if not query:
        return {"match_all": {}}
    if strict:
        return {"query_string": {"query": query, "fields": fields, "default_operator": "AND", "lenient": True}}
    return {"simple_query_string": {"query": query, "fields": fields, "default_operator": "and", "lenient": True}}


def name_filter(field_name: str, values: tuple[str, ...]) -> dict:
    """Any of the names: exact (case-insensitive) on the keyword, or as a phrase inside the name."""
    should = []
    for value in values:
        should.append({"term": {field_name: {"value": value, "case_insensitive": True}}})
        should.append({"match_phrase": {f"{field_name}.text": value}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def entity_filter(values: tuple[str, ...]) -> dict:
    """Articles mentioning any of the entities, by canonical name or alias."""
    should = []
    for value in values:
        for name in ("entities.name", "entities.aliases"):
            should.append({"term": {name: {"value": value, "case_insensitive": True}}})
        should.append({"match_phrase": {"entities.name.text": value}})
    return {"nested": {"path": "entities", "query": {"bool": {"should": should, "minimum_should_match": 1}}}}


def build_filters(req: SearchRequest) -> list[dict]:
    """Filter clauses for the request (cached by Elasticsearch, no scoring)."""
    filters: list[dict] = []
    for name, field_name in EXACT_FILTERS.items():
        values = getattr(req, name)
        if values:
            filters.append({"bool": {"should": [{"term": {field_name: {"value": v, "case_insensitive": True}}}
                                                for v in values], "minimum_should_match": 1}})
    for name, field_name in FLAT_FILTERS.items():
        if getattr(req, name):
            filters.append(name_filter(field_name, getattr(req, name)))
    if req.entity:
        filters.append(entity_filter(req.entity))
    if req.since or req.until:
        bounds = {k: v for k, v in (("gte", req.since), ("lte", req.until)) if v}
        filters.append({"range": {"published_at": bounds}})
    return filters


def build_query(req: SearchRequest, strict: bool = True) -> dict:
    """The bool query: full text (scored) plus filters."""
    return {"bool": {"must": [text_query(req.query, SEARCH_FIELDS, strict)], "filter": build_filters(req)}}


def build_aggs(req: SearchRequest) -> dict:
    """Facet aggregations: top values per facet field and articles per day."""
    aggs: dict[str, Any] = {name: {"terms": {"field": f, "size": req.facet_size}} for name, f in FACETS.items()}
    aggs["days"] = {"date_histogram": {"field": "published_at", "calendar_interval": "day", "min_doc_count": 1}}
    return aggs


def build_sort(req: SearchRequest) -> list:
    """Sort order with a unique tie-breaker, so search_after never skips or repeats."""
    by_date = {"published_at": {"order": "desc", "missing": "_last"}}
    tie = {"canonical_url": {"order": "asc", "missing": "_last"}}
    return [by_date, tie] if req.sort == "date" else ["_score", by_date, tie]


HIGHLIGHT = {
    "pre_tags": ["<mark>"],
    "post_tags": ["</mark>"],
    "fields": {
        "title": {"number_of_fragments": 0},
        "summary": {"number_of_fragments": 0},
        "text": {"fragment_size": 160, "number_of_fragments": 3},
    },
}


def build_body(req: SearchRequest, strict: bool = True) -> dict:
    """The whole search body for a page of article results."""
    body: dict[str, Any] = {
        "query": build_query(req, strict),
        "size": req.size,
        "sort": build_sort(req),
        "_source": LIST_FIELDS,
        "track_total_hits": True,
    }
    if req.facets:
        body["aggs"] = build_aggs(req)
    if req.highlight and req.query:
        body["highlight"] = HIGHLIGHT
    if ("from" in req.cursor and not req.collapse) or ("after" in req.cursor and req.collapse):
        raise InvalidParameter("cursor", "this cursor belongs to a search with a different collapse setting")
    if req.collapse:
        body["collapse"] = {"field": "duplicate_group"}
        body["from"] = int(req.cursor.get("from", 0))
        if body["from"] + req.size > MAX_OFFSET:
            raise InvalidParameter("cursor", f"collapsed results page only through the first {MAX_OFFSET}")
    elif req.cursor.get("after"):
        body["search_after"] = req.cursor["after"]
    return body


def send_search(es, settings: Settings, body: dict, pit: str | None = None) -> dict:
    """One search against the articles alias, or inside a point in time."""
    target = {"pit": {"id": pit, "keep_alive": PIT_KEEP_ALIVE}} if pit else {"index": settings.articles_alias}
    return es.search(**target, **body).body


def search_with_fallback(es, settings: Settings, req: SearchRequest, build, pit: str | None = None) -> dict:
    """Run ``build(req, strict)``; a query-string syntax error falls back to the forgiving parser."""
    from elasticsearch import BadRequestError

    try:
        return send_search(es, settings, build(req, True), pit)
    except BadRequestError as exc:
        if not req.query or "parse" not in str(exc.info).lower():
            raise
        LOGGER.info("query %r is not valid query-string syntax; using simple_query_string", req.query)
        return send_search(es, settings, build(req, False), pit)


def format_facets(aggs: dict) -> dict:
    """Facet buckets as ``{facet: [{value, count}]}`` plus ``days: [{date, count}]``."""
    facets = {name: [{"value": b["key"], "count": b["doc_count"]} for b in aggs[name]["buckets"]] for name in FACETS}
    facets["days"] = [{"date": b["key_as_string"][:10], "count": b["doc_count"]} for b in aggs["days"]["buckets"]]
    return facets


def format_hit(hit: dict) -> dict:
    """A result row: id, score, the listed fields and highlighted snippets."""
    return {"id": hit["_id"], "score": hit.get("_score"), **hit.get("_source", {}), "highlight": hit.get("highlight", {})}


def next_cursor(req: SearchRequest, hits: list[dict], pit: str | None) -> str | None:
    """The token for the page after this one, or None on the last page."""
    if not hits or len(hits) < req.size:
        return None
    if req.collapse:
        return encode_cursor({"from": int(req.cursor.get("from", 0)) + len(hits)})
    return encode_cursor({"after": hits[-1]["sort"], "pit": pit})


def open_pit(es, settings: Settings, req: SearchRequest) -> str | None:
    """A point in time for relevance-ordered deep paging (scores stay fixed while documents arrive)."""
    if req.collapse or req.sort != "relevance" or req.size == 0:
        return None
    if req.cursor.get("pit"):
        return req.cursor["pit"]
    return es.open_point_in_time(index=settings.articles_alias, keep_alive=PIT_KEEP_ALIVE).body["id"]


@es_boundary
def search_articles(es, settings: Settings, req: SearchRequest) -> dict:
    """A page of articles with highlights, facets, total and the next cursor."""
    from elasticsearch import NotFoundError

    pit = open_pit(es, settings, req)
    try:
        resp = search_with_fallback(es, settings, req, build_body, pit)
    except NotFoundError as exc:
        if pit and req.cursor.get("pit"):
            raise InvalidParameter("cursor", "this result list expired; start again from the first page") from exc
        raise
    hits = resp["hits"]["hits"]
    return {
        "total": resp["hits"]["total"]["value"],
        "took_ms": resp.get("took"),
        "hits": [format_hit(h) for h in hits],
        "facets": format_facets(resp["aggregations"]) if "aggregations" in resp else {},
        "next_cursor": next_cursor(req, hits, resp.get("pit_id", pit)),
    }


@es_boundary
def search_facets(es, settings: Settings, req: SearchRequest) -> dict:
    """Only the facets (and total) for a query and its filters."""
    facet_req = replace(req, size=0, highlight=False, collapse=False, facets=True, cursor={})
    resp = search_with_fallback(es, settings, facet_req, build_body)
    return {"total": resp["hits"]["total"]["value"], "facets": format_facets(resp["aggregations"])}


@es_boundary
def get_article(es, settings: Settings, article_id: str) -> dict | None:
    """The whole stored article, or None."""
    resp = es.options(ignore_status=404).get(index=settings.articles_alias, id=article_id).body
    return {"id": resp["_id"], **resp["_source"]} if resp.get("found") else None


@es_boundary
def more_like_this(es, settings: Settings, article_id: str, size: int = 10) -> list[dict]:
    """Articles similar to one article (its own near-duplicates collapsed away)."""
    from pipeline.store.indices import current_index

    index = current_index(es, settings, "articles")
    like = {"fields": ["title", "summary", "text"], "like": [{"_index": index, "_id": article_id}],
            "min_term_freq": 1, "min_doc_freq": 1, "max_query_terms": 40, "minimum_should_match": "20%"}
    resp = es.search(index=settings.articles_alias, query={"more_like_this": like}, size=size,
                     collapse={"field": "duplicate_group"}, _source=LIST_FIELDS).body
    return [format_hit(h) for h in resp["hits"]["hits"] if h["_id"] != article_id]


QUOTE_FIELDS = ["quotes.text", "quotes.speaker", "quotes.speaker_label", "quotes.cue", "quotes.kind",
                "quotes.position"]
ARTICLE_FIELDS = list(ARTICLE_CARD_FIELDS)  # the article shown beside a quote


def quote_query(req: SearchRequest, strict: bool, match_quotes: bool) -> dict:
    """The nested query on quotes: the speaker, and (quote search) the query on the quote text."""
    inner = {"bool": {"must": [text_query(req.query if match_quotes else "", ["quotes.text"], strict)], "filter": []}}
    if req.speaker:
        inner["bool"]["filter"].append(name_filter("quotes.speaker", req.speaker))
    if not match_quotes:  # quote cards are attributed quotes
        inner["bool"]["filter"].append({"exists": {"field": "quotes.speaker"}})
    return {"nested": {
        "path": "quotes",
        "score_mode": "max",
        "query": inner,
        "inner_hits": {
            "size": 10,
            "_source": QUOTE_FIELDS,
            "highlight": {"pre_tags": ["<mark>"], "post_tags": ["</mark>"], "fields": {"quotes.text": {"number_of_fragments": 0}}},
        },
    }}


def build_quote_body(req: SearchRequest, strict: bool = True, match_quotes: bool = True) -> dict:
    """Articles with matching quotes, the quotes as inner hits.

    ``match_quotes``: the query matches the quote text (quote search); otherwise it matches the
    article and its attributed quotes are returned (the search page's quote cards).
    """
    must = [quote_query(req, strict, match_quotes)]
    if not match_quotes:
        must.append(text_query(req.query, SEARCH_FIELDS, strict))
    filters = build_filters(replace(req, speaker=()))  # the speaker is matched on the quote itself
    body = {"query": {"bool": {"must": must, "filter": filters}}, "size": req.size,
            "from": int(req.cursor.get("from", 0)), "sort": build_sort(req), "_source": ARTICLE_FIELDS,
            "track_total_hits": True}
    if req.collapse:
        body["collapse"] = {"field": "duplicate_group"}
    return body


def format_quotes(hit: dict) -> list[dict]:
    """The matching quotes of one article hit, each with its article."""
    article = {"id": hit["_id"], **hit.get("_source", {})}
    quotes = []
    for inner in hit.get("inner_hits", {}).get("quotes", {}).get("hits", {}).get("hits", []):
        quote = dict(inner["_source"])
        quote["score"] = inner.get("_score")
        quote["highlight"] = inner.get("highlight", {}).get("quotes.text", [])
        quote["article"] = article
        quotes.append(quote)
    return quotes


def parse_quote_question(req: SearchRequest) -> SearchRequest:
    """Read "what did X say about Y" as speaker X and query Y, when no speaker is given."""
    match = QUOTE_QUESTION.match(req.query)
    if req.speaker or not match:
        return req
    return replace(req, query=match.group("topic"), speaker=(match.group("speaker"),))


@es_boundary
def search_quotes(es, settings: Settings, req: SearchRequest, match_quotes: bool = True) -> dict:
    """Quotes matching the query (and speaker), each with speaker, cue and article; paged by article.

    ``match_quotes=False``: the attributed quotes of the articles matching the query (quote cards).
    """
    req = parse_quote_question(req)
    req = replace(req, collapse=req.collapse and not match_quotes)  # quote search pages with from
    resp = search_with_fallback(es, settings, req, lambda r, strict: build_quote_body(r, strict, match_quotes))
    hits = resp["hits"]["hits"]
    quotes = [q for hit in hits for q in format_quotes(hit)]
    more = len(hits) == req.size and req.size > 0
    cursor = encode_cursor({"from": int(req.cursor.get("from", 0)) + len(hits)}) if more else None
    return {"total_articles": resp["hits"]["total"]["value"], "quotes": quotes, "next_cursor": cursor}
