"""The call-back fallback keeps what it asks for: when no team can take a handoff, the customer
is asked for a phone number or e-mail, and the one they send is stored on the contact (E.164),
written into the handoff the team reads, sent to the messaging layer as an action, and
confirmed in the customer's language. Everything else they send meanwhile stays silent.

Through HTTP on a real socket (uvicorn, real storage), with the offline planner and with a
scripted chat model; only the API is read, so the file also runs on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_service.testing.scripted_chat_model import ScriptedChatModel, reply, tool_call
from tests.conftest import ADMIN, CHANNEL
from tests.reliability.harness import CallbackReceiver, LiveServer, live_server, wait_until

ASYNC = {**CHANNEL, "Prefer": "respond-async"}
_ids = count(1)

# Requests for a person the demo's intent examples know, one per language.
ASK_FOR_PERSON = {
    "en": "can I talk to a real person?",
    "vi": "Cho mình gặp nhân viên tư vấn với",
    "th": "ขอคุยกับพนักงานหน่อยครับ",
    "ms": "Boleh saya cakap dengan staf?",
}
THANKS = {"en": "Thank you", "vi": "Cảm ơn", "th": "ขอบคุณ", "ms": "Terima kasih"}


@dataclass(frozen=True)
class Case:
    contact: str
    locale: str | None
    language: str  # of the conversation, and so of the confirmation
    text: str  # the customer's answer to "leave your phone number or e-mail"
    phone: str | None  # E.164 expected on the contact
    email: str | None = None


CASES = [
    Case("vi-intl", "vi", "vi", "Số của mình là +84 90 123 4567 nhé", "+84901234567"),
    Case("vi-spaces", "vi", "vi", "0909 123 456", "+84909123456"),
    Case(
        "vi-dashes",
        "vi",
        "vi",
        "sđt của mình 090-912-3456, gọi buổi sáng giúp mình",
        "+84909123456",
    ),
    Case("vi-dots", "vi", "vi", "số mình: 0909.123.456", "+84909123456"),
    Case("th-local", "th", "th", "เบอร์ 081-234-5678 ค่ะ", "+66812345678"),
    Case("th-glued", "th", "th", "โทรมาที่เบอร์0891234567ได้เลยค่ะ", "+66891234567"),
    Case("th-intl", "th", "th", "+66 81 234 5678", "+66812345678"),
    Case("ms-intl", "ms", "ms", "Boleh hubungi saya di +60 12-345 6789", "+60123456789"),
    Case("ms-local", "ms", "ms", "nombor saya 012-345 6789", "+60123456789"),
    Case("sg", "en-SG", "en", "you can reach me at +65 9123 4567 after 6pm", "+6591234567"),
    # No region in the locale, none in the language: the team's time zone (Kuala Lumpur).
    Case("en-brackets", "en", "en", "my number is (012) 345 6789", "+60123456789"),
    Case(
        "vi-email",
        "vi",
        "vi",
        "email của mình là Lan.Nguyen@Example.VN nhé",
        None,
        email="Lan.Nguyen@example.vn",
    ),
]
# Numbers that are not a phone number, sent while the call-back waits for one.
NOT_A_PHONE = [
    "giá 1.500.000đ phải không?",  # a price
    "mã đơn hàng 0909123456",  # an order id with a mobile number's shape
    "order #100234567",
    "my order is 0123456789",
    "đặt lịch ngày 22/11/2026 nhé",  # a date
    "2026-11-28 10:30",
    "năm 2026",  # a year
    "harga RM 1200?",
    "ราคา 1,500 บาท ใช่ไหม",
]


def body(text: str, contact: str, locale: str | None) -> dict[str, Any]:
    """A message from a contact whose channel gave no phone number (a web chat, say)."""
    return {
        "message_id": f"cb.{next(_ids)}",
        "channel": "webchat",
        "contact": {"id": contact, "name": "Lan", "locale": locale},
        "text": text,
        "sent_at": "2026-11-22T06:00:00Z",
    }


@contextmanager
def closed_service(data_dir: Path, **kwargs: Any) -> Iterator[tuple[LiveServer, httpx.Client]]:
    """The service with every team unavailable (nobody online), so handoffs ask for a call-back."""
    with live_server(data_dir, **kwargs) as server, httpx.Client(timeout=120) as http:
        for team in http.get(f"{server.url}/v1/teams", headers=ADMIN).json():
            assert team["fallback"] == "collect_contact"
            signal = http.post(
                f"{server.url}/v1/teams/{team['id']}/availability",
                json={"online_agents": 0},
                headers=CHANNEL,
            )
            assert signal.status_code == 200 and signal.json()["available_now"] is False
        yield server, http


def send(server: LiveServer, http: httpx.Client, text: str, contact: str, locale: str | None):  # type: ignore[no-untyped-def]
    answer = http.post(
        f"{server.url}/v1/messages", json=body(text, contact, locale), headers=CHANNEL
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def contact_of(server: LiveServer, http: httpx.Client, contact: str) -> dict[str, Any]:
    found = http.get(f"{server.url}/v1/contacts/{contact}", headers=CHANNEL)
    assert found.status_code == 200, found.text
    result: dict[str, Any] = found.json()
    return result


def said_back(reply: str) -> list[str]:
    """The international numbers a reply quotes, as digits (however it groups them)."""
    return ["+" + re.sub(r"\D", "", n) for n in re.findall(r"\+\d[\d ().-]*\d", reply)]


def asked_for_callback(answer: dict[str, Any]) -> None:
    """The handoff went to an unavailable team, and the customer was asked for a number."""
    handoff = next(a for a in answer["actions"] if a["type"] == "handoff")
    assert "call-back requested" in handoff["reason"]
    assert answer["contact"]["owner"] == "human"


def test_the_number_sent_after_the_callback_question_is_kept_in_every_format(
    data_dir: Path,
) -> None:
    with closed_service(data_dir) as (server, http):
        for case in CASES:
            first = send(server, http, ASK_FOR_PERSON[case.language], case.contact, case.locale)
            asked_for_callback(first)
            assert first["reply"]["language"] == case.language, (case, first["reply"])
            assert contact_of(server, http, case.contact)["phone"] is None

            answer = send(server, http, case.text, case.contact, case.locale)

            assert answer["status"] == "replied", (case, answer)
            text = answer["reply"]["text"]
            assert answer["reply"]["language"] == case.language, (case, text)
            assert text.startswith(THANKS[case.language]), (case, text)
            assert "Customer Care" in text, (case, text)
            assert said_back(text) == ([case.phone] if case.phone else []), (case, text)
            assert case.email is None or case.email in text, (case, text)
            assert answer["usage"]["brain"] == "callback-contact"
            assert {"type": "callback_contact", "team": "support", "phone": case.phone,
                    "email": case.email} in answer["actions"]  # fmt: skip
            assert answer["contact"]["owner"] == "human"  # still the humans' conversation
            stored = contact_of(server, http, case.contact)
            assert stored["phone"] == case.phone, (case, stored)
            assert stored["email"] == case.email, (case, stored)
            summary = stored["handoffs"][-1]["summary"]
            assert len(stored["handoffs"]) == 1 and stored["handoffs"][-1]["released_at"] is None
            wanted = f"phone {case.phone}" if case.phone else f"e-mail {case.email}"
            assert f"\nCall back: {wanted}" in summary, (case, summary)

            # Details given: the conversation is the humans' again, as before.
            later = send(
                server, http, "ok, cảm ơn / thanks 0912 345 678", case.contact, case.locale
            )
            assert later["status"] == "silent" and later["reply"] is None
            assert contact_of(server, http, case.contact)["phone"] == case.phone


def test_prices_order_ids_and_dates_are_not_taken_for_a_phone_number(data_dir: Path) -> None:
    # Eleven messages from one contact, answered in well under a second: more than the
    # default contact burst (10, then 2/s) lets through. This test is about reading numbers,
    # not about the limit (tests/api/routes/test_rate_limits.py), so the burst is raised.
    with closed_service(data_dir, contact_burst=50) as (server, http):
        asked_for_callback(send(server, http, ASK_FOR_PERSON["vi"], "neg-1", "vi"))
        for text in NOT_A_PHONE:
            answer = send(server, http, text, "neg-1", "vi")
            assert answer["status"] == "silent" and answer["reply"] is None, (text, answer)
            assert answer["actions"] == []
            stored = contact_of(server, http, "neg-1")
            assert stored["phone"] is None and stored["email"] is None, (text, stored)
            assert "Call back:" not in stored["handoffs"][-1]["summary"], text
        # Still waiting for the number: the real one is taken.
        answer = send(server, http, "à số mình là 0909 123 456", "neg-1", "vi")
        assert answer["status"] == "replied"
        assert said_back(answer["reply"]["text"]) == ["+84909123456"]
        assert contact_of(server, http, "neg-1")["phone"] == "+84909123456"


def test_once_a_person_takes_the_conversation_the_agent_stays_silent(data_dir: Path) -> None:
    with closed_service(data_dir) as (server, http):
        for contact in ("taken", "waiting"):
            asked_for_callback(send(server, http, ASK_FOR_PERSON["en"], contact, "en-MY"))
        event = {"type": "human_assigned", "event_id": "ev-taken", "team": "support"}
        assigned = http.post(f"{server.url}/v1/contacts/taken/events", json=event, headers=CHANNEL)
        assert assigned.status_code == 200, assigned.text

        taken = send(server, http, "my number is 012-345 6789", "taken", "en-MY")
        assert taken["status"] == "silent", "a person has the conversation: they talk"
        assert contact_of(server, http, "taken")["phone"] is None
        # The same words where nobody took the conversation yet: kept and confirmed.
        waiting = send(server, http, "my number is 012-345 6789", "waiting", "en-MY")
        assert waiting["status"] == "replied" and waiting["reply"]["language"] == "en"
        assert contact_of(server, http, "waiting")["phone"] == "+60123456789"


def test_a_number_given_with_the_request_is_kept_at_once(data_dir: Path) -> None:
    with closed_service(data_dir) as (server, http):
        answer = send(
            server, http, "Please have someone call me back at 012-334 8821.", "now", "en"
        )
        asked_for_callback(answer)
        text = answer["reply"]["text"]
        assert said_back(text) == ["+60123348821"] and "phone number or e-mail" not in text, text
        assert {"type": "callback_contact", "team": "support", "phone": "+60123348821",
                "email": None} in answer["actions"]  # fmt: skip
        stored = contact_of(server, http, "now")
        assert stored["phone"] == "+60123348821"
        assert "\nCall back: phone +60123348821" in stored["handoffs"][-1]["summary"]


def handoff_step() -> Any:
    return reply(
        "A colleague will answer you right away!",
        tool_call(
            "handoff_to_human",
            reason="the customer asks for a person",
            summary="Lan wants to talk to a person about a booking",
        ),
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_with_a_model_the_number_is_kept_without_asking_it_again(data_dir: Path, mode: str) -> None:
    model = ScriptedChatModel(steps=[handoff_step(), handoff_step()])
    receiver = CallbackReceiver()
    with receiver.running() as hook, closed_service(data_dir, chat_model=model) as (server, http):
        first = send(server, http, "có ai tư vấn trực tiếp không ạ?", "llm-1", "vi")
        asked_for_callback(first)
        assert "right away" not in first["reply"]["text"]
        assert first["reply"]["language"] == "vi" and "số điện thoại" in first["reply"]["text"]

        message = body("số của mình 0909 123 456 nha", "llm-1", "vi")
        if mode == "sync":
            answer = http.post(f"{server.url}/v1/messages", json=message, headers=CHANNEL).json()
        else:
            saved = http.put(
                f"{server.url}/v1/workspaces/current/delivery",
                json={"callback_url": hook},
                headers=ADMIN,
            )
            assert saved.status_code == 200, saved.text
            ack = http.post(f"{server.url}/v1/messages", json=message, headers=ASYNC)
            assert ack.status_code == 202, ack.text
            wait_until(lambda: len(receiver.delivered()) == 1, timeout=60)
            answer = receiver.delivered()[0]["response"]
        assert answer["status"] == "replied"
        assert answer["reply"]["text"].startswith("Cảm ơn")
        assert said_back(answer["reply"]["text"]) == ["+84909123456"]
        assert {"type": "callback_contact", "team": "support", "phone": "+84909123456",
                "email": None} in answer["actions"]  # fmt: skip
        assert len(model.calls) == 1, "the model is not asked to read a phone number"
        stored = contact_of(server, http, "llm-1")
        assert stored["phone"] == "+84909123456"
        assert "\nCall back: phone +84909123456" in stored["handoffs"][-1]["summary"]

        # The number with the request: the model hands off, the number is kept in that turn.
        now = send(server, http, "nak cakap dengan staf, telefon saya 012-345 6789", "llm-2", "ms")
        asked_for_callback(now)
        assert now["reply"]["text"].startswith("Terima kasih"), now["reply"]
        assert said_back(now["reply"]["text"]) == ["+60123456789"]
        assert contact_of(server, http, "llm-2")["phone"] == "+60123456789"
        model.assert_all_used()
