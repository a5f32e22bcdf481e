"""Body cleaning rules: boilerplate lines, repeated headline, leading key points, author bio."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.extract.body import clean_body, drop_author_bio, is_boilerplate

PROSE = [
    "The harbour board approved the dredging plan on Monday after a two-hour debate.",
    "Fishing crews had asked for the work for years, saying the channel silts up every winter.",
    "Work starts in September and should take about ten weeks, weather permitting.",
]


@pytest.mark.parametrize(
    "line",
    [
        "Read more: Council approves new cycle lanes",
        "ALSO READ: Storm warning for the coast",
        "Sign up for our morning newsletter to get the day's news in your inbox.",
        "Follow the Bay Chronicle on Facebook and Twitter",
        "12 comments",
        "Got a story? Email our newsroom.",
        "Click here to read the full report.",
        "Reporting by Jane Doe; Editing by John Roe",
        "Ferry timetable changes revealed [PICTURES]",
        "Pictured from left, the three finalists at the awards dinner.",
        "Advertisement",
    ],
)
def test_boilerplate_line(line):
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "More than 600 people attended the meeting.",
        "Also, the council said it would review the decision next year.",
        "Read the report and you will see why residents are angry, she said, adding that the plan had been rushed through.",
        "The letter said the council had 'acted in good faith [sic]'.",
        PROSE[0],
    ],
)
def test_prose_is_not_boilerplate(line):
    assert not is_boilerplate(line)


def test_clean_body_drops_repeated_headline_and_standfirst():
    text = "\n".join(["Dredging plan approved", "Crews welcome the long-awaited work.", *PROSE])
    cleaned = clean_body(text, ["Dredging plan approved"], "Crews welcome the long-awaited work.")
    assert cleaned.split("\n\n") == PROSE


def test_clean_body_drops_leading_key_points():
    text = "\n".join(["- Plan approved", "- Work starts in September", *PROSE])
    assert clean_body(text, [], None).split("\n\n") == PROSE


def test_clean_body_keeps_a_list_inside_the_prose():
    text = "\n".join([PROSE[0], "- first item", "- second item", *PROSE[1:]])
    assert clean_body(text, [], None).count("- ") == 2


@pytest.mark.parametrize(
    "bio",
    [
        ["Jane Doe covers transport and the environment for the Chronicle."],
        ["An award-winning journalist, Jane has reported from four continents.", "Jane Doe lives in Bristol."],
    ],
)
def test_author_bio_is_dropped(bio):
    text = "\n\n".join(PROSE + bio)
    assert drop_author_bio(text, ["Jane Doe"]) == "\n\n".join(PROSE)


def test_last_paragraph_without_author_is_kept():
    text = "\n\n".join(PROSE)
    assert drop_author_bio(text, ["Jane Doe"]) == text


RESCUE_PAGE = (
    "<html><head><title>Pier reopens</title></head><body><div id='story'>"
    + "".join(f"<p>{line} The pier had been closed since the storm in March.</p>" for line in PROSE)
    + "</div></body></html>"
)


def test_rescue_runs_readability_and_newspaper_when_trafilatura_finds_nothing(monkeypatch):
    from pipeline.extract import body
    from pipeline.extract.article import parse_html

    monkeypatch.setattr(body, "run_trafilatura", lambda tree, **options: "")
    text, name = body.extract_body(parse_html(RESCUE_PAGE, 150), RESCUE_PAGE, ["Pier reopens"], None)
    assert name in ("readability", "newspaper")
    assert PROSE[0] in text and PROSE[2] in text


def test_balanced_mode_wins_when_precision_keeps_too_little(monkeypatch):
    from pipeline.extract import body

    outputs = {True: "short", False: "\n".join(PROSE)}
    monkeypatch.setattr(body, "run_trafilatura", lambda tree, favor_precision=False: outputs[favor_precision])
    assert body.choose_trafilatura_text(None, lambda: None) == ("\n".join(PROSE), "trafilatura")


@pytest.mark.parametrize(
    "closing",
    [
        ["About Harbourline", "Harbourline is a leading provider of ferry booking software, headquartered in Cork."],
        ["Harbourline Ltd, founded in 1999, is a company that builds ferry booking software and employs 80 people."],
    ],
)
def test_press_release_company_boilerplate_is_dropped(closing):
    from pipeline.extract.body import drop_company_boilerplate

    text = "\n\n".join(PROSE + closing)
    assert drop_company_boilerplate(text).split("\n\n") == PROSE


def test_company_sentence_inside_prose_is_kept():
    from pipeline.extract.body import drop_company_boilerplate

    text = "\n\n".join(["Harbourline is a leading provider of ferry software, the company said.", *PROSE])
    assert drop_company_boilerplate(text) == text


@pytest.mark.parametrize("line", ["An error has occurred, please try again later.", "Thank you", "Write to Jane Doe at jane.doe@example.com"])
def test_widget_and_contact_lines_are_boilerplate(line):
    assert is_boilerplate(line)


def test_repeated_caption_is_dropped_but_repeated_sentence_kept():
    caption = "The harbour board approved the dredging plan on Monday after a two-hour debate"
    text = "\n".join([PROSE[0], PROSE[1], caption, PROSE[2], PROSE[1]])
    assert clean_body(text, [], None).split("\n\n") == [PROSE[0], PROSE[1], PROSE[2], PROSE[1]]


@pytest.mark.parametrize(
    "line",
    [
        "Read more: Council approves new cycle lanes",
        "Sign up for our daily newsletter",
        "The minister said: click here to apply, then waited.",
        "Harbour works start in September [VIDEO]",
        "[button]Subscribe[/button]",
        "Pictured: the new ferry",
        "Additional reporting by Jane Doe",
        "Prices rose 3% in the year to March, the statistics office said.",
        "He said more would follow, and read more widely than before.",
        "",
    ],
)
def test_is_boilerplate_agrees_with_one_alternation(line):
    """Splitting the patterns into anchored and floating alternations changes no verdict."""
    import re

    from pipeline.extract.body import BOILERPLATE_PATTERNS, MAX_BOILERPLATE_LINE

    combined = re.compile("|".join(f"(?:{p})" for p in BOILERPLATE_PATTERNS), re.I)
    assert is_boilerplate(line) == (len(line) < MAX_BOILERPLATE_LINE and combined.search(line) is not None)


FIXTURE_PAGES = sorted((Path(__file__).parent / "fixtures" / "extract").glob("*.html"))


@pytest.mark.parametrize("favor_precision", [True, False])
@pytest.mark.parametrize("page", FIXTURE_PAGES, ids=lambda p: p.stem)
def test_in_place_trafilatura_matches_bare_extraction(page, favor_precision):
    """run_trafilatura (which skips bare_extraction's copy of the tree) gives exactly bare_extraction's text."""
    from trafilatura import bare_extraction

    from pipeline.extract.article import parse_html, to_text
    from pipeline.extract.body import run_trafilatura
    from pipeline.settings import Settings

    text = to_text(page.read_bytes(), Settings())
    reference = bare_extraction(parse_html(text, 150), include_comments=False, with_metadata=False, favor_precision=favor_precision)
    assert run_trafilatura(parse_html(text, 150), favor_precision=favor_precision) == (reference.text if reference else "")
