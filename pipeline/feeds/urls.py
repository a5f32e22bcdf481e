"""Deduplication: URL canonicalisation (one story, one canonical URL, one document id).

Feeds link the same story with different tracking parameters, default ports, fragments, relative
links and redirect wrappers. :func:`canonical_url` folds those variants into one string whose
``pipeline.store.documents.doc_id`` keys the article everywhere.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that identify a campaign or click, never the content.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
        "cmpid", "cmp", "ocid", "ncid", "ito", "sr_share", "smid", "smtyp", "taid", "ref_src", "ref_url",
        "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "rss", "feedtype",
        "spm", "wt.mc_id", "cid_source", "__twitter_impression", "at_medium", "at_campaign",
        "at_custom1", "at_custom2", "at_custom3", "at_custom4", "xtor", "s_cid", "trk", "utm",
        "via", "rss_source", "ns_mchannel", "ns_source", "ns_campaign",
        "ns_linkname", "ns_fee",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "hsa_", "mtm_", "piwik_", "vero_", "itm_", "ga_")


# Query parameters of redirect wrappers (news.example/redirect?url=https://...) carrying the target.
WRAPPER_PARAMS = ("url", "u", "q", "target", "dest", "destination", "redirect", "redirect_url", "to", "link", "r")
DEFAULT_PORTS = {"http": 80, "https": 443}
ABSOLUTE_URL = re.compile(r"^https?://", re.IGNORECASE)
MAX_UNWRAP = 3


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only track clicks or campaigns."""
    lower = name.lower()
    return lower in TRACKING_PARAMS or lower.startswith(TRACKING_PREFIXES)


def unwrap_redirect(url: str) -> str:
    """The target of a redirect wrapper (``/redirect?url=https://...``), else the URL itself."""
    for _ in range(MAX_UNWRAP):
        query = urlsplit(url).query
        if not query:
            return url
        params = dict((k.lower(), v) for k, v in parse_qsl(query, keep_blank_values=True))
        target = next((params[p] for p in WRAPPER_PARAMS if ABSOLUTE_URL.match(params.get(p, ""))), None)
        if target is None:
            return url
        url = target.strip()
    return url


def normalise_host(netloc_host: str) -> str:
    """Lower-case host, IDNA-encoded when it is not ASCII, without a trailing dot."""
    host = netloc_host.lower().rstrip(".")
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return host


def normalise_path(path: str) -> str:
    """Path with a leading slash and consistent percent-encoding (unsafe characters quoted)."""
    if not path:
        return "/"
    return quote(unquote(path), safe="/:@!$&'()*+,;=-._~%")


def canonical_query(query: str) -> str:
    """The query without tracking parameters, sorted by name then value."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not is_tracking_param(k)]
    return urlencode(sorted(pairs), doseq=True)


def canonical_url(url: str, base: str | None = None) -> str | None:
    """The canonical form of ``url`` (resolved against ``base``), or None when it is not http(s)."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if base:
        url = urljoin(base, url)
    url = unwrap_redirect(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = normalise_host(parts.hostname)
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # Credentials never belong in a canonical URL; fragments never reach the server.
    return urlunsplit((scheme, netloc, normalise_path(parts.path), canonical_query(parts.query), ""))
