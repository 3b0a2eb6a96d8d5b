"""The contact as a turn sees it: a working copy, written back only when the turn commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ContactState:
    """A working copy of the contact; written back only when the turn commits."""

    external_id: str
    name: str | None
    lifecycle_stage: str
    lost: bool
    lost_reason: str | None
    owner: str
    assigned_to: str | None
    fields: dict[str, Any]
    pending_field: str | None
    language: str | None
    # How to reach the customer: the channel's profile, or what they gave for a call-back.
    phone: str | None = None
    email: str | None = None
    # Reason categories of handoffs the humans gave back (see handoff_guard): no loops.
    handed_back: list[str] = field(default_factory=list)
