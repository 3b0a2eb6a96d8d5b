"""Identifiers for stored things: a short prefix naming the kind, then random hex."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def ordered_ids(prefix: str, count: int) -> list[str]:
    """``count`` new ids that sort in the order given: rows listed by id come back in the order
    they were written (a list's items stored as rows, e.g. an intent's examples)."""
    return sorted(new_id(prefix) for _ in range(count))
