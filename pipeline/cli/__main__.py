"""``python -m pipeline.cli``: the ``wiredesk`` command."""

import sys

from pipeline.cli.main import main

sys.exit(main())
