"""Search against a real index of realistic articles: filters, facets, highlights, sort, collapse, quotes."""

from __future__ import annotations

from collections import Counter

import pytest
from index_support import fresh_settings, make_articles

from pipeline.search.query import (
    build_request,
    get_article,
    more_like_this,
    parse_quote_question,
    search_articles,
    search_facets,
    search_quotes,
)
from pipeline.store import documents
from pipeline.store.bulk import index_articles
from pipeline.store.client import connect
from pipeline.store.indices import delete_indices, ensure_indices

pytestmark = pytest.mark.integration

N_DOCS = 120


@pytest.fixture(scope="module")
def corpus(es_url, tmp_path_factory):
    """One read-only index for the whole module (searches do not write)."""
    settings = fresh_settings(tmp_path_factory.mktemp("search"), es_url=es_url)
    es = connect(settings)
    ensure_indices(es, settings)
    docs = [documents.prepare_article(d) for d in make_articles(N_DOCS)]
    result = index_articles(es, settings, docs, refresh=True)
    assert result.failed == 0
    yield settings, es, docs
    delete_indices(es, settings)


def run(corpus, query="", **options):
    settings, es, _ = corpus
    options.setdefault("size", 100)
    options.setdefault("collapse", False)
    return search_articles(es, settings, build_request(settings, query, **options))


def ids_where(docs, predicate) -> set[str]:
    return {documents.doc_id(d["canonical_url"]) for d in docs if predicate(d)}


FILTER_CASES = [
    ("source", "Reuters", lambda d: d["source"] == "Reuters"),
    ("source", "reuters", lambda d: d["source"] == "Reuters"),  # case-insensitive
    ("feed", "bbc-news-world", lambda d: d["feed"] == "bbc-news-world"),
    ("language", "fr", lambda d: d["language"] == "fr"),
    ("person", "Jerome Powell", lambda d: "Jerome Powell" in d["people"]),
    ("person", "Powell", lambda d: "Jerome Powell" in d["people"]),  # part of the name
    ("organization", "OPEC", lambda d: "OPEC" in d["organizations"]),
    ("place", "Iran", lambda d: "Iran" in d["places"]),
    ("speaker", "Marwan Momani", lambda d: "Marwan Momani" in d["speakers"]),
    ("entity", "Geneva", lambda d: any(e["name"] == "Geneva" for e in d["entities"])),
    ("entity", "Champagne", lambda d: any("Champagne" in e["name"] for e in d["entities"])),  # part of the name
    ("entity", "imf", lambda d: any("IMF" in e["aliases"] for e in d["entities"])),  # by alias
    ("source", ["AP", "CBC News"], lambda d: d["source"] in ("AP", "CBC News")),  # any of several
]


@pytest.mark.parametrize("name,value,predicate", FILTER_CASES)
def test_filter(corpus, name, value, predicate):
    result = run(corpus, **{name: value})
    expected = ids_where(corpus[2], predicate)
    assert expected, "the corpus must exercise this filter"
    assert {h["id"] for h in result["hits"]} == expected
    assert result["total"] == len(expected)


@pytest.mark.parametrize(
    "since,until",
    [("2026-11-03", None), (None, "2026-11-02"), ("2026-11-02", "2026-11-04"), ("2026-11-02T12:00:00Z", None)],
)
def test_date_range(corpus, since, until):
    result = run(corpus, since=since, until=until)
    lower = (since or "0000")[:19].replace("Z", "")
    upper = (until + "T23:59:59") if until else "9999"

    def inside(doc):
        stamp = doc["published_at"][:19]
        return lower <= stamp <= upper

    assert {h["id"] for h in result["hits"]} == ids_where(corpus[2], inside)


def test_filters_combine_with_and(corpus):
    result = run(corpus, "sanctions", source="Reuters", place="Iran")
    expected = ids_where(corpus[2], lambda d: d["source"] == "Reuters" and "Iran" in d["places"] and "sanctions" in d["text"])
    assert {h["id"] for h in result["hits"]} == expected


def test_query_defaults_to_and(corpus):
    both = run(corpus, "wildfire OPEC")
    expected = ids_where(corpus[2], lambda d: "wildfire" in d["text"] and "OPEC" in d["text"])
    assert {h["id"] for h in both["hits"]} == expected
    either = run(corpus, "wildfire OR OPEC")
    assert either["total"] > both["total"]


def test_quoted_phrase_is_honoured(corpus):
    phrase = run(corpus, '"trade talks"')
    loose = run(corpus, "trade talks")
    assert phrase["total"] == len(ids_where(corpus[2], lambda d: "trade talks" in d["text"].lower()))
    assert loose["total"] >= phrase["total"]


def test_title_is_boosted(corpus):
    # "semiconductor" is in the title of some articles and only quoted in the text of others.
    result = run(corpus, "semiconductor")
    top = result["hits"][0]
    assert "semiconductor" in top["title"].lower()


def test_bad_query_syntax_falls_back(corpus):
    result = run(corpus, "oil AND (")
    assert result["total"] > 0


FACET_FIELDS = [("sources", "source"), ("people", "people"), ("organizations", "organizations"),
                ("places", "places"), ("speakers", "speakers")]


@pytest.mark.parametrize("facet,field_name", FACET_FIELDS)
def test_facet_counts(corpus, facet, field_name):
    result = run(corpus, size=0)
    expected = Counter()
    for doc in corpus[2]:
        values = doc[field_name] if isinstance(doc[field_name], list) else [doc[field_name]]
        expected.update(set(values))
    got = {b["value"]: b["count"] for b in result["facets"][facet]}
    top = dict(expected.most_common(10))
    assert got == {k: v for k, v in expected.items() if k in got}
    assert sorted(got.values(), reverse=True) == sorted(top.values(), reverse=True)


def test_day_histogram(corpus):
    result = run(corpus, "interest rates", size=0)
    expected = Counter(d["published_at"][:10] for d in corpus[2] if "interest rates" in d["text"])
    assert {b["date"]: b["count"] for b in result["facets"]["days"]} == dict(expected)


def test_facets_endpoint_function(corpus):
    settings, es, docs = corpus
    result = search_facets(es, settings, build_request(settings, "", source="AP"))
    assert result["total"] == sum(d["source"] == "AP" for d in docs)
    assert [b["value"] for b in result["facets"]["sources"]] == ["AP"]


def test_highlights_mark_query_terms(corpus):
    result = run(corpus, "output cuts", size=5)
    for hit in result["hits"]:
        snippets = hit["highlight"].get("text", []) + hit["highlight"].get("summary", [])
        assert any("<mark>output</mark>" in s and "<mark>cuts</mark>" in s for s in snippets)


def test_no_highlight_without_query(corpus):
    assert all(h["highlight"] == {} for h in run(corpus, size=5)["hits"])


def test_sort_by_date(corpus):
    result = run(corpus, "minister", sort="date")
    dates = [h["published_at"] for h in result["hits"]]
    assert dates == sorted(dates, reverse=True) and len(dates) > 10


def test_collapse_near_duplicates_by_default(corpus):
    settings, es, docs = corpus
    collapsed = search_articles(es, settings, build_request(settings, "", size=100))
    groups = [h["duplicate_group"] for h in collapsed["hits"]]
    assert len({d["duplicate_group"] for d in docs}) < N_DOCS
    assert len(groups) == len(set(groups)) == 100  # one hit per group, a full page
    assert collapsed["total"] == N_DOCS  # total counts documents, not groups


def test_collapsed_pages_cover_every_group_once(corpus):
    settings, es, docs = corpus
    seen, cursor = [], None
    while True:
        page = search_articles(es, settings, build_request(settings, "", size=25, sort="date", cursor=cursor))
        seen += [h["duplicate_group"] for h in page["hits"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted({d["duplicate_group"] for d in docs})


def test_more_like_this(corpus):
    settings, es, docs = corpus
    target = docs[3]
    similar = more_like_this(es, settings, documents.doc_id(target["canonical_url"]), size=5)
    assert similar and all(h["id"] != documents.doc_id(target["canonical_url"]) for h in similar)
    topic_word = target["title"].split()[0]
    assert sum(topic_word in h["title"] for h in similar) >= 3


def test_get_article(corpus):
    settings, es, docs = corpus
    article = get_article(es, settings, documents.doc_id(docs[0]["canonical_url"]))
    assert article["text"] == docs[0]["text"] and article["quotes"][0]["speaker"] == "Marwan Momani"
    assert get_article(es, settings, "missing") is None


# -- quotes


def quotes(corpus, query="", **options):
    settings, es, _ = corpus
    options.setdefault("size", 100)
    return search_quotes(es, settings, build_request(settings, query, **options))


@pytest.mark.parametrize("speaker", ["Marwan Momani", "Momani", "marwan momani"])
def test_quote_search_by_speaker(corpus, speaker):
    result = quotes(corpus, "Iran", speaker=speaker)
    expected = [
        (q["text"], d["title"]) for d in corpus[2] for q in d["quotes"]
        if q["speaker"] == "Marwan Momani" and "Iran" in q["text"]
    ]
    assert sorted((q["text"], q["article"]["title"]) for q in result["quotes"]) == sorted(expected)
    for quote in result["quotes"]:
        assert quote["speaker"] == "Marwan Momani" and quote["cue"] == "said"
        assert quote["article"]["url"] and quote["article"]["id"] and quote["highlight"]


def test_quote_search_without_speaker_matches_quote_text_only(corpus):
    result = quotes(corpus, "continue")
    assert result["quotes"] and all("continue" in q["text"] for q in result["quotes"])
    # "continue" is said by many speakers, and it never matches article text outside quotes
    assert len({q["speaker"] for q in result["quotes"]}) > 1


def test_all_quotes_of_a_speaker(corpus):
    result = quotes(corpus, speaker="Jerome Powell")
    expected = sum(q["speaker"] == "Jerome Powell" for d in corpus[2] for q in d["quotes"])
    assert len(result["quotes"]) == expected


def test_quote_paging(corpus):
    first = quotes(corpus, speaker="Momani", size=3)
    second = quotes(corpus, speaker="Momani", size=3, cursor=first["next_cursor"])
    ids = lambda page: {q["article"]["id"] for q in page["quotes"]}  # noqa: E731
    assert ids(first) and ids(second) and not ids(first) & ids(second)


@pytest.mark.parametrize(
    "question,speaker,topic",
    [
        ("what did Momani say about Iran", "Momani", "Iran"),
        ("What did Marwan Momani say about Iran?", "Marwan Momani", "Iran"),
        ("what has Powell said about interest rates", "Powell", "interest rates"),
        ("what did Scholz tell reporters about the climate summit?", "Scholz", "the climate summit"),
    ],
)
def test_quote_question_is_read_as_speaker_and_topic(tmp_path, question, speaker, topic):
    req = parse_quote_question(build_request(fresh_settings(tmp_path), question))
    assert (req.speaker, req.query) == ((speaker,), topic)


@pytest.mark.parametrize("query", ["Momani Iran", "what about Iran", "said about Iran"])
def test_plain_quote_queries_are_left_alone(tmp_path, query):
    req = build_request(fresh_settings(tmp_path), query)
    assert parse_quote_question(req) == req


def test_quote_question_end_to_end(corpus):
    result = quotes(corpus, "what did Momani say about Iran?")
    assert result["quotes"] and all(q["speaker"] == "Marwan Momani" and "Iran" in q["text"] for q in result["quotes"])
