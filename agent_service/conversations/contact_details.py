"""A phone number or e-mail address in a customer's message, in the form a call-back needs.

After "leave your phone number or e-mail and we'll call you back" (a handoff to a team that
cannot answer now, ``teams/callback_requests.py``) the customer's next words are read for one.

Phone numbers are found and checked with ``phonenumbers`` (Google's libphonenumber metadata,
updated with every numbering-plan change): it knows which local formats are real numbers in
each country (``0909 123 456`` is a Vietnamese mobile, ``081-234-5678`` a Thai one,
``012-345 6789`` a Malaysian one), reads them with spaces, dots, dashes and brackets or inside
a sentence, and turns them into E.164 (``+84909123456``). Only numbers valid for their region
count: that alone refuses most prices (``1.500.000đ``), dates (``22/11/2026``), years and
short order numbers. What it cannot tell from the digits (an order number that happens to
have a mobile number's shape) is refused by the words around it: an order, invoice or
tracking word just before the number, letters glued to it (``ORD-0909123456``), a ``#``, or a
currency next to it.

A local number (no ``+``) means nothing without a country: ``0909123456`` is a mobile number
in Vietnam and in Thailand. ``phone_region`` decides which, from the best evidence there is,
strongest first:

1. the region in the contact's locale (``en-MY``): the messaging layer knows the customer;
2. the country of the phone number the channel gave for the contact (a WhatsApp id);
3. the customer's language where it names one country: Vietnamese is Vietnam, Thai is
   Thailand, Malay is Malaysia (Singapore numbers are written with +65 in the examples seen);
4. the time zone of the team that will call back: the workspace's own market (the demo's
   teams are in Asia/Kuala_Lumpur, so an English speaker's local number is Malaysian).

With none of these, only numbers written with their country code are taken.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from phonenumbers import Leniency, NumberParseException, PhoneNumberFormat

LANGUAGE_REGIONS = {"vi": "VN", "th": "TH", "ms": "MY"}
# The markets the product serves, by the IANA zone a team keeps its business hours in.
TIMEZONE_REGIONS = {
    "Asia/Ho_Chi_Minh": "VN",
    "Asia/Saigon": "VN",
    "Asia/Bangkok": "TH",
    "Asia/Kuala_Lumpur": "MY",
    "Asia/Kuching": "MY",
    "Asia/Singapore": "SG",
}
EMAIL_MAX, PHONE_MAX = 200, 50  # the contact's columns

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
# Words that make a number an order, invoice, booking or tracking reference: just before it, or
# a word or two before it in the same clause ("my order is ...", "mã đơn hàng là ...").
_REFERENCE = re.compile(
    r"(#[\s:-]*$|\b(order|orders|invoice|inv|ref|reference|tracking|receipt|booking id|"
    r"ma don|don hang|hoa don|van don|ma hang|pesanan|invois|rujukan|resit)\b"
    r"(?:[ \t:#-]+[^\s,;!?]+){0,2}[ \t:.#-]*$"
    r"|(คำสั่งซื้อ|เลขที่|ใบเสร็จ|พัสดุ|รหัส)[\u0e00-\u0e7f\s:#-]{0,15}$)",
    re.IGNORECASE,
)
_CURRENCY_BEFORE = re.compile(r"(rm|s\$|us\$|\$|฿|₫|vnd|thb|myr|sgd|usd)\s*$", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(
    r"^\s*(đ|₫|d\b|k\b|vnd|thb|myr|sgd|usd|rm\b|\$|฿|บาท|baht|ringgit|dong|đồng|triệu|"
    r"nghìn|ngàn|tr\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ContactDetails:
    """What the customer gave: a phone number in E.164 and/or an e-mail address."""

    phone: str | None = None
    email: str | None = None

    def __bool__(self) -> bool:
        return bool(self.phone or self.email)

    def spoken(self) -> str:
        """As a reply says it back: the number grouped for reading, then the address."""
        parts = []
        if self.phone:
            parts.append(
                phonenumbers.format_number(
                    phonenumbers.parse(self.phone), PhoneNumberFormat.INTERNATIONAL
                )
            )
        if self.email:
            parts.append(self.email)
        return " / ".join(parts)


def find_contact_details(text: str, region: str | None) -> ContactDetails:
    """The first phone number and e-mail address in ``text``; local numbers read in
    ``region`` (ISO 3166 alpha-2), or only international ones when it is None."""
    email = _find_email(text)
    # An address's digits are not a phone number ("lan0909123456@example.com").
    rest = _EMAIL.sub(" ", text)
    return ContactDetails(phone=_find_phone(rest, region), email=email)


def _find_email(text: str) -> str | None:
    for match in _EMAIL.finditer(text):
        local, _, domain = match[0].partition("@")
        address = f"{local}@{domain.lower()}"
        if len(address) <= EMAIL_MAX and ".." not in address:
            return address
    return None


def _find_phone(text: str, region: str | None) -> str | None:
    matcher = phonenumbers.PhoneNumberMatcher(text, region or "ZZ", leniency=Leniency.VALID)
    for match in matcher:
        before, after = text[: match.start], text[match.end :]
        if _is_reference(before) or _CURRENCY_BEFORE.search(before):
            continue
        if _CURRENCY_AFTER.match(after) or re.match(r"[A-Za-z0-9@]", after):
            continue
        e164 = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
        if len(e164) <= PHONE_MAX:
            return e164
    return None


def _is_reference(before: str) -> bool:
    """An order or invoice number: a reference word or ``#`` just before, or letters glued on."""
    if re.search(r"[A-Za-z][-_/]?$", before):  # ORD-0909123456, SO0909123456
        return True
    tail = before[-40:]
    return bool(_REFERENCE.search(_fold(tail)))


def _fold(text: str) -> str:
    """Lower case without Vietnamese accents ("Mã đơn" -> "ma don"), Thai untouched."""
    text = text.lower().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(
        c for c in decomposed if not (unicodedata.combining(c) and not ("\u0e00" <= c <= "\u0e7f"))
    )
    return unicodedata.normalize("NFC", kept)


def phone_region(
    locale: str | None,
    channel_phone: str | None,
    language: str | None,
    team_timezone: str | None,
) -> str | None:
    """The country a local number is read in (see the module docstring for the order)."""
    if locale:
        parts = re.split(r"[-_]", locale.strip())
        if len(parts) > 1 and re.fullmatch(r"[A-Za-z]{2}", parts[-1]):
            return parts[-1].upper()
    if channel_phone:
        try:
            parsed = phonenumbers.parse(channel_phone, None)
        except NumberParseException:
            parsed = None
        found = phonenumbers.region_code_for_number(parsed) if parsed else None
        if found and found != "ZZ":
            return found
    if language and language in LANGUAGE_REGIONS:
        return LANGUAGE_REGIONS[language]
    if team_timezone:
        return TIMEZONE_REGIONS.get(team_timezone)
    return None
