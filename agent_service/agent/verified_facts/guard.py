"""Verified facts in replies: the account numbers, phone numbers and links a reply may quote.

A workspace lists its verified payment accounts, phone numbers and links
(``WorkspaceConfig.verified_facts``). A reply that quotes any other account number, phone
number or link (a tampered knowledge entry, a number the model made up) is replaced before it
is sent: by the verified ones of that kind, or by a handoff when the workspace has none.

What is looked for (``find_items``):

- numbers of 8 or more digits, with spaces, dots, dashes or brackets between the groups and
  an optional ``+``: a phone number when it has a phone's shape (``+60 3-2141 8800``,
  ``028 3822 8800``, ``081-234-5678``, ``6123 4567``) or a phone word before it, an account
  number otherwise or when a payment word is nearer ("account", "tài khoản", "บัญชี", "akaun").
  A long run may be several numbers side by side (``0912 345 678 - 0987 654 321``): it passes
  when it splits into numbers of 8+ digits that are all verified;
- links: ``http(s)://`` and ``www.`` addresses, and bare domains with a known top-level domain
  (``lotus.com.my``, ``t.me/x``, ``wa.me/60...``, ``bit.ly/x``).

What is not: prices (a currency next to the amount, or thousands written ``12.500.000``), dates
(``2026-11-25``, ``25.11.2026``), times and their ranges (``10.00-18.00``), year ranges
(``2025-2026``), and anything shorter than 8 digits (order numbers, postcodes, short codes).

Numbers are compared as digits: equal digits, or (for phone numbers) equal once a country code
(+60, +84, +66, +65) or a trunk ``0`` is taken off, so ``+84 28 3822 8800`` matches
``028 3822 8800``. An account number must match digit for digit: a number that merely ends
with a verified one is another account. Links match on the host (``www.`` and case aside, a
subdomain of a verified domain included) and, when the verified link has a path, on that path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from agent_service.agent.offline_planner import summarize
from agent_service.agent.toolbox import execute_tool
from agent_service.agent.tools.handoff_to_human import unavailable_team_reply

if TYPE_CHECKING:
    from agent_service.agent.context import ToolContext
    from agent_service.workspaces.config import VerifiedFacts

Kind = Literal["payment_account", "phone_number", "link"]
KINDS: tuple[Kind, ...] = ("payment_account", "phone_number", "link")
LABELS: dict[Kind, str] = {
    "payment_account": "payment account",
    "phone_number": "phone number",
    "link": "link",
}
# Why the conversation is handed to a person when there is no verified item to offer instead.
HANDOFF_REASONS: dict[Kind, str] = {
    "payment_account": "reply quoted unverified payment details",
    "phone_number": "reply quoted an unverified phone number",
    "link": "reply quoted an unverified link",
}
# The phrase (prompts/phrases.yaml) that offers the verified items, and its variable.
PHRASES: dict[Kind, tuple[str, str]] = {
    "payment_account": ("verified_payment", "accounts"),
    "phone_number": ("verified_phone", "phones"),
    "link": ("verified_link", "links"),
}

MIN_DIGITS, MAX_DIGITS = 8, 20
COUNTRY_CODES = ("60", "84", "66", "65")  # Malaysia, Vietnam, Thailand, Singapore
# Hosts anyone can publish under: verifying one needs the path (t.me/our_channel).
SHARED_HOSTS = frozenset(
    {
        "t.me",
        "wa.me",
        "m.me",
        "bit.ly",
        "tinyurl.com",
        "goo.gl",
        "t.ly",
        "cutt.ly",
        "rb.gy",
        "is.gd",
        "s.id",
        "shorturl.at",
        "lin.ee",
        "line.me",
        "zalo.me",
        "linktr.ee",
        "forms.gle",
        "facebook.com",
        "fb.com",
        "fb.me",
        "instagram.com",
        "tiktok.com",
        "youtube.com",
        "youtu.be",
        "x.com",
        "twitter.com",
        "wa.link",
        "api.whatsapp.com",
        "chat.whatsapp.com",
        "docs.google.com",
        "drive.google.com",
        "sites.google.com",
    }
)
# Link shorteners: their paths are case-sensitive.
_SHORTENERS = frozenset(
    {"bit.ly", "tinyurl.com", "goo.gl", "t.ly", "cutt.ly", "rb.gy", "is.gd", "s.id"}
)
# Top-level domains a bare domain (no http://, no www.) is recognised by. Short English words
# (in, at, to, is, be, so, do, no, us, it) are left out: "check.in" in a sentence is no link.
# The top-level domains of a workspace's verified links are added to these.
_TLDS = frozenset(
    """com net org info biz io co me ly app dev shop store online site website xyz link page top
    vip club asia live life world today news blog cc tv ai gg gl ee id my vn th sg ph kh la mm
    hk tw cn jp kr au uk eu de fr ru ca ws pro icu cyou click fun space tech cloud health
    clinic beauty spa salon skin care bio gle gd""".split()  # noqa: SIM905
)

# --- things that contain digits but are not account or phone numbers --------------------------

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SCHEME_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"'()\[\]{}]+")
# A date: 2026-11-25, 2026.11.25, 25-11-2026, 25.11.2026 (checked for a real month and day).
_DATE = re.compile(
    r"(?<![\d.])(?:(\d{4})[-./](\d{1,2})[-./](\d{1,2})|(\d{1,2})[-.](\d{1,2})[-.](\d{4}))"
    r"(?![\d]|[.,]\d)"
)
# A time written with a dot or an h: 10.00, 9.30, 18h30 (Malay and Vietnamese styles).
_TIME = re.compile(r"(?<![\d.])(?:[01]?\d|2[0-4])[.h][0-5]\d(?![\d]|[.,]\d)")
# Years: 1900-2099, and the Thai Buddhist era (2025 is 2568).
_YEAR_RANGE = re.compile(r"(?:19|20|25|26)\d\d\s?[-\u2013]\s?(?:19|20|25|26)\d\d")
_CURRENCY_BEFORE = re.compile(
    r"(?i)(?:\brm|\$|s\$|us\$|\busd|\bsgd|\bmyr|\bvnd|\bthb|฿|₫|\brp|\bidr|€|£|\bbaht)\s?$"
)
_CURRENCY_AFTER = re.compile(
    r"(?i)^\s?(?:vnd\b|vnđ|đồng|dong\b|đ(?!\w)|₫|k\b|tr\b|triệu|trieu\b|nghìn|ngàn|bath?\b|baht\b|บาท|"
    r"thb\b|rm\b|ringgit|myr\b|sgd\b|usd\b|\$|sen\b|million|juta)"
)

# --- numbers -----------------------------------------------------------------------------------

# A stretch of digits and the characters allowed between a number's groups; split below.
_SPAN = re.compile(r"[+(]{0,2}\d[\d().\-\u2013 \u00a0\t]*")
# Between two groups of one number (brackets aside): up to three spaces, one dash with a space
# either side, or one dot ("Gọi 0912 345 678 - 0987 654 321" is one run, split when checked).
_SEPARATOR = re.compile(r"[ \u00a0\t]{0,3}|[ \u00a0]?[-\u2013][ \u00a0]?|\.")
_PHONE_WORDS = re.compile(
    r"(?i)(?:\bcall|\bphone|\btel\b|\btel\.|hotline|\bmobile|whats\s?app|\bzalo|\bline\b|"
    r"\bsms\b|gọi|điện thoại|\bsđt|\bđt\b|di động|โทร|เบอร์|\btelefon|hubungi|\btalian|"
    r"\bnombor|\bfax)"
)
_PAYMENT_WORDS = re.compile(
    r"(?i)(?:account|\bacct|\ba/c|\bbank|transfer|\biban|\bswift|tài khoản|\bstk\b|\bsố tk|"
    r"\btk\b|ngân hàng|chuyển khoản|\bck\b|บัญชี|โอน|ธนาคาร|พร้อมเพย์|promptpay|akaun|"
    r"pindahan|\bbayar|duitnow|paynow|deposit|\bcọc|มัดจำ|payment|thanh toán|ชำระ)"
)


@dataclass(frozen=True)
class Item:
    """An account number, phone number or link found in a text."""

    kind: Kind
    text: str  # as written
    value: str  # normalised: the digits, or host + path in lower case
    start: int
    end: int
    plus: bool = False  # a number written with its international "+"
    run: _Run | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class _Run:
    text: str
    digits: str
    start: int
    end: int
    plus: bool
    groups: tuple[str, ...]
    separators: tuple[str, ...]


# A host name label; letters of any script (a look-alike "lоtus.com" with a Cyrillic "о" is a
# host of its own, not the verified one), but not Thai, which may touch a link.
_LABEL = re.compile(r"[^\W_\u0e00-\u0e7f](?:[^\W\u0e00-\u0e7f]|-)*")


@dataclass(frozen=True)
class Link:
    """A link as compared: lower-cased host without ``www.``, and the path (no query)."""

    host: str
    path: str

    def covers(self, other: Link) -> bool:
        """True when ``other`` is this verified link, under its path or (no path) its domain."""
        if self.path:
            if other.host != self.host:
                return False
            mine, theirs = self.path, other.path
            if self.host not in _SHORTENERS:
                mine, theirs = mine.casefold(), theirs.casefold()
            return theirs == mine or theirs.startswith(mine + "/")
        return other.host == self.host or other.host.endswith("." + self.host)


def parse_link(text: str) -> Link | None:
    """``https://www.Lotus.com/book?x=1`` as ``Link("lotus.com", "/book")``; None if no host."""
    raw = text.strip().rstrip(".,;:!?")
    if not raw or any(c.isspace() for c in raw):
        return None
    if "://" not in raw:
        raw = "http://" + raw
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or "." not in host:
        return None
    if not all(_LABEL.fullmatch(label) for label in host.split(".")):
        return None
    host = host.removeprefix("www.")
    return Link(host=host, path=parts.path.rstrip("/"))


@lru_cache(maxsize=64)
def _bare_domain(extra_tlds: frozenset[str]) -> re.Pattern[str]:
    tlds = "|".join(sorted(_TLDS | extra_tlds, key=len, reverse=True))
    # Not glued to a Latin letter, digit or another domain; Thai script may touch a link.
    return re.compile(
        r"(?i)(?<![^\W\u0e00-\u0e7f])(?<![@.\-/])"
        r"(?:[^\W_\u0e00-\u0e7f](?:[^\W\u0e00-\u0e7f]|-){0,62}\.)+(" + tlds + r")(?![a-z0-9-])"
        r"(?::\d{1,5})?(?:/[^\s<>\"'()\[\]{}]*)?"
    )


def find_links(text: str, extra_tlds: Iterable[str] = ()) -> list[Item]:
    """Links in ``text``: full URLs, ``www.`` addresses and bare domains with a known TLD."""
    masked = _mask(text, _EMAIL)
    found: list[Item] = []
    for match in _SCHEME_URL.finditer(masked):
        found.extend(_link_item(text, match.start(), match.end()))
    masked = _mask(masked, _SCHEME_URL)
    for match in _bare_domain(frozenset(t.lower() for t in extra_tlds)).finditer(masked):
        tld = match.group(1)
        if tld[0].isupper() and tld[1:].islower():
            continue  # "the price.My friend": a missing space, not a domain
        found.extend(_link_item(text, match.start(), match.end()))
    return sorted(found, key=lambda i: i.start)


def _link_item(text: str, start: int, end: int) -> list[Item]:
    raw = text[start:end]
    trimmed = raw.rstrip(".,;:!?*_~")
    link = parse_link(trimmed)
    if link is None:
        return []
    return [Item("link", trimmed, link.host + link.path, start, start + len(trimmed))]


def _mask(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: "_" * len(m.group()), text)


def _mask_dates_and_times(text: str) -> str:
    def date(m: re.Match[str]) -> str:
        if m.group(1):
            year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
        else:
            day, month, year = int(m.group(4)), int(m.group(5)), int(m.group(6))
            if month > 12:  # 11-25-2026
                day, month = month, day
        real = 1900 <= year <= 2700 and 1 <= month <= 12 and 1 <= day <= 31  # 2569: Thai era
        return "_" * len(m.group()) if real else m.group()

    return _mask(_DATE.sub(date, text), _TIME)


def _runs(text: str) -> list[_Run]:
    """Maximal numbers in ``text``: digit groups joined by ``_SEPARATOR`` or brackets."""
    runs: list[_Run] = []
    for span in _SPAN.finditer(text):
        raw = span.group()
        pieces = re.split(r"(\d+)", raw)  # [prefix, digits, sep, digits, ..., suffix]
        prefix, groups, seps = pieces[0], pieces[1::2], pieces[2:-1:2]
        offset = span.start() + len(prefix)
        current: list[str] = [groups[0]]
        current_seps: list[str] = []
        plus = "+" in prefix
        start = span.start() + prefix.index("+") if plus else offset
        if not plus and prefix.endswith("(") and seps and seps[0].startswith(")"):
            start -= 1  # (028) 3822 8800
        position = offset + len(groups[0])
        for sep, group in zip(seps, groups[1:], strict=True):
            if _SEPARATOR.fullmatch(sep.replace("(", "").replace(")", "")):
                current_seps.append(sep)
                current.append(group)
            else:
                runs.append(_make_run(text, start, position, plus, current, current_seps))
                current, current_seps = [group], []
                start, plus = position + len(sep), False
            position += len(sep) + len(group)
        runs.append(_make_run(text, start, position, plus, current, current_seps))
    return runs


def _make_run(
    text: str, start: int, end: int, plus: bool, groups: list[str], seps: list[str]
) -> _Run:
    digits = _ascii_digits("".join(groups))
    return _Run(text[start:end], digits, start, end, plus, tuple(groups), tuple(seps))


def _ascii_digits(digits: str) -> str:
    return "".join(str(int(c)) for c in digits)  # Thai or full-width digits too


def _is_thousands(groups: Sequence[str], seps: Sequence[str], allowed: str) -> bool:
    """``12.500.000`` / ``1 250 000``: 1-3 digits, then groups of three, one separator kind."""
    return (
        len(groups) >= 2
        and len(set(seps)) == 1
        and seps[0] in allowed
        and 1 <= len(groups[0]) <= 3
        and not groups[0].startswith("0")
        and all(len(g) == 3 for g in groups[1:])
    )


def _plausible_amount(text: str) -> bool:
    groups = re.findall(r"\d+", text)
    seps = re.findall(r"\D+", text.strip())
    if groups[0].startswith("0"):
        return False  # 022588800 is a number to dial, not an amount
    if len(groups) == 1:
        return len(groups[0]) <= 9
    if len(groups) == 2 and seps[0] == "." and len(groups[1]) <= 2:  # 1250.00
        return len(groups[0]) <= 9
    return _is_thousands(groups, seps, ". \u00a0")


def _not_a_number(run: _Run, text: str) -> bool:
    """Prices, year ranges, thousands with dots and lists of small numbers."""
    before, after = text[max(0, run.start - 6) : run.start], text[run.end : run.end + 12]
    if _CURRENCY_BEFORE.search(before) or _CURRENCY_AFTER.search(after):
        parts = re.split(r"[-\u2013]", run.text)
        if all(_plausible_amount(p) for p in parts if p.strip()):
            return True
    if _YEAR_RANGE.fullmatch(run.text):
        return True
    if not run.plus and _is_thousands(run.groups, run.separators, "."):
        return True  # 12.500.000 (Vietnamese and Malay thousands)
    spaced = run.separators and all(s.strip() == "" for s in run.separators)
    small = sum(len(g) <= 2 for g in run.groups)
    # 10 12 14 16: a list of small numbers, not a phone ("+66 2 258 8800" has two of four).
    return bool(spaced) and not run.plus and len(run.groups) >= 4 and small * 2 > len(run.groups)


def _inside_word(run: _Run, text: str) -> bool:
    """Letters right before and right after: part of an identifier (``turn_8f8e5399476062c2``,
    a hex reference), not a number a customer would dial or pay to."""
    before = text[run.start - 1 : run.start] if run.start else ""
    after = text[run.end : run.end + 1]
    return bool(re.fullmatch(r"[A-Za-z_]", before) and re.fullmatch(r"[A-Za-z_]", after))


def phone_shaped(digits: str, plus: bool) -> bool:
    """Looks like a MY/VN/TH/SG phone number (international or local) or a toll-free line."""
    if plus:
        return 8 <= len(digits) <= 15
    if digits.startswith("00"):
        return 10 <= len(digits) <= 17
    if digits.startswith("0"):
        return 9 <= len(digits) <= 11
    if digits.startswith(COUNTRY_CODES) and 10 <= len(digits) <= 12:
        return True
    if digits.startswith(("1300", "1800", "1900")) and 8 <= len(digits) <= 10:
        return True
    return len(digits) == 8 and digits[0] in "3689"  # Singapore


def _kind_of(run: _Run, text: str) -> Kind:
    """The nearer of a payment word and a phone word before the number decides; then a ``+``
    (a phone), a word right after it in the same clause, and last the number's shape."""
    before = text[max(0, run.start - 40) : run.start]
    payment = max((m.end() for m in _PAYMENT_WORDS.finditer(before)), default=-1)
    phone = max((m.end() for m in _PHONE_WORDS.finditer(before)), default=-1)
    if payment > phone:
        return "payment_account"
    if phone > payment or run.plus:
        return "phone_number"
    after = re.split(r"[.,;!?\n]", text[run.end : run.end + 25], maxsplit=1)[0]
    if _PAYMENT_WORDS.search(after):
        return "payment_account"
    if _PHONE_WORDS.search(after):
        return "phone_number"
    return "phone_number" if phone_shaped(run.digits, run.plus) else "payment_account"


def find_numbers(text: str) -> list[Item]:
    """Account and phone numbers in ``text`` (links, e-mails, dates and times left out)."""
    masked = _mask(_mask(text, _EMAIL), _SCHEME_URL)
    masked = _mask(masked, _bare_domain(frozenset()))
    masked = _mask_dates_and_times(masked)
    found: list[Item] = []
    for run in _runs(masked):
        if len(run.digits) < MIN_DIGITS or _not_a_number(run, masked) or _inside_word(run, text):
            continue
        found.append(
            Item(
                _kind_of(run, masked),
                text[run.start : run.end],
                run.digits,
                run.start,
                run.end,
                run.plus,
                run,
            )
        )
    return found


def find_items(text: str, extra_tlds: Iterable[str] = ()) -> list[Item]:
    """Every account number, phone number and link in ``text``, in order."""
    return sorted(find_numbers(text) + find_links(text, extra_tlds), key=lambda i: i.start)


@dataclass(frozen=True)
class PhoneKey:
    """A phone number as compared: the country code when written, and the national number."""

    country: str | None
    national: str

    def same_line(self, other: PhoneKey) -> bool:
        """Equal national numbers, and no two different country codes."""
        if self.national != other.national or len(self.national) < 7:
            return False
        return None in (self.country, other.country) or self.country == other.country


def phone_key(digits: str, plus: bool = False) -> PhoneKey:
    """``+84 28 3822 8800`` as (84, 2838228800), ``028 3822 8800`` as (None, 2838228800): the
    country code (+60/+84/+66/+65, or 00 and the code) and the trunk 0 taken off."""
    national, country = digits, None
    if national.startswith("00"):
        national, plus = national[2:], True
    for code in COUNTRY_CODES:
        if national.startswith(code) and (plus or 10 <= len(national) <= 12):
            national, country = national[len(code) :], code
            break
    if national.startswith("0"):
        national = national[1:]
    return PhoneKey(country, national)


@dataclass(frozen=True)
class Verified:
    """A workspace's verified facts, normalised for comparison."""

    accounts: frozenset[str]  # digits of every number in the payment accounts
    phones: tuple[PhoneKey, ...]
    links: tuple[Link, ...]
    phone_digits: frozenset[str] = frozenset()

    @classmethod
    def of(cls, facts: VerifiedFacts) -> Verified:
        accounts = {r.digits for entry in facts.payment_accounts for r in entry_numbers(entry)}
        runs = [r for entry in facts.phone_numbers for r in entry_numbers(entry)]
        links = tuple(link for entry in facts.links if (link := parse_link(entry)) is not None)
        return cls(
            frozenset(accounts),
            tuple(phone_key(r.digits, r.plus) for r in runs),
            links,
            frozenset(r.digits for r in runs),
        )

    @property
    def tlds(self) -> frozenset[str]:
        return frozenset(link.host.rsplit(".", 1)[-1] for link in self.links)

    def allows_link(self, item: Item) -> bool:
        link = parse_link(item.text)
        return link is not None and any(v.covers(link) for v in self.links)

    def allows_number(self, digits: str, plus: bool) -> bool:
        """A verified account or phone number, digit for digit; or a verified phone number with
        or without its country code or trunk 0 (an account number never loses digits)."""
        if digits in self.accounts or digits in self.phone_digits:
            return True
        key = phone_key(digits, plus)
        return any(key.same_line(v) for v in self.phones)


def entry_numbers(entry: str) -> list[_Run]:
    """The numbers of 6 or more digits in a verified entry ("Maybank 5140 1234 5678, ...")."""
    masked = _mask_dates_and_times(_mask(_mask(" ".join(entry.split()), _EMAIL), _SCHEME_URL))
    return [r for r in _runs(masked) if len(r.digits) >= 6]


def _splits(run: _Run) -> Iterator[list[tuple[str, bool]]]:
    """The ways to read ``run`` as several numbers of 8+ digits (two phone numbers side by
    side), as (digits, plus) pairs; none for a run of more than ten groups."""
    groups = run.groups
    if not 1 < len(groups) <= 10:
        return
    for cuts in range(1, 2 ** (len(groups) - 1)):
        parts, current, plus = [], "", run.plus
        for at, group in enumerate(groups):
            current += group
            if at == len(groups) - 1 or cuts >> at & 1:
                parts.append((_ascii_digits(current), plus))
                current, plus = "", False
        if all(len(d) >= MIN_DIGITS for d, _ in parts):
            yield parts


def unverified_items(
    reply: str, facts: VerifiedFacts, customer_words: Sequence[str] = ()
) -> list[Item]:
    """The account numbers, phone numbers and links in ``reply`` that ``facts`` do not list.

    A phone number the customer wrote in this conversation may be said back (their own), but
    not as payment details: "yes, transfer to <the number you sent>" is still blocked.
    """
    verified = Verified.of(facts)
    said = [
        phone_key(run.digits, run.plus)
        for words in customer_words
        for run in _runs(_mask_dates_and_times(words))
        if len(run.digits) >= MIN_DIGITS
    ]

    def fine(digits: str, plus: bool, kind: Kind) -> bool:
        if verified.allows_number(digits, plus):
            return True
        key = phone_key(digits, plus)
        return kind == "phone_number" and any(key.same_line(k) for k in said)

    blocked = []
    for item in find_items(reply, verified.tlds):
        if item.kind == "link":
            if not verified.allows_link(item):
                blocked.append(item)
            continue
        if fine(item.value, item.plus, item.kind):
            continue
        run = item.run
        if run is not None and any(
            all(fine(d, p, item.kind) for d, p in parts) for parts in _splits(run)
        ):
            continue
        blocked.append(item)
    return blocked


# --- the guard in the turn ---------------------------------------------------------------------


@dataclass(frozen=True)
class Guarded:
    """The reply that replaces one quoting unverified items, and what to record."""

    reply: str
    blocked: list[Item]
    error: str
    rule: str = "verified_facts"


async def guard_reply(ctx: ToolContext, reply: str) -> Guarded | None:
    """None when ``reply`` quotes only verified items; else the safe reply.

    For each kind blocked (payment account, phone number, link) the workspace's verified items
    of that kind are offered (``verified_payment`` / ``verified_phone`` / ``verified_link``);
    when a kind has none, the conversation is also handed to a person (``handoff`` phrase, or
    the closed-team phrase).
    """
    facts = ctx.config.verified_facts
    blocked = unverified_items(reply, facts, ctx.customer_words)
    if not blocked:
        return None
    kinds = [k for k in KINDS if any(i.kind == k for i in blocked)]
    lists = {
        "payment_account": facts.payment_accounts,
        "phone_number": facts.phone_numbers,
        "link": facts.links,
    }
    prompts, lang, name = ctx.config.prompts, ctx.language, ctx.config.name
    missing = [k for k in kinds if not lists[k]]
    parts: list[str] = []
    for kind in kinds:
        if lists[kind]:
            key, variable = PHRASES[kind]
            separator = "; " if kind == "payment_account" else ", "
            values = {variable: separator.join(lists[kind])}
            parts.append(prompts.phrase(key, lang, business_name=name, **values))
    phrase = "handoff"
    if missing and ctx.handoff is None:
        reason = HANDOFF_REASONS[missing[0]]
        quoted = ", ".join(f"{i.text} ({LABELS[i.kind]})" for i in blocked)
        summary = _summary(ctx, f"{reason}: {quoted}")
        record = await execute_tool(ctx, "handoff_to_human", {"reason": reason, "summary": summary})
        if record.status != "applied":
            phrase = "fallback"
    if missing or ctx.handoff is not None:
        team = ctx.config.team(ctx.handoff.team if ctx.handoff else None) or (
            ctx.config.fallback_team
        )
        parts.append(
            unavailable_team_reply(ctx)
            or prompts.phrase(phrase, lang, business_name=name, team=team.name if team else "")
        )
    error = "; ".join(f"guardrail: reply quoted an unverified {LABELS[k]}" for k in kinds)
    return Guarded(" ".join(p for p in parts if p), blocked, error)


def _summary(ctx: ToolContext, reason: str) -> str:
    """What the person taking over needs, and where to look for the blocked item."""
    return summarize(
        ctx, f"The {reason}; check where it came from (a knowledge entry or the model)"
    )
