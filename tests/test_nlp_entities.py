"""Entities: in-article normalisation of names, on short original passages and the real model."""

from __future__ import annotations

import pytest

from pipeline.nlp.enrich import enrich_text
from pipeline.settings import Settings

SETTINGS = Settings()


def entities_of(text: str) -> dict[str, dict]:
    """Entities by canonical name, with every mention checked against the text."""
    entities = [e.to_dict() for e in enrich_text(text, SETTINGS).entities]
    for e in entities:
        assert e["count"] == len(e["mentions"])
        for s, t in e["mentions"]:
            assert text[s:t].strip() == text[s:t] and text[s:t]
    return {e["name"]: e for e in entities}


def entity_with_mention(text: str, surface: str) -> dict:
    """The entity that has a mention spelt ``surface``."""
    for e in entities_of(text).values():
        if any(text[s:t] == surface for s, t in e["mentions"]):
            return e
    raise AssertionError(f"no entity has a mention {surface!r}")


@pytest.mark.parametrize(
    "text,surface,name",
    [
        ("Finance Minister Rosalind Achterberg presented the budget. Achterberg said it was balanced.",
         "Achterberg", "Rosalind Achterberg"),
        ("Senator Walter Brennigan voted no. Mr. Brennigan later explained his vote.", "Brennigan", "Walter Brennigan"),
        ("Qassim Haddadi led the delegation. Qasim Haddadi then met the press.", "Qasim Haddadi", "Qassim Haddadi"),
    ],
)
def test_short_and_variant_mentions_resolve_to_the_full_name(text, surface, name):
    entity = entity_with_mention(text, surface)
    assert entity["name"] == name
    assert entity["label"] == "PERSON"
    assert surface in entity["aliases"] or surface == name


def test_surname_tagged_as_place_becomes_the_person():
    text = ("NDP Leader Jagmeet Singh weighed in on Friday. "
            "\"This is a dangerous moment,\" Singh wrote in the tweet.")
    entity = entity_with_mention(text, "Singh")
    assert (entity["name"], entity["label"]) == ("Jagmeet Singh", "PERSON")


def test_ambiguous_surname_stays_unresolved():
    text = ("Hillary Clinton spoke in Ohio while Bill Clinton toured Iowa. "
            "Clinton said the campaign was on track.")
    names = entities_of(text)
    assert "Hillary Clinton" in names and "Bill Clinton" in names
    lone = [e for e in names.values() if any(text[s:t] == "Clinton" and s > 60 for s, t in e["mentions"])]
    assert all(e["name"] == "Clinton" for e in lone)


@pytest.mark.parametrize(
    "text,bad,good",
    [
        ("The United States and Canada signed the accord.", "The United States", "United States"),
        ("Trump's lawyers filed the appeal in New York.", "Trump's", "Trump"),
        ("Leicester beat Kent by 6 wickets. Kent 429-7 declared after lunch.", "Kent 429-7", "Kent"),
        ("The report came from Interfax news agency in Moscow.", "Interfax news agency", "Interfax"),
    ],
    ids=["article", "possessive", "score", "lowercase tail"],
)
def test_name_edges_are_trimmed(text, bad, good):
    names = entities_of(text)
    assert bad not in names and good in names


@pytest.mark.parametrize(
    "text,parts",
    [
        ("Results: Haitai 2 Samsung 1 in the Korean league.", ["Haitai", "Samsung"]),
        ("Prime Minister Jean-Pierre Dufour spoke in Paris on Monday.", ["Jean-Pierre Dufour", "Paris"]),
    ],
    ids=["score between teams", "hyphenated names stay whole"],
)
def test_spans_split_only_at_real_separators(text, parts):
    assert set(parts) <= set(entities_of(text))


@pytest.mark.parametrize("text,bad", [("The senate and congress met.", "congress")], ids=["lowercase"])
def test_lowercase_words_are_not_names(text, bad):
    assert bad not in entities_of(text)


def test_numbers_and_dates_are_not_entities():
    names = entities_of("On 12 March 2024, 3,000 workers in Lyon marched for 2 hours.")
    assert set(names) <= {"Lyon"}


def test_titled_name_tagged_org_is_a_person():
    entity = entity_with_mention("Coach Ines Varga addressed the team before the final.", "Ines Varga")
    assert entity["label"] == "PERSON"


def test_facet_lists():
    result = enrich_text("Angela Merkel met Emmanuel Macron in Paris to discuss NATO.", SETTINGS)
    assert {"Angela Merkel", "Emmanuel Macron"} <= set(result.people)
    assert "Paris" in result.places
    assert "NATO" in result.organizations


def test_missed_repeats_of_a_known_name_are_added():
    text = ("General Oskar Brandlberg arrived in the capital on Monday. "
            "Brandlberg met the cabinet. Later, Brandlberg spoke to troops and Brandlberg left.")
    entity = entity_with_mention(text, "Oskar Brandlberg")
    assert entity["count"] == text.count("Brandlberg")


@pytest.mark.parametrize(
    "text,place",
    [
        ("OTTAWA -- The minister met her counterparts on Friday.", "Ottawa"),
        ("NICE, France 1996-08-30\nThe festival opened on the beach.", "Nice"),
        ("KANSAS CITY (Reuters) - Grain prices rose on Tuesday.", "Kansas City"),
    ],
)
def test_dateline_place_is_found(text, place):
    entity = entities_of(text)[place]
    assert entity["label"] == "GPE"
    s, e = entity["mentions"][0]
    assert s == 0 and text[s:e].lower() == place.lower()


def test_headline_with_single_dash_is_not_a_dateline():
    assert "Soccer" not in entities_of("SOCCER - LATE GOAL GIVES JAPAN WIN OVER SYRIA")
