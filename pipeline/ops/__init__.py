"""Development-only tools (local Elasticsearch, replay wire, evaluation helpers); no production path imports them."""
