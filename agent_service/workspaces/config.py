"""A workspace's whole configuration, loaded once per turn and handed to the agent."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.errors import NotFound
from agent_service.db import models
from agent_service.lifecycle.policy import Lifecycle, StageConfig
from agent_service.prompts.templates import PromptSet
from agent_service.qualification.fields import FieldConfig, Qualification
from agent_service.teams.hours import TeamConfig


class WorkspaceNotFound(NotFound):
    """The message is the workspace id."""

    @property
    def detail(self) -> str:
        return f"workspace '{self}' not found"


class VerifiedFacts(BaseModel):
    """What a reply may quote: the workspace's own payment accounts, phone numbers and links.

    Checked on write (``verified_facts_settings``); enforced on every reply
    (``agent/verified_facts.py``).
    """

    payment_accounts: list[str] = Field(default_factory=list)
    phone_numbers: list[str] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)


class WorkspaceConfig(BaseModel):
    """Everything about a workspace that shapes what the agent may say and do."""

    id: str
    name: str
    business_description: str = ""
    default_language: str = "en"
    default_handoff_team: str | None = None
    lifecycle: Lifecycle
    qualification: Qualification
    teams: list[TeamConfig]
    intent_examples: dict[str, list[str]]
    prompts: PromptSet
    verified_facts: VerifiedFacts = Field(default_factory=VerifiedFacts)

    def team(self, key: str | None) -> TeamConfig | None:
        if key is None:
            return None
        wanted = key.strip().casefold()
        return next(
            (t for t in self.teams if wanted in (t.key.casefold(), t.name.casefold())), None
        )

    @property
    def fallback_team(self) -> TeamConfig | None:
        """The team a handoff goes to when none is named."""
        return self.team(self.default_handoff_team) or (self.teams[0] if self.teams else None)


async def load_workspace_config(
    session: AsyncSession, workspace_id: str, prompt_overrides: dict[str, Any] | None = None
) -> WorkspaceConfig:
    """Read the workspace's stages, fields, teams, intents and active prompts."""
    workspace = await session.get(models.Workspace, workspace_id)
    if workspace is None:
        raise WorkspaceNotFound(workspace_id)
    where = {"workspace_id": workspace_id}
    stages = (await session.scalars(select(models.LifecycleStage).filter_by(**where))).all()
    fields = (
        await session.scalars(
            select(models.QualificationField)
            .filter_by(**where)
            .order_by(models.QualificationField.position)
        )
    ).all()
    teams = (await session.scalars(select(models.Team).filter_by(**where))).all()
    intents: dict[str, list[str]] = {}
    for example in (await session.scalars(select(models.IntentExample).filter_by(**where))).all():
        intents.setdefault(example.intent, []).append(example.text)
    prompts = (
        await session.scalars(select(models.PromptVersion).filter_by(active=True, **where))
    ).all()
    bodies = {p.name: (p.body, p.version) for p in prompts}
    for name, override in (prompt_overrides or {}).items():
        bodies[name] = override
    settings = workspace.settings or {}
    return WorkspaceConfig(
        id=workspace.id,
        name=workspace.name,
        business_description=settings.get("business_description", ""),
        default_language=settings.get("default_language", "en"),
        default_handoff_team=settings.get("default_handoff_team"),
        lifecycle=Lifecycle(
            stages=[
                StageConfig(
                    name=s.name,
                    position=s.position,
                    lost=s.lost,
                    ai_settable=s.ai_settable,
                    requires_approval=s.requires_approval,
                )
                for s in stages
            ]
        ),
        qualification=Qualification(
            fields=[
                FieldConfig(
                    name=f.name,
                    type=f.type,
                    required=f.required,
                    choices=f.choices,
                    synonyms=f.synonyms,
                    question=f.question,
                )
                for f in fields
            ],
            qualified_when=settings.get("qualified_when", []),
            at_least=settings.get("qualified_at_least", {}),
            qualified_stage=settings.get("qualified_stage"),
            handoff_team=settings.get("handoff_team"),
        ),
        teams=[
            TeamConfig(
                key=t.key,
                name=t.name,
                description=t.description,
                timezone=t.timezone,
                business_hours=t.business_hours,
                fallback=t.fallback if t.fallback == "handoff_anyway" else "collect_contact",
                online_agents=t.online_agents,
            )
            for t in teams
        ],
        intent_examples=intents,
        prompts=PromptSet(
            system=bodies["system"][0],
            phrases_body=bodies["phrases"][0],
            versions={name: version for name, (_, version) in bodies.items()},
        ),
        verified_facts=VerifiedFacts.model_validate(settings.get("verified_facts") or {}),
    )


class WorkspaceConfigs:
    """Configurations kept per process while the workspace's ``config_revision`` stays put.

    Loading a configuration is six queries; checking the revision is one primary-key read.
    Database triggers move the revision on every change (migration 0008), whoever writes it,
    so a cached configuration is never used after a change has committed. The cached objects
    are shared between turns: treat them as read-only.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._cached: OrderedDict[str, tuple[int, WorkspaceConfig]] = OrderedDict()

    async def load(self, session: AsyncSession, workspace_id: str) -> WorkspaceConfig:
        revision = await session.scalar(
            select(models.Workspace.config_revision).where(models.Workspace.id == workspace_id)
        )
        if revision is None:
            raise WorkspaceNotFound(workspace_id)
        cached = self._cached.get(workspace_id)
        if cached is not None and cached[0] == revision:
            self._cached.move_to_end(workspace_id)
            return cached[1]
        # Read after the revision, so at least as new as it: a change committed in between
        # costs one more reload on the next turn, never a stale configuration.
        config = await load_workspace_config(session, workspace_id)
        self._cached[workspace_id] = (revision, config)
        self._cached.move_to_end(workspace_id)
        while len(self._cached) > self._size:
            self._cached.popitem(last=False)
        return config
