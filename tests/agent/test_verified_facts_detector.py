"""The verified-facts detector (agent/verified_facts.py): what it finds, what it must leave
alone (prices, dates, times, short numbers in en/vi/th/ms), and how numbers and links match."""

from __future__ import annotations

import json

import pytest
import yaml

from agent_service.agent.verified_facts.editing import FactsRejected, check_facts
from agent_service.agent.verified_facts.guard import (
    find_items,
    find_links,
    find_numbers,
    parse_link,
    phone_key,
    unverified_items,
)
from agent_service.core.config import REPO_ROOT
from agent_service.workspaces.config import VerifiedFacts

DEMO = REPO_ROOT / "knowledge_base" / "demo"
FACTS = VerifiedFacts(
    payment_accounts=["Maybank 5140 1234 5678, Lotus Aesthetics Sdn Bhd"],
    phone_numbers=["+60 3-2141 8800", "028 3822 8800", "+66 2 258 8800", "6123 4567"],
    links=["https://www.lotus-aesthetics.example/", "t.me/lotus_aesthetics", "bit.ly/Lotus1"],
)


def found(text: str) -> list[tuple[str, str]]:
    return [(i.kind, i.text) for i in find_items(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # account numbers
        (
            "Transfer the deposit to account 9988776655 at QuickCash Bank.",
            [("payment_account", "9988776655")],
        ),
        (
            "Chuyển khoản vào STK 0071 0012 34567 Vietcombank, chủ TK Nguyễn Văn A.",
            [("payment_account", "0071 0012 34567")],
        ),
        ("โอนเข้าบัญชี 123-4-56789-0 ธนาคารกสิกรไทย", [("payment_account", "123-4-56789-0")]),
        ("Sila buat pindahan ke akaun 5140-1234-5678.", [("payment_account", "5140-1234-5678")]),
        ("Pay to 1234 5678 9012 3456 7890", [("payment_account", "1234 5678 9012 3456 7890")]),
        ("โอนเข้าบัญชี ๙๙๘๘๗๗๖๖๕๕ ค่ะ", [("payment_account", "๙๙๘๘๗๗๖๖๕๕")]),
        # phone numbers: MY / VN / TH / SG, international and local, spaces, dots, dashes
        (
            "Call +60 3-2141 8800 or 012-345 6789.",
            [
                ("phone_number", "+60 3-2141 8800"),
                ("phone_number", "012-345 6789"),
            ],
        ),
        (
            "Gọi 0912 345 678 hoặc 090.123.4567 hoặc (028) 3822 8800.",
            [
                ("phone_number", "0912 345 678"),
                ("phone_number", "090.123.4567"),
                ("phone_number", "(028) 3822 8800"),
            ],
        ),
        (
            "โทร02 258 8800 หรือ 081-234-5678 หรือ +66 81 234 5678",
            [
                ("phone_number", "02 258 8800"),
                ("phone_number", "081-234-5678"),
                ("phone_number", "+66 81 234 5678"),
            ],
        ),
        (
            "Call 6123 4567 or +65 9123 4567.",
            [
                ("phone_number", "6123 4567"),
                ("phone_number", "+65 9123 4567"),
            ],
        ),
        ("Call +84 (0) 28 3822 8800", [("phone_number", "+84 (0) 28 3822 8800")]),
        ("Gọi 022588800 để đặt lịch", [("phone_number", "022588800")]),
        # links
        ("Book at https://evil.example/pay?x=1.", [("link", "https://evil.example/pay?x=1")]),
        (
            "See www.Lotus-Aesthetics.com.my/booking.",
            [("link", "www.Lotus-Aesthetics.com.my/booking")],
        ),
        (
            "Join t.me/lotus_vip or wa.me/60123456789 or bit.ly/AbC12",
            [
                ("link", "t.me/lotus_vip"),
                ("link", "wa.me/60123456789"),
                ("link", "bit.ly/AbC12"),
            ],
        ),
        ("ดูที่เว็บไซต์lotus-beauty.co.th ค่ะ", [("link", "lotus-beauty.co.th")]),
    ],
)
def test_finds_accounts_phones_and_links(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # en
        "A deposit of RM 50 / 200,000 VND / 500 THB confirms your slot.",
        "The package is $1,250 or USD 1,200,000 for the clinic; S$120 in Singapore.",
        "Your order 1234567 was placed on 2026-11-25 at 10:30; ref #A12345, postcode 55100.",
        "Valid for the 2025-2026 season, 11-25-2026 and 2026/11/25, from 9 to 21.",
        "Sizes 10 12 14 16 are in stock.",
        "Open Mon-Fri 09:00-21:00, Sat 10:00-18:00.",
        "Email hello@lotus-aesthetics.example, e.g. for receipts; see Dr.Lee at 3.30pm.",
        # vi
        "Giá trị mụn 600,000 VND; gói 12.500.000 VND hoặc 12.500.000đ, hẹn 25/11/2026 lúc 9h30.",
        "Tẩy trắng răng 2.500.000 VND, gói năm 12 500 000 đồng, khuyến mãi đến 31.12.2026.",
        "Giá 1.250.000 đồng; TP.HCM, Q.1, P.Bến Nghé.",
        # th
        "ราคา 2,500 บาท หรือ 12,500,000 บาท ถึงวันที่ 25.11.2026 เวลา 10.00-18.00 น.",
        "เลเซอร์ 1 200 000 บาท ส่วนลด 20% ถึงปี 2026",
        "โปรโมชันถึงวันที่ 25.11.2569 สำหรับปี 2568-2569 เท่านั้น",
        # ms
        "Harga RM 1,250 atau RM1,250.00; RM 1 250 000 untuk pakej tahunan.",
        "Waktu operasi 10.00-18.00, 9.00 pagi - 6.00 petang, Isnin hingga Jumaat.",
        "Sdn.Bhd. di Jalan Bukit Bintang 88, 55100 Kuala Lumpur; harga 1200000-1800000 VND.",
    ],
)
def test_prices_dates_times_and_short_numbers_are_not_flagged(text: str) -> None:
    assert find_items(text) == []


def test_the_demo_faq_quotes_only_its_verified_facts() -> None:
    """Every answer of the demo FAQ passes with the demo's verified facts, in every language."""
    spec = yaml.safe_load((DEMO / "workspace.yaml").read_text("utf-8"))
    facts = check_facts(VerifiedFacts.model_validate(spec["verified_facts"]))
    rows = json.loads((DEMO / "faq.json").read_text("utf-8"))
    quoted = [r for r in rows if find_items(r["answer"])]
    assert len(quoted) == 4, "the booking-deposit entry quotes the phones in four languages"
    for row in rows:
        assert unverified_items(row["answer"], facts) == [], row["key"]
        assert unverified_items(row["question"], facts) == [], row["key"]


@pytest.mark.parametrize(
    "reply",
    [
        "Please transfer to Maybank 5140 1234 5678.",
        "Pay to 5140-1234-5678 (Lotus Aesthetics).",
        "Call +60 3-2141 8800, 03-2141 8800 or 60321418800.",
        "Gọi +84 28 3822 8800 hoặc 028.3822.8800 hoặc +84 (0)28 3822 8800.",
        "โทร 02 258 8800 หรือ +66 2-258-8800",
        "Singapore: +65 6123 4567",
        "Book at https://lotus-aesthetics.example/booking or book.lotus-aesthetics.example.",
        "Join t.me/lotus_aesthetics or t.me/lotus_aesthetics/12, bit.ly/Lotus1",
    ],
)
def test_verified_items_pass_in_any_format(reply: str) -> None:
    assert find_items(reply), "the reply does quote something"
    assert unverified_items(reply, FACTS) == []


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("Please transfer to Maybank 99 5140 1234 5678.", "payment_account"),
        ("Transfer to 5140 1234 56789.", "payment_account"),
        ("Pay to 84514012345678", "payment_account"),
        ("Call +60 3-2141 8801.", "phone_number"),
        ("Call +84 3-2141 8800.", "phone_number"),
        ("Visit lotus-aesthetics.example.evil.com/login", "link"),
        ("Visit https://lotus-aesthetics-example.com", "link"),
        ("Join t.me/lotus_aesthetics_vip", "link"),
        ("Join t.me/joinchat/abc", "link"),
        ("Open bit.ly/lotus1", "link"),
        ("Book at https://www.lotus-aesthetics.example.com", "link"),
        ("Book at lоtus-aesthetics.example.com", "link"),  # a Cyrillic "о"
    ],
)
def test_look_alikes_are_not_verified(reply: str, kind: str) -> None:
    assert [i.kind for i in unverified_items(reply, FACTS)] == [kind]


def test_the_customers_own_phone_number_may_be_said_back_but_not_as_payment_details() -> None:
    said = ["Hi, call me back on 0901 234 567 please", "My order is 12345678"]
    assert unverified_items("Sure, we'll call you on +84 901 234 567.", FACTS, said) == []
    assert unverified_items("Noted, order 12345678.", VerifiedFacts(), said)[0].kind == (
        "payment_account"
    ), "an order number is not a phone number: only phone numbers may be echoed"
    confirm = unverified_items("Yes, transfer to 0901 234 567.", FACTS, said)
    assert [i.kind for i in confirm] == ["payment_account"]
    assert unverified_items("Call 0901 234 568.", FACTS, said)[0].kind == "phone_number"


def test_digits_inside_identifiers_are_not_numbers_but_a_glued_label_is_no_disguise() -> None:
    assert find_items("turn turn_8f8e539947606285c2a8, ref ref-8f3a29481736524e") == []
    assert [i.value for i in find_items("Pay acct9988776655 now")] == ["9988776655"]
    assert [i.value for i in find_items("Pay 9988776655xyz now")] == ["9988776655"]


def test_numbers_inside_links_and_emails_are_not_numbers() -> None:
    assert find_numbers("wa.me/60321418800 or 0901234567@example.com") == []
    assert [i.value for i in find_links("wa.me/60321418800")] == ["wa.me/60321418800"]


def test_phone_keys_drop_country_code_and_trunk_zero_but_keep_the_country() -> None:
    assert phone_key("842838228800", plus=True) == phone_key("8402838228800", plus=True)
    assert phone_key("02838228800").same_line(phone_key("842838228800", plus=True))
    assert not phone_key("60321418800", plus=True).same_line(phone_key("84321418800", plus=True))
    assert phone_key("9988776655").national == "9988776655"


def test_numbers_side_by_side_pass_only_when_each_is_verified() -> None:
    facts = VerifiedFacts(phone_numbers=["0912 345 678", "0987 654 321"])
    (item,) = find_items("Hotline: 0912 345 678 - 0987 654 321")
    assert item.text == "0912 345 678 - 0987 654 321", "read as one run"
    assert unverified_items("Hotline: 0912 345 678 - 0987 654 321", facts) == []
    assert unverified_items("Hotline: 0912 345 678  0987 654 321", facts) == []
    assert unverified_items("Hotline: 0912 345 678 - 0987 654 329", facts)
    # Split to dodge the detector: still one number to the reader.
    for dodge in (
        "Transfer to 9988 - 776655",
        "Transfer to 9988  776655",
        "Transfer to 99887 76655",
    ):
        assert [i.value for i in unverified_items(dodge, facts)] == ["9988776655"], dodge


def test_parse_link_normalises_host_and_path() -> None:
    link = parse_link("HTTPS://WWW.Lotus.example/Book/?utm=1")
    assert link is not None and (link.host, link.path) == ("lotus.example", "/Book")
    assert parse_link("not a link") is None
    assert parse_link("lotus") is None


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"payment_accounts": ["Maybank, ask the front desk"]}, "payment_accounts[0]"),
        ({"phone_numbers": ["+60 123"]}, "phone_numbers[0]"),
        ({"links": ["lotus aesthetics"]}, "links[0]"),
        ({"links": ["https://t.me"]}, "anyone can publish under t.me"),
        ({"links": ["lotus.example", "wa.me"]}, "links[1]"),
    ],
)
def test_unusable_entries_are_refused_with_their_place(
    facts: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(FactsRejected, match=message.replace("[", r"\[").replace("]", r"\]")):
        check_facts(VerifiedFacts.model_validate(facts))


def test_entries_are_trimmed_and_deduplicated() -> None:
    checked = check_facts(
        VerifiedFacts(phone_numbers=[" +60 3-2141  8800 ", "+60 3-2141 8800"], links=["a.example"])
    )
    assert checked.phone_numbers == ["+60 3-2141 8800"] and checked.links == ["a.example"]
