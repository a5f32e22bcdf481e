"""The raw archive keeps the bytes as served and the header charset, so reprocessing decodes them again."""

import pytest
from feeds_support import rss, with_registry, write_registry
from test_fetch_server import LocalSite

from pipeline.ingest.crawl import crawl_once
from pipeline.ingest.reprocess import reprocess_outdated
from pipeline.store.archive import load_raw

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BODY = "".join(f"<p>À Montréal, le café de la rue Saint-Denis a rouvert ses portes ce {day} : « Ça fait du bien », "
               f"a déclaré François, le propriétaire, devant une foule d’habitués réjouis.</p>"
               for day in ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"))
PAGE = ("<html lang='fr'><head><title>Le café rouvre à Montréal</title></head>"
        f"<body><article><h1>Le café rouvre à Montréal</h1>{BODY}</article></body></html>")


def test_cp1252_page_is_archived_as_served_and_reprocessed_from_the_archive_alone(settings, es, tmp_path):
    with LocalSite() as site:
        story = site.add("/cafe.html", body=PAGE.encode("cp1252"),
                         headers={"Content-Type": "text/html; charset=windows-1252"})
        feed = site.add("/feed.xml", body=rss([("Le café rouvre", story)]).encode(),
                        headers={"Content-Type": "application/rss+xml"})
        crawl_settings = with_registry(settings, write_registry(tmp_path / "feeds.yaml", {"cafe": feed}))
        assert crawl_once(crawl_settings)["ingest"]["indexed"] == 1
    es.indices.refresh(index=settings.articles_alias)
    hit = es.search(index=settings.articles_alias, query={"term": {"status": "indexed"}})["hits"]["hits"][0]
    assert "Montréal, le café" in hit["_source"]["text"] and hit["_source"]["http_charset"] == "windows-1252"
    assert load_raw(hit["_id"], settings) == PAGE.encode("cp1252")
    es.update(index=settings.articles_alias, id=hit["_id"], doc={"pipeline_version": "0", "text": ""}, refresh=True)
    assert reprocess_outdated(es, crawl_settings)["reprocessed"] == 1  # the site is gone: only the archive serves
    rebuilt = es.get(index=settings.articles_alias, id=hit["_id"])["_source"]
    assert rebuilt["text"] == hit["_source"]["text"] and rebuilt["http_charset"] == "windows-1252"
