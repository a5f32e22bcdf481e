"""Quotes and their speakers: direct, partial and indirect speech, attributed by dependency parse.

Quoted spans come from quotemarks.py. The speaker is the subject of the speech verb (the cue) that governs or sits next to the
quote; "according to X" names X. Pronoun subjects resolve to the most recent compatible subject;
a paragraph that is only a quote inherits the previous quote's speaker. Indirect speech is the clausal
complement of a speech verb ("X said that ...") when nothing in it is quoted directly.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from pipeline.nlp.entities import TITLES, person_genders
from pipeline.nlp.quotemarks import QuoteSpan, find_quote_spans, is_title, quote_kind

# Verbs whose subject is the source of reported speech (lemmas).
SPEECH_VERBS = frozenset(
    """say tell add write explain note warn insist argue claim declare state announce acknowledge admit
    ask answer reply respond recall remark comment complain confirm deny suggest conclude continue
    contend assert boast caution emphasize emphasise stress vow promise pledge urge predict describe
    call tweet post testify shout scream whisper cry joke quip concede observe report reveal disclose
    mention maintain allege point agree disagree reiterate repeat retort quote
    characterize characterise dub label brand lament praise criticize criticise charge accuse
    demand propose hint indicate believe think""".split()
)
# A subset that introduce indirect speech with a clausal complement, precise enough to report.
INDIRECT_VERBS = frozenset(
    """say tell add write explain note warn insist argue claim declare state announce acknowledge admit
    reply respond recall remark comment complain confirm deny suggest conclude contend assert boast
    caution emphasize emphasise stress vow promise pledge predict testify concede observe report reveal
    disclose maintain allege agree reiterate retort charge tweet post hint indicate""".split()
)
PERSON_PRONOUNS = frozenset({"he", "she"})
GROUP_PRONOUNS = frozenset({"they", "it", "we"})
SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})
# "said Thursday": dates and times the parser may take for a subject never speak.
NOT_SPEAKERS = frozenset({"DATE", "TIME"})
PASSIVE_SOURCE_VERBS = frozenset({"quote", "cite"})  # "X was quoted as saying": X still speaks
CLIMB_DEPS = frozenset({"conj", "xcomp", "advcl", "pcomp", "acl"})
ORG_NOUNS = frozenset(
    """office ministry department agency government company firm campaign committee council court
    police party administration commission embassy board bank group organization organisation union
    team house senate congress parliament cabinet army
    military university network paper newspaper station channel""".split()
)
PERSON_NOUNS = frozenset(
    """official officials source sources spokesman spokeswoman spokesperson minister president
    secretary leader director chief aide adviser advisor analyst expert lawyer attorney senator
    governor mayor candidate nominee author researcher professor economist witness resident
    people man woman friend father mother officer member members critics critic supporters
    supporter""".split()
)
# "...” ― Jane Doe" at the end of a paragraph: the credit line of a vox-pop or epigraph.
DASH_CREDIT_RE = re.compile(r"\s*[”\"»][\s\u00a0]*[―—–][\s\u00a0]*([A-Z][\w'’.-]*(?:[ \u00a0][A-Z][\w'’.-]*){0,4})[\s\u00a0.,]*(?:\n|$)")
ATTRIBUTION_HEAD = 5  # tokens of a following sentence that may hold a split-off "Smith asked"
MAX_CUE_DISTANCE = 12  # tokens between a quote's edge and a cue verb that has no syntactic link
MAX_SENTENCE_SCAN = 150  # tokens: longer "sentences" are searched only near the quote
MAX_QUOTE_SPANS = 2_000  # more quote marks than this in one text is noise, not an article
MIN_UNATTRIBUTED_WORDS = 6  # an unattributed quote shorter than this is a scare quote, not speech


@dataclass
class Speaker:
    """Who speaks: canonical name, label, the local mention span and the cue lemma."""

    name: str | None
    label: str | None
    mention: tuple[int, int] | None
    cue: str | None


@dataclass
class Quote:
    """One extracted quote (DESIGN.md shape)."""

    text: str
    start: int
    end: int
    kind: str
    speaker: Speaker

    def to_dict(self) -> dict:
        """The JSON shape of DESIGN.md."""
        sp = self.speaker
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "speaker": sp.name,
            "speaker_label": sp.label,
            "speaker_mention": list(sp.mention) if sp.mention else None,
            "cue": sp.cue,
        }


class Attributor:
    """Speaker attribution over one parsed article: cues, subjects, pronouns, floating quotes."""

    def __init__(self, text: str, chunks, index):
        self.text, self.chunks, self.index = text, chunks, index
        self.quoted: set[tuple[int, int]] = set()  # (chunk number, token index) inside quotes
        self.events: list[tuple[int, Speaker, bool]] = []  # (position, speaker, is_person)
        self.resolved: dict[int, Speaker] = {}  # subject token position -> speaker
        self.genders = person_genders(text, index.entities)
        self.starts = [c.offset for c in chunks]

    # -- subjects and their names
    def mark_quoted(self, spans: list[QuoteSpan]) -> None:
        """Remember which tokens sit inside quotes (never cues nor subjects)."""
        for q in spans:
            n, chunk = self.chunk_at(q.start)
            span = chunk.doc.char_span(q.start - chunk.offset, q.end - chunk.offset, alignment_mode="expand")
            if span is not None:
                self.quoted.update((n, t.i) for t in span)

    def track_subjects(self) -> None:
        """Resolve main-clause and speech-verb subjects in text order (a light coreference chain)."""
        for n, chunk in enumerate(self.chunks):
            for tok in chunk.doc:
                if tok.dep_ in SUBJECT_DEPS and (n, tok.i) not in self.quoted and is_salient_subject(tok):
                    speaker = self.describe(tok, chunk)
                    if speaker.name:
                        pos = chunk.offset + tok.idx
                        self.resolved[pos] = speaker
                        one_person = speaker.label == "PERSON" and not is_plural(tok)
                        self.events.append((pos, speaker, one_person))

    def describe(self, tok, chunk) -> Speaker:
        """Name a subject token: an entity's canonical name, a resolved pronoun, or its noun phrase."""
        pos = chunk.offset + tok.idx
        if pos in self.resolved:
            return self.resolved[pos]
        low = tok.lower_
        if low in PERSON_PRONOUNS or low in GROUP_PRONOUNS:
            return self.resolve_pronoun(low, pos, (pos, pos + len(tok.text)))
        tok = appositive_person(tok)
        start, end = mention_span(tok)
        g_start, g_end = chunk.offset + start, chunk.offset + end
        entity = self.index.entity_in(chunk.offset + tok.idx, chunk.offset + tok.idx + len(tok.text))
        if entity is None and tok.pos_ == "PROPN":
            entity = self.index.resolve_surname(tok.text)
        if entity is not None:
            return Speaker(entity.name, entity.label, (g_start, g_end), None)
        if tok.pos_ == "PRON":
            return Speaker(None, None, None, None)
        name = self.text[g_start:g_end]
        return Speaker(name, noun_label(tok), (g_start, g_end), None)

    def resolve_pronoun(self, low: str, pos: int, mention: tuple[int, int]) -> Speaker:
        """The most recent compatible subject before ``pos`` (people for he/she, others for they/it)."""
        want_person = low in PERSON_PRONOUNS
        clash = {"he": "f", "she": "m"}.get(low, "none")  # a known gender the pronoun cannot refer to
        for e_pos, speaker, is_person in reversed(self.events):
            if e_pos < pos and is_person == want_person and self.genders.get(speaker.name) != clash:
                return Speaker(speaker.name, speaker.label, mention, None)
        if want_person:
            people = [m for ent in self.index.entities if ent.label == "PERSON" and self.genders.get(ent.name) != clash
                      for m in ent.mentions if m[0] < pos]
            if people:
                entity = self.index.entity_in(*max(people))
                return Speaker(entity.name, entity.label, mention, None)
        return Speaker(None, None, None, None)

    # -- quotes
    def chunk_at(self, pos: int) -> tuple[int, object]:
        """(number, chunk) holding character ``pos`` (quotes never start between chunks)."""
        n = bisect.bisect_right(self.starts, pos) - 1
        return n, self.chunks[n]

    def speaker_for(self, q: QuoteSpan) -> Speaker | None:
        """The speaker of a quote from a cue in its sentence, else the sentence's person subject."""
        n, chunk = self.chunk_at(q.start)
        span = chunk.doc.char_span(q.start - chunk.offset, q.end - chunk.offset, alignment_mode="expand")
        if span is None or len(span) == 0:
            return None
        cue = cue_for(chunk.doc, span.start, span.end, lambda i: (n, i) in self.quoted)
        if cue is not None:
            verb, subject = cue
            speaker = self.describe(subject, chunk)
            return Speaker(speaker.name, speaker.label, speaker.mention, cue_lemma(verb)) if speaker.name else None
        return self.sentence_subject(n, chunk, span)

    def sentence_subject(self, n: int, chunk, span) -> Speaker | None:
        """Without a cue, the person subject of the quote's own sentence ("Smith was blunt: ...")."""
        sent = span.sent
        for tok in sent[:MAX_SENTENCE_SCAN]:
            if tok.dep_ in SUBJECT_DEPS and tok.head.dep_ == "ROOT" and (n, tok.i) not in self.quoted:
                speaker = self.describe(tok, chunk)
                return speaker if speaker.label == "PERSON" else None
        return None

    def dash_credit(self, q: QuoteSpan) -> Speaker | None:
        """A quote credited after a dash: "...” ― Jane Doe" names the person directly."""
        match = DASH_CREDIT_RE.match(self.text, q.end)
        if match is None:
            return None
        start, end = match.span(1)
        entity = self.index.entity_in(start, end)
        if entity is not None and entity.label == "PERSON":
            return Speaker(entity.name, entity.label, (start, end), None)
        return Speaker(match.group(1), "PERSON", (start, end), None)

    def lead_in(self, n: int) -> Speaker | None:
        """The speaker of a paragraph ending "X said:" that introduces the next paragraph's quote."""
        doc = self.chunks[n].doc
        if not doc.text.rstrip().endswith(":") or not len(doc):
            return None
        last_sent = doc[len(doc) - 1].sent
        for tok in reversed(list(last_sent)):
            inside = lambda i: (n, i) in self.quoted
            subject = find_subject(tok, inside) if is_cue(tok) and not inside(tok.i) else None
            if subject is not None:
                speaker = self.describe(subject, self.chunks[n])
                return Speaker(speaker.name, speaker.label, speaker.mention, cue_lemma(tok)) if speaker.name else None
        return None

    def indirect_quotes(self) -> list[Quote]:
        """Reported speech: clausal complements of speech verbs, and clauses "according to X"."""
        quotes = []
        for n, chunk in enumerate(self.chunks):
            for tok in chunk.doc:
                if (n, tok.i) in self.quoted or not is_cue(tok):
                    continue
                content = indirect_content(tok)
                # a clause mostly inside quote marks is already a direct quote
                if content is None or 2 * sum((n, t.i) in self.quoted for t in content) > len(content):
                    continue
                subject = find_subject(tok, lambda i: (n, i) in self.quoted)
                if subject is None or (n, subject.i) in self.quoted:
                    continue
                speaker = self.describe(subject, chunk)
                if speaker.name:
                    start, end = chunk.offset + content.start_char, chunk.offset + content.end_char
                    quotes.append(Quote(self.text[start:end], start, end, "indirect", Speaker(speaker.name, speaker.label, speaker.mention, cue_lemma(tok))))
        return quotes


def cue_lemma(tok) -> str:
    """The cue's lemma ("according" stays as is)."""
    return "according to" if tok.lower_ == "according" else tok.lemma_.lower()


def indirect_content(verb):
    """The reported clause of a speech verb, trimmed of edge punctuation, or None."""
    doc = verb.doc
    if verb.lower_ == "according":
        sent = verb.sent
        phrase = list(verb.subtree)
        before = doc[sent.start:phrase[0].i]
        after = doc[phrase[-1].i + 1:sent.end]
        clause = after if len(after) >= len(before) else before
    else:
        if verb.lemma_.lower() not in INDIRECT_VERBS:
            return None
        comp = reported_clause(verb)
        if comp is None:
            return None
        clause = doc[comp.left_edge.i:comp.right_edge.i + 1]
    while len(clause) and (clause[0].is_punct or clause[0].is_space):
        clause = clause[1:]
    while len(clause) and (clause[-1].is_punct or clause[-1].is_space):
        clause = clause[:-1]
    return clause if len(clause) >= 3 else None


def reported_clause(verb):
    """The clausal complement of a speech verb, also when the parser hung the "that" clause on the
    medium ("said in a statement that ...")."""
    for child in verb.children:
        if child.dep_ == "ccomp":
            return child
    for prep in (c for c in verb.children if c.dep_ == "prep"):
        for obj in (c for c in prep.children if c.dep_ == "pobj"):
            for clause in obj.children:
                if clause.dep_ in ("acl", "ccomp") and any(m.dep_ == "mark" and m.lower_ == "that" for m in clause.children):
                    return clause
    return None


def fill_split(speakers: list, para_of: list[int]) -> None:
    """A quote split around its attribution: an unattributed part takes its paragraph neighbour's
    speaker (the one before it, else the one after)."""
    groups: dict[int, list[int]] = {}
    for i, para in enumerate(para_of):
        groups.setdefault(para, []).append(i)
    for members in groups.values():
        known = [i for i in members if speakers[i] is not None]
        for i in members:
            if speakers[i] is None and known:
                k = bisect.bisect_left(known, i)
                speakers[i] = speakers[known[k - 1] if k else known[0]]


def fill_chains(spans: list[QuoteSpan], speakers: list) -> None:
    """Parts of one multi-paragraph quote share the speaker found on any part."""
    chain: list[int] = []
    for i, q in enumerate(spans + [QuoteSpan(0, 0, False)]):
        if not q.continued and chain:
            known = next((speakers[j] for j in chain if speakers[j] is not None), None)
            for j in chain:
                speakers[j] = speakers[j] or known
            chain = []
        if i < len(spans):
            chain.append(i)


def fill_floating(spans: list[QuoteSpan], speakers: list, para_of: list[int], att: "Attributor") -> None:
    """A quote opening a paragraph without a cue inherits the last speaker, or a "X said:" lead-in."""
    last: tuple[int, Speaker] | None = None
    for i, q in enumerate(spans):
        if speakers[i] is None and q.opens_paragraph:
            lead = att.lead_in(para_of[i] - 1) if para_of[i] else None
            if lead is not None:
                speakers[i] = lead
            elif last is not None and para_of[i] - last[0] <= 2:
                speakers[i] = last[1]
        if speakers[i] is not None and speakers[i].name:
            last = (para_of[i], speakers[i])


def is_plural(tok) -> bool:
    """A plural subject ("officials", "Berg and Lind") is what "they" refers back to."""
    return tok.tag_ in ("NNS", "NNPS") or any(c.dep_ == "conj" for c in tok.children)


def is_salient_subject(tok) -> bool:
    """Subjects of main clauses and of speech verbs are what later pronouns refer back to."""
    head = tok.head
    return head.dep_ == "ROOT" or head.lemma_ in SPEECH_VERBS


def appositive_person(tok):
    """For "a spokesman, John Smith," prefer the named appositive."""
    for child in tok.children:
        if child.dep_ == "appos" and child.ent_type_ == "PERSON":
            return child
    return tok


def mention_span(tok) -> tuple[int, int]:
    """Chunk-relative characters of a subject's name: its entity, else its noun phrase up to the head."""
    if tok.ent_type_:
        for ent in tok.doc.ents:
            if ent.start <= tok.i < ent.end:
                return ent.start_char, ent.end_char
    left = tok
    for child in tok.lefts:
        if child.dep_ not in ("punct", "cc", "prep", "relcl", "appos"):
            left = min(left, child.left_edge, key=lambda t: t.i)
    return left.idx, tok.idx + len(tok.text)


def noun_label(tok) -> str | None:
    """A label for a speaker that is not a named entity: organisations and roles by their head noun."""
    lemma = tok.lemma_.lower()
    if lemma in ORG_NOUNS:
        return "ORG"
    if lemma in PERSON_NOUNS:
        return "PERSON"
    if tok.pos_ == "PROPN" and any(c.lower_ in TITLES for c in tok.lefts):
        return "PERSON"  # "Ms. LaBelle" that the model did not tag
    return None


def is_cue(tok) -> bool:
    """A speech verb, or "according" (to X)."""
    if tok.lower_ == "according":
        return True
    return tok.pos_ in ("VERB", "AUX") and tok.lemma_.lower() in SPEECH_VERBS


def find_subject(verb, skip=lambda i: False):
    """The source of a cue: its subject or passive agent, climbing through conjuncts and clauses.

    ``skip(i)`` rules out tokens (those inside quotes: the parser sometimes takes a quoted noun as a
    second subject of the cue).
    """
    if verb.lower_ == "according":
        for to in list(verb.children) + [verb.nbor(1)] if verb.i + 1 < len(verb.doc) else verb.children:
            objects = [c for c in to.children if c.dep_ == "pobj"]
            if to.lower_ == "to" and objects:
                return objects[0]
        return None
    node = verb
    for _ in range(4):
        for child in node.children:
            if child.dep_ == "agent":
                objects = [c for c in child.children if c.dep_ == "pobj"]
                if objects:
                    return objects[0]
        subjects = [c for c in node.children
                    if c.dep_ in SUBJECT_DEPS and c.lower_ not in ("who", "that", "which") and not skip(c.i)]
        if subjects and subjects[0].dep_ == "nsubjpass" and node.lemma_.lower() not in PASSIVE_SOURCE_VERBS:
            return None  # "he was told": the passive subject is the listener, not the source
        if subjects:
            return None if subjects[0].ent_type_ in NOT_SPEAKERS else subjects[0]
        if node.dep_ in ("relcl", "acl") and node.head.pos_ in ("NOUN", "PROPN"):
            return node.head
        if node.dep_ not in CLIMB_DEPS or node.head is node:
            return None
        node = node.head
    return None


def adjacent_subject(verb):
    """When the parser gave a cue no subject, the name right before or after it ("..." Smith said)."""
    doc = verb.doc
    before = doc[verb.i - 1] if verb.i > 0 else None
    after = doc[verb.i + 1] if verb.i + 1 < len(doc) else None
    if before is not None and before.pos_ in ("PROPN", "PRON", "NOUN") and before.dep_ not in ("dobj", "pobj"):
        return None if before.ent_type_ in NOT_SPEAKERS else before
    if after is not None and after.pos_ in ("PROPN", "NOUN") and after.ent_type_ not in NOT_SPEAKERS:
        return after
    return None


def cue_for(doc, qs: int, qe: int, skip) -> tuple[object, object] | None:
    """(cue verb, subject) for quote tokens [qs, qe): the nearest governing cue, else the nearest one."""
    outside_heads = {t.head.i for t in doc[qs:qe] if not qs <= t.head.i < qe}
    ancestors = set()
    for i in outside_heads:
        ancestors.add(i)
        ancestors.update(a.i for a in doc[i].ancestors)
    sent_start, sent_end = doc[qs].sent.start, doc[qe - 1].sent.end
    best, best_key = None, None
    for tok in cue_candidates(doc, qs, qe, sent_start, sent_end, ancestors):
        if skip(tok.i) or not is_cue(tok):
            continue
        # "according to X" scopes over its whole sentence
        linked = tok.i in ancestors or tok.lower_ == "according"
        dist = min(abs(tok.i - qs), abs(tok.i - (qe - 1)))
        if not linked and dist > MAX_CUE_DISTANCE:
            continue
        subject = find_subject(tok, skip) or adjacent_subject(tok)
        if subject is None or skip(subject.i):
            continue
        key = (not linked, dist)
        if best_key is None or key < best_key:
            best, best_key = (tok, subject), key
    return best


def cue_candidates(doc, qs: int, qe: int, sent_start: int, sent_end: int, ancestors: set[int]) -> list:
    """Tokens that may be a quote's cue: its sentence (near the quote when the sentence is long),
    the quote's syntactic ancestors, and the head of a sentence the parser split off after it."""
    if sent_end - sent_start <= MAX_SENTENCE_SCAN:
        near = range(sent_start, sent_end)
    else:  # a run-on "sentence" (lists, junk): bounded work per quote
        near = [*range(max(sent_start, qs - MAX_CUE_DISTANCE), qs), *range(qe, min(sent_end, qe + MAX_CUE_DISTANCE))]
    indices = sorted(set(near) | {i for i in ancestors if sent_start <= i < sent_end})
    return [doc[i] for i in indices] + attribution_after(doc, qe, sent_end)


def attribution_after(doc, qe: int, sent_end: int) -> list:
    """The head of the next sentence when the parser split '“...?” Smith asked.' after the quote."""
    after = doc[qe:sent_end]
    if len(after) > 3 or any(not (t.is_punct or t.is_space) for t in after) or sent_end >= len(doc):
        return []
    return list(doc[sent_end:min(sent_end + ATTRIBUTION_HEAD, doc[sent_end].sent.end)])


def attribute_quotes(text: str, chunks, index) -> list[Quote]:
    """Every quote of an article with its speaker (direct, partial and indirect)."""
    paragraphs = [(c.offset, c.end) for c in chunks]
    spans = find_quote_spans(text, paragraphs)[:MAX_QUOTE_SPANS]
    att = Attributor(text, chunks, index)
    para_of = [att.chunk_at(q.start)[0] for q in spans]
    att.mark_quoted(spans)
    att.track_subjects()
    speakers = [att.speaker_for(q) or att.dash_credit(q) for q in spans]
    fill_split(speakers, para_of)
    fill_chains(spans, speakers)
    fill_floating(spans, speakers, para_of, att)
    quotes = []
    for q, speaker, para in zip(spans, speakers, para_of):
        kind = quote_kind(text, q, paragraphs[para][0])
        if kind == "partial" and is_title(text[q.start:q.end]):
            continue  # a show, book or slogan named in quote marks ("Face the Nation"), not speech
        if speaker is None or speaker.name is None:
            if kind == "partial" or len(text[q.start:q.end].split()) < MIN_UNATTRIBUTED_WORDS:
                continue
            speaker = Speaker(None, None, None, None)
        quotes.append(Quote(text[q.start:q.end], q.start, q.end, kind, speaker))
    quotes.extend(att.indirect_quotes())
    quotes.sort(key=lambda q: (q.start, q.end))
    return quotes
