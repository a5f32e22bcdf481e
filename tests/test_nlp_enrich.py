"""Enrichment end to end: the seed article, bad input, batching, chunk offsets and `wiredesk enrich`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.nlp.enrich import Enrichment, enrich_text, enrich_texts
from pipeline.nlp.model import MAX_CHUNK_CHARS, load_nlp, split_paragraphs
from pipeline.settings import Settings

SETTINGS = Settings()
SEED = Path(__file__).resolve().parents[1] / ".." / "shared" / "seed" / "article.txt"

# (words inside the quote, canonical speaker) for every quote of the seed article
SEED_QUOTES = [
    ("exercise restraint", "François-Philippe Champagne"),
    ("Our goal is and remains", "François-Philippe Champagne"),
    ("Canada is in contact", "François-Philippe Champagne"),
    ("closely briefed", "The Prime Minister’s Office"),
    ("up to 250 Canadian", "The release"),
    ("immediately", "United States"),
    ("Canada has long been concerned", "François-Philippe Champagne"),
    ("harsh retaliation", "Iran"),
    ("heinous crime", "Hassan Rouhani"),
    ("significant escalation", "Bessma Momani"),
    ("folk hero", "Bessma Momani"),
    ("wrath of fury", "Bessma Momani"),
    ("cornered", "Bessma Momani"),
    ("plausible deniability", "Bessma Momani"),
    ("All of that put together", "Bessma Momani"),
    ("simply won't", "Bessma Momani"),
    ("history will not show kindly", "Bessma Momani"),
    ("brought us closer", "Jagmeet Singh"),
    ("needs to act quickly", "Jagmeet Singh"),
]


@pytest.fixture(scope="module")
def seed() -> tuple[str, Enrichment]:
    """The seed article and its enrichment (skips when ../shared is absent)."""
    if not SEED.is_file():
        pytest.skip("../shared is absent")
    text = SEED.read_text(encoding="utf-8")
    return text, enrich_text(text, SETTINGS)


@pytest.mark.parametrize("words,speaker", SEED_QUOTES, ids=[w for w, _ in SEED_QUOTES])
def test_seed_quote_has_full_name_speaker(seed, words, speaker):
    _, result = seed
    quotes = [q for q in result.quotes if words in q.text and q.kind != "indirect"]
    assert quotes, f"quote {words!r} not found"
    assert quotes[0].speaker.name == speaker


@pytest.mark.parametrize("surface", ["Champagne", "Soleimani", "Singh", "Momani"])
def test_seed_surnames_are_people(seed, surface):
    text, result = seed
    for entity in result.entities:
        if any(text[s:e] == surface for s, e in entity.mentions):
            assert entity.label == "PERSON", entity
            assert " " in entity.name  # resolved to the full name


def test_seed_spelling_variants_merge(seed):
    _, result = seed
    soleimani = [e for e in result.entities if e.name == "Qassem Soleimani"]
    assert soleimani and "Qasem Soleimani" in soleimani[0].aliases


def test_seed_facets(seed):
    _, result = seed
    assert {"François-Philippe Champagne", "Bessma Momani", "Jagmeet Singh"} <= set(result.speakers)
    assert "Iraq" in result.places and "NATO" in result.organizations


BAD_INPUTS = {
    "empty": "",
    "whitespace": " \n\n\t \n",
    "no sentences": "... --- ,,, !!! ???",
    "only marks": "“”«»\"\"''",
    "unbalanced quotes": "“One open. “Two open. ” three » « four\n\n“and more",
    "non-English": "Der Bundeskanzler sagte am Montag: „Wir werden die Grenzen offen halten.“ Das sei wichtig.",
    "chinese": "中国外交部发言人表示，双方将继续保持沟通。",
    "binary-ish": "\x00\x01\x02 abc \ufffd\ufffd",
}


@pytest.mark.parametrize("text", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_gives_a_valid_result(text):
    result = enrich_text(text, SETTINGS).to_dict()
    json.dumps(result)
    assert set(result) == {"entities", "quotes"}


def test_huge_text_returns_quickly():
    load_nlp(SETTINGS)
    text = ("Officials in Brussels said the plan would go ahead. " * 40 + "\n") * 1000  # ~2 MB
    assert len(text) > 2_000_000
    started = time.perf_counter()
    result = enrich_text(text, SETTINGS)
    assert time.perf_counter() - started < 60
    assert all(e <= len(text) for q in result.quotes for e in (q.start, q.end))


def test_batch_equals_one_by_one():
    texts = ["“Prices will fall,” Nadia Berg said.", "", "Lars Holm visited Oslo.", "Ana Ruiz said that talks failed."]
    batched = [r.to_dict() for r in enrich_texts(texts, SETTINGS)]
    assert batched == [enrich_text(t, SETTINGS).to_dict() for t in texts]


def test_long_paragraph_chunks_keep_exact_offsets():
    sentence = "Mayor Ilse Brandt opened the new library in Graz on Tuesday. "
    text = "Intro line.\n\n" + sentence * (MAX_CHUNK_CHARS // len(sentence) * 3)
    spans = split_paragraphs(text)
    assert len(spans) > 3 and all(e - s <= MAX_CHUNK_CHARS for s, e in spans)
    result = enrich_text(text, SETTINGS)
    graz = [e for e in result.entities if e.name == "Graz"][0]
    assert graz.count == text.count("Graz")
    assert all(text[s:e] == "Graz" for s, e in graz.mentions)


def run_cli(*paths) -> list[dict]:
    """`wiredesk enrich PATH...` in a subprocess; its JSON lines."""
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "enrich", *map(str, paths)],
                          capture_output=True, text=True, check=True, timeout=300)
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_cli_reads_text_and_extract_json_lines(tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_text("“We will rebuild,” Mayor Ilse Brandt said.", encoding="utf-8")
    lines = tmp_path / "articles.jsonl"
    articles = [{"path": "x.html", "url": "http://127.0.0.1/x", "text": "Lars Holm said that talks failed."},
                {"path": "y.html", "url": "http://127.0.0.1/y", "text": ""}]
    lines.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    out = run_cli(plain, lines)
    assert [o["path"] for o in out] == [str(plain), "x.html", "y.html"]
    quote = out[0]["quotes"][0]
    assert set(quote) == {"text", "start", "end", "kind", "speaker", "speaker_label", "speaker_mention", "cue"}
    assert (quote["speaker"], quote["kind"], quote["cue"]) == ("Ilse Brandt", "direct", "say")
    assert out[1]["quotes"][0]["kind"] == "indirect"
    assert out[2] == {"path": "y.html", "entities": [], "quotes": []}


GERMAN = ("Die Bundesregierung hat am Montag in Berlin neue Regeln für den Wohnungsbau beschlossen. "
          "Bauministerin Klara Hoffmann sagte, man werde die Verfahren deutlich beschleunigen. ") * 4


def test_confident_other_language_is_skipped():
    assert enrich_text(GERMAN, SETTINGS).to_dict() == {"entities": [], "quotes": []}


def test_other_language_is_analysed_when_allowed():
    result = enrich_text(GERMAN, Settings(nlp_english_only=False))
    assert result.entities  # the English model still finds names; the setting lets a caller choose


# Texts on which extraction (full py3langid model) and enrichment (a 28-language subset) used to disagree.
LITHUANIAN = ("Vilniaus savivaldybė pirmadienį pristatė naują viešojo transporto planą, pagal kurį nuo rudens "
              "mieste kursuos daugiau elektrinių autobusų. Meras Tomas Jankauskas sakė, kad gyventojai jau seniai "
              "laukė patogesnių maršrutų į naujus rajonus. Pasak jo, bilietų kainos artimiausiais metais nedidės, "
              "o senieji autobusai bus palaipsniui nurašyti. Opozicijos atstovai plano nekritikavo, tačiau paprašė "
              "daugiau informacijos apie finansavimą ir statybų darbų tvarkaraštį.")
RESULT_TABLE = ("SOCCER - BALKAN CUP FIRST ROUND RESULTS.\nBELGRADE 1996-08-28\nResults of first round matches:\n"
                "Partizan Novi 3 Radnicki Kraljevo 0\nVojvodina Senta 1 Borac Cacak 1\nObilic Zemun 2 Mladost Lucani 2\n"
                "Rad Beograd 0 Proleter Zrenjanin 1\nZeleznik Sloga 4 Buducnost Becej 2\nStandings:\n"
                "Partizan Novi 4 3 1 0 9 2 10\nZeleznik Sloga 4 3 0 1 8 5 9\nObilic Zemun 4 2 2 0 7 4 8\n"
                "Vojvodina Senta 4 1 2 1 5 5 5\nRad Beograd 4 1 0 3 2 6 3\nMladost Lucani 4 0 1 3 3 9 1")
DISAGREED = {  # text, the page's lang attribute, the one decision, whether enrichment analyses it
    "lithuanian, outside the old subset: extract said lt, enrich analysed it": (LITHUANIAN, "lt", "lt", False),
    "english result table: extract said hr (p 0.39), enrich called it English": (RESULT_TABLE, "en", "en", True),
}


def news_page(text: str, lang: str) -> str:
    """A small article page in ``lang`` with one paragraph per line of ``text``."""
    paragraphs = "".join(f"<p>{line}</p>" for line in text.splitlines())
    return (f'<html lang="{lang}"><head><title>Regional news</title></head><body><article>'
            f"<h1>Regional news</h1>{paragraphs}</article></body></html>")


@pytest.mark.parametrize("text, declared, language, analysed", DISAGREED.values(), ids=DISAGREED.keys())
def test_extraction_and_enrichment_make_one_language_decision(text, declared, language, analysed):
    from pipeline.extract.article import extract_article

    article = extract_article(news_page(text, declared), url="https://news.example.org/a/1", settings=SETTINGS)
    assert article.language == language
    given = enrich_text(article.text, SETTINGS, article.language)  # ingest passes extraction's decision
    detected = enrich_text(article.text, SETTINGS)  # plain text (`wiredesk enrich a.txt`): the same detector
    assert bool(given.entities) == bool(detected.entities) == analysed


def test_cli_uses_the_language_of_extracted_articles(tmp_path):
    english = "“We will rebuild,” Mayor Ilse Brandt said in Graz on Tuesday."
    lines = tmp_path / "articles.jsonl"
    articles = [{"path": "de.html", "language": "de", "text": english},
                {"path": "en.html", "language": "en", "text": english},
                {"path": "unknown.html", "language": None, "text": english}]
    lines.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    out = {o["path"]: o for o in run_cli(lines)}
    assert out["de.html"] == {"path": "de.html", "entities": [], "quotes": []}  # skipped as extraction decided
    assert out["en.html"]["quotes"] and out["unknown.html"]["quotes"]


def test_cli_reports_bad_inputs_and_goes_on(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("Lars Holm visited Oslo.", encoding="utf-8")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"path": "a.html", "text": "x"}\n{not json\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "enrich", str(tmp_path / "missing.txt"), str(broken), str(good)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "missing.txt" in done.stderr and "broken.jsonl:2" in done.stderr
    assert [json.loads(line)["path"] for line in done.stdout.splitlines()] == [str(good)]


@pytest.mark.slow
def test_worker_processes_give_the_same_result():
    texts = ["\n".join(f"“Line {i} is fine,” Hana Kovac said in Vienna." for i in range(30)) for _ in range(40)]
    one = [r.to_dict() for r in enrich_texts(texts, SETTINGS)]
    two = [r.to_dict() for r in enrich_texts(texts, Settings(nlp_processes=2))]
    assert one == two


PATHOLOGICAL = {
    "only quote marks": "\"“ ”" * 8000,
    "one endless word": "x" * 300_000,
    "a thousand quotes": "“Yes,” Ann Lee said. " * 3000,
}


@pytest.mark.parametrize("text", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_text_is_bounded(text):
    load_nlp(SETTINGS)
    started = time.process_time()
    result = enrich_text(text, SETTINGS).to_dict()
    assert time.process_time() - started < 90  # CPU seconds: the model's own cost dominates
    assert all(len(e["name"]) <= 120 for e in result["entities"])


QUEBEC = "Premier François Legault said on Tuesday that Montréal would receive new funding for its hospitals."


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-8-sig"])
def test_cli_decodes_non_utf8_text(tmp_path, encoding):
    text = tmp_path / f"{encoding}.txt"
    text.write_bytes(QUEBEC.encode(encoding))
    [out] = run_cli(text)
    names = {e["name"] for e in out["entities"]}
    assert "François Legault" in names and not any("\ufffd" in name for name in names)


@pytest.mark.parametrize("content", [Path("/bin/ls").read_bytes(), b"Lars Holm\x00\x00\x00visited Oslo.\x00"],
                         ids=["bin-ls", "nul-bytes"])
def test_cli_refuses_binary_input(tmp_path, content):
    binary = tmp_path / "input.txt"
    binary.write_bytes(content)
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "enrich", str(binary)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stdout == ""
    [line] = [line for line in done.stderr.splitlines() if "wiredesk enrich" in line]
    assert str(binary) in line and "binary file, not text" in line
