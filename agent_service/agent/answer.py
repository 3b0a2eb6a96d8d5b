"""The agent's turn proper: stored messages in, one reply and lifecycle actions out.

``run_turn`` (turn.py) decides which messages a turn answers; this module answers them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from agent_service.agent import usage as model_usage
from agent_service.agent.callback_contact import take_callback_details
from agent_service.agent.canary import canary_for, leaks_canary
from agent_service.agent.context import ToolContext
from agent_service.agent.deps import AgentDeps
from agent_service.agent.intents.detector import PlannerThresholds
from agent_service.agent.model_brain import (
    conversation_cap_reply,
    run_model_brain,
    turns_since_release,
)
from agent_service.agent.offline_planner import run_offline_planner
from agent_service.agent.outcome import TurnRecord, save_silent, save_turn
from agent_service.agent.qualification_rule import apply_qualification_rule
from agent_service.agent.tools.handoff_to_human import unavailable_team_reply
from agent_service.agent.turn_trace import log_turn_trace
from agent_service.agent.usage import ModelUsage
from agent_service.agent.verified_facts.guard import guard_reply
from agent_service.conversations import inbox
from agent_service.conversations.contact_state import ContactState
from agent_service.core import metrics, tracing
from agent_service.core.ids import new_id
from agent_service.core.language import detect_language
from agent_service.db import models
from agent_service.knowledge_base.index import Hit
from agent_service.knowledge_base.store import RetrievalTrace
from agent_service.schemas.brains import (
    CALLBACK_CONTACT,
    CONVERSATION_CAP,
    LLM,
    LLM_THEN_OFFLINE_PLANNER,
    OFFLINE_MODEL_NAME,
    OFFLINE_PLANNER,
    Brain,
)
from agent_service.schemas.messages import (
    Action,
    FieldsUpdated,
    LeadLost,
    LifecycleStageChanged,
    MessageResponse,
    Reply,
)
from agent_service.teams.callback_requests import WaitingCallback, waiting_callback
from agent_service.teams.handoff_guard import given_back_categories
from agent_service.workspaces.config import WorkspaceConfig

log = logging.getLogger("agent_service.turn")


@dataclass
class Answered:
    """What a turn stored: the response of each message it answered, by message row id."""

    responses: dict[str, MessageResponse]
    callbacks_due: bool


@dataclass
class TurnInputs:
    """Everything a turn reads before it decides, read in one session."""

    config: WorkspaceConfig
    contact_row: models.Contact
    past: list[models.Message]  # the conversation so far, oldest first
    answered_until: datetime | None  # sent_at of the newest message already answered
    handed_back: list[str]  # reason categories of handoffs the humans gave back
    turns_so_far: int  # agent turns since a human last released the conversation
    # A conversation the humans own: its handoff still waiting for a call-back number.
    waiting: WaitingCallback | None = None


async def read_turn_inputs(
    deps: AgentDeps, workspace_id: str, newest: models.Message
) -> TurnInputs:
    """The turn's inputs for the contact of ``newest``: the one place a turn reads them."""
    async with deps.sessions() as session:
        config = await deps.configs.load(session, workspace_id)
        contact_row = await session.get(models.Contact, newest.contact_id)
        assert contact_row is not None
        return TurnInputs(
            config=config,
            contact_row=contact_row,
            past=await inbox.history(
                session, contact_row.id, newest.id, deps.settings.history_messages
            ),
            answered_until=await inbox.last_answered_sent_at(session, contact_row.id),
            handed_back=await given_back_categories(session, contact_row.id),
            turns_so_far=await turns_since_release(session, contact_row.id),
            waiting=(
                await waiting_callback(session, contact_row.id)
                if contact_row.owner == "human"
                else None
            ),
        )


async def answer_messages(
    deps: AgentDeps,
    workspace_id: str,
    batch: list[models.Message],
    usage: ModelUsage | None = None,
    before_model: Callable[[], Awaitable[None]] | None = None,
) -> Answered:
    """Answer ``batch`` (one message, or a burst, oldest first) with one reply.

    Raises ``AlreadyAnswered`` when another worker saved these messages first; then nothing
    of this turn is written. ``usage`` collects the turn's model calls as they are made, so a
    caller still has them when the turn raises (and charges them: see turn.py).
    ``before_model`` runs right before the model is called and may raise to stop the turn
    (turn.py: the contact's lease is still this replica's).
    """
    with tracing.span(
        "turn", {"agent_service.workspace_id": workspace_id, "agent_service.messages": len(batch)}
    ):
        return await _answer_messages(deps, workspace_id, batch, usage, before_model)


async def _answer_messages(
    deps: AgentDeps,
    workspace_id: str,
    batch: list[models.Message],
    usage: ModelUsage | None,
    before_model: Callable[[], Awaitable[None]] | None,
) -> Answered:
    started = time.perf_counter()
    now = deps.clock()
    newest = batch[-1]
    text = "\n".join(m.text for m in batch)
    inputs = await read_turn_inputs(deps, workspace_id, newest)
    config, contact_row, past = inputs.config, inputs.contact_row, inputs.past
    turns_so_far = inputs.turns_so_far
    # Late: the customer sent it before a message already answered. It is answered, but it must
    # not move the contact's state backwards (see docs/reliability.md).
    late = inputs.answered_until is not None and newest.sent_at < inputs.answered_until
    contact = inbox.contact_state(contact_row)
    contact.handed_back = inputs.handed_back
    decision: Decision | None = None
    if contact.owner == "human" and inputs.waiting is not None:
        decision = await callback_decision(
            config, contact, contact_row.locale, past, text, inputs.waiting, now
        )
    if contact.owner == "human" and decision is None:
        summary = inbox.contact_summary(contact)
        silent = {
            m.id: MessageResponse(
                message_id=m.channel_message_id or m.id,
                status="silent",
                reply=None,
                actions=[],
                contact=summary,
            )
            for m in batch
        }
        due = await save_silent(deps.sessions, workspace_id, silent, now, deps.write_gate)
        return Answered(silent, due)

    if decision is None:
        decision = await decide(
            deps,
            config,
            contact,
            contact_row.locale,
            past,
            text,
            newest.channel,
            turns_so_far,
            usage=usage,
            before_model=before_model,
        )
    ctx, reply, usage, language = (
        decision.ctx,
        decision.reply,
        decision.usage,
        decision.ctx.language,
    )
    brain, model_name, error = decision.brain, decision.model_name, decision.error
    retrieval = decision.retrieval

    if late:
        _keep_state_forward(ctx, inbox.contact_state(contact_row))
    turn_id = new_id("turn")
    summary = inbox.contact_summary(ctx.contact)
    answering = newest.channel_message_id or newest.id
    if retrieval.degraded:  # once per turn, naming whom it affected
        log.warning(
            "retrieval degraded",
            extra={
                "fields": {
                    "workspace_id": workspace_id,
                    "contact": contact.external_id,
                    "message_ids": [m.channel_message_id or m.id for m in batch],
                    "turn_id": turn_id,
                    "status": retrieval.status,
                    "source": retrieval.source,
                    "detail": retrieval.detail,
                }
            },
        )
    response = MessageResponse(
        message_id=answering,
        status="replied",
        reply=Reply(text=reply, language=language),
        actions=ctx.actions,
        contact=summary,
        turn_id=turn_id,
        usage=usage.as_turn_usage(brain, model_name, config.prompts.version_label),
        retrieval=retrieval.info(),
    )
    # The burst's earlier messages point at the reply that answered them; it comes last.
    responses = {
        m.id: MessageResponse(
            message_id=m.channel_message_id or m.id,
            status="merged",
            reply=None,
            actions=[],
            contact=summary,
            turn_id=turn_id,
            answered_by=answering,
        )
        for m in batch[:-1]
    }
    responses[newest.id] = response
    tracing.annotate({"agent_service.turn_id": turn_id, "agent_service.brain": brain})
    record = TurnRecord(
        turn_id=turn_id,
        brain=brain,
        model=model_name,
        prompt_version=config.prompts.version_label,
        usage=usage,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        error=error,
        retrieval=retrieval.status,
    )
    with tracing.span("turn.save"):
        callbacks_due = await save_turn(
            deps.sessions,
            config.id,
            contact_row.id,
            ctx,
            record,
            responses,
            newest.channel,
            deps.write_gate,
        )
    log_turn_trace(record, ctx, text)
    return Answered(responses, callbacks_due)


@dataclass
class Decision:
    """What the brain decided for one message (or burst), before anything is stored."""

    ctx: ToolContext
    reply: str
    brain: Brain
    model_name: str
    usage: ModelUsage
    error: str | None
    retrieval: RetrievalTrace


async def decide(
    deps: AgentDeps,
    config: WorkspaceConfig,
    contact: ContactState,
    contact_locale: str | None,
    past: list[models.Message],
    text: str,
    channel: str,
    turns_so_far: int | None = None,
    usage: ModelUsage | None = None,
    before_model: Callable[[], Awaitable[None]] | None = None,
) -> Decision:
    """Retrieve, run the brain and the qualification rule on a working copy of the contact.

    Nothing is written here: ``answer_messages`` stores the outcome, the prompt preview
    discards it.
    """
    now = deps.clock()
    locale = (contact_locale or "")[:2].lower() or None
    language = detect_language(text, contact.language or locale or config.default_language)
    customer_words = [m.text for m in past if m.direction == "in"] + [text]
    query = _retrieval_query(text, customer_words[:-1])
    # One embedding call: the retrieval query, and the message alone for intent detection.
    texts = [query] if query == text else [query, text]
    # Read while the embedding finishes: the knowledge revision (is the snapshot of the
    # entries current?) and today's token use (the model path's cap).
    # The index has its own deadline: when it does not answer, the entries are ranked from
    # the database and ``retrieval`` says why (knowledge_base/store.py).
    retrieval = RetrievalTrace()
    async with deps.retrieval_slots:
        with tracing.span("turn.retrieve"):
            vectors, revision, used_today = await asyncio.gather(
                _embed(deps, texts),
                deps.knowledge.revision(config.id),
                _tokens_used(deps, config, now),
            )
            searched = time.perf_counter()
            hits = await deps.knowledge.search(
                config.id,
                vectors[0].tolist(),
                deps.settings.retrieval_k,
                now.date(),
                query=query,
                revision=revision,
                trace=retrieval,
            )
            _observe_retrieval(retrieval, searched)

    async def search(wanted: str) -> list[Hit]:
        async with deps.retrieval_slots:
            found = (await _embed(deps, [wanted]))[0]
            searched = time.perf_counter()
            hits = await deps.knowledge.search(
                config.id,
                found.tolist(),
                deps.settings.retrieval_k,
                now.date(),
                query=wanted,
                trace=retrieval,
            )
            _observe_retrieval(retrieval, searched)
            return hits

    ctx = ToolContext(
        config=config,
        contact=contact,
        customer_words=customer_words,
        language=language,
        now=now,
        search=search,
        retrieved=list(hits),
    )
    usage = usage if usage is not None else ModelUsage()
    brain: Brain = OFFLINE_PLANNER
    model_name, error, reply = OFFLINE_MODEL_NAME, None, ""
    canary = canary_for(deps.settings, config.id)
    capped = None if turns_so_far is None else await conversation_cap_reply(deps, ctx, turns_so_far)
    if capped is not None:
        brain, reply = CONVERSATION_CAP, capped
    elif deps.chat_model is not None:
        if before_model is not None:
            await before_model()
        with tracing.span("turn.brain", {"agent_service.brain": LLM}):
            outcome = await run_model_brain(
                deps, ctx, _as_messages(past), text, channel, usage, canary, used_today
            )
        reply, error = outcome.reply, outcome.error
        if not outcome.skipped:
            brain, model_name = LLM, deps.model_name
    if not reply and ctx.handoff is None:
        if brain == LLM:
            brain = LLM_THEN_OFFLINE_PLANNER
        with tracing.span("turn.brain", {"agent_service.brain": OFFLINE_PLANNER}):
            reply = await run_offline_planner(
                ctx,
                text,
                hits,
                _intent(deps, config, vectors[-1]),
                _thresholds(deps),
                knowledge_searched=retrieval.source != "none",
            )
    elif not reply:
        team = config.team(ctx.handoff.team if ctx.handoff else None)
        reply = config.prompts.phrase(
            "handoff", language, business_name=config.name, team=team.name if team else ""
        )
    extra = await apply_qualification_rule(ctx, text)
    if extra:
        reply = f"{reply} {extra}".strip()
    # A handoff to a closed or unstaffed team says so, whichever brain wrote the reply; when
    # the customer already gave a number or e-mail for the call-back, it is recorded and said.
    reply = take_callback_details(ctx, text, contact_locale) or unavailable_team_reply(ctx) or reply
    # Account numbers, phone numbers and links must be the workspace's verified ones (a reply
    # leaking the canary is replaced below anyway, and recorded as that).
    guarded = None if leaks_canary(reply, canary) else await guard_reply(ctx, reply)
    if guarded is not None:
        reply = guarded.reply
        error = "; ".join(filter(None, [error, guarded.error]))
        kinds = sorted({i.kind for i in guarded.blocked})
        log.warning(
            "guardrail",
            extra={"fields": {"rule": guarded.rule, "kinds": kinds, "turn_brain": brain}},
        )
    if leaks_canary(reply, canary):
        # The model is repeating its instructions: say something safe and record it.
        reply = config.prompts.phrase("clarify", language, business_name=config.name)
        error = "; ".join(filter(None, [error, "guardrail: reply contained the prompt canary"]))
        log.warning("guardrail", extra={"fields": {"rule": "canary", "turn_brain": brain}})
    if retrieval.degraded:
        error = "; ".join(
            filter(None, [error, f"retrieval {retrieval.status}: {retrieval.detail}"])
        )
    return Decision(ctx, reply, brain, model_name, usage, error, retrieval)


async def callback_decision(
    config: WorkspaceConfig,
    contact: ContactState,
    contact_locale: str | None,
    past: list[models.Message],
    text: str,
    waiting: WaitingCallback,
    now: datetime,
) -> Decision | None:
    """The answer to a message in a conversation the humans own whose handoff waits for a
    call-back number: the confirmation when ``text`` gives a phone or e-mail, else None (the
    message is answered silently, as any other while the humans own it)."""
    locale = (contact_locale or "")[:2].lower() or None
    language = detect_language(text, contact.language or locale or config.default_language)

    async def no_search(_: str) -> list[Hit]:
        return []

    ctx = ToolContext(
        config=config,
        contact=contact,
        customer_words=[m.text for m in past if m.direction == "in"] + [text],
        language=language,
        now=now,
        search=no_search,
    )
    reply = take_callback_details(ctx, text, contact_locale, waiting)
    if reply is None:
        return None
    error = None
    # The reply says back the customer's own number, which the guard allows; it runs anyway,
    # as on every reply.
    guarded = await guard_reply(ctx, reply)
    if guarded is not None:
        reply, error = guarded.reply, guarded.error
    not_searched = RetrievalTrace(detail="not searched: the reply confirms call-back details")
    return Decision(
        ctx, reply, CALLBACK_CONTACT, OFFLINE_MODEL_NAME, ModelUsage(), error, not_searched
    )


def _keep_state_forward(ctx: ToolContext, stored: ContactState) -> None:
    """A late message keeps its reply and handoff, but no stage move, lost mark or overwrite."""
    current = ctx.contact
    current.lifecycle_stage, current.lost, current.lost_reason = (
        stored.lifecycle_stage,
        stored.lost,
        stored.lost_reason,
    )
    current.fields = {**current.fields, **stored.fields}  # only fills fields still empty
    current.pending_field = stored.pending_field
    ctx.stage_decisions.clear()
    kept: list[Action] = []
    for action in ctx.actions:
        if isinstance(action, LifecycleStageChanged | LeadLost):
            continue
        if isinstance(action, FieldsUpdated):
            filled = {k: v for k, v in action.fields.items() if k not in stored.fields}
            if not filled:
                continue
            action = FieldsUpdated(fields=filled)
        kept.append(action)
    ctx.actions[:] = kept


def _observe_retrieval(retrieval: RetrievalTrace, started: float) -> None:
    source = metrics.bounded(retrieval.source, metrics.RETRIEVAL_SOURCES)
    metrics.RETRIEVAL_DURATION.labels(source).observe(time.perf_counter() - started)


async def _embed(deps: AgentDeps, texts: list[str]) -> np.ndarray[Any, Any]:
    return await deps.query_batcher.embed(texts)


async def _tokens_used(deps: AgentDeps, config: WorkspaceConfig, now: datetime) -> int:
    if deps.chat_model is None:
        return 0
    return await model_usage.tokens_used(deps.sessions, config.id, now.date())


def _retrieval_query(text: str, earlier_customer_words: list[str]) -> str:
    """The message, with the previous one when it is too short to stand alone ('and in HCM?')."""
    if len(text.split()) < 4 and len(text) < 25 and earlier_customer_words:
        return f"{earlier_customer_words[-1]} {text}"
    return text


def _as_messages(past: list[models.Message]) -> list[BaseMessage]:
    return [HumanMessage(m.text) if m.direction == "in" else AIMessage(m.text) for m in past]


def _intent(deps: AgentDeps, config: WorkspaceConfig, vector: np.ndarray[Any, Any]) -> Any:
    return deps.intents.best(config.intent_examples, vector)


def _thresholds(deps: AgentDeps) -> PlannerThresholds:
    return PlannerThresholds.from_settings(deps.settings)
