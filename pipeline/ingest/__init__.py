"""Ingest: claims, the fetch -> extract -> enrich -> index engine, duplicates, reprocessing, crawl."""
