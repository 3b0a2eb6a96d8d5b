"""Creating workspaces (default stages, prompts, intents) and their API keys; the demo workspace."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.errors import Conflict
from agent_service.core.ids import new_id, ordered_ids
from agent_service.db import models
from agent_service.knowledge_base.store import EntryData
from agent_service.prompts.templates import default_bodies
from agent_service.workspaces.api_keys import generate_key, hash_key

DEMO_WORKSPACE_ID = "ws_demo"
DEFAULT_STAGES: list[dict[str, Any]] = [
    {"name": "New Lead", "lost": False, "ai_settable": True},
    {"name": "Hot Lead", "lost": False, "ai_settable": True},
    {"name": "Payment", "lost": False, "ai_settable": False},
    {"name": "Customer", "lost": False, "ai_settable": False},
    {"name": "Cold Lead", "lost": True, "ai_settable": True},
    {"name": "Unqualified", "lost": True, "ai_settable": True},
    {"name": "Lost to Competitor", "lost": True, "ai_settable": True},
]


@dataclass
class WorkspaceTemplate:
    """What a new workspace starts with."""

    name: str
    settings: dict[str, Any]
    stages: list[dict[str, Any]]
    fields: list[dict[str, Any]]
    teams: list[dict[str, Any]]
    intents: dict[str, list[str]]
    prompts: dict[str, str]


def default_template(name: str, prompts_dir: Path, demo_dir: Path) -> WorkspaceTemplate:
    """Default stages and prompts, the shared intent examples, no fields, teams or knowledge."""
    return WorkspaceTemplate(
        name=name,
        settings={"default_language": "en", "business_description": ""},
        stages=DEFAULT_STAGES,
        fields=[],
        teams=[],
        intents=_load_yaml(demo_dir / "intents.yaml"),
        prompts=default_bodies(prompts_dir),
    )


def demo_template(prompts_dir: Path, demo_dir: Path) -> WorkspaceTemplate:
    spec = _load_yaml(demo_dir / "workspace.yaml")
    qualification = spec.get("qualification", {})
    return WorkspaceTemplate(
        name=spec["name"],
        settings={
            "default_language": spec.get("default_language", "en"),
            "business_description": spec.get("business_description", ""),
            "default_handoff_team": spec.get("default_handoff_team"),
            "qualified_when": qualification.get("qualified_when", []),
            "qualified_stage": qualification.get("qualified_stage"),
            "handoff_team": qualification.get("handoff_team"),
            # What replies may quote (agent/verified_facts.py): what the demo FAQ quotes.
            "verified_facts": spec.get("verified_facts", {}),
        },
        stages=spec.get("stages", DEFAULT_STAGES),
        fields=qualification.get("fields", []),
        teams=spec.get("teams", []),
        intents=_load_yaml(demo_dir / "intents.yaml"),
        prompts=default_bodies(prompts_dir),
    )


def demo_knowledge(demo_dir: Path) -> list[EntryData]:
    rows = json.loads((demo_dir / "faq.json").read_text("utf-8"))
    return [
        EntryData(
            question=r["question"],
            answer=r["answer"],
            language=r["language"],
            tags=[*r.get("tags", []), f"topic:{r['topic']}"],
            valid_until=date.fromisoformat(r["valid_until"]) if r.get("valid_until") else None,
        )
        for r in rows
    ]


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text("utf-8"))


async def create_workspace(
    session: AsyncSession,
    template: WorkspaceTemplate,
    now: datetime,
    workspace_id: str | None = None,
) -> models.Workspace:
    """Insert a workspace and its configuration rows (the caller commits)."""
    workspace = models.Workspace(
        id=workspace_id or new_id("ws"),
        name=template.name,
        settings=template.settings,
        created_at=now,
    )
    session.add(workspace)
    await session.flush()  # the rows below reference it
    ws = workspace.id
    for position, stage in enumerate(template.stages):
        session.add(
            models.LifecycleStage(
                id=new_id("stg"),
                workspace_id=ws,
                name=stage["name"],
                position=position,
                lost=bool(stage.get("lost", False)),
                ai_settable=bool(stage.get("ai_settable", True)),
                requires_approval=bool(stage.get("requires_approval", False)),
            )
        )
    for position, f in enumerate(template.fields):
        session.add(
            models.QualificationField(
                id=new_id("fld"),
                workspace_id=ws,
                name=f["name"],
                type=f.get("type", "text"),
                position=position,
                required=bool(f.get("required", True)),
                choices=f.get("choices", []),
                synonyms=f.get("synonyms", {}),
                question=f.get("question", {}),
            )
        )
    for t in template.teams:
        session.add(
            models.Team(
                id=new_id("team"),
                workspace_id=ws,
                key=t["key"],
                name=t.get("name", t["key"]),
                description=t.get("description", ""),
                timezone=t.get("timezone", "UTC"),
                business_hours=t.get("business_hours", {}),
            )
        )
    for intent, examples in template.intents.items():
        # Listed by id: in the template's order (agent/intents/examples.py).
        for id_, text in zip(ordered_ids("int", len(examples)), examples, strict=True):
            session.add(models.IntentExample(id=id_, workspace_id=ws, intent=intent, text=text))
    for name, body in template.prompts.items():
        session.add(
            models.PromptVersion(
                id=new_id("pv"),
                workspace_id=ws,
                name=name,
                version=1,
                body=body,
                active=True,
                created_at=now,
            )
        )
    return workspace


async def create_api_key(
    session: AsyncSession,
    workspace_id: str,
    roles: list[str],
    now: datetime,
    key: str | None = None,
    label: str | None = None,
) -> tuple[models.ApiKey, str]:
    """Store a key's hash; the plain key is returned to be shown once."""
    plain = key or generate_key()
    row = models.ApiKey(
        id=new_id("key"),
        workspace_id=workspace_id,
        key_hash=hash_key(plain),
        roles=roles,
        label=label,
        created_at=now,
    )
    session.add(row)
    return row, plain


async def ensure_key(
    session: AsyncSession, workspace_id: str, role: str, key: str | None, now: datetime
) -> str | None:
    """Make sure a configured demo key exists, or generate one; returns a key to print."""
    if key is not None:
        exists = await session.scalar(select(models.ApiKey).filter_by(key_hash=hash_key(key)))
        if exists is None:
            await create_api_key(session, workspace_id, [role], now, key=key, label=f"demo {role}")
        return None
    _, plain = await create_api_key(session, workspace_id, [role], now, label=f"demo {role}")
    return plain


async def list_keys(session: AsyncSession, workspace_id: str) -> list[models.ApiKey]:
    return list(
        (
            await session.scalars(
                select(models.ApiKey)
                .filter_by(workspace_id=workspace_id)
                .order_by(models.ApiKey.created_at, models.ApiKey.id)
            )
        ).all()
    )


async def revoke_key(
    session: AsyncSession, workspace_id: str, key_id: str, now: datetime
) -> models.ApiKey | None:
    """Mark a key revoked (it stops working at once); None when it is not this workspace's.

    Raises LastAdminKey rather than leave the workspace without an active admin key.
    """
    row = await session.scalar(
        select(models.ApiKey).filter_by(workspace_id=workspace_id, id=key_id)
    )
    if row is not None and row.revoked_at is None:
        if "admin" in row.roles:
            admins = [
                k
                for k in await list_keys(session, workspace_id)
                if "admin" in k.roles and k.revoked_at is None and k.id != row.id
            ]
            if not admins:
                raise LastAdminKey(
                    "this is the workspace's last active admin key; create another admin key "
                    "before revoking it"
                )
        row.revoked_at = now
    return row


class LastAdminKey(Conflict):
    pass
