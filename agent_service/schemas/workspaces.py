"""Workspaces and their API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agent_service.core.language_codes import LanguageCode

Role = Literal["channel", "admin", "qa"]


class WorkspaceCreate(BaseModel):
    """A new workspace: default stages and prompts, an empty knowledge base."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Saigon Smile Dental"}]})

    name: str = Field(min_length=1, max_length=200)
    default_language: LanguageCode = "en"
    business_description: str = Field(default="", max_length=2000)


class WorkspacePublic(BaseModel):
    id: str
    name: str
    created_at: datetime


class KeyCreate(BaseModel):
    """The roles a new key carries: channel, admin and/or qa."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"roles": ["channel"], "label": "whatsapp gateway"}]}
    )

    roles: list[Role] = Field(min_length=1)
    label: str | None = Field(default=None, max_length=200)


class KeyPublic(BaseModel):
    """A key without its secret."""

    id: str
    roles: list[str]
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(BaseModel):
    """A new key; ``key`` is shown only in this response and cannot be read again."""

    id: str
    key: str
    roles: list[str]
    label: str | None = None


class WorkspaceCreated(WorkspacePublic):
    """The workspace, with a first admin key for it (shown once)."""

    admin_key: KeyCreated


FactEntry = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
FACTS_EXAMPLE: dict[str, Any] = {
    "payment_accounts": ["Maybank 5140 1234 5678, Lotus Aesthetics Sdn Bhd"],
    "phone_numbers": ["+60 3-2141 8800", "+84 28 3822 8800"],
    "links": ["https://lotus-aesthetics.example/booking", "t.me/lotus_aesthetics"],
}


class VerifiedFactsBody(BaseModel):
    """The account numbers, phone numbers and links replies may quote; a reply quoting any
    other is replaced (see docs/security.md). A PUT replaces all three lists: a list left out
    becomes empty."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [FACTS_EXAMPLE]})

    payment_accounts: list[FactEntry] = Field(
        default_factory=list,
        max_length=20,
        description="Free text with the account number (8 to 20 digits), bank and holder.",
    )
    phone_numbers: list[FactEntry] = Field(
        default_factory=list,
        max_length=20,
        description="As customers dial them; with or without the country code both match.",
    )
    links: list[FactEntry] = Field(
        default_factory=list,
        max_length=20,
        description="URLs or domains; a domain covers its subdomains and paths, a URL with a "
        "path covers that path. Shared hosts (t.me, wa.me, bit.ly...) need the path.",
    )
