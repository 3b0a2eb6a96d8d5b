"""Demo conversations on the offline planner (no model configured), in three languages."""

from __future__ import annotations

from typing import Any

from tests.conftest import CHANNEL, send


def test_vietnamese_lead_is_answered_qualified_and_handed_to_sales(client: Any) -> None:
    first = send(client, "Gói chăm sóc da mặt giá bao nhiêu?", contact="vi-1", locale="vi")
    assert first["reply"]["language"] == "vi"
    assert "600,000 VND" in first["reply"]["text"]  # grounded in the demo knowledge base
    assert first["actions"] == [{"type": "fields_updated", "fields": {"service": "facial"}}]

    second = send(client, "Mình muốn đặt lịch ở chi nhánh Sài Gòn", contact="vi-1")
    types = [a["type"] for a in second["actions"]]
    assert types == ["fields_updated", "lifecycle_stage_changed"]
    assert second["contact"]["lifecycle_stage"] == "Hot Lead"
    assert second["contact"]["fields"]["branch"] == "ho chi minh city"

    third = send(client, "ngày mai nhé", contact="vi-1")
    assert third["contact"]["fields"]["preferred_date"] == "2026-11-23"
    handoff = [a for a in third["actions"] if a["type"] == "handoff"]
    assert handoff and handoff[0]["team"] == "sales"
    assert "facial" in handoff[0]["summary"] and "2026-11-23" in handoff[0]["summary"]
    assert "Sales" in third["reply"]["text"]

    contact = client.get("/v1/contacts/vi-1", headers=CHANNEL).json()
    assert contact["owner"] == "human" and contact["assigned_to"] == "sales"
    assert [c["to_stage"] for c in contact["stage_history"]] == ["New Lead", "Hot Lead"]
    assert contact["stage_history"][1]["model"] == "offline-planner"


def test_thai_question_then_request_for_a_person(client: Any) -> None:
    first = send(client, "ทำเลเซอร์กำจัดขนราคาเท่าไหร่คะ", contact="th-1", locale="th")
    assert first["reply"]["language"] == "th"
    assert "1,500" in first["reply"]["text"]
    second = send(client, "ขอคุยกับเจ้าหน้าที่ได้ไหมคะ", contact="th-1")
    assert [a["type"] for a in second["actions"]] == ["handoff"]
    assert second["reply"]["language"] == "th"
    assert "ทีม" in second["reply"]["text"]


def test_english_greeting_faq_and_unknown_question_hands_off(client: Any) -> None:
    hello = send(client, "Hi there", contact="en-1", locale="en")
    assert hello["reply"]["language"] == "en"
    assert "Thanks for messaging" in hello["reply"]["text"]
    hours = send(client, "What are your opening hours in KL?", contact="en-1")
    assert "10:00" in hours["reply"]["text"]
    unknown = send(client, "Do you sell second-hand cars?", contact="en-1")
    assert [a["type"] for a in unknown["actions"]] == ["handoff"]
    assert "not sure" in unknown["reply"]["text"]


def test_lost_intents_mark_the_right_lost_stage(client: Any) -> None:
    competitor = send(client, "no thanks, I already booked at another clinic", contact="en-2")
    assert competitor["actions"][0]["type"] == "lead_lost"
    assert competitor["contact"]["lifecycle_stage"] == "Lost to Competitor"
    spam = send(client, "Earn $5000 a week from home, click bit.ly/xyz", contact="en-3")
    assert spam["contact"]["lifecycle_stage"] == "Unqualified"
    cold = send(client, "not interested anymore, stop messaging me", contact="en-4")
    assert cold["contact"]["lifecycle_stage"] == "Cold Lead"
    assert cold["actions"][0]["evidence"] == "not interested anymore, stop messaging me"


def test_expired_promotion_is_not_used(client: Any) -> None:
    body = send(client, "Is the October acne treatment promotion still on?", contact="en-5")
    assert "30%" not in body["reply"]["text"]
