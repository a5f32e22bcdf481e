"""Quotes and speakers: one short original passage per pattern, run through the real model."""

from __future__ import annotations

import pytest

from pipeline.nlp.enrich import enrich_text
from pipeline.settings import Settings

SETTINGS = Settings()


def quotes_of(text: str) -> list[dict]:
    """The quotes of ``text`` as dicts, checking their offsets against the text."""
    quotes = [q.to_dict() for q in enrich_text(text, SETTINGS).quotes]
    for q in quotes:
        assert text[q["start"]:q["end"]] == q["text"]
        if q["speaker_mention"]:
            s, e = q["speaker_mention"]
            assert 0 <= s < e <= len(text)
    return quotes


def quote_containing(quotes: list[dict], words: str) -> dict:
    """The shortest quote whose text contains ``words``."""
    found = [q for q in quotes if words in q["text"]]
    assert found, f"no quote contains {words!r}: {[q['text'] for q in quotes]}"
    return min(found, key=lambda q: len(q["text"]))


# (passage, words inside the quote, expected speaker, expected kind)
CASES = {
    "quote then speaker": (
        "Marta Ellison chairs the harbour board.\n\n“The new pier will open in spring,” Ellison said.",
        "new pier", "Marta Ellison", "direct"),
    "speaker then quote with colon": (
        "Marta Ellison chairs the harbour board.\n\nEllison said: “The new pier will open in spring.”",
        "new pier", "Marta Ellison", "direct"),
    "inverted said X": (
        "\"We counted every ballot twice,\" said Oren Blakely, the county clerk.",
        "every ballot", "Oren Blakely", "direct"),
    "straight quotes": (
        "Oren Blakely is the county clerk.\n\n\"We counted every ballot twice,\" Blakely said on Monday.",
        "every ballot", "Oren Blakely", "direct"),
    "split quote second part": (
        "Priya Natarajan runs the clinic.\n\n“We are short of nurses,” Natarajan said. “Some weeks we close early.”",
        "close early", "Priya Natarajan", "direct"),
    "question split off by the parser": (
        "Senator Dale Whitcombe spoke first.\n\n“Who will pay for the bridge?” Whitcombe asked. “Not the farmers.”",
        "pay for the bridge", "Dale Whitcombe", "direct"),
    "floating paragraph": (
        "Priya Natarajan runs the clinic.\n\n“We are short of nurses,” Natarajan said.\n\n“Some weeks we have to close early and send people home.”",
        "send people home", "Priya Natarajan", "direct"),
    "multi-paragraph quote": (
        "Coach Ines Varga addressed the team.\n\n“We trained harder than anyone this winter.\n\n“Now we have to show it on the pitch,” Varga said.",
        "trained harder", "Ines Varga", "direct"),
    "partial quote in reported speech": (
        "Mayor Tomas Reyes called the flooding a “wake-up call for the whole valley.”",
        "wake-up call", "Tomas Reyes", "partial"),
    "indirect said that": (
        "Health minister Aiko Tanaka said that the vaccine campaign would start in March.",
        "vaccine campaign", "Aiko Tanaka", "indirect"),
    "according to": (
        "The factory will close in June, according to Lars Holm, a union representative.",
        "factory will close", "Lars Holm", "indirect"),
    "told someone": (
        "Lena Fischer told reporters that the talks had collapsed overnight.",
        "talks had collapsed", "Lena Fischer", "indirect"),
    "wrote in a tweet": (
        "Opposition leader Noor Haddad reacted quickly.\n\n“This budget abandons rural families,” Haddad wrote in a tweet.",
        "abandons rural families", "Noor Haddad", "direct"),
    "said in a statement": (
        "“We regret the delay and will refund every passenger,” Northwind Airways said in a statement.",
        "refund every passenger", "Northwind Airways", "direct"),
    "nested single quotes": (
        "“He told me, ‘Do not sign anything,’ and I listened,” said Greta Olsen.",
        "Do not sign anything", "Greta Olsen", "direct"),
    "guillemets": (
        "«Nous resterons ouverts tout l'été», said Camille Durand, the museum director.",
        "resterons ouverts", "Camille Durand", "direct"),
    "pronoun resolves to the last person": (
        "Rafael Ortiz coached the team for a decade.\n\n“I never expected to stay this long,” he said.",
        "stay this long", "Rafael Ortiz", "direct"),
    "she skips a man named by Mr.": (
        "Ms. Nadia Alvarez chaired the meeting. Mr. Tomas Brook presented the figures.\n\n“We will cut costs,” she said.",
        "cut costs", "Nadia Alvarez", "direct"),
    "he skips a woman named by Ms.": (
        "Mr. Tomas Brook chaired the meeting. Ms. Nadia Alvarez presented the figures.\n\n“We will cut costs,” he said.",
        "cut costs", "Tomas Brook", "direct"),
    "they resolves to an organisation": (
        "The Transport Ministry confirmed the closure on Monday.\n\nThey said that repairs would take three weeks.",
        "repairs would take", "Transport Ministry", "indirect"),
    "they resolves to a plural subject": (
        "Union officials rejected the offer on Monday.\n\n“We will strike next week,” they said.",
        "strike next week", "Union officials", "direct"),
    "statement that-clause hung on the medium": (
        "The Harbour Authority said in a statement that the ferry would resume service.",
        "ferry would resume", "Harbour Authority", "indirect"),
    "passive tell names the agent, not the listener": (
        "Nora Quist was stopped at the gate. “Go home,” she was told by the guards.",
        "Go home", "the guards", "direct"),
    "quoted as saying": (
        "Nora Quist was quoted as saying that the plan “will never work.”",
        "never work", "Nora Quist", "partial"),
    "a date next to the cue is not the speaker": (
        "Ruth Calder chairs the board.\n\n“We will appeal,” Calder said Thursday.",
        "will appeal", "Ruth Calder", "direct"),
    "organisation speaks": (
        "“The line will reopen on Friday,” the Ministry of Transport said.",
        "reopen on Friday", "Ministry of Transport", "direct"),
    "role noun speaks": (
        "“Nobody was hurt in the fire,” a police spokeswoman said.",
        "Nobody was hurt", "a police spokeswoman", "direct"),
    "office with possessive speaks": (
        "The Governor’s Office confirmed in an email that the governor was “fully informed.”",
        "fully informed", "Governor’s Office", "partial"),
    "typewriter double apostrophes": (
        "''We will not raise the fares this year,'' said Hollis Crane, the transit director.",
        "raise the fares", "Hollis Crane", "direct"),
    "mixed straight and curly marks": (
        "\"The harvest came in early this year,” Beatrix Moll said.",
        "harvest came", "Beatrix Moll", "direct"),
    "mistyped closing mark as opener": (
        "Farmers gave their reasons.\n\n”We need the rain to stop,” said Joel Amsel.",
        "rain to stop", "Joel Amsel", "direct"),
    "quoted noun taken as a second subject": (
        "“Full steam ahead, full speed,” said Leona Pratt, the harbour master.",
        "Full steam", "Leona Pratt", "direct"),
    "dash credit": (
        "Voters shared their views.\n\n“I want lower rents before anything else.” ― Dana Whitfield",
        "lower rents", "Dana Whitfield", "direct"),
}


@pytest.mark.parametrize("text,words,speaker,kind", CASES.values(), ids=CASES.keys())
def test_quote_pattern_speaker_and_kind(text, words, speaker, kind):
    quote = quote_containing(quotes_of(text), words)
    assert quote["speaker"] == speaker
    assert quote["kind"] == kind


@pytest.mark.parametrize(
    "text,cue",
    [
        ("“The river is rising,” Hana Kovac said.", "say"),
        ("“The river is rising,” Hana Kovac warned.", "warn"),
        ("“The river is rising,” Hana Kovac wrote in a post.", "write"),
        ("The river is rising, according to Hana Kovac.", "according to"),
    ],
)
def test_cue_is_the_verb_lemma(text, cue):
    assert quotes_of(text)[0]["cue"] == cue


def test_pronoun_mention_is_local_and_name_canonical():
    text = "Rafael Ortiz coached the team.\n\n“It was the best job I ever had,” he said."
    quote = quote_containing(quotes_of(text), "best job")
    s, e = quote["speaker_mention"]
    assert text[s:e] == "he"
    assert quote["speaker_label"] == "PERSON"


def test_quoted_titles_are_not_quotes():
    text = "Senator Ruth Adler told CNN's “Morning Report” that the bill would pass."
    assert all("Morning Report" not in q["text"] or q["kind"] == "indirect" for q in quotes_of(text))


def test_scare_quotes_without_speaker_are_dropped():
    text = "The so-called “miracle cure” was sold online for years."
    assert quotes_of(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "He said “this never closes, and the paragraph just ends",
        "“Unbalanced” marks ” everywhere “ here",
        "\"\"\"\"",
        "“”",
        "« »",
    ],
)
def test_unbalanced_quote_marks_do_not_crash(text):
    for q in quotes_of(text):
        assert q["kind"] in ("direct", "indirect", "partial")
