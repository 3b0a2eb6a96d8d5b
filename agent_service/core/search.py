"""Text both databases search alike: a contact's name, phone and e-mail, folded in Python.

SQLite's ``lower()`` folds ASCII only, and PostgreSQL's follows the database's ``LC_CTYPE``
(a ``C`` database folds ASCII only too), so "NGUYỄN" would find "Nguyễn" on one database and
not on the other. The folded form is therefore computed here, stored beside the contact
(``contacts.search_text``, migration 0014) by every statement that writes its name, phone or
e-mail, and searched with a plain ``LIKE`` of the query folded the same way: the same answer
on SQLite and PostgreSQL, whatever their locale. Folding is Unicode NFC then ``casefold``:
case-insensitive, not accent-insensitive ("nguyen" does not find "Nguyễn").
"""

from __future__ import annotations

import unicodedata

# Between the fields: a search never matches across two of them (a query is refused if it
# holds this character; no name, number or address does).
SEPARATOR = "\x1f"


def fold(text: str) -> str:
    """The case-folded, NFC-composed form of ``text``."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def contact_search_text(name: str | None, phone: str | None, email: str | None) -> str:
    """What ``contacts.search_text`` holds for these values."""
    return SEPARATOR.join(fold(value or "") for value in (name, phone, email))


def like_pattern(query: str) -> str:
    """A ``LIKE ... ESCAPE '\\'`` pattern matching ``query`` folded, anywhere in the text."""
    escaped = fold(query).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
