"""Fetch: the one polite, guarded, bounded HTTP path for feeds, pages and robots.txt, and HTML decoding."""
