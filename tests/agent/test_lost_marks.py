"""Lost marks only on a lead's clear words, and a reply that matches what was applied.

Through HTTP on the offline planner: no hard-negative kind (a question, an objection,
hesitation, a correction, a story about another provider, a negated idiom) marks a lead lost
in any language, and the goodbye is sent only with the lost mark itself.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from agent_service.core.config import REPO_ROOT
from tests.conftest import ADMIN, CHANNEL, send

# Written for these tests: neither the intent examples nor the benchmark's cases.
HARD_NEGATIVES = {
    "question": {
        "en": "is the underarm laser really permanent?",
        "vi": "cho mình hỏi giá triệt lông nách",
        "vi-plain": "cho minh hoi gia triet long nach",
        "vi-chat": "nach 1 lan nhiu tien v shop",
        "th": "เลเซอร์รักแร้เจ็บไหมคะ",
        "ms": "laser ketiak tu sakit tak?",
    },
    "objection": {
        "en": "that's too expensive, any discount?",
        "vi": "đắt quá, có giảm giá không shop?",
        "vi-plain": "dat qua, co giam gia ko shop",
        "th": "แพงไปหน่อย มีส่วนลดไหมคะ",
        "ms": "mahal sangat, ada diskaun tak?",
    },
    "hesitation": {
        "en": "let me think about it first, maybe next month",
        "vi": "để mình suy nghĩ thêm, tháng sau nhé",
        "vi-plain": "de minh suy nghi them da",
        "th": "ขอคิดดูก่อนนะคะ เดือนหน้าอาจจะมา",
        "ms": "nanti saya fikir dulu ya, bulan depan mungkin",
    },
    "correction": {
        "en": "no, I meant the facial, not the laser",
        "vi": "không phải, ý mình là chăm sóc da mặt",
        "vi-plain": "ko phai, y minh la lam da mat",
        "th": "ไม่ใช่ค่ะ หมายถึงทำหน้า",
        "ms": "bukan itu, maksud saya facial",
    },
    "history": {
        "en": "I tried another clinic before, how are you different?",
        "vi": "trước đây mình từng làm ở spa khác, bên bạn khác gì?",
        "vi-plain": "truoc day minh tung lam o spa khac, ben ban co gi khac ko",
        "th": "เคยทำที่คลินิกอื่นมาก่อน ที่นี่ต่างกันยังไงคะ",
        "ms": "saya pernah buat kat klinik lain dulu, apa beza klinik ni?",
    },
    "negated idiom": {
        "en": "no problem, I don't mind waiting",
        "vi": "không sao đâu, mình chờ được",
        "vi-plain": "khong sao dau, minh cho dc",
        "th": "ไม่เป็นไรค่ะ รอได้",
        "ms": "takpe, saya boleh tunggu",
    },
}
CASES = [
    pytest.param(kind, language, text, id=f"{kind}-{language}")
    for kind, texts in HARD_NEGATIVES.items()
    for language, text in texts.items()
]


def _goodbyes() -> list[str]:
    phrases = yaml.safe_load((REPO_ROOT / "prompts" / "phrases.yaml").read_text("utf-8"))
    return [
        text.split("{")[0].strip()
        for key in ("not_interested", "bought_elsewhere", "spam")
        for text in phrases[key].values()
    ]


@pytest.mark.parametrize(("kind", "language", "text"), CASES)
def test_no_lost_mark_from_a_hard_negative(
    client: Any, kind: str, language: str, text: str
) -> None:
    contact = f"hard-{kind}-{language}".replace(" ", "-")
    answer = send(client, text, contact=contact)
    assert not any(a["type"] == "lead_lost" for a in answer["actions"]), answer["actions"]
    assert answer["contact"]["lost"] is False
    reply = answer["reply"]["text"]
    assert not any(goodbye and goodbye in reply for goodbye in _goodbyes()), reply
    stored = client.get(f"/v1/contacts/{contact}", headers=CHANNEL).json()
    assert stored["lost"] is False


def test_a_clear_rejection_still_marks_the_lead_lost(client: Any) -> None:
    answer = send(client, "not interested anymore, please stop messaging me", contact="rej-1")
    assert [a["type"] for a in answer["actions"]] == ["lead_lost"]
    assert answer["contact"]["lifecycle_stage"] == "Cold Lead"
    assert "No problem at all" in answer["reply"]["text"]


def _stage_id(client: Any, name: str) -> str:
    stages = client.get("/v1/stages", headers=ADMIN).json()
    return next(s["id"] for s in stages if s["name"] == name)


def test_no_goodbye_when_the_lost_mark_waits_for_approval(client: Any) -> None:
    stage = _stage_id(client, "Cold Lead")
    patched = client.patch(f"/v1/stages/{stage}", json={"requires_approval": True}, headers=ADMIN)
    assert patched.status_code == 200
    answer = send(client, "not interested anymore, please stop messaging me", contact="appr-1")
    assert not any(a["type"] == "lead_lost" for a in answer["actions"])
    assert answer["contact"]["lost"] is False
    assert "No problem at all" not in answer["reply"]["text"]
    assert answer["reply"]["text"] == "Thank you, noted."


def test_no_goodbye_when_the_lost_mark_is_refused(client: Any) -> None:
    stage = _stage_id(client, "Cold Lead")
    patched = client.patch(f"/v1/stages/{stage}", json={"ai_settable": False}, headers=ADMIN)
    assert patched.status_code == 200
    answer = send(client, "not interested anymore, please stop messaging me", contact="ref-1")
    assert not any(a["type"] == "lead_lost" for a in answer["actions"])
    assert answer["contact"]["lost"] is False
    assert "No problem at all" not in answer["reply"]["text"]
