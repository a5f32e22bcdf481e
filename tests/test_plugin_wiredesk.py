"""The Wiredesk Airflow plugin: Airflow's plugins manager loads it, loading stays light, and its app
(pages, feed health, quote cards, the search API) answers over real HTTP only with a login.

The app runs in a real uvicorn server on 127.0.0.1, mounted under ``/wiredesk`` as in the api-server,
against the real Elasticsearch. Airflow's own token check is replaced by a stand-in that accepts one
token; tests/test_browser_wiredesk.py covers the real Airflow login.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGINS = REPO / "plugins"
GOOD_TOKEN = "good-token"

# -- demo coverage (also used by test_browser_wiredesk.py) --------------------------------------

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def demo_article(slug: str, source: str, title: str, hours_ago: int, text: str,
                 entities: list[tuple[str, str]], quotes: list[tuple[str, str]]) -> dict:
    """One indexed article as the pipeline writes it: entities and attributed quotes found in its text."""
    url = f"https://{source.lower().replace(' ', '')}.example.org/news/{slug}"
    published = NOW - timedelta(hours=hours_ago)
    return {
        "url": url, "canonical_url": url, "feed": f"{source.lower().replace(' ', '-')}-news", "source": source,
        "title": title, "summary": text.split(". ")[0] + ".", "authors": ["Wire Staff"],
        "published_at": published.isoformat(), "fetched_at": (published + timedelta(minutes=4)).isoformat(),
        "language": "en", "text": text, "word_count": len(text.split()), "status": "indexed", "attempts": 1,
        "entities": [{"name": name, "label": label, "count": text.count(name.split()[-1]), "aliases": []}
                     for name, label in entities],
        "quotes": [{"text": quote, "speaker": speaker, "speaker_label": "PERSON", "cue": "said", "kind": "direct",
                    "position": i, "start": text.index(quote), "end": text.index(quote) + len(quote)}
                   for i, (speaker, quote) in enumerate(quotes)],
    }


DEMO_ARTICLES = [
    demo_article(
        "port-strike-talks", "Harbour Times", "Dockworkers and port operators resume strike talks", 30,
        "Negotiators for dockworkers and the Port of Halden returned to the table on Monday as the strike "
        "closed three container terminals. \"We are not going back to work for promises written on sand,\" "
        "said Maria Okafor, president of the Harbour Workers Union. Daniel Brooks, chief executive of the port "
        "authority, said: \"Every day the cranes stand still costs the region millions.\" Talks continue on "
        "Tuesday in Halden.",
        [("Maria Okafor", "PERSON"), ("Daniel Brooks", "PERSON"), ("Harbour Workers Union", "ORG"),
         ("Port of Halden", "ORG"), ("Halden", "GPE")],
        [("Maria Okafor", "We are not going back to work for promises written on sand"),
         ("Daniel Brooks", "Every day the cranes stand still costs the region millions")]),
    demo_article(
        "port-strike-second-week", "Coastal Wire", "Port strike enters second week as ships queue offshore", 6,
        "Dozens of cargo ships waited off Halden on Sunday as the port strike entered its second week. "
        "\"Retailers will feel this before the holidays,\" said Lena Fischer, a shipping analyst at Nordic "
        "Freight Research. The Harbour Workers Union said its members would hold a vote on Thursday.",
        [("Lena Fischer", "PERSON"), ("Nordic Freight Research", "ORG"), ("Harbour Workers Union", "ORG"),
         ("Halden", "GPE")],
        [("Lena Fischer", "Retailers will feel this before the holidays")]),
    demo_article(
        "wildfire-preparations", "Prairie Post", "Province readies crews ahead of wildfire season", 54,
        "Fire crews in British Columbia began training a month early after a dry autumn. \"We would rather "
        "be ready too soon than too late,\" said Amrit Dhillon, the province's fire chief. Officials in "
        "Kamloops expect a long season. \"The forecast is drier than last year,\" said Amrit, a crew leader.",
        [("Amrit Dhillon", "PERSON"), ("British Columbia", "GPE"), ("Kamloops", "GPE")],
        [("Amrit Dhillon", "We would rather be ready too soon than too late"),
         ("Amrit", "The forecast is drier than last year")]),  # another speaker, whose name is part of Dhillon's
    demo_article(
        "reef-restoration-pacific", "Ocean Desk", "Volunteers replant coral on a damaged Pacific reef", 78,
        "Divers from the Pacific Reef Trust replanted two thousand coral fragments near Fiji this week. "
        "\"The reef can recover if we give it a decade of calm,\" said Tomasi Vunipola, the trust's lead "
        "scientist.",
        [("Tomasi Vunipola", "PERSON"), ("Pacific Reef Trust", "ORG"), ("Fiji", "GPE")],
        [("Tomasi Vunipola", "The reef can recover if we give it a decade of calm")]),
]

DEMO_FEEDS = [
    {"url": "http://127.0.0.1:9/broken.xml", "name": "broken-wire", "source": "Broken Wire", "enabled": True,
     "consecutive_failures": 3, "last_status": "500", "last_poll_at": NOW.isoformat(),
     "error": {"message": "HTTP 500 from the feed", "reason": "http_5xx"}},
    {"url": "https://harbourtimes.example.org/rss", "name": "harbour-times-news", "source": "Harbour Times",
     "enabled": True, "consecutive_failures": 0, "last_status": "200", "last_poll_at": NOW.isoformat(),
     "last_success_at": NOW.isoformat(), "last_new_at": NOW.isoformat(), "last_duration": 0.4},
]


DEMO_RUNS = [  # (dag_id, run_id, kind, summary) in the order they finished
    ("wiredesk_poll_feeds", "scheduled__2026-11-26T10:00:00+00:00", "poll",
     {"feeds": 2, "by_status": {"new": 1, "failed": 1}, "new_count": 4, "new_ids": ["a", "b", "c", "d"],
      "errors": {"broken-wire": {"reason": "http_5xx", "message": "HTTP 500 from the feed"}}}),
    ("wiredesk_ingest_articles", "asset_triggered__2026-11-26T10:01:00+00:00", "ingest",
     {"claimed": 4, "fetched": 4, "extracted": 3, "enriched": 3, "indexed": 3, "failed": 1,
      "failed_by_reason": {"http_404": 1}, "chunks": 1}),
]


def index_demo(es, settings) -> None:
    """The demo articles, feed states and run records, searchable right away."""
    from pipeline.feeds.state import save_state
    from pipeline.store.bulk import index_articles
    from pipeline.store.indices import ensure_indices
    from pipeline.store.runs import record_run, runs_index

    ensure_indices(es, settings)
    assert not index_articles(es, settings, DEMO_ARTICLES, refresh=True).failures
    for feed in DEMO_FEEDS:  # keyed as the poller keys them (feeds.state.state_id)
        save_state(es, settings, dict(feed))
    es.indices.refresh(index=settings.feeds_alias)
    for dag_id, run_id, kind, summary in DEMO_RUNS:
        assert record_run(es, settings, dag_id, run_id, kind, summary)
    es.indices.refresh(index=runs_index(settings))


# -- loading -----------------------------------------------------------------------------------


def test_plugins_manager_loads_wiredesk_plugin():
    """Airflow finds the plugin in the repository's plugins folder, without import errors."""
    from airflow import plugins_manager
    from airflow.configuration import conf

    assert Path(conf.get("core", "plugins_folder")).resolve() == PLUGINS
    assert plugins_manager.get_import_errors() == {}
    info = {p["name"]: p for p in plugins_manager.get_plugin_info()}
    plugin = info["wiredesk"]
    assert [app["url_prefix"] for app in plugin["fastapi_apps"]] == ["/wiredesk"]
    views = {v["name"]: v for v in plugin["external_views"]}
    assert views["Wiredesk Search"]["url_route"] == "wiredesk" and views["Wiredesk Search"]["href"] == "/wiredesk/"
    assert views["Feed Health"]["href"] == "/wiredesk/feeds"
    assert {v["destination"] for v in views.values()} == {"nav"}


def test_plugin_module_imports_nothing_heavy():
    """Loading the plugin (scheduler, DAG processor) imports neither FastAPI app code nor Elasticsearch."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import airflow.plugins_manager; before = set(sys.modules);"
        "import wiredesk_plugin; new = set(sys.modules) - before;"
        "print(sorted(m for m in new if m.split('.')[0] in ('elasticsearch', 'wiredesk_web', 'spacy') "
        "or m in ('pipeline.search.api', 'pipeline.search.query')))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(PLUGINS)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


# -- the app over real HTTP --------------------------------------------------------------------


async def accept_good_token(token: str):
    """Stand-in for Airflow's auth manager: one valid token."""
    return {"username": "admin"} if token == GOOD_TOKEN else None


@pytest.fixture(scope="module")
def demo_settings(es_url, tmp_path_factory):
    """Like conftest's ``settings``, shared by this module's tests: one index prefix, one data folder."""
    from pipeline.settings import Settings

    return Settings(es_url=es_url, index_prefix=f"wdtest-{uuid.uuid4().hex[:10]}",
                    data_dir=tmp_path_factory.mktemp("wiredesk") / "data")


@pytest.fixture(scope="module")
def demo_es(demo_settings):
    """A client over the indexed demo coverage; the module's indices are deleted afterwards."""
    from pipeline.store.client import connect
    from pipeline.store.indices import delete_indices

    client = connect(demo_settings)
    index_demo(client, demo_settings)
    yield client
    delete_indices(client, demo_settings)
    client.close()


@pytest.fixture(scope="module")
def wiredesk_url(demo_es, demo_settings):
    """The plugin app on a real server under /wiredesk, over the demo coverage."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    sys.path.insert(0, str(PLUGINS))
    from wiredesk_web.app import create_plugin_app

    app = create_plugin_app(demo_settings, demo_es, accept_good_token, lambda next_url: f"/auth/login?next={next_url}")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Mount("/wiredesk", app)]), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/wiredesk"
    server.should_exit = True
    thread.join(10)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def logged_in(base: str) -> httpx.Client:
    """A client carrying the UI's login cookie."""
    return httpx.Client(base_url=base, cookies={"_token": GOOD_TOKEN}, timeout=20)


@pytest.mark.integration
@pytest.mark.parametrize("path", ["/api/search?q=strike", "/api/quote-cards?q=strike", "/api/feeds", "/api/runs",
                                  "/api/articles/x", "/api/health", "/static/search.js"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Cookie": "_token=wrong"}])
def test_api_rejects_requests_without_a_valid_login(wiredesk_url, path, headers):
    response = httpx.get(wiredesk_url + path, headers=headers, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.integration
@pytest.mark.parametrize("path", ["/", "/feeds", "/article?id=x"])
def test_pages_redirect_to_the_airflow_login(wiredesk_url, path):
    response = httpx.get(wiredesk_url + path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/auth/login?next={wiredesk_url}{path}"


@pytest.mark.integration
@pytest.mark.parametrize("path, marker", [("/", 'id="search-form"'), ("/feeds", 'id="feeds"'),
                                          ("/article?id=x", 'id="article"')])
def test_pages_are_served_with_a_login(wiredesk_url, path, marker):
    response = logged_in(wiredesk_url).get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert marker in response.text and "://" not in response.text  # nothing from a CDN or the internet


@pytest.mark.integration
def test_bearer_token_is_accepted(wiredesk_url):
    response = httpx.get(wiredesk_url + "/api/search", params={"q": "strike"},
                         headers={"Authorization": f"Bearer {GOOD_TOKEN}"})
    assert response.status_code == 200 and response.json()["total"] == 2


@pytest.mark.integration
@pytest.mark.parametrize("params, titles", [
    ({"q": "strike"}, {"Dockworkers and port operators resume strike talks",
                       "Port strike enters second week as ships queue offshore"}),
    ({"q": "strike", "speaker": "Lena Fischer"}, {"Port strike enters second week as ships queue offshore"}),
    ({"q": "strike", "source": "Harbour Times"}, {"Dockworkers and port operators resume strike talks"}),
    ({"place": "Fiji"}, {"Volunteers replant coral on a damaged Pacific reef"}),
])
def test_search_api_through_the_plugin(wiredesk_url, params, titles):
    result = logged_in(wiredesk_url).get("/api/search", params=params).json()
    assert {hit["title"] for hit in result["hits"]} == titles
    assert result["facets"]["days"], "the page's histogram needs per-day counts"


@pytest.mark.integration
@pytest.mark.parametrize("params, cards", [
    ({"q": "strike"}, {("Maria Okafor", "Dockworkers and port operators resume strike talks"),
                       ("Daniel Brooks", "Dockworkers and port operators resume strike talks"),
                       ("Lena Fischer", "Port strike enters second week as ships queue offshore")}),
    ({"q": "strike", "speaker": "Okafor"}, {("Maria Okafor", "Dockworkers and port operators resume strike talks")}),
    ({"q": "coral"}, {("Tomasi Vunipola", "Volunteers replant coral on a damaged Pacific reef")}),
    ({"q": "nothing-matches-this"}, set()),
])
def test_quote_cards_come_from_the_matching_articles(wiredesk_url, params, cards):
    result = logged_in(wiredesk_url).get("/api/quote-cards", params=params).json()
    assert {(c["speaker"], c["article"]["title"]) for c in result["cards"]} == cards
    assert all(c["text"] and c["article"]["id"] for c in result["cards"])


def quote_keys(quotes: list[dict]) -> list[tuple]:
    """(speaker, text, article id) of each quote, sorted: what a reader sees, whatever the shape."""
    return sorted((q["speaker"], q["text"], q["article"]["id"]) for q in quotes)


def cli_quotes(settings, speaker: str) -> list[dict]:
    """`wiredesk search --quotes --speaker ... --json` against the same indices."""
    env = {**os.environ, "WIREDESK_ES_URL": settings.es_url, "WIREDESK_INDEX_PREFIX": settings.index_prefix}
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "search", "--quotes", "--speaker", speaker, "--json"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=REPO, check=True)
    return json.loads(done.stdout)["quotes"]


@pytest.mark.integration
@pytest.mark.parametrize("speaker, expected", [
    ("Amrit Dhillon", {"Amrit Dhillon"}),  # not "Amrit", another speaker in the same article
    ("okafor", {"Maria Okafor"}),
    ("Lena Fischer", {"Lena Fischer"}),
])
def test_quote_cards_api_and_cli_find_the_same_quotes_for_a_speaker(wiredesk_url, demo_settings, speaker, expected):
    client = logged_in(wiredesk_url)
    cards = client.get("/api/quote-cards", params={"speaker": speaker}).json()["cards"]
    api = client.get("/api/quotes", params={"speaker": speaker}).json()["quotes"]
    assert quote_keys(cards) == quote_keys(api) == quote_keys(cli_quotes(demo_settings, speaker))
    assert {q["speaker"] for q in cards} == expected


@pytest.mark.integration
def test_feed_health_api(wiredesk_url):
    report = logged_in(wiredesk_url).get("/api/feeds", params={"silent_hours": 12}).json()
    health = {row["name"]: row["health"] for row in report["feeds"]}
    assert health == {"broken-wire": "failing", "harbour-times-news": "ok"}
    assert report["feeds"][0]["name"] == "broken-wire"  # problems first
    assert report["items"] == {"indexed": len(DEMO_ARTICLES)} and report["silent_hours"] == 12


@pytest.mark.integration
def test_recent_runs_api(wiredesk_url):
    """The Feed Health page's "Recent runs": newest first, with counts, reasons and the Airflow run."""
    runs = logged_in(wiredesk_url).get("/api/runs").json()["runs"]
    assert [(r["dag_id"], r["run_id"]) for r in runs] == [(d, r) for d, r, _, _ in reversed(DEMO_RUNS)]
    ingest, poll = runs
    assert ingest["counts"] == {"claimed": 4, "fetched": 4, "extracted": 3, "enriched": 3, "indexed": 3, "failed": 1}
    assert ingest["failed_by_reason"] == {"http_404": 1}
    assert poll["counts"] == {"feeds": 2, "new": 4, "failed": 1} and poll["feeds_failing"] == ["broken-wire"]
    assert [r["dag_id"] for r in logged_in(wiredesk_url).get("/api/runs", params={"limit": 1}).json()["runs"]] == [
        "wiredesk_ingest_articles"]


@pytest.mark.integration
def test_feed_health_page_has_recent_runs(wiredesk_url):
    client = logged_in(wiredesk_url)
    assert 'id="runs"' in client.get("/feeds").text
    script = client.get("/static/feeds.js").text
    assert "api/runs" in script and "/dags/${encodeURIComponent(run.dag_id)}/runs/" in script


@pytest.mark.integration
@pytest.mark.parametrize("path, status", [("/api/search?since=yesterday-ish", 422), ("/api/feeds?silent_hours=0", 422),
                                          ("/api/runs?limit=0", 422),
                                          ("/api/quote-cards?until=not-a-date", 422), ("/api/articles/missing", 404)])
def test_bad_requests_name_the_problem(wiredesk_url, path, status):
    response = logged_in(wiredesk_url).get(path)
    assert response.status_code == status and response.json()["detail"]
