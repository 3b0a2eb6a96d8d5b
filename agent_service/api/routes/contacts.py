from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.api.deps import (
    AdminKey,
    AdminOrQaKey,
    AgentDepsDep,
    ChannelOrAdminKey,
    ClockDep,
    SessionDep,
)
from agent_service.api.errors import ERROR_RESPONSES, ErrorBody, InvalidBody
from agent_service.conversations.events import apply_event, stored_result
from agent_service.conversations.inbox import recent_messages
from agent_service.conversations.listing import ContactFilters, list_contacts
from agent_service.conversations.transcript import conversation
from agent_service.db import models
from agent_service.schemas.contacts import (
    ContactEventIn,
    ContactEventResult,
    ContactPage,
    ContactPublic,
    Conversation,
    HandoffPublic,
    MessageAttempt,
    MessagePublic,
    StageChangePublic,
)

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such contact in this workspace."}
}


LIST_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {
        "model": InvalidBody,
        "description": "A parameter to fix, named in `detail`: a value out of range, a stage "
        "or team this workspace lacks, or a cursor this list did not give.",
    },
}


@router.get("", response_model=ContactPage, responses={**ERROR_RESPONSES, **LIST_ERRORS})
async def get_contacts(
    principal: AdminOrQaKey,
    session: SessionDep,
    clock: ClockDep,
    stage: Annotated[str | None, Query(max_length=100, description="A stage name.")] = None,
    lost: Annotated[bool | None, Query(description="true: lost contacts only.")] = None,
    owner: Annotated[
        Literal["ai", "human"] | None, Query(description="Who answers the contact now.")
    ] = None,
    team: Annotated[
        str | None,
        Query(
            max_length=100, description="Contacts with an open handoff to this team (id or key)."
        ),
    ] = None,
    channel: Annotated[
        str | None, Query(max_length=20, description="The channel of the first message.")
    ] = None,
    campaign: Annotated[
        str | None, Query(max_length=200, description="The campaign of the first message.")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Text in the name, phone or e-mail (any case, any script).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Contacts per page.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=1000, description="`next_cursor` of the previous page.")
    ] = None,
) -> ContactPage:
    """List the workspace's contacts, newest last message first, a page at a time.

    Filters combine with AND. The first page fixes the order: later pages (with `cursor`)
    list every contact exactly once even while messages arrive; a contact that wrote since
    keeps its place until a new first page. Admin or QA key."""
    filters = ContactFilters(
        stage=stage, lost=lost, owner=owner, team=team, channel=channel, campaign=campaign, q=q
    )
    return await list_contacts(session, principal.workspace_id, filters, limit, cursor, clock())


@router.get(
    "/{contact_id}/conversation",
    response_model=Conversation,
    responses={**ERROR_RESPONSES, **NOT_FOUND},
)
async def get_conversation(
    contact_id: str, principal: AdminOrQaKey, session: SessionDep
) -> Conversation:
    """The contact and every message, oldest first; each reply a turn wrote carries the
    turn's trace: knowledge retrieved with scores, brain, model, prompt versions, tool calls
    with their arguments and the guardrails' decision, handoff, latency, model calls, tokens.
    Admin or QA key."""
    return await conversation(session, principal.workspace_id, contact_id)


@router.get(
    "/{contact_id}", response_model=ContactPublic, responses={**ERROR_RESPONSES, **NOT_FOUND}
)
async def get_contact(
    contact_id: str, principal: ChannelOrAdminKey, session: SessionDep
) -> ContactPublic:
    """The contact's stage, fields, assignment and every stage change with its evidence."""
    contact = await _contact_or_404(session, principal.workspace_id, contact_id)
    changes = await session.scalars(
        select(models.StageChange)
        .filter_by(contact_id=contact.id)
        .order_by(models.StageChange.created_at, models.StageChange.id)
    )
    handoffs = await session.scalars(
        select(models.Handoff).filter_by(contact_id=contact.id).order_by(models.Handoff.created_at)
    )
    return ContactPublic(
        id=contact.external_id,
        name=contact.name,
        phone=contact.phone,
        email=contact.email,
        language=contact.language,
        lifecycle_stage=contact.lifecycle_stage,
        lost=contact.lost,
        lost_reason=contact.lost_reason,
        owner="human" if contact.owner == "human" else "ai",
        assigned_to=contact.assigned_to,
        fields=contact.fields or {},
        stage_history=[
            StageChangePublic(
                kind="lost" if c.kind == "lost" else "stage",
                from_stage=c.from_stage,
                to_stage=c.to_stage,
                actor=c.actor,
                reason=c.reason,
                evidence=c.evidence,
                confidence=c.confidence,
                prompt_version=c.prompt_version,
                model=c.model,
                turn_id=c.turn_id,
                at=c.created_at,
            )
            for c in changes
        ],
        handoffs=[
            HandoffPublic(
                team=h.team,
                reason=h.reason,
                summary=h.summary,
                at=h.created_at,
                released_at=h.released_at,
            )
            for h in handoffs
        ],
        created_at=contact.created_at,
        updated_at=contact.updated_at,
    )


@router.get(
    "/{contact_id}/messages",
    response_model=list[MessagePublic],
    responses={**ERROR_RESPONSES, **NOT_FOUND},
)
async def get_contact_messages(
    contact_id: str,
    principal: AdminKey,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500, description="The latest this many.")] = 100,
) -> list[MessagePublic]:
    """The conversation's latest messages, oldest first, with each message's status: a
    message whose turn failed shows every failed attempt and its error (admin key only: errors
    may quote internals)."""
    contact = await _contact_or_404(session, principal.workspace_id, contact_id)
    return [
        MessagePublic(
            message_id=m.channel_message_id,
            direction="out" if m.direction == "out" else "in",
            channel=m.channel,
            text=m.text,
            sent_at=m.sent_at,
            status=m.status if m.status in ("received", "failed") else "processed",
            error=m.error,
            attempts=[MessageAttempt.model_validate(a) for a in m.attempt_log or []],
            retry_at=m.retry_at,
            turn_id=m.turn_id,
            created_at=m.created_at,
        )
        for m in await recent_messages(session, contact.id, limit)
    ]


EVENT_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": InvalidBody, "description": "Invalid event, or a stage this workspace lacks."},
}


@router.post(
    "/{contact_id}/events",
    response_model=ContactEventResult,
    responses={**ERROR_RESPONSES, **NOT_FOUND, **EVENT_ERRORS},
)
async def post_contact_event(
    contact_id: str, event: ContactEventIn, principal: ChannelOrAdminKey, deps: AgentDepsDep
) -> ContactEventResult:
    """Record an event about a contact; a repeated `event_id` is acknowledged, changes nothing.

    Conversation events: `human_assigned` silences the agent; `human_released`,
    `conversation_closed` and `conversation_reopened` give the conversation back to it;
    `stage_set_by_human` records a person's stage change (actor `human`). Any other type is a
    conversion event: its value is stored for reports and, when the workspace maps the type to
    a stage (see `/v1/conversion-events`), it moves the contact forward (actor `system`).
    Events for an unknown contact get 404 and create nothing.
    """
    workspace_id = principal.workspace_id
    try:
        async with (
            deps.contact_locks.hold(workspace_id, contact_id),
            deps.sessions() as session,
            session.begin(),
        ):
            return await apply_event(session, workspace_id, contact_id, event, deps.clock())
    except IntegrityError:
        # Another worker stored the same event_id first: answer as for any repeat.
        async with deps.sessions() as session:
            stored = await stored_result(session, workspace_id, event.event_id)
        if stored is None:
            raise
        return stored


async def _contact_or_404(
    session: AsyncSession, workspace_id: str, contact_id: str
) -> models.Contact:
    contact = await session.scalar(
        select(models.Contact).filter_by(workspace_id=workspace_id, external_id=contact_id)
    )
    if contact is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no contact '{contact_id}' in this workspace"
        )
    return contact
