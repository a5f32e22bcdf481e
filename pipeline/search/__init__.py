"""Search: query building and the HTTP API."""
