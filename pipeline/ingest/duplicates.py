"""Near-duplicate (wire copy) grouping by content fingerprint (:mod:`pipeline.store.fingerprint`).

A 64-bit SimHash over word 3-shingles; copies of one wire story differ in a few bits. Four 16-bit
bands are indexed as keywords, so candidates are found with one terms query (two fingerprints within
3 bits share at least one band), then confirmed by Hamming distance.
"""

from __future__ import annotations

from pipeline.store.client import es_boundary

MAX_DISTANCE = 3


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex fingerprints."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def find_group(candidates: list[dict], fingerprint: str) -> str | None:
    """The duplicate group of the closest candidate within MAX_DISTANCE bits."""
    best = None
    for cand in candidates:
        if cand.get("fingerprint"):
            distance = hamming(cand["fingerprint"], fingerprint)
            if distance <= MAX_DISTANCE and (best is None or distance < best[0]):
                best = (distance, cand.get("duplicate_group") or cand["_id"])
    return best[1] if best else None


def candidate_query(doc: dict) -> dict:
    """Other documents sharing at least one fingerprint band with ``doc``."""
    return {"bool": {"filter": [{"terms": {"fingerprint_bands": doc["fingerprint_bands"]}}],
                     "must_not": [{"ids": {"values": [doc["_id"]]}}]}}


def find_candidates(es, settings, docs: list[dict]) -> list[list[dict]]:
    """Indexed near-duplicate candidates of each doc, in one multi-search round trip."""
    searches = []
    for doc in docs:
        searches += [{"index": settings.articles_alias},
                     {"size": 20, "_source": ["fingerprint", "duplicate_group"], "query": candidate_query(doc)}]
    responses = es.msearch(searches=searches)["responses"] if searches else []
    return [[{"_id": h["_id"], **h["_source"]} for h in resp.get("hits", {}).get("hits", [])] for resp in responses]


@es_boundary
def assign_duplicate_groups(es, settings, docs: list[dict]) -> None:
    """Set ``duplicate_group`` on each doc: an earlier near-duplicate's group, else its own id."""
    for doc in docs:
        doc.setdefault("duplicate_group", doc["_id"])
    printed = [doc for doc in docs if doc.get("fingerprint")]
    seen: list[dict] = []
    for doc, candidates in zip(printed, find_candidates(es, settings, printed)):
        doc["duplicate_group"] = find_group(candidates + seen, doc["fingerprint"]) or doc["_id"]
        seen.append({"_id": doc["_id"], "fingerprint": doc["fingerprint"], "duplicate_group": doc["duplicate_group"]})
