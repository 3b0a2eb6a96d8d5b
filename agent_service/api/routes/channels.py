"""Channel connections: a workspace's WhatsApp, Telegram, LINE and Chatwoot, connected
directly. Secrets are written here and never read back: GET says only whether each is set."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response, status

from agent_service.api.deps import AdminKey, ClockDep, SessionDep, UnitOfWorkDep
from agent_service.api.errors import documented
from agent_service.channels import connections
from agent_service.schemas.channels import (
    ChannelCreate,
    ChannelCreated,
    ChannelPublic,
    ChannelUpdate,
)

router = APIRouter(prefix="/v1/channels", tags=["channels"])
NOT_FOUND = "No such channel connection in this workspace."
INVALID = "A credential missing, malformed or belonging to another platform."
CREATE_EXAMPLES: dict[str, Any] = {
    "whatsapp": {
        "summary": "WhatsApp Cloud API",
        "value": {
            "type": "whatsapp",
            "name": "Clinic WhatsApp",
            "phone_number_id": "106540352242922",
            "access_token": "EAAG...",
            "app_secret": "3f1c9a...",
            "verify_token": "choose-a-long-random-string",
        },
    },
    "telegram": {
        "summary": "Telegram bot",
        "value": {
            "type": "telegram",
            "name": "Clinic bot",
            "bot_token": "123456789:AAE...",
            "secret_token": "choose-a-long-random-string",
        },
    },
    "line": {
        "summary": "LINE Official Account",
        "value": {
            "type": "line",
            "name": "Clinic LINE",
            "channel_secret": "8c1f...",
            "channel_access_token": "W1xV...",
        },
    },
    "chatwoot": {
        "summary": "Chatwoot agent bot",
        "value": {
            "type": "chatwoot",
            "name": "Support inbox",
            "api_base_url": "https://chatwoot.example.com",
            "api_access_token": "bot-access-token",
            "account_id": "1",
            "webhook_token": "choose-a-long-random-string",
        },
    },
}
UPDATE_EXAMPLES: dict[str, Any] = {
    "rotate": {"summary": "Rotate a token", "value": {"access_token": "EAAG-new..."}},
    "rename": {"summary": "Rename", "value": {"name": "Clinic WhatsApp (KL)"}},
}


@router.get("", response_model=list[ChannelPublic], responses=documented())
async def list_channels(principal: AdminKey, session: SessionDep) -> list[ChannelPublic]:
    """The workspace's connections, oldest first; secrets shown only as "set"."""
    rows = await connections.all_of(session, principal.workspace_id)
    return [connections.public(row) for row in rows]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ChannelCreated,
    responses=documented(invalid=INVALID),
)
async def create_channel(
    body: Annotated[ChannelCreate, Body(openapi_examples=CREATE_EXAMPLES)],
    principal: AdminKey,
    clock: ClockDep,
    uow: UnitOfWorkDep,
    session: SessionDep,
) -> ChannelCreated:
    """Connect a platform. Give it `webhook_path` after your service's public address (see
    docs/channels.md for where each platform takes it); `api_base_url` defaults to the
    platform's real API."""
    row = await connections.create(session, principal.workspace_id, body.model_dump(), clock())
    uow.audit(
        principal,
        action="channel.create",
        target_type="channel",
        target_id=row.id,
        before=None,
        after=connections.snapshot(row),
    )
    return ChannelCreated(
        id=row.id,
        type=body.type,
        name=row.name,
        webhook_path=connections.webhook_path(row.type, row.id),
    )


@router.get(
    "/{channel_id}", response_model=ChannelPublic, responses=documented(not_found=NOT_FOUND)
)
async def get_channel(channel_id: str, principal: AdminKey, session: SessionDep) -> ChannelPublic:
    """One connection: its webhook path, which secrets are set, what its webhook received."""
    return connections.public(await connections.get(session, principal.workspace_id, channel_id))


@router.patch(
    "/{channel_id}",
    response_model=ChannelPublic,
    responses=documented(not_found=NOT_FOUND, invalid=INVALID),
)
async def update_channel(
    channel_id: str,
    body: Annotated[ChannelUpdate, Body(openapi_examples=UPDATE_EXAMPLES)],
    principal: AdminKey,
    clock: ClockDep,
    uow: UnitOfWorkDep,
    session: SessionDep,
) -> ChannelPublic:
    """Rename it, point it elsewhere or replace credentials; fields left out stay."""
    row = await connections.get(session, principal.workspace_id, channel_id)
    before = connections.snapshot(row)
    connections.apply_update(row, body.model_dump(exclude_unset=True, mode="json"), clock())
    await session.flush()
    uow.audit(
        principal,
        action="channel.update",
        target_type="channel",
        target_id=row.id,
        before=before,
        after=connections.snapshot(row),
    )
    return connections.public(row)


@router.delete(
    "/{channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(not_found=NOT_FOUND),
)
async def delete_channel(
    channel_id: str, principal: AdminKey, uow: UnitOfWorkDep, session: SessionDep
) -> Response:
    """Disconnect: its webhook answers 404 from now on; replies still owed fail with the
    reason."""
    row = await connections.get(session, principal.workspace_id, channel_id)
    before = connections.snapshot(row)
    await connections.delete(session, row)
    uow.audit(
        principal,
        action="channel.delete",
        target_type="channel",
        target_id=row.id,
        before=before,
        after=None,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
