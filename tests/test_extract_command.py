"""`wiredesk extract`: the JSON-lines contract of DESIGN.md, .html and .html.gz files, errors as records."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli.main import main

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
CONTRACT = {"path", "url", "canonical_url", "title", "authors", "published_at", "language", "summary", "text", "image", "word_count"}


def run(capsys, *argv: str) -> tuple[int, list[dict]]:
    code = main(["extract", *argv])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_one_line_per_file_with_contract_keys(capsys, tmp_path):
    packed = tmp_path / "story.html.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "jsonld_two_authors.html").read_bytes()))
    plain = tmp_path / "other.html"
    shutil.copy(FIXTURES / "byline_by_and.html", plain)
    code, records = run(capsys, str(packed), str(plain))
    assert code == 0
    assert [r["path"] for r in records] == [str(packed), str(plain)]
    for record in records:
        assert CONTRACT | {"modified_at", "site_name"} <= set(record)
        assert record["word_count"] > 50


def test_url_option_sets_url_and_resolves_relative_links(capsys):
    code, [record] = run(capsys, str(FIXTURES / "byline_by_and.html"), "--url", "https://riverside.example/local/x")
    assert code == 0
    assert record["url"] == "https://riverside.example/local/x"
    assert record["canonical_url"] == "https://riverside.example/local/allotment-waiting-list"


def test_url_option_needs_a_single_path(capsys):
    assert main(["extract", str(FIXTURES / "byline_by_and.html"), str(FIXTURES / "url_date_only.html"), "--url", "https://x.example/"]) == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty_body"), (b"\x89PNG\r\n\x1a\n\x00\x00", "binary")],
)
def test_bad_file_gives_error_record_and_exit_1(capsys, tmp_path, content, reason):
    bad = tmp_path / "bad.html"
    bad.write_bytes(content)
    good = FIXTURES / "url_date_only.html"
    code, records = run(capsys, str(bad), str(good))
    assert code == 1
    assert records[0]["error"]["reason"] == reason and records[0]["text"] == ""
    assert "error" not in records[1]


def test_missing_file_is_recorded(capsys, tmp_path):
    code, [record] = run(capsys, str(tmp_path / "nope.html"))
    assert code == 1
    assert record["error"]["reason"] == "unreadable"


def test_jsonl_converts_to_score_body_input():
    from pipeline.ops.extract_eval import jsonl_to_body_predictions

    lines = ['{"path": "/x/abc123.html.gz", "text": "Body one"}', "", '{"path": "def.html", "text": ""}']
    assert jsonl_to_body_predictions(lines) == {"abc123": {"articleBody": "Body one"}, "def": {"articleBody": ""}}


def test_truncated_gzip_is_recorded(capsys, tmp_path):
    packed = tmp_path / "cut.html.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "byline_by_and.html").read_bytes())[:200])
    code, [record] = run(capsys, str(packed))
    assert code == 1
    assert record["error"]["reason"] == "unreadable"
    assert CONTRACT <= set(record)


CP1252_STORY = ("<html><head><meta charset=\"iso-8859-1\"><title>Caf\u00e9 row</title></head><body><article>"
                + "<p>\u201cWe will not move,\u201d said the owner of the caf\u00e9 on the corner of the market square.</p>" * 4
                + "</article></body></html>")


def test_cp1252_quotes_under_a_latin1_declaration_survive(capsys, tmp_path):
    page = tmp_path / "latin1.html"
    page.write_bytes(CP1252_STORY.encode("cp1252"))  # 0x93/0x94 quotes: windows-1252, as browsers read latin-1
    code, [record] = run(capsys, str(page))
    assert code == 0
    assert "\u201cWe will not move,\u201d said the owner of the caf\u00e9" in record["text"]
    assert not any("\x80" <= ch <= "\x9f" for ch in record["text"] + record["title"])


MEASURE_PEAK = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


def write_gzip_bomb(path: Path, inflated: int) -> None:
    """A gzip file of ``inflated`` spaces (about 1000:1), written in chunks so the test itself stays small."""
    chunk = b" " * (1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as out:
        for _ in range(inflated // len(chunk)):
            out.write(chunk)


def test_gzip_bomb_is_too_large_with_flat_memory(tmp_path):
    bomb = tmp_path / "bomb.html.gz"
    write_gzip_bomb(bomb, 1 << 30)  # ~1 MB on disk, 1 GiB inflated
    # A fresh interpreter starts the command and reports its peak: a child forked from pytest itself
    # would count pytest's own memory (RSS before exec) in its peak.
    done = subprocess.run([sys.executable, "-c", MEASURE_PEAK, sys.executable, "-m", "pipeline.cli", "extract", str(bomb)],
                          capture_output=True, text=True, timeout=300)
    peak_mb = int(done.stderr.split()[-1]) / 1024  # ru_maxrss is in kilobytes on Linux
    [record] = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert peak_mb < 300, f"peak RSS {peak_mb:.0f} MB"
    assert done.returncode == 1
    assert record["error"]["reason"] == "too_large" and "inflated" in record["error"]["message"]
