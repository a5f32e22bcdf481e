"""Named entities with in-article normalisation: one canonical name per person, organisation, place.

spaCy finds the mentions; this module cleans them (articles, titles, possessives, junk), then groups
them per article: short person mentions ("Champagne", "Mr. Singh") resolve to the one full name that
ends with that surname, spelling variants of a full name merge (Qassem / Qasem Soleimani), and a
surname the model tagged ORG or GPE becomes PERSON when it matches a person of the article. A short
name that fits several people stays its own entity rather than being guessed.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher

# Name-like labels only: dates, amounts and ordinals are not facets.
NAME_LABELS = frozenset({"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"})
# Labels a lone surname may carry by mistake and still be relabelled PERSON.
SURNAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "PRODUCT", "WORK_OF_ART"})
# Labels of proper names: they end in a capitalised word (products and works may end in numbers).
PROPER_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP"})
STOP_TAIL = frozenset("at vs v in on of and or the for to by".split())
LEADING_WORDS = frozenset({"the", "a", "an"})
POSSESSIVES = frozenset({"'s", "’s", "'", "’"})
TITLES = frozenset(
    "mr mr. mrs mrs. ms ms. miss dr dr. prof prof. sir dame lord lady gen gen. sen sen. rep rep. gov gov. "
    "lt lt. col col. sgt sgt. capt capt. adm adm. maj maj. rev rev. fr fr. st. president pres. "
    "vice prime minister premier chancellor senator governor mayor judge justice secretary general "
    "ambassador king queen prince princess pope ayatollah sheikh chairman leader representative coach "
    "chief commissioner sheriff detective officer inspector professor".split()
)
TRIM_CHARS = " \t\n-–—,;:!?\"'“”‘’«»()[]{}"
# A wire dateline opens a paragraph: a city in capitals, maybe ", Region", then a dash, a date or
# the agency in brackets. A headline ("SOCCER - LATE GOAL") has a single dash and does not match.
DATELINE_RE = re.compile(
    r"([A-Z][A-Z.'’]+(?:[ -][A-Z][A-Z.'’]+){0,3})(?: ?, ?([A-Z][\w.]+(?: [A-Z][\w.]+)?))?"
    r"[ \u00a0]+(?:--|—|–|\d{4}-\d\d-\d\d|\((?:Reuters|AP|AFP|CP|UPI|dpa)\))")
SEPARATORS = frozenset({"(", ")", "[", "]", ";", ":", "|"})
SPACED_SEPARATORS = frozenset({"-", "–", "—", "/"})
MAX_NAME_CHARS = 120  # longer "names" are runs of junk the model swallowed
JUNK_RE = re.compile(r"^[\W\d_]+$")
VARIANT_SIMILARITY = 0.75
FEMALE_TITLES = frozenset("mrs ms miss lady dame madam queen princess congresswoman chairwoman sister".split())
MALE_TITLES = frozenset("mr sir lord king prince congressman chairman father".split())
GENDER_TITLE_RE = re.compile(
    r"\b(" + "|".join(sorted(FEMALE_TITLES | MALE_TITLES)) + r")\.?[ \u00a0]+$", re.IGNORECASE)
MIN_REPEAT_CHARS = 3  # two-letter repeats ("US", "EU" aside) are too often something else


@dataclass
class Mention:
    """One cleaned entity mention with its character span in the article."""

    start: int
    end: int
    text: str
    label: str


@dataclass
class Entity:
    """A canonical entity of one article with all its mentions."""

    name: str
    label: str
    aliases: set[str] = field(default_factory=set)
    mentions: list[tuple[int, int]] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Number of mentions in the article."""
        return len(self.mentions)

    def to_dict(self) -> dict:
        """The JSON shape of DESIGN.md."""
        return {
            "name": self.name,
            "label": self.label,
            "count": self.count,
            "aliases": sorted(self.aliases - {self.name}),
            "mentions": [list(m) for m in sorted(self.mentions)],
        }


def fold(name: str) -> str:
    """Accent- and case-insensitive key of a name."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def clean_span(span, offset: int, doc_text: str) -> list[Mention]:
    """Cleaned mentions of a spaCy entity span: articles, titles (people only), possessives and
    punctuation trimmed; a span the model ran across a separator ("Romania - Cosmin Contra",
    "Haitai 2 Samsung") is cut into its names."""
    label = span.label_
    tokens = list(span)
    if label != "PERSON" and is_titled_name(drop_leading(tokens)):
        label = "PERSON"  # "Coach Ines Varga" tagged ORG: a title before a bare name marks a person
    parts = split_at_separators(tokens, label) if label in PROPER_LABELS else [tokens]
    mentions = [trimmed_mention(part, label, offset, doc_text) for part in parts]
    return [m for m in mentions if m is not None]


def drop_leading(tokens) -> list:
    """Without leading articles ("the United States")."""
    while tokens and tokens[0].lower_ in LEADING_WORDS:
        tokens = tokens[1:]
    return tokens


def split_at_separators(tokens, label: str) -> list[list]:
    """Runs of tokens between separators: spaced dashes, brackets, bare numbers, "at"/"vs", and
    commas except in people's names ("Martin Luther King, Jr.")."""
    parts, current = [], []
    for tok in tokens:
        if is_separator(tok, label):
            parts.append(current)
            current = []
        else:
            current.append(tok)
    return [part for part in parts + [current] if part]


def is_separator(tok, label: str) -> bool:
    """Does this token separate two names inside one model span?"""
    text = tok.text
    if text in SPACED_SEPARATORS:  # "Jean-Pierre" is tokenised with a bare hyphen: only spaced ones
        return tok.i > 0 and bool(tok.doc[tok.i - 1].whitespace_) and bool(tok.whitespace_)
    if text == ",":
        return label != "PERSON"
    return text in SEPARATORS or tok.lower_ in ("at", "vs", "vs.", "v") or text.isdigit()


def trimmed_mention(tokens, label: str, offset: int, doc_text: str) -> Mention | None:
    """One mention from a run of tokens, trimmed; None when nothing name-like is left."""
    tokens = drop_leading(tokens)
    if label == "PERSON":
        while len(tokens) > 1 and tokens[0].lower_ in TITLES:
            tokens = tokens[1:]
    while tokens and tokens[-1].text in POSSESSIVES:
        tokens = tokens[:-1]
    if label in PROPER_LABELS:
        tokens = trim_tail(tokens)
    if not tokens:
        return None
    start, end = tokens[0].idx, tokens[-1].idx + len(tokens[-1].text)
    while start < end and doc_text[start] in TRIM_CHARS:
        start += 1
    while end > start and doc_text[end - 1] in TRIM_CHARS:
        end -= 1
    text = doc_text[start:end]
    if not 2 <= len(text) <= MAX_NAME_CHARS or JUNK_RE.match(text):
        return None
    if label in PROPER_LABELS and text.lower() == text and text.upper() != text:
        return None  # "congress", "south": a proper name has a capital (scripts without case pass)
    return Mention(start + offset, end + offset, text, label)


def trim_tail(tokens) -> list:
    """Drop what cannot end a proper name: scores and numbers ("Surrey 429-7"), lowercase words
    ("Interfax news agency") and stop words ("BALTIMORE AT"); a one-token name is kept as it is."""
    while len(tokens) > 1:
        last = tokens[-1]
        if any(c.isdigit() for c in last.text) or not last.text[:1].isupper() or last.lower_ in STOP_TAIL:
            tokens = tokens[:-1]
        else:
            break
    return tokens


def is_titled_name(tokens) -> bool:
    """A person title followed by one to three proper nouns and nothing else ("Mayor Ann Lee")."""
    if len(tokens) < 2 or tokens[0].lower_ not in TITLES:
        return False
    rest = [t for t in tokens[1:] if t.lower_ not in TITLES]
    return 1 <= len(rest) <= 3 and all(t.pos_ == "PROPN" and t.text[:1].isupper() for t in rest)


def collect_mentions(chunks) -> list[Mention]:
    """Cleaned name-like mentions of every chunk, in text order (datelines included)."""
    mentions = []
    for chunk in chunks:
        chunk_text = chunk.doc.text  # built on each access: once per chunk
        found = [m for span in chunk.doc.ents if span.label_ in NAME_LABELS
                 for m in clean_span(span, chunk.offset, chunk_text)]
        mentions.extend(with_dateline(chunk_text, chunk.offset, found))
    return mentions


def with_dateline(chunk_text: str, offset: int, found: list[Mention]) -> list[Mention]:
    """Add the place of a wire dateline ("OTTAWA --", "NICE, France 1996-08-30") that the model,
    thrown by the capitals, missed or mislabelled: it replaces any mention overlapping it."""
    match = DATELINE_RE.match(chunk_text)
    if match is None:
        return found
    places = [Mention(offset + s, offset + e, chunk_text[s:e].title(), "GPE")
              for s, e in (match.span(1), match.span(2)) if s >= 0]
    kept = [m for m in found if not any(m.start < p.end and p.start < m.end for p in places)]
    return sorted(kept + places, key=lambda m: m.start)


def is_variant(a: str, b: str) -> bool:
    """True when two full person names are the same person spelt differently."""
    wa, wb = fold(a).split(), fold(b).split()
    if wa[-1] != wb[-1]:
        return False
    if wa[0] == wb[0]:
        return True  # "Hillary Clinton" / "Hillary Rodham Clinton"
    return SequenceMatcher(None, wa[0], wb[0]).ratio() >= VARIANT_SIMILARITY


def group_full_names(mentions: list[Mention]) -> list[Entity]:
    """Person entities from multi-word PERSON mentions, spelling variants merged (first form wins)."""
    people: list[Entity] = []
    for m in mentions:
        if m.label != "PERSON" or len(m.text.split()) < 2:
            continue
        match = next((p for p in people if any(is_variant(m.text, a) for a in p.aliases)), None)
        if match is None:
            match = Entity(m.text, "PERSON")
            people.append(match)
        match.aliases.add(m.text)
        match.mentions.append((m.start, m.end))
    return people


class EntityIndex:
    """The canonical entities of one article and look-ups from a mention or a name to its entity."""

    def __init__(self, mentions: list[Mention]):
        self.entities: list[Entity] = group_full_names(mentions)
        self.surnames: dict[str, list[Entity]] = {}
        for person in self.entities:
            for key in {fold(a).split()[-1] for a in person.aliases}:
                self.surnames.setdefault(key, []).append(person)
        self.by_span: dict[tuple[int, int], Entity] = {m: e for e in self.entities for m in e.mentions}
        self.by_key: dict[tuple[str, str], Entity] = {}
        for m in mentions:
            if (m.start, m.end) not in self.by_span:
                self.add_short(m)
        self.entities = [e for e in self.entities if e.mentions]
        for e in self.entities:
            e.label = majority_label(e, mentions) if e.label != "PERSON" else e.label
            if e.name.isupper():  # "BELGRADE" in a headline: prefer the article's "Belgrade"
                e.name = next((a for a in sorted(e.aliases) if not a.isupper()), e.name)
        self.entities.sort(key=lambda e: (-e.count, min(e.mentions)))

    def people_with_surname(self, word: str) -> list[Entity]:
        """Multi-word people whose last (or only distinctive) name is ``word``."""
        return self.surnames.get(fold(word), [])

    def add_short(self, m: Mention) -> None:
        """Attach a mention to a person by surname, else to the entity with the same text."""
        entity = self.resolve_surname(m.text) if m.label in SURNAME_LABELS else None
        if entity is None:
            key = (fold(m.text), "PERSON" if m.label == "PERSON" else "NAME")
            entity = self.by_key.get(key)
            if entity is None:
                entity = Entity(m.text, m.label)
                self.by_key[key] = entity
                self.entities.append(entity)
        entity.aliases.add(m.text)
        entity.mentions.append((m.start, m.end))
        self.by_span[(m.start, m.end)] = entity

    def resolve_surname(self, text: str) -> Entity | None:
        """The single person whose surname is ``text`` (titles dropped), or None when none or several."""
        words = [w for w in text.split() if w.lower() not in TITLES]
        if len(words) != 1:
            return None
        candidates = self.people_with_surname(words[0])
        return candidates[0] if len(candidates) == 1 else None

    def entity_in(self, start: int, end: int) -> Entity | None:
        """The entity with a mention overlapping the character span [start, end), if any."""
        best = None
        for (s, e), entity in self.by_span.items():
            if s < end and start < e and (best is None or entity.label == "PERSON"):
                best = entity
        return best


def majority_label(entity: Entity, mentions: list[Mention]) -> str:
    """The most common model label over an entity's mentions (first seen wins ties)."""
    spans = set(entity.mentions)
    votes = Counter(m.label for m in mentions if (m.start, m.end) in spans)
    return votes.most_common(1)[0][0] if votes else entity.label


def find_unmarked(text: str, mentions: list[Mention], index: "EntityIndex") -> list[Mention]:
    """Occurrences the model missed of names it found elsewhere in the article ("Lebed" the tenth
    time): exact, capitalised, whole-word repeats of an alias or a resolved person's surname."""
    names = repeatable_names(index)
    if not names:
        return []
    taken = sorted((m.start, m.end) for m in mentions)
    starts = [s for s, _ in taken]
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    found = []
    for match in re.finditer(r"(?<![\w'’.-])(?:" + alternation + r")(?![\w'’-])", text):
        s, e = match.span()
        k = bisect.bisect_right(starts, s)
        before, after = taken[k - 1] if k else None, taken[k] if k < len(taken) else None
        if (before and before[1] > s) or (after and after[0] < e):
            continue  # part of a mention the model already made
        found.append(Mention(s, e, match.group(), names[match.group()].label))
    return found


def repeatable_names(index: "EntityIndex") -> dict[str, Entity]:
    """Surface forms safe to look for again: unambiguous aliases and surnames of the article's names."""
    names: dict[str, Entity] = {}
    for entity in index.entities:
        forms = set(entity.aliases)
        if entity.label == "PERSON":
            forms.update(a.split()[-1] for a in entity.aliases if " " in a)
        for form in forms:
            if len(form) >= MIN_REPEAT_CHARS and form[0].isupper():
                names[form] = None if form in names and names[form] is not entity else entity
    return {form: entity for form, entity in names.items() if entity is not None}


def person_genders(text: str, entities: list[Entity]) -> dict[str, str]:
    """Grammatical gender of people where the article states it by a title ("Ms. Moore", "Congressman
    Ruiz"): name -> "m" or "f". Pronoun resolution uses it; no evidence, or conflicting, means none."""
    genders = {}
    for entity in entities:
        if entity.label != "PERSON":
            continue
        seen = set()
        for start, _ in entity.mentions:
            match = GENDER_TITLE_RE.search(text, max(0, start - 20), start)
            if match:
                seen.add("f" if match.group(1).lower().rstrip(".") in FEMALE_TITLES else "m")
        if len(seen) == 1:
            genders[entity.name] = seen.pop()
    return genders


def extract_entities(text: str, chunks) -> EntityIndex:
    """Canonical entities of one parsed article (see the module docstring)."""
    mentions = collect_mentions(chunks)
    index = EntityIndex(mentions)
    extra = find_unmarked(text, mentions, index)
    return EntityIndex(sorted(mentions + extra, key=lambda m: m.start)) if extra else index
