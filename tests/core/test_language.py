"""Reply language for messages a statistical detector alone gets wrong."""

from __future__ import annotations

import pytest

from agent_service.core.language import detect_language


@pytest.mark.parametrize(
    ("text", "fallback", "expected"),
    [
        ("gia tri mun bao nhieu vay shop", "en", "vi"),  # Vietnamese without accents
        ("co ship ve ha noi ko shop", "en", "vi"),
        ("giá laser bao nhiêu", "en", "vi"),
        ("harga brp ya", "en", "ms"),  # chat Malay
        ("Saya nak tempah untuk hari sabtu", "en", "ms"),
        ("ทำเลเซอร์ราคาเท่าไหร่คะ", "en", "th"),
        ("facial ที่ KL ราคาเท่าไหร่", "en", "th"),  # Thai with English words
        ("How much is the basic facial in KL?", "vi", "en"),
        ("ok", "vi", "vi"),  # too short: the conversation's language
        ("hello", "vi", "vi"),
        ("Penang", "en", "en"),
        ("John Tan", "ms", "ms"),
    ],
)
def test_reply_language(text: str, fallback: str, expected: str) -> None:
    assert detect_language(text, fallback) == expected
