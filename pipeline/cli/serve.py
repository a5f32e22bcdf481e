"""``wiredesk serve``: the search API and page without Airflow."""

# No `from __future__ import annotations`: FastAPI must resolve the local Size annotation.

from pipeline.search.api import create_app
from pipeline.settings import Settings


def run_serve_command(args, settings: Settings) -> int:
    """``wiredesk serve``: the API alone, on ``--host``/``--port``."""
    import uvicorn

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0
