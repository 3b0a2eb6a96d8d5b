"""Workspaces and their API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from agent_service.auth import Role


class WorkspaceCreate(BaseModel):
    """A new workspace: default stages and prompts, an empty knowledge base."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Saigon Smile Dental"}]})

    name: str = Field(min_length=1, max_length=200)
    default_language: str = Field(default="en", min_length=2, max_length=10)
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
