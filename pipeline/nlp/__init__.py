"""Enrichment: named entities (entities.py) and quotes with speakers (quotes.py)."""
