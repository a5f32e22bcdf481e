"""The error tree and its one registry of reasons."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipeline.errors import PermanentError, Reason, RetryableError, WiredeskError, reasons_table

PIPELINE = Path(__file__).resolve().parents[1] / "pipeline"
README = PIPELINE.parent / "README.md"


def reason_literals() -> list[tuple[str, int, str]]:
    """Every string literal given as ``reason=`` or assigned to a ``reason`` attribute in pipeline/."""
    found = []
    for path in PIPELINE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            values = []
            if isinstance(node, ast.keyword) and node.arg == "reason":
                values.append(node.value)
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "reason" for t in node.targets):
                values.append(node.value)
            for value in values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.append((str(path.relative_to(PIPELINE)), value.lineno, value.value))
                elif isinstance(value, ast.JoinedStr):
                    found.append((str(path.relative_to(PIPELINE)), value.lineno, "<f-string>"))
    return found


def test_every_reason_raised_in_the_code_is_registered():
    unknown = [(path, line, value) for path, line, value in reason_literals() if value not in set(Reason)]
    assert reason_literals(), "the walk found no reason at all: the test is looking in the wrong place"
    assert unknown == []


def test_every_reason_is_described():
    assert set(Reason.describe()) == set(Reason)
    assert all(line.strip() for line in Reason.describe().values())


@pytest.mark.parametrize(("status", "reason"), [
    (404, "http_404"), (410, "http_410"), (408, "http_408"), (429, "http_429"), (418, "http_4xx"),
    (500, "http_5xx"), (503, "http_5xx"), (599, "http_5xx"),
])
def test_http_statuses_map_to_registered_reasons(status, reason):
    assert Reason.for_status(status) == reason


@pytest.mark.parametrize("cls", [RetryableError, PermanentError])
def test_an_unregistered_reason_fails_where_it_is_raised(cls):
    with pytest.raises(ValueError):
        cls("boom", reason="no_such_reason")


def test_to_dict_is_plain_json():
    record = RetryableError("slow", reason="timeout").to_dict()
    assert record == {"reason": "timeout", "message": "slow", "retryable": True}
    assert type(record["reason"]) is str
    assert WiredeskError("x").to_dict()["retryable"] is False


def test_readme_lists_exactly_the_registered_reasons():
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- reasons:start -->\n", "\n<!-- reasons:end -->"
    assert text[text.index(start) + len(start):text.index(end)] == reasons_table()
