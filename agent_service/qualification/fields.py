"""Qualification: the fields a business collects and the rule that makes a lead qualified."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, Field

from agent_service.schemas.qualification import FieldType


def fold(text: str) -> str:
    """Case- and accent-insensitive form, so 'Sài Gòn' matches 'sai gon'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("đ", "d"))
    # Thai vowels and tone marks are combining characters too: keep them.
    kept = (c for c in decomposed if not unicodedata.combining(c) or "\u0e00" <= c <= "\u0e7f")
    return unicodedata.normalize("NFC", "".join(kept))


class FieldConfig(BaseModel):
    """A qualification field: what to ask, and which answers are allowed."""

    name: str
    type: FieldType = "text"
    required: bool = True
    choices: list[str] = Field(default_factory=list)
    synonyms: dict[str, list[str]] = Field(default_factory=dict)
    question: dict[str, str] = Field(default_factory=dict)

    def question_in(self, language: str) -> str:
        return self.question.get(language) or self.question.get("en") or f"{self.name}?"

    def normalize(self, value: Any) -> str:
        """The stored form of an answer; raises ValueError saying what is allowed."""
        text = str(value).strip()
        if not text:
            raise ValueError(f"'{self.name}' must not be empty")
        if self.type == "choice":
            found = self.match_choice(text)
            if found is None:
                raise ValueError(f"'{self.name}' must be one of: {', '.join(self.choices)}")
            return found
        if self.type == "number":
            digits = re.sub(r"[^\d.]", "", text)
            if not digits:
                raise ValueError(f"'{self.name}' must be a number")
        if self.type == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
            raise ValueError(f"'{self.name}' must be an e-mail address")
        if self.type == "phone" and len(re.sub(r"\D", "", text)) < 7:
            raise ValueError(f"'{self.name}' must be a phone number")
        return text[:200]

    def match_choice(self, text: str) -> str | None:
        """The choice a piece of text names, by the choice itself or one of its synonyms."""
        folded = f" {fold(text)} "
        best: tuple[int, str] | None = None
        for choice in self.choices:
            for word in [choice, *self.synonyms.get(choice, [])]:
                needle = fold(word)
                if not needle:
                    continue
                is_thai = any("\u0e00" <= c <= "\u0e7f" for c in needle)
                hit = (
                    needle in folded
                    if is_thai
                    else re.search(rf"(?<![\w]){re.escape(needle)}(?![\w])", folded)
                )
                if hit and (best is None or len(needle) > best[0]):
                    best = (len(needle), choice)
        return best[1] if best else None


_RELATIVE_DAYS = {
    0: ["today", "hôm nay", "hom nay", "วันนี้", "hari ini"],
    1: ["tomorrow", "ngày mai", "ngay mai", "mai", "พรุ่งนี้", "esok", "besok"],
    2: ["day after tomorrow", "ngày mốt", "ngày kia", "มะรืน", "lusa"],
}
_WEEKDAYS = {
    0: ["monday", "thứ hai", "thu 2", "t2", "วันจันทร์", "isnin"],
    1: ["tuesday", "thứ ba", "thu 3", "t3", "วันอังคาร", "selasa"],
    2: ["wednesday", "thứ tư", "thu 4", "t4", "วันพุธ", "rabu"],
    3: ["thursday", "thứ năm", "thu 5", "t5", "วันพฤหัส", "khamis"],
    4: ["friday", "thứ sáu", "thu 6", "t6", "วันศุกร์", "jumaat"],
    5: ["saturday", "thứ bảy", "thu 7", "t7", "วันเสาร์", "sabtu"],
    6: ["sunday", "chủ nhật", "chu nhat", "cn", "วันอาทิตย์", "ahad"],
}


def parse_date(text: str, today: date) -> date | None:
    """A date from common chat forms: 25/11, 2026-11-25, tomorrow, ngày mai, วันเสาร์."""
    iso = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", text)
    if iso:
        try:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        except ValueError:
            return None
    dm = re.search(r"\b(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?\b", text)
    if dm:
        year = int(dm[3]) if dm[3] else today.year
        year = year + 2000 if year < 100 else year
        try:
            found = date(year, int(dm[2]), int(dm[1]))
            # Without a year, a day already past this year means next year's. 29/2 said in a
            # leap year after that day has no next year's date: it is not read as a date
            # (the question is asked again) rather than as a day four years away, which is
            # not what a customer booking an appointment means.
            return found if dm[3] or found >= today else found.replace(year=today.year + 1)
        except ValueError:
            return None
    folded = f" {fold(text)} "
    for offset in sorted(_RELATIVE_DAYS, reverse=True):
        if any(_contains_word(folded, fold(w)) for w in _RELATIVE_DAYS[offset]):
            return today + timedelta(days=offset)
    for weekday, words in _WEEKDAYS.items():
        if any(_contains_word(folded, fold(w)) for w in words):
            return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)
    return None


def parse_amount(text: str) -> float | None:
    """The first number in a text, reading 1,500 / 1.500.000 / 2k / 2 triệu as amounts."""
    found = re.search(r"(\d[\d.,]*)\s*(k|m|tr|triệu|trieu|nghìn|ngàn|ribu|juta)?", fold(text))
    if not found:
        return None
    digits = found[1]
    # Grouping separators: "1,500" and "1.500.000"; a single '.' with 1-2 decimals stays a decimal.
    if re.fullmatch(r"\d+[.,]\d{1,2}", digits):
        value = float(digits.replace(",", "."))
    else:
        value = float(re.sub(r"[.,]", "", digits) or 0)
    scale = {"k": 1e3, "nghin": 1e3, "ngan": 1e3, "ribu": 1e3, "m": 1e6, "tr": 1e6}
    scale |= {"trieu": 1e6, "juta": 1e6}
    return value * scale.get(found[2] or "", 1.0)


def _contains_word(folded: str, word: str) -> bool:
    if any("\u0e00" <= c <= "\u0e7f" for c in word):
        return word in folded
    return re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", folded) is not None


class Qualification(BaseModel):
    """The workspace's qualification fields and rule."""

    fields: list[FieldConfig] = Field(default_factory=list)
    qualified_when: list[str] = Field(default_factory=list)
    # Numeric floors, e.g. {"budget": 500}: known and at least this much.
    at_least: dict[str, float] = Field(default_factory=dict)
    qualified_stage: str | None = None
    handoff_team: str | None = None

    def field(self, name: str) -> FieldConfig | None:
        wanted = name.strip().casefold()
        return next((f for f in self.fields if f.name.casefold() == wanted), None)

    def next_missing(self, known: dict[str, Any]) -> FieldConfig | None:
        """The next field to ask for: required ones first, in the configured order."""
        for required in (True, False):
            for f in self.fields:
                if f.required == required and f.name not in known:
                    return f
        return None

    def is_qualified(self, known: dict[str, Any]) -> bool:
        if not self.qualified_when and not self.at_least:
            return False
        if not all(name in known for name in self.qualified_when):
            return False
        for name, floor in self.at_least.items():
            amount = parse_amount(str(known.get(name, "")))
            if amount is None or amount < floor:
                return False
        return True

    def extract(self, text: str, pending: str | None, today: date) -> dict[str, str]:
        """Answers a message gives: any choice it names, and the pending question's answer."""
        found: dict[str, str] = {}
        for f in self.fields:
            if f.type == "choice":
                choice = f.match_choice(text)
                if choice is not None:
                    found[f.name] = choice
            elif f.type == "date":
                parsed = parse_date(text, today)
                if parsed is not None:
                    found[f.name] = parsed.isoformat()
            elif f.type == "email":
                email = re.search(r"[^@\s]+@[^@\s]+\.[^@\s]+", text)
                if email:
                    found[f.name] = email[0]
            elif f.type == "phone":
                phone = re.search(r"\+?\d[\d\s-]{6,}\d", text)
                if phone:
                    found[f.name] = phone[0]
        pending_field = self.field(pending) if pending else None
        if pending_field and pending_field.name not in found and pending_field.type == "text":
            found[pending_field.name] = text.strip()[:200]
        if pending_field and pending_field.name not in found and pending_field.type == "number":
            number = re.search(r"\d[\d.,]*\s*\w*", text)
            if number:
                found[pending_field.name] = number[0].strip()
        return found
