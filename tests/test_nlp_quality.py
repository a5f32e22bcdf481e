"""Quality gate (STYLE.md 12): enrichment scores on the dev sets may not drop below the baseline.

Baseline: tests/quality/nlp_baseline.json. A score more than TOLERANCE under its baseline fails; when
a change improves a score, raise the baseline in the same commit. Skips when ../shared is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.ops.nlp_eval import score_ner, score_quotes
from pipeline.settings import Settings

BASELINE = Path(__file__).resolve().parent / "quality" / "nlp_baseline.json"
TOLERANCE = 0.005


def assert_no_drop(scores: dict, baseline: dict, area: str) -> None:
    """Every baseline score is met within TOLERANCE."""
    drops = {k: (scores[k], v) for k, v in baseline.items() if scores[k] < v - TOLERANCE}
    assert not drops, f"{area} scores dropped (now, baseline): {drops}"


def test_quote_scores_hold(shared_dir):
    assert_no_drop(score_quotes(shared_dir, Settings()), json.loads(BASELINE.read_text())["quotes"], "quotes")


def test_ner_scores_hold_and_beat_the_raw_model(shared_dir):
    scores = score_ner(shared_dir, Settings())
    assert_no_drop(scores["enrich"], json.loads(BASELINE.read_text())["ner"], "ner")
    assert scores["enrich"]["f1"] > scores["raw"]["f1"]
