"""``wiredesk index setup|migrate|status``."""

from __future__ import annotations

from typing import Any

from pipeline.settings import Settings
from pipeline.store.client import connect
from pipeline.store.indices import KINDS, ensure_indices, index_status, migrate


def run_index_command(args, settings: Settings) -> int:
    """``wiredesk index setup|migrate|status``."""
    import json

    es = connect(settings)
    if args.action == "setup":
        output: Any = ensure_indices(es, settings)
    elif args.action == "migrate":
        output = [migrate(es, settings, kind) for kind in KINDS]
    else:
        output = index_status(es, settings)
    print(json.dumps(output, indent=2))
    return 0
