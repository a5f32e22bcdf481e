"""The content fingerprint stored on every article: a SimHash of word shingles and its bands."""

from __future__ import annotations

import hashlib
import re

WORD_RE = re.compile(r"\w+", re.UNICODE)
SHINGLE = 3
MIN_WORDS = 40  # shorter texts are too small to call near-duplicates


def simhash(text: str) -> int | None:
    """The 64-bit SimHash of the text's word 3-shingles, or None for very short texts."""
    words = WORD_RE.findall(text.lower())
    if len(words) < MIN_WORDS:
        return None
    weights = [0] * 64
    for i in range(len(words) - SHINGLE + 1):
        digest = hashlib.blake2b(" ".join(words[i:i + SHINGLE]).encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "big")
        for bit in range(64):
            weights[bit] += 1 if value >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


def bands(value: int) -> list[str]:
    """Four 16-bit bands, tagged by position."""
    return [f"{i}:{value >> (16 * i) & 0xFFFF:04x}" for i in range(4)]


def fingerprint_fields(text: str) -> dict:
    """The fingerprint fields of an article document."""
    value = simhash(text or "")
    if value is None:
        return {"fingerprint": None, "fingerprint_bands": []}
    return {"fingerprint": f"{value:016x}", "fingerprint_bands": bands(value)}
