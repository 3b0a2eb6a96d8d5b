"""Which language the customer writes in, so the reply can use the same one.

Three kinds of evidence, strongest first:
1. the script: Thai letters are Thai; the letters only Vietnamese uses (đ, ơ, ư, ă and the
   stacked tone marks) are Vietnamese;
2. the words: chat Vietnamese typed without accents ("gia bao nhieu vay shop") and chat Malay
   ("brp harga, nak tanya") are full of function words a statistical detector has rarely seen
   in that form, so small lists of them vote, each word once;
3. lingua's statistical models, with Malay and Indonesian counted as one language.
A message with too little of any of them (``ok``, ``25/12``, a name) keeps the conversation's
language: the caller's ``fallback`` (the contact's language so far, else its locale).
The word lists and weights were chosen on evals/datasets/language/dev.yaml only.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from agent_service.core.language_codes import SUPPORTED

_CODES = {
    Language.ENGLISH: "en",
    Language.VIETNAMESE: "vi",
    Language.THAI: "th",
    Language.MALAY: "ms",
    Language.INDONESIAN: "ms",  # close enough to answer in Malay
}
_THAI = re.compile(r"[\u0e00-\u0e7f]")
_LATIN_WORD = re.compile(r"[^\W\d_]+")
# Letters that no other language served here writes: Vietnamese for sure.
_VIETNAMESE_ONLY = set("đăâêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹĩũ")


# Function words and chat spellings, accents removed. Only words that are rare as words of the
# other two Latin-script languages served here; ambiguous ones ("ban", "da", "mai", "in", "sale")
# are left out on purpose.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_WORDS: dict[str, frozenset[str]] = {
    "vi": _words(
        """khong ko k hok hong hem bao nhieu nhiu gia vay v zay z shop oi ak a ah nha nhe nhen
        ne nek minh mik mk em anh chi ad duoc dc dk cho hoi cua roi r chua lam muon mun dat
        lich ngay hom thang nam toi tui t bn bnh bh sao nao j gi the thi voi cung nua ha ho
        o dau day kia nay cai con mot hai ba bon sau tram trieu nghin ngan khoang tien phi
        hoc khoa lop phong xe di den ve tu luc gio may sang chieu thu tuan co vs trc sdt
        zalo ship hang giao tra coc luon nhi uh uhm oke vang da khach cac nhung ma neu lai
        ruoi chuc cam on"""
    ),
    "ms": _words(
        """saya sy aku awak anda nak tak x tidak tiada ada ke kah boleh blh bole berapa brp
        brapa harga kat dekat dkt untuk utk dengan dgn yang yg ini ni itu tu lah la je jer
        sahaja saja dah sudah belum blm lagi lg bila bile mana camne macam mcm apa apakah
        kenapa sebab sbb kalau klu kalo mahu mau nk tanya tnya terima kasih tq kereta rumah
        bayar tempah tempahan servis pakej percuma murah mahal hari esok minggu bulan tahun
        pukul jam buka tutup cawangan alamat encik cik puan tuan bagi beri hantar pos
        penghantaran barang baju kain saiz warna sekali juga pun atau dan tapi tetapi kami
        kita mereka dia nya dorang korang hang ok ka ker"""
    ),
    "en": _words(
        """the a an is are was were do does did i you we they he she it my your our their what
        how much many when where which who why can could would will should please pls plz
        thanks thank want need have has had for with about from this that these those there
        here any some price cost book booking available open close and or but not don't dont
        can't cant isn't it's im i'm me us if then also just only still yet hi hello hey u
        ur"""
    ),
}
# "a", "o", "ma" and friends are words in several languages: they vote with less weight.
_WEAK = _words("a ah o ma la ka ke i u ok oke")
# Said in any language: a short message of these keeps the conversation's language.
_UNIVERSAL = _words(
    "ok oke okay okie hi hello hey helo thanks thank tq ty noted yes yep no sure bye"
)
_SHORT = 2  # words
_WORD_WEIGHT = 0.35
_MIN_LETTERS = 4


def _strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(*_CODES).with_preloaded_language_models().build()


def language_scores(text: str) -> dict[str, float]:
    """How strongly ``text`` reads as each supported language (not probabilities)."""
    scores = dict.fromkeys(SUPPORTED, 0.0)
    for value in _detector().compute_language_confidence_values(text):
        code = _CODES.get(value.language)
        if code is not None:
            scores[code] += value.value
    words = {_strip_accents(w) for w in _LATIN_WORD.findall(text.casefold())}
    for code, vocabulary in _WORDS.items():
        for word in words & vocabulary:
            scores[code] += _WORD_WEIGHT * (0.4 if word in _WEAK else 1.0)
    return scores


def detect_language(text: str, fallback: str) -> str:
    """The language code of ``text``, or ``fallback`` when the text is too short to tell."""
    thai = len(_THAI.findall(text))
    letters = sum(c.isalpha() for c in text)
    if thai and thai * 3 >= letters:  # Thai with a few English product names is Thai
        return "th"
    lowered = text.casefold()
    if any(c in _VIETNAMESE_ONLY for c in lowered):
        return "vi"
    if letters - thai < _MIN_LETTERS:
        return fallback
    words = [_strip_accents(w) for w in _LATIN_WORD.findall(lowered)]
    if len(words) <= _SHORT and fallback in SUPPORTED and not _telling(words):
        return fallback  # "ok", "hello", "Penang", "John Tan": the conversation goes on as it was
    scores = language_scores(text)
    best = max(scores, key=lambda code: scores[code])
    ordered = sorted(scores.values(), reverse=True)
    # Weak or split evidence: keep the conversation's language.
    if ordered[0] < 0.5 or ordered[0] - ordered[1] < 0.1:
        return fallback if fallback in SUPPORTED else best
    return best


def _telling(words: list[str]) -> bool:
    """Whether a short message has a word that belongs to one language's own vocabulary."""
    return any(
        w not in _UNIVERSAL and w not in _WEAK and any(w in v for v in _WORDS.values())
        for w in words
    )


def language_name(code: str) -> str:
    return SUPPORTED.get(code, "English")
