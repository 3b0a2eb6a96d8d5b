"""Replies longer than a platform's limit, split where a reader expects a break.

Platforms cap one text message (WhatsApp and Telegram 4096 characters, LINE 5000). A longer
reply is cut at the last paragraph or line break that fits, else after the last sentence
end, else at the last space, and only as a last resort inside a word; parts keep their order
and lose no character but the whitespace at the cut.
"""

from __future__ import annotations

import re

# A sentence ends with . ! ? (or their full-width forms, or the Thai/Devanagari stops) and
# the space after it.
_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f\u0e2f\u0964]['\")\]]*\s+")


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters (one part when it fits)."""
    if limit < 1:
        raise ValueError("limit must be positive")
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut(rest, limit)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            parts.append(head)
    if rest:
        parts.append(rest)
    return parts


def _cut(text: str, limit: int) -> int:
    window = text[: limit + 1]  # a break right after the limit still leaves a full part
    for breaker in ("\n\n", "\n"):
        at = window.rfind(breaker, 1, limit + 1)
        if at > limit // 4:
            return at
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.start() < limit]
    if ends and ends[-1] > limit // 4:
        return min(ends[-1], limit)
    at = window.rfind(" ", 1, limit + 1)
    if at > 0:
        return at
    return limit
