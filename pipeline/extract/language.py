"""The one language decision: made at extraction (``Article.language``), used again by enrichment.

    detect_language(text, declared)   py3langid's guess when the text is long enough and it is sure,
                                      else the declared language (the page's lang attribute), else None
    is_english(language)              whether enrichment (an English model) should analyse the text

Light on purpose: py3langid is imported when first needed, so extraction and enrichment both import
this module without pulling in each other.
"""

from __future__ import annotations

from functools import lru_cache

# A language guess on less text than this is noise; the declared language is used instead.
MIN_LANGUAGE_CHARS = 200
LANGUAGE_SAMPLE_CHARS = 800  # agrees with a 5,000-character sample on every dev page, at a quarter of the cost


# Below this probability the guess is not used: sports result tables ("Partizan 4 3 1 0") come out as
# Nigerian Pidgin or Shona at 0.25-0.65, while all but two of the ~200 dev-set articles (in 20 languages)
# score above 0.995; those two (0.68, 0.86) keep their page's declared language.
LANGUAGE_CONFIDENCE = 0.99
ENGLISH = "en"


@lru_cache(maxsize=1)
def language_identifier():
    """py3langid's full model with normalised probabilities, built once."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, declared: str | None = None) -> str | None:
    """py3langid's guess on the text when there is enough of it and it is sure, else ``declared``."""
    if len(text) < MIN_LANGUAGE_CHARS:
        return declared
    code, probability = language_identifier().classify(text[:LANGUAGE_SAMPLE_CHARS])
    return code if probability >= LANGUAGE_CONFIDENCE else declared


def is_english(language: str | None) -> bool:
    """True for English and for an unknown language (the model is English: unknown is analysed)."""
    if not isinstance(language, str) or not language:
        return True
    return language.split("-")[0].lower() == ENGLISH
