"""Quality gate (STYLE.md 12): extraction scores on the dev sets must not drop below the baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.ops.extract_eval import score_wiredesk
from pipeline.settings import Settings

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
BASELINE = Path(__file__).parent / "quality" / "extract_baseline.json"
TOLERANCE = 0.005  # run-to-run noise is zero (deterministic); this absorbs library patch releases


@pytest.fixture(scope="module")
def scores() -> dict[str, float]:
    """Every dev score of the current extractor (about ten seconds of CPU)."""
    if not (SHARED / "eval" / "article-extraction").is_dir() or not (SHARED / "eval" / "news-pages").is_dir():
        pytest.skip("../shared/eval is absent")
    return score_wiredesk(SHARED, Settings())


BASELINE_SCORES = json.loads(BASELINE.read_text())["scores"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("metric", sorted(BASELINE_SCORES))
def test_score_holds(scores, metric):
    assert scores[metric] >= BASELINE_SCORES[metric] - TOLERANCE, f"{metric}: {scores[metric]} < baseline {BASELINE_SCORES[metric]}"
