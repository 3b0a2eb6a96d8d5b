"""Reading and replacing a workspace's verified facts, kept in ``workspaces.settings``.

Replies may quote only these account numbers, phone numbers and links (see
``agent/verified_facts.py``), so each entry is checked here to hold something the guard can
match: an entry it could not read would block the workspace's genuine answers.
"""

from __future__ import annotations

from typing import Any

from agent_service.agent.verified_facts.guard import (
    MAX_DIGITS,
    MIN_DIGITS,
    SHARED_HOSTS,
    entry_numbers,
    parse_link,
)
from agent_service.core.errors import Invalid
from agent_service.db import models
from agent_service.workspaces.config import VerifiedFacts

SETTINGS_KEY = "verified_facts"


class FactsRejected(Invalid):
    """An entry the guard could not use; the message names it and says what to write."""


def facts_of(workspace: models.Workspace) -> VerifiedFacts:
    return VerifiedFacts.model_validate((workspace.settings or {}).get(SETTINGS_KEY) or {})


def check_facts(facts: VerifiedFacts) -> VerifiedFacts:
    """The entries trimmed and without repeats, or ``FactsRejected`` for the first bad one."""
    facts = VerifiedFacts(
        payment_accounts=_unique(facts.payment_accounts),
        phone_numbers=_unique(facts.phone_numbers),
        links=_unique(facts.links),
    )
    for at, entry in enumerate(facts.payment_accounts):
        if not any(MIN_DIGITS <= len(r.digits) <= MAX_DIGITS for r in entry_numbers(entry)):
            raise FactsRejected(
                f"payment_accounts[{at}] '{entry}' has no account number of {MIN_DIGITS} to "
                f"{MAX_DIGITS} digits; write the bank and the number, e.g. "
                "'Maybank 5140 1234 5678, Lotus Aesthetics Sdn Bhd'"
            )
    for at, entry in enumerate(facts.phone_numbers):
        if not any(8 <= len(r.digits) <= 15 for r in entry_numbers(entry)):
            raise FactsRejected(
                f"phone_numbers[{at}] '{entry}' has no phone number of 8 to 15 digits; write it "
                "as customers should dial it, e.g. '+60 3-2141 8800'"
            )
    for at, entry in enumerate(facts.links):
        link = parse_link(entry)
        if link is None:
            raise FactsRejected(
                f"links[{at}] '{entry}' is not a link; give a URL (https://lotus.example/book) "
                "or a domain (lotus.example)"
            )
        if link.host in SHARED_HOSTS and not link.path:
            raise FactsRejected(
                f"links[{at}] '{entry}': anyone can publish under {link.host}; give the full "
                f"link of your own page or chat, e.g. {link.host}/your_page"
            )
    return facts


def replace_facts(
    workspace: models.Workspace, facts: VerifiedFacts
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check and store ``facts`` (the caller commits); returns before and after for the audit."""
    checked = check_facts(facts)
    before = facts_of(workspace).model_dump()
    # A new dict, so SQLAlchemy sees the JSON column change (and the revision trigger fires).
    workspace.settings = {**(workspace.settings or {}), SETTINGS_KEY: checked.model_dump()}
    return before, checked.model_dump()


def _unique(entries: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for entry in entries:
        text = " ".join(entry.split())
        if text:
            seen.setdefault(text.casefold(), text)
    return list(seen.values())
