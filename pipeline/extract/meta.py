"""Article metadata from a parsed page: headline, authors, dates, language, summary, image, URLs.

Every field is read from the most explicit evidence first: JSON-LD (schema.org Article types), then
OpenGraph and other <meta> tags, then visible markup (<h1>, bylines, <time>), then the URL, and for
dates htmldate as the last resort. Values are cleaned the way a reader would expect them: the headline
without its site suffix, author names without "By" or outlet credits, dates in UTC.
"""

from __future__ import annotations

import html as html_lib
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

LOGGER = logging.getLogger(__name__)


# schema.org types whose properties describe the article itself (best first).
ARTICLE_TYPES = (
    "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "backgroundnewsarticle", "reviewnewsarticle", "article", "blogposting", "socialmediaposting",
    "liveblogposting", "techarticle", "scholarlyarticle", "report", "webpage",
)
TITLE_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|::|•|·|»|«|/)\s+")
BYLINE_PREFIX = re.compile(
    r"^\s*(?:(?:written|posted|words|reporting|analysis|opinion|commentary|review|story|text|photos?|interview)\s+)?by\s*:?\s+",
    re.I,
)


# Academic and professional post-nominals that follow a name after a comma ("Jane Doe, MS, RDN").
CREDENTIALS = {"md", "phd", "ms", "msc", "ma", "mba", "mph", "rd", "rdn", "rn", "np", "dds", "jd", "cpa", "cfa", "bsc", "ba", "esq", "jr", "sr"}
AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b|\||\n|\s\+\s)\s*", re.I)


# A credit that names a desk, a role or an outlet rather than a person.
NOT_A_PERSON = re.compile(
    r"\b(?:staff|team|desk|newsroom|editors?|editorial|reporters?|correspondents?|contributors?|"
    r"writers?|news\s*service|wires?|agenc(?:y|ies)|press\s+association|online|digital|media|"
    r"ltd|inc|limited|group|network|magazine|times|post|daily|news)\b",
    re.I,
)
AUTHOR_TRAILER = re.compile(r"\s*(?:[,|–—-]\s*)?(?:updated|published|posted|\d{1,2}\s+\w+\s+\d{4}|\w+\s+\d{1,2},\s+\d{4}).*$", re.I)
MAX_AUTHOR_WORDS = 5
PUBLISHED_META = (
    "article:published_time", "og:published_time", "og:article:published_time", "datepublished",
    "pubdate", "publishdate", "publish-date", "publish_date", "published_time", "published-date",
    "article.published", "parsely-pub-date", "sailthru.date", "dc.date.issued", "dcterms.issued",
    "dc.date", "dcterms.date", "date", "cxenseparse:recs:publishtime", "article_date_original",
    "original-publish-date", "dcterms.created", "dc.date.created", "article:published", "publication_date",
    "date_published", "dc.date.published", "article_date", "og:pubdate", "displaydate", "release_date",
)
MODIFIED_META = (
    "article:modified_time", "og:updated_time", "og:article:modified_time", "datemodified",
    "last-modified", "lastmod", "dcterms.modified", "dc.date.modified", "article.updated", "updated_time",
)
URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|[-_]|\b)")
URL_COMPACT_DATE = re.compile(r"[/_-]((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?:[/_.-]|$)")
WORD = re.compile(r"\w+")
NON_WORD = re.compile(r"\W+")
NOT_A_NAME = re.compile(r"[\d@/<>{}=]|https?:|www\.|\.(?:com|org|net|co)\b", re.I)
EPOCH_TIMESTAMP = re.compile(r"\d{10}(\d{3})?")
YEAR = re.compile(r"(?:19|20)\d{2}")
LANGUAGE_CODE = re.compile(r"\s*([a-zA-Z]{2,3})(?:[-_]|$)")


# XPath expressions compiled once (compiling one costs about as much as evaluating it on a page).
TIME_ELEMENT_DATES = etree.XPath("//*[@itemprop=$prop]/@datetime|//*[@itemprop=$prop]/@content")
PLAIN_TIME_DATES = etree.XPath("//time[@datetime]/@datetime")
CANONICAL_LINKS = etree.XPath("//link[translate(@rel, 'CANONICAL', 'canonical')='canonical']/@href")


@dataclass
class PageMeta:
    """Metadata read from one page; every field may be empty."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: str | None = None
    modified_at: str | None = None
    summary: str | None = None
    image: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None
    html_language: str | None = None
    outlets: list[str] = field(default_factory=list)  # names of the outlet, never an author


def clean_space(value) -> str:
    """Collapse runs of whitespace; None and non-strings become ''; lone surrogates (from JSON) become '?'."""
    if not isinstance(value, str):
        return ""
    if not value.isascii():  # only non-ASCII text can hold a surrogate
        value = value.encode("utf-8", "replace").decode("utf-8")
    return " ".join(value.split())


def read_meta_tags(tree) -> dict[str, str]:
    """First non-empty content of every <meta name|property|itemprop>, keyed in lower case."""
    found: dict[str, str] = {}
    for node in tree.iter("meta"):
        key = node.get("property") or node.get("name") or node.get("itemprop") or node.get("http-equiv")
        value = clean_space(node.get("content") or node.get("datetime"))
        if key and value:
            found.setdefault(key.strip().lower(), value)
    return found


def iter_jsonld_objects(tree):
    """Every dict in the page's JSON-LD blocks, flattening lists and @graph."""
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text.strip().rstrip(";"), strict=False)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                yield item
                stack.extend(v for k, v in item.items() if k in ("@graph", "mainEntity", "mainEntityOfPage") and isinstance(v, (list, dict)))


def type_rank(obj: dict) -> int:
    """Position of the object's schema.org type in ARTICLE_TYPES (lower is better), else a large number."""
    types = obj.get("@type")
    types = types if isinstance(types, list) else [types]
    ranks = [ARTICLE_TYPES.index(t.lower()) for t in types if isinstance(t, str) and t.lower() in ARTICLE_TYPES]
    return min(ranks, default=99)


def find_article_jsonld(tree, page_title: str = "") -> dict:
    """The JSON-LD object that best describes the article, or {}.

    Pages also describe related stories in JSON-LD; among objects of the best type, the one whose
    headline matches the page's own title is the article.
    """
    candidates = [(type_rank(obj), obj) for obj in iter_jsonld_objects(tree)]
    candidates = [(rank, obj) for rank, obj in candidates if rank < 99]
    if not candidates:
        return {}
    best_rank = min(rank for rank, _ in candidates)
    best = [obj for rank, obj in candidates if rank == best_rank]
    if len(best) == 1 or not page_title:
        return best[0]
    return max(best, key=lambda obj: word_f1(jsonld_text(obj.get("headline") or obj.get("name")), page_title))


def jsonld_text(value) -> str:
    """A JSON-LD value as plain text: strings, first list item, or a dict's name/url."""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, dict):
        value = value.get("name") or value.get("url") or value.get("@id") or ""
    # JSON-LD is often written with HTML escaping ("&#039;") that no parser undoes for us.
    return clean_space(html_lib.unescape(value)) if isinstance(value, str) else ""


def strip_site_suffix(title: str, site_names: list[str]) -> str:
    """Drop a leading or trailing "| Site Name" part from a <title>/og:title, keeping inner separators."""
    tokens = re.split(f"({TITLE_SEPARATORS.pattern})", title)
    parts, separators = tokens[0::2], tokens[1::2]
    if len(parts) < 2:
        return title
    names = {NON_WORD.sub("", n.lower()) for n in site_names if n}

    def is_site(part: str) -> bool:
        key = NON_WORD.sub("", part.lower())
        return bool(key) and any(key == n or (len(key) > 3 and (key in n or n in key)) for n in names)

    while len(parts) > 1 and is_site(parts[-1]):
        parts, separators = parts[:-1], separators[:-1]
    while len(parts) > 1 and is_site(parts[0]):
        parts, separators = parts[1:], separators[1:]
    if len(parts) > 1 and len(parts[-1].split()) <= 3 and len(parts[0].split()) >= 4:
        parts, separators = parts[:-1], separators[:-1]  # a short unknown trailer ("- Opinion") is a section or brand
    return "".join(p + sep for p, sep in zip(parts, [*separators, ""])).strip()


def word_f1(a: str, b: str) -> float:
    """Bag-of-words F1 between two short strings (case-insensitive)."""
    return bag_f1(word_bag(a), word_bag(b))


def word_bag(text: str) -> tuple[Counter, int]:
    """(word counts, number of words) of text in lower case: word_f1's input, made once per string."""
    words = WORD.findall(text.lower())
    return Counter(words), len(words)


def bag_f1(a: tuple[Counter, int], b: tuple[Counter, int]) -> float:
    """word_f1 between two word_bag results."""
    (counts_a, size_a), (counts_b, size_b) = a, b
    if not size_a or not size_b:
        return 0.0
    return 2 * sum((counts_a & counts_b).values()) / (size_a + size_b)


def read_h1_texts(tree) -> list[str]:
    """Visible <h1> texts of a plausible headline length."""
    texts = (clean_space(h.text_content()) for h in tree.iter("h1"))
    return [t for t in texts if 3 <= len(t) <= 400]


def choose_title(tree, meta: dict, ld: dict, site_names: list[str]) -> str | None:
    """The article's headline: JSON-LD headline, else the <h1> matching the declared title, else that title.

    The JSON-LD headline is the publisher's own statement of the headline (the same evidence order as
    every other field); where a page has none, the visible <h1> wins over <title>/og:title, which carry
    site suffixes and social-media rewrites.
    """
    headline = jsonld_text(ld.get("headline"))
    if len(headline) >= 3:
        return strip_site_suffix(headline, site_names)
    declared = [meta.get("og:title", ""), meta.get("twitter:title", ""), clean_space(tree.findtext(".//title"))]
    declared = [strip_site_suffix(t, site_names) for t in declared if t]
    h1s = read_h1_texts(tree)
    if declared and h1s:
        score, best = max((max(word_f1(h, d) for d in declared), h) for h in h1s)
        if score >= 0.6:
            return best
    if declared:
        return declared[0]
    return h1s[0] if h1s else None


def jsonld_authors(ld: dict) -> list[str]:
    """Person names from the JSON-LD author/creator property (organisations are skipped)."""
    raw = ld.get("author") or ld.get("creator") or []
    raw = raw if isinstance(raw, list) else [raw]
    names = []
    for item in raw:
        if isinstance(item, dict):
            kind = item.get("@type")
            if isinstance(kind, str) and kind.lower() == "organization":
                continue
            item = item.get("name")
            if isinstance(item, list):
                names.extend(x for x in item if isinstance(x, str))
                continue
        if isinstance(item, str):
            names.append(item)
    return names


# rel=author, itemprop=name inside itemprop=author, class "byline" (a whole class name) or one containing
# author-name, byline__name or author__name. One pass over the page, in page order; the cheap
# contains(@class, ...) tests come first so the string building runs only on likely elements.
BYLINE_XPATH = (
    "//*[@rel='author' or (@itemprop='name' and ancestor::*[@itemprop='author'])"
    " or (contains(@class, 'byline') and (contains(concat(' ', normalize-space(@class), ' '), ' byline ')"
    " or contains(@class, 'byline__name')))"
    " or (contains(@class, 'author') and (contains(@class, 'author-name') or contains(@class, 'author__name')))]"
)
BYLINE_NODES = etree.XPath(BYLINE_XPATH)


def markup_authors(tree) -> list[str]:
    """Names from byline markup (rel=author, itemprop=author, .byline), in page order."""
    names = []
    for node in BYLINE_NODES(tree)[:6]:
        text = clean_space(node.text_content())
        if text and len(text) < 120:
            names.append(text)
    return names


def clean_author_names(raw: list[str], outlets: list[str]) -> list[str]:
    """Split "A and B", strip "By" and trailers, drop outlet/desk credits and duplicates."""
    outlet_keys = {NON_WORD.sub("", o.lower()) for o in outlets if o}
    seen, names = set(), []
    for entry in raw:
        entry = BYLINE_PREFIX.sub("", clean_space(html_lib.unescape(entry)))
        entry = AUTHOR_TRAILER.sub("", entry)
        for name in AUTHOR_SPLIT.split(entry):
            name = BYLINE_PREFIX.sub("", name).strip(" .:-–—·|")
            key = NON_WORD.sub("", name.lower())
            if not is_person_name(name) or key in CREDENTIALS or is_outlet(key, outlet_keys) or key in seen:
                continue
            seen.add(key)
            names.append(name)
    # "About Jane Doe" next to "Jane Doe": the longer credit only repeats the name
    keys = [NON_WORD.sub("", n.lower()) for n in names]
    return [n for n, k in zip(names, keys) if not any(o != k and o in k for o in keys)]


def is_outlet(key: str, outlet_keys: set[str]) -> bool:
    """True when a credit is the outlet itself or one of its sections ("CNN Business", "Cleveland.com")."""
    return any(key == o or (len(o) >= 3 and (key.startswith(o) or key.endswith(o))) for o in outlet_keys)


def is_person_name(name: str) -> bool:
    """True when a credit looks like a person's name (not a URL, a desk or a sentence)."""
    words = name.split()
    if not 1 <= len(words) <= MAX_AUTHOR_WORDS or len(name) > 60:
        return False
    if NOT_A_NAME.search(name) or NOT_A_PERSON.search(name):
        return False
    return any(w[:1].isupper() for w in words)


BODY_BYLINE = re.compile(r"^\s*by\s+(.{3,80})$", re.I)
BARE_NAME = re.compile(r"^(?:[A-Z][\w’'.-]*\s+){1,3}[A-Z][\w’'.-]*$")


# Title-case words that open sections, not names ("Key Findings", "Watch Live").
HEADING_WORDS = {
    "key", "findings", "summary", "introduction", "update", "updates", "watch", "live", "photos", "video",
    "analysis", "opinion", "review", "editorial", "breaking", "latest", "top", "highlights", "related",
    "background", "what", "how", "why", "the", "our", "your", "read", "more", "share", "follow", "listen",
}


def split_body_byline(text: str, authors: list[str], outlets: list[str]) -> tuple[str, list[str]]:
    """(text, authors) after taking a byline off the body's first paragraph ("By A and B" or a bare name).

    Some sites print the byline only as the article's first line; a bare name counts only when the
    page named no author or names this one, so a short first sentence is never mistaken for one.
    """
    first, _, rest = text.partition("\n\n")
    match = BODY_BYLINE.match(first)
    candidate = match.group(1) if match else first
    bare = BARE_NAME.match(first) and not first.isupper() and not HEADING_WORDS & set(first.lower().split())
    if not rest or not (match or bare):
        return text, authors
    names = clean_author_names([candidate], outlets)
    known = {n.lower() for n in authors}
    if not names or (authors and not match and not known & {n.lower() for n in names}):
        return text, authors
    return rest, authors or names


def choose_authors(tree, meta: dict, ld: dict, outlets: list[str]) -> list[str]:
    """Author names from the best source that yields any: JSON-LD, meta tags, byline markup."""
    meta_names = [meta.get(k, "") for k in ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator", "byl")]
    sources = (lambda: jsonld_authors(ld), lambda: [n for n in meta_names if n], lambda: markup_authors(tree))
    for read in sources:  # lazily: the byline XPath costs more than the rest of the metadata
        names = clean_author_names(read(), outlets)
        if names:
            return names
    return []


def parse_datetime(value: str) -> datetime | None:
    """A timestamp string as an aware UTC datetime (naive values are taken as UTC), or None."""
    value = clean_space(value)
    if EPOCH_TIMESTAMP.fullmatch(value):  # epoch seconds or milliseconds
        return datetime.fromtimestamp(int(value[:10]), tz=timezone.utc)
    if not YEAR.search(value):  # no year: "Tuesday" or "3 hours ago" would parse as today
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = parse_loose_datetime(value)
    if parsed is None or not 1990 <= parsed.year <= 2100:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_loose_datetime(value: str) -> datetime | None:
    """dateutil's forgiving parser for non-ISO timestamps ("Tue, 03 Sep 2024 04:03:19 GMT")."""
    from dateutil import parser as date_parser

    try:
        return date_parser.parse(value, fuzzy=False)
    except (ValueError, OverflowError, TypeError):
        return None


def format_utc(moment: datetime | None) -> str | None:
    """ISO-8601 in UTC with a Z suffix."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def first_date(candidates) -> datetime | None:
    """The first candidate string that parses as a date."""
    for value in candidates:
        parsed = parse_datetime(value) if value else None
        if parsed:
            return parsed
    return None


def time_element_dates(tree, prop: str) -> list[str]:
    """datetime attributes of <time> elements, itemprop-marked ones first."""
    marked = TIME_ELEMENT_DATES(tree, prop=prop)
    plain = PLAIN_TIME_DATES(tree)[:3] if prop == "datePublished" else []
    return [*marked, *plain]


def date_from_url(url: str | None) -> datetime | None:
    """A /2024/09/03/ (or 20240903) date in the article URL, as midnight UTC."""
    if not url:
        return None
    path = urlsplit(url).path
    match = URL_DATE.search(path) or URL_COMPACT_DATE.search(path)
    if not match:
        return None
    try:
        return datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)), tzinfo=timezone.utc)
    except ValueError:
        return None


def htmldate_fallback(tree, url: str | None) -> datetime | None:
    """htmldate's heuristic search over the page, used only when no explicit date exists."""
    from htmldate import find_date

    try:
        found = find_date(tree, url=url, original_date=True, outputformat="%Y-%m-%dT%H:%M:%S%z")
    except (ValueError, TypeError) as exc:  # htmldate raises on malformed trees
        LOGGER.debug("htmldate failed: %s", exc)
        return None
    return parse_datetime(found) if found else None


def choose_dates(tree, meta: dict, ld: dict, url: str | None) -> tuple[str | None, str | None]:
    """(published_at, modified_at) as UTC ISO strings."""
    declared = [jsonld_text(ld.get("datePublished")), jsonld_text(ld.get("dateCreated"))] + [meta.get(k) for k in PUBLISHED_META]
    published = first_date(declared) or first_date(time_element_dates(tree, "datePublished"))
    published = published or date_from_url(url) or htmldate_fallback(tree, url)
    modified = first_date([jsonld_text(ld.get("dateModified"))] + [meta.get(k) for k in MODIFIED_META])
    modified = modified or first_date(time_element_dates(tree, "dateModified"))
    return format_utc(published), format_utc(modified)


def absolute_url(value: str | None, base: str | None) -> str | None:
    """value made absolute against base; None when empty or not http(s)."""
    value = clean_space(value)
    if not value:
        return None
    joined = urljoin(base, value) if base else value
    return joined if joined.startswith(("http://", "https://")) else None


def choose_canonical(tree, meta: dict, url: str | None) -> str | None:
    """<link rel=canonical>, else og:url, else the page URL, made absolute."""
    links = CANONICAL_LINKS(tree)
    for value in [*links, meta.get("og:url")]:
        found = absolute_url(value, url)
        if found:
            return found
    return url


def choose_image(meta: dict, ld: dict, base: str | None) -> str | None:
    """The top image: og:image, twitter:image, or the JSON-LD image."""
    for value in (meta.get("og:image"), meta.get("og:image:url"), meta.get("twitter:image"), meta.get("twitter:image:src"), jsonld_text(ld.get("image"))):
        found = absolute_url(value, base)
        if found:
            return found
    return None


def choose_site_name(meta: dict, ld: dict) -> str | None:
    """og:site_name, else the JSON-LD publisher, else application-name."""
    for value in (meta.get("og:site_name"), jsonld_text(ld.get("publisher")), meta.get("application-name")):
        value = (value or "").lstrip("@").strip()
        if value and "://" not in value and not value.startswith("www."):  # some sites put their URL here
            return value
    return None


def choose_summary(meta: dict, ld: dict) -> str | None:
    """The page's own description of the article."""
    for value in (meta.get("og:description"), meta.get("description"), meta.get("twitter:description"), jsonld_text(ld.get("description"))):
        if value:
            return value
    return None


def read_html_language(tree, meta: dict) -> str | None:
    """The declared language (<html lang>, content-language, og:locale) as a two-letter code."""
    root = tree.getroottree().getroot() if hasattr(tree, "getroottree") else tree
    for value in (root.get("lang"), root.get("xml:lang"), meta.get("content-language"), meta.get("og:locale")):
        code = LANGUAGE_CODE.match(value or "")
        if code:
            return code.group(1).lower()
    return None


def host_names(url: str | None) -> list[str]:
    """Outlet-like names derived from a URL host ("www.nytimes.com" -> "nytimes")."""
    host = urlsplit(url).hostname if url else None
    if not host:
        return []
    labels = [p for p in host.split(".") if p not in ("www", "m", "amp", "com", "co", "org", "net", "uk", "au", "in", "za")]
    return labels[:1]


def read_page_meta(tree, url: str | None = None) -> PageMeta:
    """All metadata of a parsed page (``tree`` is an lxml HTML element)."""
    meta = read_meta_tags(tree)
    ld = find_article_jsonld(tree, meta.get("og:title") or clean_space(tree.findtext(".//title")))
    canonical = choose_canonical(tree, meta, url)
    site_name = choose_site_name(meta, ld)
    outlets = [site_name or "", jsonld_text(ld.get("publisher")), *host_names(canonical or url)]
    published, modified = choose_dates(tree, meta, ld, canonical or url)
    return PageMeta(
        title=choose_title(tree, meta, ld, outlets),
        authors=choose_authors(tree, meta, ld, outlets),
        published_at=published,
        modified_at=modified,
        summary=choose_summary(meta, ld),
        image=choose_image(meta, ld, canonical or url),
        canonical_url=canonical,
        site_name=site_name,
        html_language=read_html_language(tree, meta),
        outlets=[o for o in outlets if o],
    )


def parse_html_tree(text: str):
    """An lxml HTML tree for text (helper for tests and callers without a tree)."""
    return lxml_html.document_fromstring(text)
