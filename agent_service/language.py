"""Which language the customer writes in, so the reply can use the same one."""

from __future__ import annotations

from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

SUPPORTED = {"en": "English", "vi": "Vietnamese", "th": "Thai", "ms": "Malay"}
_CODES = {
    Language.ENGLISH: "en",
    Language.VIETNAMESE: "vi",
    Language.THAI: "th",
    Language.MALAY: "ms",
    Language.INDONESIAN: "ms",  # close enough to answer in Malay
}
_MIN_CONFIDENCE = 0.6


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(*_CODES).with_preloaded_language_models().build()


def detect_language(text: str, fallback: str) -> str:
    """The language code of ``text``, or ``fallback`` when the text is too short to tell."""
    if any("\u0e00" <= c <= "\u0e7f" for c in text):
        return "th"
    letters = sum(c.isalpha() for c in text)
    if letters < 4:
        return fallback
    values = _detector().compute_language_confidence_values(text)
    if not values or values[0].value < _MIN_CONFIDENCE:
        return fallback
    return _CODES.get(values[0].language, fallback)


def language_name(code: str) -> str:
    return SUPPORTED.get(code, "English")
