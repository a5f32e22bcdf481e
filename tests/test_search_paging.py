"""Deep paging with search_after under concurrent writes, parameter validation, and `wiredesk search`."""

from __future__ import annotations

import json
import threading

import pytest
from index_support import es_client, es_settings, fresh_settings, make_articles  # noqa: F401

from pipeline.cli.main import main
from pipeline.search.query import (
    InvalidParameter,
    build_body,
    build_request,
    decode_cursor,
    encode_cursor,
    parse_when,
    search_articles,
)
from pipeline.store import documents
from pipeline.store.bulk import index_articles


class Writer(threading.Thread):
    """Indexes new articles (some newer, some older than everything) until stopped."""

    def __init__(self, es, settings):
        super().__init__(daemon=True)
        self.es, self.settings, self.stop, self.written = es, settings, threading.Event(), 0

    def run(self):
        batch = 0
        while not self.stop.is_set() and batch < 40:
            docs = make_articles(5, seed=batch, start=10_000 + batch * 5)
            for i, doc in enumerate(docs):  # spread dates on both sides of the existing ones
                doc["published_at"] = f"20{26 + (i % 2) * 2 - 1}-0{1 + batch % 9}-1{i}T00:00:00+00:00"
            self.written += index_articles(self.es, self.settings, docs).succeeded
            self.es.indices.refresh(index=self.settings.articles_alias)
            batch += 1


@pytest.mark.integration
@pytest.mark.parametrize("sort", ["date", "relevance"])
def test_search_after_paging_stable_under_concurrent_writes(es_client, es_settings, sort):
    docs = make_articles(150)
    index_articles(es_client, es_settings, docs, refresh=True)
    original = {documents.doc_id(d["canonical_url"]) for d in docs}
    writer = Writer(es_client, es_settings)
    writer.start()
    seen: list[str] = []
    cursor = None
    try:
        while True:
            req = build_request(es_settings, "minister OR talks OR officials", sort=sort, size=9,
                                       collapse=False, facets=False, cursor=cursor)
            page = search_articles(es_client, es_settings, req)
            seen += [h["id"] for h in page["hits"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
    finally:
        writer.stop.set()
        writer.join()
    assert writer.written > 0
    assert len(seen) == len(set(seen)), "a document appeared on two pages"
    assert original <= set(seen), "a document present from the start was skipped"


@pytest.mark.integration
def test_expired_point_in_time_is_a_clear_error(es_client, es_settings):
    index_articles(es_client, es_settings, make_articles(12), refresh=True)
    req = build_request(es_settings, "minister", size=5, collapse=False)
    page = search_articles(es_client, es_settings, req)
    pit = decode_cursor(page["next_cursor"])["pit"]
    es_client.close_point_in_time(id=pit)
    with pytest.raises(InvalidParameter, match="expired"):
        search_articles(es_client, es_settings, build_request(
            es_settings, "minister", size=5, collapse=False, cursor=page["next_cursor"]))


@pytest.mark.parametrize(
    "value,end,expected",
    [
        ("2026-11-26", False, "2026-11-26"),
        ("2026-11-26", True, "2026-11-26||/d"),
        ("2026-11-26T10:00:00Z", False, "2026-11-26T10:00:00+00:00"),
        ("7d", False, "now-7d"),
        ("24h", True, "now-24h"),
        (None, False, None),
        ("", True, None),
    ],
)
def test_parse_when(value, end, expected):
    assert parse_when("since", value, end=end) == expected


@pytest.mark.parametrize(
    "kwargs,param",
    [
        ({"since": "yesterday-ish"}, "since"),
        ({"until": "2026-13-45"}, "until"),
        ({"since": "2026-11-05", "until": "2026-11-01"}, "since"),
        ({"size": 101}, "size"),
        ({"size": -1}, "size"),
        ({"sort": "popularity"}, "sort"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": encode_cursor({"x": 1})}, "cursor"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_build_request_rejects_bad_parameters(tmp_path, kwargs, param):
    with pytest.raises(InvalidParameter) as info:
        build_request(fresh_settings(tmp_path), "q", **kwargs)
    assert info.value.param == param and info.value.detail


@pytest.mark.parametrize(
    "since,until",
    [("2026-11-05T10:00:00Z", "2026-11-05"), ("2026-11-05", "2026-11-05"), ("2026-11-01", "2026-11-05T00:00:00Z")],
)
def test_build_request_accepts_same_day_ranges(tmp_path, since, until):
    req = build_request(fresh_settings(tmp_path), "q", since=since, until=until)
    assert req.since and req.until


@pytest.mark.parametrize("collapse,cursor", [(True, {"after": [1, "x"]}), (False, {"from": 10})])
def test_cursor_from_the_other_paging_mode_is_refused(tmp_path, collapse, cursor):
    req = build_request(fresh_settings(tmp_path), "q", collapse=collapse, cursor=encode_cursor(cursor))
    with pytest.raises(InvalidParameter, match="collapse"):
        build_body(req)


def test_build_request_normalises_filters(tmp_path):
    req = build_request(fresh_settings(tmp_path), "  oil ", source="Reuters", speaker=["A", " ", None])
    assert (req.query, req.source, req.speaker) == ("oil", ("Reuters",), ("A",))


def test_cursor_round_trip():
    cursor = {"after": [1.5, 1793728620000, "https://x.example/a"], "pit": None}
    assert decode_cursor(encode_cursor(cursor)) == cursor


@pytest.mark.integration
def test_cli_search_json(es_client, es_settings, monkeypatch, capsys):
    index_articles(es_client, es_settings, make_articles(40), refresh=True)
    monkeypatch.setattr("pipeline.settings.get_settings", lambda: es_settings)
    assert main(["search", "Iran", "--source", "Reuters", "--since", "2026-11-01", "--json", "--size", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hits"] and all(h["source"] == "Reuters" for h in out["hits"])
    assert set(out["facets"]) == {"sources", "people", "organizations", "places", "speakers", "days"}
    assert all("<mark>" in json.dumps(h["highlight"]) for h in out["hits"])


@pytest.mark.integration
def test_cli_search_quotes_table(es_client, es_settings, monkeypatch, capsys):
    index_articles(es_client, es_settings, make_articles(40), refresh=True)
    monkeypatch.setattr("pipeline.settings.get_settings", lambda: es_settings)
    assert main(["search", "Iran", "--speaker", "Momani", "--quotes"]) == 0
    out = capsys.readouterr().out
    assert "Marwan Momani" in out and "ignores Iran" in out


@pytest.mark.integration
def test_cli_search_bad_date_exits_2(es_settings, monkeypatch, capsys):
    monkeypatch.setattr("pipeline.settings.get_settings", lambda: es_settings)
    assert main(["search", "x", "--until", "someday"]) == 2
    assert "until:" in capsys.readouterr().err
