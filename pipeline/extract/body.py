"""The article body: several open-source extractors, chosen per page by evidence, then cleaned.

Measured on the dev sets (benchmarks/bench_extract.py), trafilatura in precision mode is the best single
candidate, but on some pages it keeps almost nothing; trafilatura's balanced mode is then the better
choice, and readability-lxml and newspaper3k are the rescue when both come back (nearly) empty. The
chosen text is then cleaned line by line: the repeated headline and standfirst at its top, a leading
"key points" list, and boilerplate lines (newsletter plugs, "Read more:", share and comment widgets)
that every extractor lets through. Each extra extractor runs only when the evidence asks for it, so a
typical page costs one trafilatura run.
"""

from __future__ import annotations

import logging
import re
from copy import deepcopy

from pipeline.extract.meta import NON_WORD, WORD, bag_f1, word_bag

LOGGER = logging.getLogger(__name__)


# A precision-mode body shorter than this (characters) is suspicious: compare it with balanced mode.
MIN_CONFIDENT_CHARS = 500


# ... and keep it anyway when it holds at least this share of the balanced-mode text.
MIN_PRECISION_SHARE = 0.5


# Below this, a body is no article at all: try the other extractors.
MIN_BODY_CHARS = 150


# Boilerplate markers are only trusted on short lines; long lines are prose that may quote them.
MAX_BOILERPLATE_LINE = 250
BOILERPLATE_PATTERNS = (
    r"^(read more|also read|read next|read also|see more|see also|related( posts?| articles?| stories| content| coverage)?"
    r"|you may also like|more|also|don'?t miss|most read( in [\w ]+)?|recommended( for you)?|trending( now)?"
    r"|more from [\w’' .]+)\s*([:|.…]+.*)?$",
    r"\b(sign up|subscribe|signing up)\b.{0,80}\b(newsletters?|inbox|updates|alerts)\b",
    r"^(follow|like)\b.{0,60}\b(on|at)\b.{0,40}\b(twitter|facebook|instagram|google news|x|linkedin|tiktok|youtube|whatsapp)\b",
    r"^\d*\s*comments?\s*$",
    r"^(got a story|do you have a story|have a (news )?tip|got a tip)\b",
    r"^our standards:",
    r"this copy is for your personal, non-commercial use",
    r"\bclick here\b",
    r"^tell us what you think",
    r"(?-i:\[[A-Z][A-Z ]{2,11}\])\W*$",  # "[VIDEO]", "[INSIGHT]": tabloid related-story links (not "[sic]")
    r"\[/\w+\]",  # leftover CMS shortcodes ("[button ...]...[/button]")
    r"^pictured\b",  # photo captions
    r"^(image|photo|picture|credit|photograph)s?\s*:",
    r"^(log ?in|sign ?in) or (create|register)",
    r"^(advertisement|article content|share this article|share|tweet|email|print)$",
    r"you must confirm your public display name|please logout and then login again",
    r"^for (the latest|more) .{0,60}(news|stories)\b.{0,80}(sign up|newsletter|check|visit)",
    r"^enjoying our latest content|^thank you for visiting",
    r"if you enjoyed this article",
    r"^sign up\b.{0,100}$",
    r"^(additional )?(reporting|writing|editing|compiled|produced) by\b.{0,200}$",
    r"^\[\d+/\d+\]",
    r"^(posted|updated|published|last updated)( on)?:?$",
    r"^(an error has occurred|something went wrong)\b",
    r"^this article has been sent to",
    r"^thank you( for (reading|subscribing|signing up))?[.!]?$",
    r"^(write to|contact|email) .{0,60}\S+@\S+\.\w+$",
)


# Two alternations, one regex pass each per line instead of one per pattern: the patterns anchored at
# the line start are tried there only (a search would try every one of them at every position).
BOILERPLATE_START = re.compile("|".join(f"(?:{p})" for p in BOILERPLATE_PATTERNS if p.startswith("^")), re.I)
BOILERPLATE_ANYWHERE = re.compile("|".join(f"(?:{p})" for p in BOILERPLATE_PATTERNS if not p.startswith("^")), re.I)


# A headline or standfirst repeated at the top of the body matches the page's own at this word F1.
TITLE_MATCH = 0.8
SUMMARY_MATCH = 0.9


# A repeated paragraph shorter than this may be a legitimate refrain; longer copies are page furniture.
MIN_CAPTION_CHARS = 40
SENTENCE_ENDINGS = (".", "!", "?", '"', "”", "'", "’", ")")
LIST_ITEM = re.compile(r"^\s*[-•*]\s+")


def run_trafilatura(tree, favor_precision: bool = False) -> str:
    """trafilatura's body text for tree, which it prunes in place (paragraphs separated by newlines).

    This is ``bare_extraction(tree, include_comments=False, with_metadata=False)`` less its first step,
    a copy of the whole tree (about a millisecond on a news page, 4% of the extraction): callers pass
    a tree they no longer need and parse the page again for the rare second extractor. The output is
    identical on every dev page (tests/test_extract_body.py compares the two on real pages).
    """
    from trafilatura.core import trafilatura_sequence
    from trafilatura.settings import Extractor
    from trafilatura.xml import xmltotxt

    # bare_extraction's other steps are off with these options: no language filter, no
    # metadata, no deduplication, no tree-size limit (unset in trafilatura's default config)
    options = Extractor(output_format="python", precision=favor_precision, comments=False)
    try:
        body, text, _, _ = trafilatura_sequence(tree, options)
    except (TypeError, ValueError):  # trafilatura's "discard this page", as in bare_extraction
        return ""
    if len(text) < options.min_output_size:
        return ""
    return xmltotxt(body, options.formatting) or ""


def run_readability(tree) -> str:
    """readability-lxml's main block as text, one paragraph per line."""
    from lxml import html as lxml_html
    from readability import Document

    summary = Document(deepcopy(tree)).summary(html_partial=True)
    blocks = lxml_html.fragment_fromstring(summary, create_parent="div").iter("p", "h2", "h3", "h4", "li", "blockquote", "pre")
    return "\n".join(text for text in (" ".join(b.text_content().split()) for b in blocks) if text)


def run_newspaper(html: str) -> str:
    """newspaper3k's body text (it parses the page itself)."""
    from newspaper import Article as NewspaperArticle

    article = NewspaperArticle("http://localhost/")
    article.set_html(html)
    article.parse()
    return article.text or ""


def choose_trafilatura_text(tree, reload) -> tuple[str, str]:
    """(text, candidate name): precision mode unless it kept too little next to balanced mode.

    The precision run consumes ``tree``; ``reload()`` gives a fresh copy of it for the balanced run.
    """
    precise = run_trafilatura(tree, favor_precision=True)
    if len(precise) >= MIN_CONFIDENT_CHARS:
        return precise, "trafilatura_precision"
    balanced = run_trafilatura(reload())
    if len(precise) >= MIN_PRECISION_SHARE * len(balanced):
        return precise, "trafilatura_precision"
    return balanced, "trafilatura"


def rescue_text(tree, html: str) -> tuple[str, str]:
    """The longer of readability and newspaper3k, for pages where trafilatura found no article."""
    candidates = []
    for name, runner, source in (("readability", run_readability, tree), ("newspaper", run_newspaper, html)):
        try:
            candidates.append((len(text := runner(source)), text, name))
        except Exception as exc:  # noqa: BLE001 - third-party parsers raise anything on odd pages
            LOGGER.debug("%s failed: %s", name, exc)
    length, text, name = max(candidates, default=(0, "", "none"))
    return text, name


def is_boilerplate(line: str) -> bool:
    """A short line that matches a known non-article pattern."""
    if len(line) >= MAX_BOILERPLATE_LINE:
        return False
    return BOILERPLATE_START.match(line) is not None or BOILERPLATE_ANYWHERE.search(line) is not None


def drop_repeated_heading(lines: list[str], titles: list[str], summary: str | None) -> list[str]:
    """Remove the headline (and the standfirst right after it) when the body repeats them on top."""
    kept, dropped_title = [], False
    title_bags = [word_bag(t) for t in titles if t]  # each string is tokenized once, not once per comparison
    for line in lines:
        bag = word_bag(line) if len(kept) < 3 else None
        if bag and any(bag_f1(bag, t) > TITLE_MATCH for t in title_bags):
            dropped_title = True
            continue
        if dropped_title and not kept and summary and len(line) < 300 and bag_f1(bag, word_bag(summary)) > SUMMARY_MATCH:
            continue
        kept.append(line)
    return kept if kept else lines


def drop_leading_list(lines: list[str]) -> list[str]:
    """Remove a "key points" list that opens the body ahead of the prose."""
    end = 0
    while end < len(lines) and LIST_ITEM.match(lines[end]):
        end += 1
    if end >= 2 and end < len(lines) - 2:
        return lines[end:]
    return lines


def drop_repeated_captions(lines: list[str]) -> list[str]:
    """Drop later copies of a paragraph that lack closing punctuation: image captions and pull quotes."""
    seen: set[str] = set()
    kept = []
    for line in lines:
        key = NON_WORD.sub(" ", line).strip().lower()
        if len(key) > MIN_CAPTION_CHARS and key in seen and not line.endswith(SENTENCE_ENDINGS):
            continue
        seen.add(key)
        kept.append(line)
    return kept


def clean_body(text: str, titles: list[str], summary: str | None) -> str:
    """Paragraphs of text without repeated heading, leading key points or boilerplate, joined by blank lines."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line and not is_boilerplate(line)]
    lines = drop_leading_list(drop_repeated_heading(drop_repeated_captions(lines), titles, summary))
    return "\n\n".join(lines)


BIO_MARKERS = re.compile(
    r"\b(journalist|reporter|correspondent|columnist|editor|writer|contributor|has covered|has written|"
    r"covers|is based in|can be reached|follow (him|her|them) on|email (him|her|them))\b",
    re.I,
)
MAX_BIO_PARAGRAPHS = 3


def drop_author_bio(text: str, authors: list[str]) -> str:
    """Remove the author's biography from the end of the body (it names the author and their trade)."""
    names = {part.lower() for author in authors for part in author.split() if len(part) > 2}
    if not names:
        return text
    paragraphs = text.split("\n\n")
    end = len(paragraphs)
    while end > 1 and len(paragraphs) - end < MAX_BIO_PARAGRAPHS:
        last = paragraphs[end - 1]
        words = {w.lower() for w in WORD.findall(last)}
        opens_with_name = any(last.startswith(author) for author in authors)
        if not (opens_with_name or (words & names and BIO_MARKERS.search(last))):
            break
        end -= 1
    return "\n\n".join(paragraphs[:end])


# "Acme is a global provider of ...": the "About the company" paragraphs that close press releases.
COMPANY_BOILERPLATE = re.compile(
    r"^(?:about [A-Z][\w&.’'-]*(?: [A-Z][\w&.’'-]*){0,3}[:.]?\s*)?[A-Z][\w&.’'-]*(?: [A-Z][\w&.’'-]*){0,3}(?:,[^,]{0,80},)?"
    r" (?:is|was) (?:a|an|the|headquartered|founded|listed)\b.{0,400}\b(?:provider|company|leader|headquartered|founded|employs|"
    r"listed|subsidiar(?:y|ies))\b"
)
ABOUT_HEADING = re.compile(r"^about [A-Z][\w&.’'-]*(?: [A-Z][\w&.’'-]*){0,3}:?$", re.I)


def drop_company_boilerplate(text: str) -> str:
    """Remove "About Acme: Acme is a leading provider..." paragraphs from the end of the body."""
    paragraphs = text.split("\n\n")
    end = len(paragraphs)
    while end > 1 and len(paragraphs) - end < MAX_BIO_PARAGRAPHS and COMPANY_BOILERPLATE.match(paragraphs[end - 1]):
        end -= 1
    if end < len(paragraphs) and end > 1 and ABOUT_HEADING.match(paragraphs[end - 1]):
        end -= 1
    return "\n\n".join(paragraphs[:end])


def extract_body(tree, html: str, titles: list[str], summary: str | None) -> tuple[str, str]:
    """(body text, name of the extractor chosen) for a page and its parsed tree, which this consumes."""
    from trafilatura.utils import load_html

    def reload():
        return load_html(html)  # the loader that made ``tree`` (pipeline.extract.parse_html), so the same tree

    text, name = choose_trafilatura_text(tree, reload)
    if len(text) < MIN_BODY_CHARS:
        rescued, rescued_name = rescue_text(reload(), html)
        if len(rescued) > len(text):
            text, name = rescued, rescued_name
    return drop_company_boilerplate(clean_body(text, titles, summary)), name
