"""Phone numbers and e-mail addresses in customers' words: formats of the four markets, and
the numbers that are not phone numbers (prices, order ids, dates, years)."""

from __future__ import annotations

import pytest

from agent_service.conversations.contact_details import (
    ContactDetails,
    find_contact_details,
    phone_region,
)


@pytest.mark.parametrize(
    ("region", "text", "phone"),
    [
        ("VN", "+84 90 123 4567", "+84901234567"),
        ("VN", "0909 123 456", "+84909123456"),
        ("VN", "090-912-3456", "+84909123456"),
        ("VN", "số của mình là 0909.123.456 nhé", "+84909123456"),
        ("VN", "SĐT: 0909123456", "+84909123456"),
        ("TH", "081-234-5678", "+66812345678"),
        ("TH", "+66 81 234 5678", "+66812345678"),
        ("TH", "เบอร์ 089-123-4567 ค่ะ", "+66891234567"),
        ("TH", "เบอร์0891234567ค่ะ", "+66891234567"),
        ("TH", "โทร 08 1234 5678 นะคะ", "+66812345678"),
        ("MY", "+60 12-345 6789", "+60123456789"),
        ("MY", "012-345 6789", "+60123456789"),
        ("MY", "nombor saya 012-345 6789", "+60123456789"),
        ("MY", "(012) 345 6789", "+60123456789"),
        ("MY", "my phone no. 012 345 6789", "+60123456789"),
        ("SG", "9123 4567", "+6591234567"),
        ("VN", "+65 9123 4567", "+6591234567"),  # a country code wins over the region
        ("VN", "I want to change my order, call me at 0909123456", "+84909123456"),
        (None, "+84 909 123 456", "+84909123456"),
    ],
)
def test_phone_numbers_in_every_market_format(region: str | None, text: str, phone: str) -> None:
    assert find_contact_details(text, region) == ContactDetails(phone=phone)


@pytest.mark.parametrize(
    ("region", "text"),
    [
        ("VN", "giá 1.500.000đ"),
        ("VN", "1,500,000 VND"),
        ("VN", "chuyển 0909123456đ"),
        ("VN", "2,500,000"),
        ("TH", "ราคา 1,500 บาท"),
        ("MY", "RM 1200"),
        ("MY", "harga RM 0123456789"),
        ("VN", "đơn hàng #100234567"),
        ("VN", "mã đơn 0909123456"),
        ("VN", "mã đơn hàng là 0909123456"),
        ("VN", "ORD-0909123456"),
        ("VN", "order 20241122-0042"),
        ("VN", "order number: 0909123456"),
        ("MY", "order id 0123456789"),
        ("MY", "my order is 60123456789"),
        ("MY", "booking id 0123456789"),
        ("TH", "คำสั่งซื้อ 0812345678"),
        ("TH", "คำสั่งซื้อของฉันคือ 0812345678"),
        ("VN", "22/11/2026"),
        ("VN", "2026-11-22"),
        ("VN", "ngày 22.11.2026 lúc 10:30"),
        ("VN", "năm 2026"),
        ("TH", "2567"),
        (None, "0909 123 456"),  # local, and no country to read it in
    ],
)
def test_prices_order_ids_dates_and_years_are_not_phone_numbers(
    region: str | None, text: str
) -> None:
    assert not find_contact_details(text, region)


def test_email_addresses_keep_their_local_part_and_lower_the_domain() -> None:
    found = find_contact_details("email mình là Lan.Nguyen+spa@Gmail.COM nhé", "VN")
    assert found == ContactDetails(email="Lan.Nguyen+spa@gmail.com")
    assert found.spoken() == "Lan.Nguyen+spa@gmail.com"
    # An address's digits are not a phone number.
    assert find_contact_details("lan0909123456@example.com", "VN").phone is None
    both = find_contact_details("0909 123 456 hoặc lan@example.vn", "VN")
    assert both == ContactDetails(phone="+84909123456", email="lan@example.vn")
    assert both.spoken() == "+84 909 123 456 / lan@example.vn"


def test_the_region_of_a_local_number_comes_from_the_best_evidence() -> None:
    assert phone_region("en-MY", "+66812345678", "vi", "Asia/Bangkok") == "MY"  # the locale
    assert phone_region("vi", "+66812345678", "vi", None) == "TH"  # the channel's number
    assert phone_region("vi", None, "vi", "Asia/Kuala_Lumpur") == "VN"  # the language
    assert phone_region("th_TH", None, "en", None) == "TH"
    assert phone_region(None, None, "ms", None) == "MY"
    assert phone_region("en", None, "en", "Asia/Kuala_Lumpur") == "MY"  # the team's zone
    assert phone_region("en", "not a number", "en", "Europe/Paris") is None
